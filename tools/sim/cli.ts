/**
 * `npm run sim -- --seeds N [--from K]` runs N seeded scenarios and ends with `N passed, M failed`;
 * `npm run sim -- --seed S [--trace FILE]` replays one seed and writes its qlog-shaped JSON-SEQ trace.
 */
import { writeFileSync } from 'node:fs';
import { ExtremesReport } from '../../lib/sim/impairment-mix.js';
import { runScenario } from './scenario.js';
import type { ConnectionOptions } from '../../lib/connection/types.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const usage = `usage: npm run sim -- --seeds N [--from K] [--verbose] [--cc cubic|newreno|bbr]
       npm run sim -- --seed S [--trace FILE] [--cc cubic|newreno|bbr]`;

if (process.argv.includes('--help')) {
  console.log(usage);
  process.exit(0);
}

const ccArg = arg('cc');
if (ccArg !== undefined && ccArg !== 'cubic' && ccArg !== 'newreno' && ccArg !== 'bbr') {
  console.error(`--cc takes cubic, newreno or bbr\n${usage}`);
  process.exit(2);
}
/** Both ends use the controller named by --cc; without it, the scenario's defaults (CUBIC). */
const options: ConnectionOptions | undefined = ccArg === undefined ? undefined : { congestionControl: ccArg };
const ccFlag = ccArg === undefined ? '' : ` --cc ${ccArg}`;

const single = arg('seed');
if (single !== undefined) {
  const seed = Number(single);
  const tracePath = arg('trace');
  const trace: string[] | undefined = tracePath ? [] : undefined;
  const t0 = performance.now();
  const r = runScenario({ seed, trace, options });
  const ms = performance.now() - t0;
  console.log(`seed ${seed}: ${r.ok ? 'ok' : 'FAIL ' + r.failure}`);
  console.log(`  link: ${r.mixText}`);
  console.log(`  ${r.bytes} bytes in ${(r.simTime / 1000).toFixed(2)} s virtual, ${r.events} events, ${ms.toFixed(0)} ms real`);
  console.log(`  client: ${JSON.stringify(r.clientStats)}`);
  if (tracePath && trace) {
    writeFileSync(tracePath, trace.join(''));
    console.log(`  trace: ${tracePath} (${trace.length} records)`);
  }
  console.log(r.ok ? '1 passed, 0 failed' : '0 passed, 1 failed');
  process.exit(r.ok ? 0 : 1);
}

const n = Number(arg('seeds') ?? '100');
const from = Number(arg('from') ?? '1');
const verbose = process.argv.includes('--verbose');
const report = new ExtremesReport();
const failures: string[] = [];
let passed = 0;
let bytes = 0;
let bigSeeds = 0;
const t0 = performance.now();
for (let seed = from; seed < from + n; seed++) {
  const r = runScenario({ seed, options });
  if (r.mix) report.add(r.mix);
  bytes += r.bytes;
  if (r.bytes >= 2_000_000) bigSeeds++;
  if (r.ok) passed++;
  else {
    failures.push(`seed ${seed}: ${r.failure}\n  link: ${r.mixText}\n  replay: npm run sim -- --seed ${seed}${ccFlag} --trace seed-${seed}.sqlog`);
  }
  if (verbose) console.log(`seed ${seed} ${r.ok ? 'ok' : 'FAIL'} ${(r.simTime / 1000).toFixed(1)}s ${r.bytes}B ${r.mixText}`);
}
const secs = (performance.now() - t0) / 1000;
console.log(report.format());
console.log(
  `${n} seeds in ${secs.toFixed(1)} s (${(n / secs).toFixed(1)} seeds/s), ${(bytes / 1e6).toFixed(1)} MB moved, ${bigSeeds} seeds ≥ 2 MB (${((100 * bigSeeds) / n).toFixed(0)} %)`,
);
for (const f of failures) console.log(f);
console.log(`${passed} passed, ${n - passed} failed`);
process.exit(failures.length ? 1 : 0);
