/**
 * `npx petrel bench`: the two-process benchmark. Each measurement starts a fresh server process and a fresh
 * client process (tools/bench/two-process/peer.ts), pinned to different cores with `taskset` when it exists,
 * warms the path up, then times it. Cases run interleaved (rep 1 of every case, then rep 2, ...), so load
 * from elsewhere on the machine lands on all of them alike; figures are medians with [min–max] ranges and
 * ratios to raw node:dgram (bulk, round trips) measured in the same run.
 *
 *   npx petrel bench [--quick] [--json] [--reps 5] [--tests bulk,rtt,rtt1,handshake,idle] [--cases udp,petrel_default,...]
 *                    [--mib 64] [--rtt-n 2000] [--handshakes 300] [--idle-conns 2000] [--no-pin]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Op } from './two-process/peer.js';
import { DATAGRAM, type Lane } from './two-process/transports.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Built (dist/tools/bench/cli.js, an installed package): the peer is its built sibling and needs no tsx.
const BUILT = import.meta.url.endsWith('.js');
const PEER = join(root, 'tools', 'bench', 'two-process', BUILT ? 'peer.js' : 'peer.ts');
const MiB = 1024 * 1024;

const USAGE = `Usage: npx petrel bench [options]
  --quick              a short smoke run (tiny sizes, 1 repetition): meaningless figures
  --json               print the results as JSON instead of tables
  --reps N             interleaved repetitions of every case (default 5; --quick 1)
  --tests LIST         bulk,rtt,rtt1,handshake,idle (default all; rtt1 = round trips with both processes on core 0)
  --cases LIST         only these case keys (see the tables), e.g. udp,petrel_default
  --mib N              bulk upload per measurement, MiB (default 64; --quick 4), after a warm-up of N/8
  --rtt-n N            64-byte round trips per measurement (default 2000; --quick 100)
  --handshakes N       handshakes per measurement (default 300; --quick 20), 4 concurrent
  --idle-conns N       idle connections held for the memory figure (default 2000; --quick 50; issue aim: 10000)
  --out FILE           also write the JSON results to FILE
  --no-pin             do not pin server and client to different cores
Environment: PETREL_BENCH_NODE_ARGS adds node flags to both peers (profiles: '--cpu-prof --cpu-prof-dir=DIR').`;

interface Case {
  key: string;
  label: string;
  kind: 'udp' | 'tcp' | 'ws' | 'udx' | 'petrel';
  insecure?: boolean;
  env?: Record<string, string>;
}

const CHACHA = 'CHACHA20_POLY1305_SHA256';
const AES = 'AES_128_GCM_SHA256';

const PEERS: Case[] = [
  { key: 'udp', label: 'raw node:dgram (self-clocked)', kind: 'udp' },
  { key: 'tcp', label: 'node:net TCP', kind: 'tcp' },
  { key: 'ws', label: 'ws (WebSocket over TCP)', kind: 'ws' },
  { key: 'udx', label: 'udx-native', kind: 'udx' },
];
const PETREL: Case[] = [
  { key: 'petrel_default', label: 'Petrel, default (runtime provider, calibrated suite)', kind: 'petrel' },
  {
    key: 'petrel_chacha_sodium',
    label: 'Petrel, ChaCha20-Poly1305, libsodium',
    kind: 'petrel',
    env: { PETREL_CRYPTO_PROVIDER: 'sodium', PETREL_CRYPTO_SUITES: CHACHA },
  },
  {
    key: 'petrel_chacha_node',
    label: 'Petrel, ChaCha20-Poly1305, node:crypto',
    kind: 'petrel',
    env: { PETREL_CRYPTO_PROVIDER: 'node', PETREL_CRYPTO_SUITES: CHACHA },
  },
  {
    key: 'petrel_aes_node',
    label: 'Petrel, AES-128-GCM, node:crypto',
    kind: 'petrel',
    env: { PETREL_CRYPTO_PROVIDER: 'node', PETREL_CRYPTO_SUITES: AES },
  },
  { key: 'petrel_nobatch', label: 'Petrel, default, receive batching off', kind: 'petrel', env: { PETREL_RECV_BATCH: '1' } },
  { key: 'petrel_insecure', label: 'Petrel, insecure (plaintext)', kind: 'petrel', insecure: true },
];

// ───────────────────────────── arguments ─────────────────────────────

function parse(argv: string[]) {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number): number => {
    const v = get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const quick = argv.includes('--quick');
  return {
    help: argv.includes('--help') || argv.includes('-h'),
    quick,
    json: argv.includes('--json'),
    out: get('out'),
    pin: !argv.includes('--no-pin'),
    reps: Math.round(num('reps', quick ? 1 : 5)),
    tests: (get('tests') ?? 'bulk,rtt,rtt1,handshake,idle').split(','),
    cases: get('cases')?.split(','),
    bytes: Math.round(num('mib', quick ? 4 : 64) * MiB),
    rttN: Math.round(num('rtt-n', quick ? 100 : 2000)),
    handshakes: Math.round(num('handshakes', quick ? 20 : 300)),
    idleConns: Math.round(num('idle-conns', quick ? 50 : 2000)),
  };
}
type Args = ReturnType<typeof parse>;

// ───────────────────────────── peer processes ─────────────────────────────

const hasTaskset = ((): boolean => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

class Peer {
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  constructor(cpu: number | null, env: Record<string, string>) {
    // PETREL_BENCH_NODE_ARGS: extra node flags for both peers, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'.
    const extra = (process.env.PETREL_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const nodeArgs = [...extra, ...(BUILT ? [] : ['--import', 'tsx']), '--expose-gc', PEER];
    const [cmd, args] = cpu !== null ? ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
    this.child = spawn(cmd, args as string[], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...env } });
    this.child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        for (const w of this.waiting.values()) w.reject(new Error(`peer exited (${code}) with a request pending`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  call<T>(op: Op, timeoutMs = 120_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${op.op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ ...op, id });
    });
  }

  async stop(): Promise<void> {
    await this.call({ op: 'exit' }, 5000).catch(() => undefined);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

interface Usage {
  cpuUs: number;
  sinceMs: number;
  mem: { heapUsed: number; rss: number; external: number; arrayBuffers: number };
  stats: Record<string, number>;
}

/** A server and a client of one case, connected. */
async function pair(
  c: Case,
  args: Args,
  mode: 'sink' | 'echo' | 'accept',
  oneCore = false,
): Promise<{ server: Peer; client: Peer; port: number; fingerprint?: string }> {
  // One core: both processes pinned to core 0 (each wake-up of one waits for the other to yield the core).
  const pin = (args.pin || oneCore) && hasTaskset;
  const env = c.env ?? {};
  const server = new Peer(pin ? 0 : null, env);
  const client = new Peer(pin ? (oneCore ? 0 : 1) : null, env);
  try {
    const { port, fingerprint } = await server.call<{ port: number; fingerprint?: string }>({
      op: 'listen',
      kind: c.kind,
      insecure: c.insecure,
      mode,
    });
    const { port: cport } = await client.call<{ port: number }>({ op: 'prepare', kind: c.kind, insecure: c.insecure });
    if (c.kind === 'udx') await server.call({ op: 'peer', port: cport });
    await client.call({ op: 'connect', port, fingerprint });
    return { server, client, port, fingerprint };
  } catch (err) {
    await Promise.all([server.stop(), client.stop()]);
    throw err;
  }
}

// ───────────────────────────── measurements ─────────────────────────────

type Sample = Record<string, number>;

async function bulk(c: Case, args: Args): Promise<Sample> {
  const { server, client } = await pair(c, args, 'sink');
  try {
    const warm = Math.max(MiB, Math.round(args.bytes / 8));
    await client.call({ op: 'send', bytes: warm });
    await server.call({ op: 'expect', bytes: warm, stallMs: 1000 });
    await server.call({ op: 'mark' });
    const got0 = (await server.call<{ bytes: number }>({ op: 'expect', bytes: 0, stallMs: 1000 })).bytes;
    const sent = await client.call<{ startMs: number; sent: number; cpuUs: number; endMs: number }>({ op: 'send', bytes: args.bytes });
    const rx = await server.call<{ bytes: number; lastRxMs: number }>({ op: 'expect', bytes: got0 + sent.sent, stallMs: 1000 });
    const su = await server.call<Usage>({ op: 'usage' });
    // Client CPU: its send call only (up to the last write or ack); server CPU: from the mark to now.
    const bytes = rx.bytes - got0;
    const ms = rx.lastRxMs - sent.startMs;
    const units = bytes / DATAGRAM;
    return {
      goodput_MBps: bytes / ms / 1000,
      delivered_pct: (bytes / sent.sent) * 100,
      client_cpu_us_per_1472B: sent.cpuUs / units,
      server_cpu_us_per_1472B: su.cpuUs / units,
    };
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function rtt(c: Case, lane: Lane, args: Args, oneCore = false): Promise<Sample> {
  const { server, client } = await pair(c, args, 'echo', oneCore);
  try {
    const warm = Math.max(100, Math.round(args.rttN / 5));
    // The warm-up is a call of its own, before both sides' CPU mark: its round trips run mostly unoptimised
    // code (V8 tiers up as it goes), which at a few thousand round trips was most of the CPU counted.
    await client.call({ op: 'rtt', lane, n: warm, warm: 0, size: 64 }, 300_000);
    await server.call({ op: 'mark' });
    const { samplesUs, cpuUs } = await client.call<{ samplesUs: number[]; cpuUs: number }>(
      { op: 'rtt', lane, n: args.rttN, warm: 0, size: 64 },
      300_000,
    );
    const su = await server.call<Usage>({ op: 'usage' });
    const s = [...samplesUs].sort((a, b) => a - b);
    // CPU per round trip (both sides, after the warm-up): unlike the times, hardly moved by other load.
    const trips = args.rttN;
    return { p50_us: pct(s, 0.5), p99_us: pct(s, 0.99), client_cpu_us_per_rt: cpuUs / trips, server_cpu_us_per_rt: su.cpuUs / trips };
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

async function handshakes(c: Case, args: Args): Promise<Sample> {
  const { server, client } = await pair(c, args, 'accept');
  try {
    const warm = Math.max(20, Math.round(args.handshakes / 5));
    await client.call({ op: 'handshakes', n: warm, concurrency: 4 });
    await server.call({ op: 'mark' });
    const r = await client.call<{ ms: number; ok: number }>({ op: 'handshakes', n: args.handshakes, concurrency: 4 }, 300_000);
    const su = await server.call<Usage>({ op: 'usage' });
    return { handshakes_per_s: (r.ok / r.ms) * 1000, server_cpu_us_per_handshake: su.cpuUs / r.ok };
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

async function idle(c: Case, args: Args): Promise<Sample> {
  const { server, client } = await pair(c, args, 'accept');
  try {
    const before = await server.call<{ mem: Usage['mem'] }>({ op: 'mark' });
    const { open } = await client.call<{ open: number }>({ op: 'idle', n: args.idleConns, concurrency: 32 }, 600_000);
    await new Promise((r) => setTimeout(r, 500)); // handshakes' last ACKs and timers settle
    const after = await server.call<Usage>({ op: 'usage', gc: true });
    const per = (k: keyof Usage['mem']) => (after.mem[k] - before.mem[k]) / open;
    return { connections: open, heap_bytes_per_conn: per('heapUsed'), external_bytes_per_conn: per('external'), rss_bytes_per_conn: per('rss') };
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
}

// ───────────────────────────── running and reporting ─────────────────────────────

interface Row {
  test: string;
  key: string;
  label: string;
  samples: Sample[];
  error?: string;
}

function summary(values: number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2, min: s[0]!, max: s[s.length - 1]! };
}

function f(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : x.toFixed(3);
}

function printTable(title: string, rows: Row[], metrics: string[], ratioTo?: { key: string; metric: string; label: string }): void {
  console.log(`\n### ${title}\n`);
  const head = ['case', ...metrics.map((m) => `${m} median [min–max]`), ...(ratioTo ? [ratioTo.label] : [])];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  const base = ratioTo ? rows.find((r) => r.key === ratioTo.key && r.samples.length > 0) : undefined;
  const baseMedian = base ? summary(base.samples.map((s) => s[ratioTo!.metric]!)).median : NaN;
  for (const r of rows) {
    if (r.samples.length === 0) {
      console.log(`| ${r.label} | failed: ${(r.error ?? '').split('\n')[0]} |`);
      continue;
    }
    const cells = metrics.map((m) => {
      const s = summary(r.samples.map((x) => x[m]!));
      return r.samples.length > 1 ? `${f(s.median)} [${f(s.min)}–${f(s.max)}]` : f(s.median);
    });
    const ratio = ratioTo ? [`${f(summary(r.samples.map((s) => s[ratioTo.metric]!)).median / baseMedian)}×`] : [];
    console.log(`| ${r.label} | ${[...cells, ...ratio].join(' | ')} |`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const want = (c: Case) => !args.cases || args.cases.includes(c.key);
  type Job = { test: string; key: string; label: string; run: () => Promise<Sample> };
  const jobs: Job[] = [];
  const all = [...PEERS, ...PETREL].filter(want);
  if (args.tests.includes('bulk')) for (const c of all) jobs.push({ test: 'bulk', key: c.key, label: c.label, run: () => bulk(c, args) });
  for (const test of ['rtt', 'rtt1'].filter((t) => args.tests.includes(t))) {
    for (const c of all) {
      const lanes: Lane[] =
        c.kind !== 'petrel' ? ['plain'] : c.key === 'petrel_default' || c.key === 'petrel_nobatch' ? ['datagram', 'stream', 'channel'] : ['datagram'];
      for (const lane of lanes) {
        jobs.push({
          test,
          key: lane === 'plain' ? c.key : `${c.key}/${lane}`,
          label: lane === 'plain' ? c.label : `${c.label}: ${lane}`,
          run: () => rtt(c, lane, args, test === 'rtt1'),
        });
      }
    }
  }
  if (args.tests.includes('handshake')) {
    for (const c of PETREL.filter(want).filter((c) => c.key !== 'petrel_nobatch')) {
      jobs.push({ test: 'handshake', key: c.key, label: c.label, run: () => handshakes(c, args) });
    }
  }
  if (args.tests.includes('idle')) {
    for (const c of PETREL.filter(want).filter((c) => c.key === 'petrel_default' || c.key === 'petrel_insecure')) {
      jobs.push({ test: 'idle', key: c.key, label: c.label, run: () => idle(c, args) });
    }
  }

  const rows = new Map<string, Row>(jobs.map((j) => [`${j.test}:${j.key}`, { test: j.test, key: j.key, label: j.label, samples: [] }]));
  const t0 = Date.now();
  for (let rep = 0; rep < args.reps; rep++) {
    for (const j of jobs) {
      const row = rows.get(`${j.test}:${j.key}`)!;
      try {
        row.samples.push(await j.run());
      } catch (err) {
        row.error = err instanceof Error ? err.message : String(err);
      }
      if (!args.json) {
        process.stderr.write(
          `rep ${rep + 1}/${args.reps} ${j.test} ${j.key}: ${row.samples.length ? JSON.stringify(row.samples[row.samples.length - 1]) : row.error}\n`,
        );
      }
    }
  }
  const env = {
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    pinned: args.pin && hasTaskset,
    reps: args.reps,
    bulk_bytes: args.bytes,
    rtt_n: args.rttN,
    handshakes: args.handshakes,
    idle_conns: args.idleConns,
    seconds: (Date.now() - t0) / 1000,
    load: (await import('node:os')).loadavg(),
  };
  const list = [...rows.values()];
  const out = list.map((r) => ({
    test: r.test,
    key: r.key,
    label: r.label,
    error: r.error,
    samples: r.samples,
    summary: Object.fromEntries(Object.keys(r.samples[0] ?? {}).map((m) => [m, summary(r.samples.map((s) => s[m]!))])),
  }));
  if (args.out) (await import('node:fs')).writeFileSync(args.out, JSON.stringify({ env, results: out }, null, 2));
  if (args.json) {
    console.log(JSON.stringify({ env, results: out }, null, 2));
    return list.every((r) => r.samples.length > 0) ? 0 : 1;
  }
  console.log(
    `# Petrel two-process benchmark\n\nnode ${env.node}, ${env.cpus} CPUs, server and client ${env.pinned ? 'pinned to cores 0 and 1 (taskset)' : 'not pinned'}, ${env.reps} interleaved repetition(s), load average ${env.load.map((l) => l.toFixed(2)).join(' ')}, ${env.seconds.toFixed(0)} s. Ratios are to raw node:dgram in the same run; absolute figures depend on the machine's load.`,
  );
  const of = (t: string) => list.filter((r) => r.test === t);
  if (of('bulk').length) {
    printTable(
      `Bulk upload, ${args.bytes / MiB} MiB after a warm-up (goodput MB/s = 10^6 B/s; CPU per 1472 B of payload)`,
      of('bulk'),
      ['goodput_MBps', 'client_cpu_us_per_1472B', 'server_cpu_us_per_1472B'],
      { key: 'udp', metric: 'goodput_MBps', label: 'goodput / raw dgram' },
    );
  }
  for (const [test, where] of [
    ['rtt', 'two cores'],
    ['rtt1', 'one core: both processes pinned to core 0'],
  ] as const) {
    if (!of(test).length) continue;
    printTable(
      `64-byte round trips, ${where}, ${args.rttN} sequential after a warm-up (µs)`,
      of(test),
      ['p50_us', 'p99_us', 'client_cpu_us_per_rt', 'server_cpu_us_per_rt'],
      {
        key: 'udp',
        metric: 'p50_us',
        label: 'p50 / raw dgram',
      },
    );
    const base = rows.get(`${test}:udp`);
    if (base?.samples.length) {
      const b99 = summary(base.samples.map((s) => s.p99_us!)).median;
      console.log(
        `\np99 / raw dgram: ${of(test)
          .filter((r) => r.samples.length)
          .map((r) => `${r.key} ${f(summary(r.samples.map((s) => s.p99_us!)).median / b99)}×`)
          .join(', ')}`,
      );
    }
  }
  if (of('handshake').length) {
    printTable(`Handshakes, ${args.handshakes} per measurement, 4 concurrent from one client process`, of('handshake'), [
      'handshakes_per_s',
      'server_cpu_us_per_handshake',
    ]);
  }
  if (of('idle').length) {
    printTable(`Idle connections held by the server (${args.idleConns}), bytes per connection after GC`, of('idle'), [
      'heap_bytes_per_conn',
      'external_bytes_per_conn',
      'rss_bytes_per_conn',
    ]);
  }
  return list.every((r) => r.samples.length > 0) ? 0 : 1;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) process.exitCode = await main(process.argv.slice(2));
