/**
 * Every code snippet of docs/api.md lives in examples/snippets/*.ts (with `from 'petrel'` spelled as the repo
 * path). This test runs each one (they assert their own results) and checks that the document shows each
 * file verbatim, so the docs cannot drift from code that runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectNoLeaks, resources, within } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'examples', 'snippets');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .sort();
const docs = readFileSync(join(root, 'docs', 'api.md'), 'utf8');

/** The snippet as the docs print it: the package name instead of the repo path. */
function asDocumented(code: string): string {
  return code.replaceAll("'../../lib/api/index.js'", "'petrel'").trim();
}

describe('docs/api.md snippets', () => {
  it('has snippets to run', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  for (const f of files) {
    it(`${f} runs, asserts its results and releases every handle`, async () => {
      const base = resources();
      await within(import(pathToFileURL(join(dir, f)).href), 20_000, f);
      await expectNoLeaks(base);
    });

    it(`${f} appears verbatim in docs/api.md`, () => {
      const code = asDocumented(readFileSync(join(dir, f), 'utf8'));
      expect(docs.includes('```ts\n' + `// examples/snippets/${f}\n` + code + '\n```')).toBe(true);
    });
  }
});

describe('README.md', () => {
  it('shows the quick-start snippet verbatim (the one this suite runs)', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const code = asDocumented(readFileSync(join(dir, 'quick-start.ts'), 'utf8'));
    expect(readme.includes('```ts\n' + code + '\n```')).toBe(true);
  });

  it('names the two commands a newcomer runs, and they exist in package.json', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
    for (const s of ['demo', 'test', 'sim', 'sim:figures', 'bench', 'flame']) expect(pkg.scripts[s], s).toBeTruthy();
  });
});
