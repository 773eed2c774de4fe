/**
 * Runs the benchmarks one after another, each in its own process (a fresh heap and JIT per benchmark).
 *
 *   node --import tsx tools/bench/run-all.ts [--quick] [--bench handshake,protection,throughput]
 *
 * Every benchmark's output is passed through; the last line is all their final lines merged, each key
 * prefixed with its benchmark's name (e.g. `protection.aes_petrel_seal_us=5.1`). Other arguments are
 * handed to every benchmark. Exits 1 if any benchmark failed (the others still run).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, parseResultLine } from './common.js';

const BENCHES = ['handshake', 'protection', 'throughput'] as const;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function run(name: string, args: string[]): Promise<{ code: number | null; last: string }> {
  return new Promise((resolve, reject) => {
    const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (d: Buffer) => {
      process.stdout.write(d);
      tail = (tail + d.toString()).slice(-64 * 1024);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = tail.trimEnd().split('\n');
      resolve({ code, last: lines[lines.length - 1] ?? '' });
    });
  });
}

async function main(): Promise<number> {
  const picked = arg('bench')?.split(',') ?? [...BENCHES];
  const unknown = picked.filter((b) => !(BENCHES as readonly string[]).includes(b));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${BENCHES.join(', ')}`);
    return 2;
  }
  const i = process.argv.indexOf('--bench');
  const passed = process.argv.slice(2).filter((_, k) => i < 0 || (k !== i - 2 && k !== i - 1));
  const merged: string[] = [];
  const failed: string[] = [];
  for (const name of picked) {
    console.log(`\n=== ${name} ===\n`);
    const r = await run(name, passed);
    if (r.code !== 0) {
      failed.push(`${name} (exit ${r.code})`);
      continue;
    }
    for (const [k, v] of parseResultLine(r.last)) merged.push(`${name}.${k}=${v}`);
  }
  if (failed.length) console.error(`failed: ${failed.join(', ')}`);
  console.log(`\n${merged.join(' ')}`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
