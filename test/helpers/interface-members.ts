/** Reading public interfaces from source, for the tests that check the docs name every option. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const root = join(import.meta.dirname, '..', '..');

/** The property names declared directly in `interface NAME { … }` of a source file. */
export function members(file: string, name: string): string[] {
  const src = readFileSync(join(root, file), 'utf8');
  const start = src.indexOf(`export interface ${name} `);
  expect(start, `${name} in ${file}`).toBeGreaterThanOrEqual(0);
  const open = src.indexOf('{', start);
  let depth = 0;
  let end = open;
  for (; end < src.length; end++) {
    if (src[end] === '{') depth++;
    else if (src[end] === '}' && --depth === 0) break;
  }
  const body = src.slice(open + 1, end);
  // Top-level members only: drop nested braces' contents.
  let flat = '';
  depth = 0;
  for (const ch of body) {
    if (ch === '{') depth++;
    if (depth === 0) flat += ch;
    if (ch === '}') depth--;
  }
  return [
    ...flat
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .matchAll(/^\s*(?:readonly\s+)?([A-Za-z_]\w*)\??\s*:/gm),
  ].map((m) => m[1]!);
}
