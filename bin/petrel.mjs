#!/usr/bin/env node
// `petrel <command> ...`: dispatches to a tool's CLI module, which exports `main(argv) => exitCode` (or a promise of
// one). A built tool (dist/tools/<name>/<module>.js) is used when present; otherwise the TypeScript source is loaded
// in-process through tsx's ESM loader (a devDependency), so the bin works from a checkout without a build step.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const COMMANDS = {
  bench: { dir: 'tools/bench', module: 'cli', summary: 'two-process benchmark against raw dgram, node:net, ws and udx-native' },
  impair: { dir: 'tools/impair', module: 'cli', summary: 'UDP proxy that impairs real traffic (loss, delay, jitter, rate, ...)' },
  attack: { dir: 'tools/attack', module: 'cli', summary: 'attack your own server (loopback unless --i-own-this-host) and print what it cost' },
  qlog: { dir: 'tools/qlog', module: 'validate', summary: 'validate qlog (JSON-SEQ .sqlog) files against Petrel\'s schema' },
  conformance: { dir: 'conformance', module: 'cli', summary: 'check a Petrel server or client against spec/ (PASS/FAIL per requirement)' },
  qpack: { dir: 'tools/qpack', module: 'cli', summary: 'decode/encode QPACK offline-interop files (QIF text <-> encoded)' },
  'qlog-plot': { dir: 'tools/qlog-plot', module: 'cli', summary: 'plot cwnd, bytes in flight, RTT and losses of a qlog file as an SVG' },
  chat: { dir: 'examples/chat', module: 'cli', summary: 'the example chat: a server (--serve; --web PORT adds the browser page) or a terminal client (--connect)' },
};

function usage(out) {
  out.write('Usage: petrel <command> [options]\n\nCommands:\n');
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  for (const [name, c] of Object.entries(COMMANDS)) out.write(`  ${name.padEnd(width)}${c.summary}\n`);
  out.write('\nRun `petrel <command> --help` for the options of a command.\n');
}

async function load({ dir, module }) {
  const built = join(root, 'dist', dir, `${module}.js`);
  if (existsSync(built)) return import(pathToFileURL(built).href);
  const source = join(root, dir, `${module}.ts`);
  if (!existsSync(source)) throw new Error(`neither ${built} nor ${source} exists`);
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    throw new Error(`${source} is TypeScript and tsx is not installed; run \`npm install\` in ${root} or build the tools`);
  }
  register();
  return import(pathToFileURL(source).href);
}

const [command, ...args] = process.argv.slice(2);
if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
  usage(process.stdout);
  process.exitCode = command === undefined ? 2 : 0;
} else if (!Object.hasOwn(COMMANDS, command)) {
  process.stderr.write(`petrel: unknown command '${command}'\n`);
  usage(process.stderr);
  process.exitCode = 2;
} else {
  try {
    const cli = await load(COMMANDS[command]);
    process.exitCode = await cli.main(args);
  } catch (err) {
    process.stderr.write(`petrel ${command}: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  }
}
