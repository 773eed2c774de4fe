/**
 * What building one server connection costs, without sockets: `new Connection(...)` (server side, insecure
 * crypto, as the endpoint builds it for a first Initial) plus the `ChannelLayer` the API puts on it. CPU per
 * construction (process.cpuUsage, µs) and heap per fresh connection (after GC), A/B between library builds:
 *
 *   node --expose-gc --import tsx tools/bench/conn-ctor.ts [--lib A.mjs,B.mjs] [--n 3000] [--rounds 9]
 *
 * Each library runs in its own child process, in turn, `--reps` times (interleaved). Bundle the libraries as
 * for api-cost.ts (`npx esbuild lib/index.ts --bundle --platform=node --format=esm --packages=external
 * --outfile=.bench/new.mjs`); under tsx every closure also carries a `__name` wrapper.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, fmt, median, numberArg } from './common.js';

type Lib = typeof import('../../lib/index.js');

async function child(libPath: string, n: number, rounds: number): Promise<void> {
  const L = (await import(libPath)) as Lib;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const env = { randomFill: (o: Uint8Array) => void o.fill(7), crc32: () => 0, resetToken: () => new Uint8Array(16) };
  const cid = (b: number) => new Uint8Array(8).fill(b);
  const make = (): unknown => {
    const c = new L.Connection({
      isClient: false,
      env,
      crypto: L.insecureCrypto,
      remote: { host: '127.0.0.1', port: 1 },
      now: 0,
      localCid: cid(1),
      remoteCid: cid(2),
      originalDcid: cid(3),
    });
    return [c, new L.ChannelLayer(c)];
  };
  for (let i = 0; i < 2000; i++) make();
  const cpu: number[] = [];
  const heap: number[] = [];
  const keep: unknown[] = new Array<unknown>(n);
  for (let r = 0; r < rounds; r++) {
    keep.fill(null);
    gc();
    const h0 = process.memoryUsage().heapUsed;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) keep[i] = make();
    const c = process.cpuUsage(c0);
    gc();
    heap.push((process.memoryUsage().heapUsed - h0) / n);
    cpu.push((c.user + c.system) / n);
  }
  process.stdout.write(JSON.stringify({ cpu: median(cpu), heap: median(heap) }));
}

const role = arg('child');
if (role) await child(role, numberArg('n', 3000), numberArg('rounds', 9));
else {
  const libs = (arg('lib') ?? new URL('../../lib/index.ts', import.meta.url).href).split(',');
  const reps = numberArg('reps', 3);
  const res = new Map(libs.map((l) => [l, { cpu: [] as number[], heap: [] as number[] }]));
  for (let r = 0; r < reps; r++) {
    for (const l of libs) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--child',
          l,
          '--n',
          String(numberArg('n', 3000)),
          '--rounds',
          String(numberArg('rounds', 9)),
        ],
        { encoding: 'utf8' },
      );
      const o = JSON.parse(out) as { cpu: number; heap: number };
      res.get(l)!.cpu.push(o.cpu);
      res.get(l)!.heap.push(o.heap);
      console.error(`rep ${r + 1} ${l}: ${fmt(o.cpu)} µs CPU per connection built, ${fmt(o.heap)} B heap`);
    }
  }
  for (const [l, e] of res) {
    console.log(
      `${l}: CPU µs per construction ${fmt(median(e.cpu))} [${fmt(Math.min(...e.cpu))}–${fmt(Math.max(...e.cpu))}], heap B per fresh connection ${fmt(median(e.heap))}`,
    );
  }
}
