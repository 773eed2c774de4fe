import { defineConfig } from 'tsup';

// One public entry; ESM + CJS + declarations for both, so `import` and `require` both resolve.
export default defineConfig({
  entry: { index: 'lib/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
});
