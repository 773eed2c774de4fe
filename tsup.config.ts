import { copyFileSync, rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// The two builds below run in parallel, so neither may clean: dist/ is emptied once, here, when the config loads.
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  // The library, ESM + CJS + declarations for both, so `import` and `require` both resolve. Declarations leave out
  // everything marked @internal (then tools/build/finish-types.mjs drops the `implements` clauses that named them).
  {
    entry: { index: 'lib/index.ts' },
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
  },
  // `petrel/impair`: the impairment proxy as a library. A build of its own, because declarations shared between
  // two entries land in a common chunk that breaks the `sim` namespace's re-exports in index.d.ts.
  {
    entry: { impair: 'tools/impair/index.ts' },
    format: ['esm', 'cjs'],
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
  },
  // The command-line tools behind `petrel <command>` (bin/petrel.mjs loads dist/tools/<name>/<module>.js), so an
  // installed package runs them without tsx. ESM only; dependencies stay external (they are the package's own).
  {
    entry: {
      'tools/impair/cli': 'tools/impair/cli.ts',
      'tools/qlog/validate': 'tools/qlog/validate.ts',
      'tools/qlog-plot/cli': 'tools/qlog-plot/cli.ts',
      'tools/attack/cli': 'tools/attack/cli.ts',
      'examples/chat/cli': 'examples/chat/cli.ts',
      'tools/qpack/cli': 'tools/qpack/cli.ts',
      'conformance/cli': 'conformance/cli.ts',
      'tools/bench/cli': 'tools/bench/cli.ts',
      'tools/bench/two-process/peer': 'tools/bench/two-process/peer.ts',
    },
    format: ['esm'],
    dts: false,
    sourcemap: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
  },
  // The chat's web page (`petrel chat --serve --web PORT`): its script bundled with the browser client, and the page
  // copied next to it, where the chat server (dist/examples/chat/cli.js) looks for them.
  {
    entry: { 'examples/chat/web/app': 'examples/chat/web/app.ts' },
    format: ['esm'],
    sourcemap: false,
    minify: true,
    clean: false,
    target: 'es2022',
    platform: 'browser',
    outDir: 'dist',
    noExternal: [/.*/],
    onSuccess: async () => copyFileSync('examples/chat/web/index.html', 'dist/examples/chat/web/index.html'),
  },
  // The browser client (lib/browser): one self-contained ES module, no Node built-ins (docs/websocket.md).
  {
    entry: { index: 'lib/browser/index.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: false,
    target: 'es2022',
    platform: 'browser',
    outDir: 'dist/browser',
    noExternal: [/.*/],
  },
]);
