/**
 * libsodium must load from bundled builds too. The published ESM build is an esbuild bundle, where a
 * `typeof require` test meets esbuild's require shim (a function that throws on dynamic requires), so the
 * provider silently fell back to node:crypto. This bundles the provider as ESM and as CJS, as tsup does,
 * and checks both load sodium-native whenever the source does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the checkout (removed afterwards), so the bundle resolves sodium-native from its node_modules.
const dir = mkdtempSync(join(root, '.sodium-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function providerNameFromBundle(format: 'esm' | 'cjs'): Promise<string> {
  const out = join(dir, format === 'esm' ? 'p.mjs' : 'p.cjs');
  await build({
    entryPoints: [join(root, 'lib/crypto/sodium-provider.ts')],
    bundle: true,
    platform: 'node',
    format,
    packages: 'external',
    outfile: out,
    logLevel: 'silent',
  });
  const main = join(dir, format === 'esm' ? 'main.mjs' : 'main.cjs');
  writeFileSync(
    main,
    format === 'esm'
      ? `const m = await import(${JSON.stringify(out)}); console.log(m.sodiumCryptoProvider()?.name ?? 'none');`
      : `const m = require(${JSON.stringify(out)}); console.log(m.sodiumCryptoProvider()?.name ?? 'none');`,
  );
  // A file, not `node -e`: an eval has a global require, which would hide the bug.
  return execFileSync(process.execPath, [main], { encoding: 'utf8' }).trim();
}

describe('sodium provider in bundled builds', () => {
  const expected = sodiumCryptoProvider()?.name ?? 'none';

  it('loads from an ESM bundle', async () => {
    expect(await providerNameFromBundle('esm')).toBe(expected);
  });

  it('loads from a CJS bundle', async () => {
    expect(await providerNameFromBundle('cjs')).toBe(expected);
  });
});
