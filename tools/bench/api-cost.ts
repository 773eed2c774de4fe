/**
 * Per-connection cost through the public API (listen()/connect() on 127.0.0.1, server and client in two
 * processes), A/B between builds of the library in one run:
 *
 *   node --import tsx tools/bench/api-cost.ts [--lib A.mjs,B.mjs] [--reps 5] [--n 600] [--idle 1000] [--insecure] [--quick]
 *
 * `--lib` takes library entry points (default: lib/index.ts of this checkout); bundle a baseline with
 * `npx esbuild lib/index.ts --bundle --platform=node --format=esm --packages=external --outfile=.bench/base.mjs`
 * from the older tree (a bundle has no tsx `__name` wrappers, as the published build). Each repetition runs
 * every library once, in turn, with a fresh server and client process each (interleaved A/B).
 *
 * - Handshakes: after a warm-up, the client opens `--n` connections (4 at a time) and closes each at once;
 *   the figure is the server process's CPU (process.cpuUsage, user + system) from the first handshake until
 *   every connection it accepted has ended, divided by the handshakes: everything a server spends per
 *   connection (accept, handshake, API objects, close, closing period).
 * - Idle memory: the client then holds `--idle` connections open; the server's heap and external memory
 *   after two GCs, minus before, per connection.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, environmentLine, flag, fmt, median, numberArg, Results, table } from './common.js';

type Lib = typeof import('../../lib/index.js');
type Msg = { port?: number; fingerprint?: string; cpuUs?: number; heap?: number; external?: number; done?: number };

const SELF = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
const role = arg('role') ?? 'driver';
const insecure = flag('insecure');
/** Smoke mode (test/tools/bench-smoke.test.ts): one repetition of a few connections, meaningless figures. */
const quick = flag('quick');

async function load(lib: string): Promise<Lib> {
  return (await import(lib)) as Lib;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

async function server(lib: Lib): Promise<void> {
  const id = insecure ? undefined : lib.generateIdentity();
  const s = await lib.listen({ host: HOST, port: 0, maxConnections: 100_000, ...(id ? { identity: id } : { insecure: true as const }) });
  let ended = 0;
  let cpu0 = process.cpuUsage();
  let mem0 = process.memoryUsage();
  let waitFor = 0;
  let report: (() => void) | null = null;
  s.on('connection', (c) => {
    void c.closed.then(() => {
      ended++;
      if (report && ended >= waitFor) report();
    });
  });
  process.on('message', (m: { op: string; n?: number }) => {
    if (m.op === 'mark') {
      ended = 0;
      gc();
      mem0 = process.memoryUsage();
      cpu0 = process.cpuUsage();
      process.send!({});
    } else if (m.op === 'ended') {
      // The client closed m.n connections: wait until the server saw each end, then report the CPU.
      waitFor = m.n!;
      report = () => {
        report = null;
        const c = process.cpuUsage(cpu0);
        process.send!({ cpuUs: c.user + c.system });
      };
      if (ended >= waitFor) report();
    } else if (m.op === 'memory') {
      setTimeout(() => {
        gc();
        const m1 = process.memoryUsage();
        process.send!({ heap: m1.heapUsed - mem0.heapUsed, external: m1.external - mem0.external });
      }, 500);
    } else if (m.op === 'exit') void s.close({ force: true }).then(() => process.exit(0));
  });
  process.send!({ port: s.address().port, fingerprint: id?.fingerprint });
}

async function client(lib: Lib): Promise<void> {
  const port = Number(arg('port'));
  const fp = arg('fingerprint');
  const trust = fp ? { serverKey: fp } : { insecure: true as const };
  const held: Array<{ close(): Promise<void> }> = [];
  const many = async (n: number, hold: boolean): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        const c = await lib.connect({ host: HOST, port, ...trust, idleTimeout: 120_000 });
        if (hold) held.push(c);
        else c.close().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: hold ? 16 : 4 }, worker));
  };
  process.on('message', (m: { op: string; n: number; hold?: boolean }) => {
    if (m.op === 'run') void many(m.n, m.hold === true).then(() => process.send!({ done: m.n }));
  });
  process.send!({});
}

function call(p: ChildProcess, m: object): Promise<Msg> {
  return new Promise((resolve) => {
    p.once('message', (r: Msg) => resolve(r));
    if (Object.keys(m).length) p.send(m);
  });
}

function spawnRole(r: string, lib: string, extra: string[] = []): ChildProcess {
  return fork(SELF, ['--role', r, '--lib', lib, ...(insecure ? ['--insecure'] : []), ...extra], {
    // PETREL_BENCH_NODE_ARGS: extra node flags for the server, e.g. '--cpu-prof --cpu-prof-dir=DIR'.
    execArgv: ['--import', 'tsx', '--expose-gc', ...(r === 'server' ? (process.env.PETREL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean) : [])],
  });
}

async function one(lib: string, n: number, idle: number): Promise<{ cpuPerHs: number; heap: number; external: number }> {
  const srv = spawnRole('server', lib);
  const hello = await call(srv, {});
  const cli = spawnRole('client', lib, ['--port', String(hello.port), ...(hello.fingerprint ? ['--fingerprint', hello.fingerprint] : [])]);
  await call(cli, {});
  await call(cli, { op: 'run', n: quick ? 2 : Math.max(50, n / 5) });
  await new Promise((r) => setTimeout(r, 300));
  await call(srv, { op: 'mark' });
  const ended = call(srv, { op: 'ended', n });
  await call(cli, { op: 'run', n });
  const { cpuUs } = await ended;
  let heap = NaN;
  let external = NaN;
  if (idle > 0) {
    await new Promise((r) => setTimeout(r, 300));
    await call(srv, { op: 'mark' });
    await call(cli, { op: 'run', n: idle, hold: true });
    const m = await call(srv, { op: 'memory' });
    heap = m.heap! / idle;
    external = m.external! / idle;
  }
  cli.kill();
  srv.send({ op: 'exit' });
  await new Promise((r) => srv.once('exit', r));
  return { cpuPerHs: cpuUs! / n, heap, external };
}

async function driver(): Promise<void> {
  const libs = (arg('lib') ?? '../../lib/index.ts').split(',');
  const reps = numberArg('reps', quick ? 1 : 5);
  const n = numberArg('n', quick ? 10 : 600);
  const idle = arg('idle') === '0' ? 0 : numberArg('idle', quick ? 10 : 1000);
  const res = new Map(libs.map((l) => [l, { cpu: [] as number[], heap: [] as number[], ext: [] as number[] }]));
  for (let r = 0; r < reps; r++) {
    for (const l of libs) {
      const o = await one(l, n, idle);
      const e = res.get(l)!;
      e.cpu.push(o.cpuPerHs);
      e.heap.push(o.heap);
      e.ext.push(o.external);
      console.error(`rep ${r + 1} ${l}: ${fmt(o.cpuPerHs)} µs/handshake, heap ${fmt(o.heap)} B/conn, external ${fmt(o.external)} B/conn`);
    }
  }
  const range = (v: number[]): string => `${fmt(median(v))} [${fmt(Math.min(...v))}–${fmt(Math.max(...v))}]`;
  console.log(
    `${environmentLine()}; ${insecure ? 'insecure' : 'secure (default provider)'}, ${n} handshakes, ${idle} idle, ${reps} interleaved reps\n`,
  );
  console.log(
    table(
      ['library', 'server CPU µs/handshake', 'heap B/idle conn', 'external B/idle conn'],
      libs.map((l) => {
        const e = res.get(l)!;
        return [l, range(e.cpu), range(e.heap), range(e.ext)];
      }),
    ),
  );
  // Final line: lib0_…, lib1_… in --lib order.
  const results = new Results();
  libs.forEach((l, i) => {
    const e = res.get(l)!;
    results.set(`lib${i}_server_cpu_us_per_handshake`, median(e.cpu));
    if (idle > 0) {
      results.set(`lib${i}_heap_bytes_per_conn`, median(e.heap));
      results.set(`lib${i}_external_bytes_per_conn`, median(e.ext));
    }
  });
  results.set('handshakes', n);
  console.log(`\n${results.line()}`);
}

if (role === 'driver') await driver();
else {
  const lib = await load(arg('lib')!);
  if (role === 'server') await server(lib);
  else await client(lib);
}
