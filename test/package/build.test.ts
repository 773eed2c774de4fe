/**
 * The built package (npm test runs `npm run build` first) resolves through package.json `exports` both
 * as ESM (`import`) and as CommonJS (`require`). A missing build fails here; it never skips.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { exports: Record<string, Record<string, Record<string, string>>> };

describe('built package', () => {
  it('dist has ESM, CJS and declarations for both', () => {
    for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
      expect(existsSync(`${root}/${f}`), `${f} missing: run npm run build`).toBe(true);
    }
    expect(pkg.exports['.']!.import!.default).toBe('./dist/index.js');
    expect(pkg.exports['.']!.require!.default).toBe('./dist/index.cjs');
  });

  it('import("petrel") resolves the ESM build through exports', async () => {
    const mod = (await import(/* @vite-ignore */ `${root}/dist/index.js`)) as Record<string, unknown>;
    expect(typeof mod.PetrelError).toBe('function');
    const err = new (mod.PetrelError as new (c: string, m: string) => Error & { code: string })('X', 'y');
    expect(err.code).toBe('X');
    expect(typeof mod.Endpoint).toBe('function');
  });

  it('require("petrel") resolves the CJS build through exports', () => {
    const require = createRequire(`${root}/package.json`);
    // Resolve by package name through the exports map (self-reference), as a user's require would.
    const resolved = require.resolve('petrel');
    expect(resolved.endsWith('dist/index.cjs')).toBe(true);
    const mod = require('petrel') as Record<string, unknown>;
    expect(typeof mod.PetrelError).toBe('function');
    expect(typeof mod.Endpoint).toBe('function');
  });

  it('one PetrelError identity: errors from the CJS build are instances of the ESM classes and back', async () => {
    const esm = (await import(/* @vite-ignore */ `${root}/dist/index.js`)) as typeof import('../../lib/index.js');
    const cjs = createRequire(`${root}/package.json`)('petrel') as typeof import('../../lib/index.js');
    expect(esm.PetrelError).not.toBe(cjs.PetrelError); // really two copies
    expect(new cjs.PetrelError('X', 'm')).toBeInstanceOf(esm.PetrelError);
    expect(new esm.PetrelError('X', 'm')).toBeInstanceOf(cjs.PetrelError);
    expect(new cjs.PetrelWireError(7, 'm')).toBeInstanceOf(esm.PetrelWireError);
    expect(new cjs.PetrelError('X', 'm') instanceof esm.PetrelWireError).toBe(false);
    expect({ code: 'X', message: 'm' } instanceof esm.PetrelError).toBe(false);
    expect(esm.isPetrelError(new cjs.PetrelError('ABORTED', 'm'), 'ABORTED')).toBe(true);
    expect(esm.isPetrelError(new Error('m'))).toBe(false);
  });
});
