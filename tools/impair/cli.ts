/**
 * `petrel impair`: run an ImpairProxy from the command line until SIGINT/SIGTERM or --duration, then print what it
 * did to each direction. `main(argv)` is exported so bin/petrel.mjs (and tests) can call it in-process.
 */
import { createWriteStream } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GilbertElliott, LinkConfig, ResolvedLinkConfig } from '../../lib/sim/link.js';
import { ImpairProxy } from './proxy.js';
import type { ImpairDirection, ImpairEndpoint, ImpairStats } from './proxy.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Outage {
  direction: ImpairDirection | 'both';
  /** ms after start */
  at: number;
  /** ms */
  length: number;
}

export interface CliOptions {
  help: boolean;
  listen: ImpairEndpoint;
  target: ImpairEndpoint;
  seed: number;
  upstream: LinkConfig;
  downstream: LinkConfig;
  /** ms, or null to run until a signal */
  duration: number | null;
  outages: Outage[];
  /** ms; 0 = never */
  idleTimeout: number;
  /** JSON-SEQ trace file, or null */
  trace: string | null;
  quiet: boolean;
}

const NUM = '(\\d+(?:\\.\\d+)?|\\.\\d+)';

function fail(msg: string): never {
  throw new UsageError(msg);
}

/** Probability: `0.05` or `5%`. */
export function parseProbability(v: string, name: string): number {
  const m = new RegExp(`^${NUM}(%)?$`).exec(v);
  if (m === null) fail(`${name}: expected a probability like 0.05 or 5%, got '${v}'`);
  const p = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  if (p > 1) fail(`${name}: probability must be at most 1 (100%), got '${v}'`);
  return p;
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Time in ms: `10`, `10ms`, `250us`, `1.5s`, `2m`. A bare number is ms unless `unitRequired`. */
export function parseTime(v: string, name: string, unitRequired = false): number {
  const m = new RegExp(`^${NUM}(us|ms|s|m)?$`).exec(v);
  if (m === null) fail(`${name}: expected a time like 10ms, 1.5s or 2m, got '${v}'`);
  if (m[2] === undefined && unitRequired) fail(`${name}: give a unit (e.g. 30s, 500ms), got '${v}'`);
  return Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']!;
}

const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** Rate in bits/s: `10mbit`, `512kbit`, `1gbit`, a bare number of bit/s, or `inf`/`0` for unlimited. */
export function parseRate(v: string, name: string): number {
  const s = v.toLowerCase();
  if (s === 'inf' || s === 'off') return Infinity;
  if (/^[\d.]+[kmg]?(bps|b\/s)$/.test(s)) fail(`${name}: '${v}' is ambiguous (bits or bytes?); write e.g. 10mbit`);
  const m = new RegExp(`^${NUM}(bit|kbit|mbit|gbit)?$`).exec(s);
  if (m === null) fail(`${name}: expected a rate like 10mbit, 512kbit or 1gbit, got '${v}'`);
  const r = Number(m[1]) * RATE_UNITS[m[2] ?? 'bit']!;
  return r === 0 ? Infinity : r;
}

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 * 1024, mb: 1024 * 1024 };

/** Size in bytes: `1400`, `64kb` (= 65536, as in tc), `1mb`, or `inf`. */
export function parseSize(v: string, name: string): number {
  const s = v.toLowerCase();
  if (s === 'inf' || s === 'off') return Infinity;
  const m = new RegExp(`^${NUM}(b|kb?|mb?)?$`).exec(s);
  if (m === null) fail(`${name}: expected a size like 1400, 64kb or 1mb, got '${v}'`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2] ?? 'b']!);
}

/** Gilbert–Elliott: `p,r` or `p,r,lossGood,lossBad`; `off` for none. */
export function parseBurst(v: string, name: string): GilbertElliott | null {
  if (v === 'off' || v === 'none') return null;
  const parts = v.split(',');
  if (parts.length !== 2 && parts.length !== 4) fail(`${name}: expected p,r or p,r,lossGood,lossBad, got '${v}'`);
  const [p, r, lossGood, lossBad] = parts.map((x) => parseProbability(x.trim(), name));
  const ge: GilbertElliott = { p: p!, r: r! };
  if (lossGood !== undefined) ge.lossGood = lossGood;
  if (lossBad !== undefined) ge.lossBad = lossBad;
  return ge;
}

/** `host:port`, `[v6]:port`, or a bare port (host 127.0.0.1). */
export function parseEndpoint(v: string, name: string): ImpairEndpoint {
  let host: string;
  let port: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  if (v6 !== null) [host, port] = [v6[1]!, v6[2]!];
  else if (/^\d+$/.test(v)) [host, port] = ['127.0.0.1', v];
  else {
    const i = v.lastIndexOf(':');
    if (i <= 0 || v.indexOf(':') !== i) fail(`${name}: expected host:port or [ipv6]:port, got '${v}'`);
    [host, port] = [v.slice(0, i), v.slice(i + 1)];
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || n > 65535) fail(`${name}: bad port in '${v}'`);
  return { host, port: n };
}

/** `AT+LENGTH`, e.g. `10s+2s`: down from AT after start, for LENGTH. */
function parseOutage(v: string, name: string, direction: Outage['direction']): Outage {
  const i = v.indexOf('+');
  if (i <= 0) fail(`${name}: expected AT+LENGTH like 10s+2s, got '${v}'`);
  return { direction, at: parseTime(v.slice(0, i), name, true), length: parseTime(v.slice(i + 1), name, true) };
}

interface LinkOption {
  name: string;
  arg: string;
  help: string;
  apply(c: LinkConfig, v: string, flag: string): void;
}

/** Every impairment option; each also exists as --up-NAME and --down-NAME for one direction. */
const LINK_OPTIONS: readonly LinkOption[] = [
  { name: 'loss', arg: 'P', help: 'Bernoulli loss probability per datagram (0.05 or 5%)', apply: (c, v, f) => (c.loss = parseProbability(v, f)) },
  {
    name: 'burst',
    arg: 'p,r[,g,b]',
    help: 'Gilbert–Elliott bursty loss: P(good→bad), P(bad→good) per datagram, loss in the good (default 0) and bad (default 1) states; "off" for none',
    apply: (c, v, f) => (c.burst = parseBurst(v, f)),
  },
  {
    name: 'delay',
    arg: 'T',
    help: 'one-way propagation delay (ms, or with a unit: 250us, 10ms, 1s)',
    apply: (c, v, f) => (c.delay = parseTime(v, f)),
  },
  {
    name: 'jitter',
    arg: 'T',
    help: 'extra random delay in [0, T] per datagram; jitter larger than the gap between datagrams reorders them',
    apply: (c, v, f) => (c.jitter = parseTime(v, f)),
  },
  {
    name: 'jitter-dist',
    arg: 'D',
    help: 'jitter distribution: uniform (flat, the default) or normal (bell-shaped mean of 4 uniforms)',
    apply: (c, v, f) => {
      if (v !== 'uniform' && v !== 'normal') fail(`${f}: expected uniform or normal, got '${v}'`);
      c.jitterDistribution = v;
    },
  },
  { name: 'preserve-order', arg: '', help: 'clamp arrivals so jitter never reorders (a flag)', apply: (c) => (c.preserveOrder = true) },
  {
    name: 'reorder',
    arg: 'P',
    help: 'probability a datagram is held back by --reorder-delay so later ones overtake it',
    apply: (c, v, f) => (c.reorder = parseProbability(v, f)),
  },
  {
    name: 'reorder-delay',
    arg: 'T',
    help: 'extra delay of a reordered datagram (default 10ms)',
    apply: (c, v, f) => (c.reorderDelay = parseTime(v, f)),
  },
  {
    name: 'duplicate',
    arg: 'P',
    help: 'probability a datagram is delivered twice (the copy gets its own jitter)',
    apply: (c, v, f) => (c.duplicate = parseProbability(v, f)),
  },
  { name: 'corrupt', arg: 'P', help: 'probability a datagram has bits flipped', apply: (c, v, f) => (c.corrupt = parseProbability(v, f)) },
  {
    name: 'corrupt-bits',
    arg: 'N',
    help: 'a corrupted datagram has 1..N distinct bits flipped (default 1)',
    apply: (c, v, f) => {
      if (!/^\d+$/.test(v) || Number(v) < 1) fail(`${f}: expected an integer >= 1, got '${v}'`);
      c.corruptBits = Number(v);
    },
  },
  {
    name: 'rate',
    arg: 'R',
    help: 'bottleneck rate: 10mbit, 512kbit, 1gbit, or bits/s; inf = unlimited (default)',
    apply: (c, v, f) => (c.rate = parseRate(v, f)),
  },
  {
    name: 'queue',
    arg: 'S',
    help: 'drop-tail queue in front of the bottleneck, bytes waiting: 64kb (= 65536), 1mb, 3000; default inf',
    apply: (c, v, f) => (c.queueBytes = parseSize(v, f)),
  },
  {
    name: 'mtu',
    arg: 'S',
    help: 'drop datagrams with a UDP payload larger than S bytes (default inf)',
    apply: (c, v, f) => (c.mtu = parseSize(v, f)),
  },
];

const BY_NAME = new Map(LINK_OPTIONS.map((o) => [o.name, o]));

/** One help entry: the option in a 24-column gutter, its text wrapped to 116 columns. */
function optionLine(head: string, text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && 26 + line.length + 1 + word.length > 116) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.map((l, i) => (i === 0 ? `  ${head.padEnd(24)}${l}` : `${''.padEnd(26)}${l}`)).join('\n');
}

export const HELP = `Usage: petrel impair --listen HOST:PORT --target HOST:PORT [impairments] [options]
       node --import tsx tools/impair/cli.ts ...same arguments...

A UDP proxy that impairs real traffic with the simulator's link model (spec/simulator.md). Clients send to
--listen; each client address gets its own socket toward --target, so the target sees one peer per client and its
replies go back to the right client. "Upstream" is client → target, "downstream" is target → client.

Addresses:
  --listen HOST:PORT      where clients send ([::1]:9000 for IPv6; a bare PORT means 127.0.0.1:PORT;
                          port 0 picks a free one, printed at start)
  --target HOST:PORT      the real server (a host name is resolved once, at start)

Impairments (apply to both directions; --up-NAME / --down-NAME override one direction,
e.g. --up-loss 0.1 --down-delay 30ms):
${LINK_OPTIONS.map((o) => optionLine(`--${o.name} ${o.arg}`, o.help)).join('\n')}
  --outage AT+LEN         take the link down AT after start for LEN (units required: 10s+2s); repeatable;
                          --up-outage / --down-outage for one direction. Going down empties the queue.

Options:
  --seed N                seed of the impairment decisions (default 1): the same seed makes the same decisions for
                          the same sequence of datagrams (queue drops depend on real timing and may differ)
  --duration T            stop after T (unit required: 30s, 500ms, 2m); default: run until SIGINT/SIGTERM
  --idle-timeout T        forget a client silent this long (default 120s; 0 = never)
  --trace FILE            write a qlog-shaped JSON-SEQ trace of every datagram (sent, dropped, duplicated,
                          corrupted, delivered) to FILE
  --quiet                 print only the final table
  -h, --help              this text

Units: times take us, ms (default), s, m; rates take bit (default), kbit, mbit, gbit (×1000); sizes take b (default),
kb/k, mb/m (×1024, as in tc). Probabilities are 0..1 or a percentage (5%).

On SIGINT/SIGTERM or after --duration the proxy stops and prints, per direction: datagrams sent into the link,
delivered (duplicates included), dropped by reason, duplicated, corrupted, reordered, bytes, datagrams still in
flight (discarded) and send errors.

Example, in front of a Petrel server on 127.0.0.1:4433:
  petrel impair --listen 127.0.0.1:9000 --target 127.0.0.1:4433 --loss 2% --delay 40ms --jitter 5ms \\
    --rate 10mbit --queue 64kb --seed 42 --duration 60s
`;

/** Parse the command line (without the node/script prefix). Throws UsageError. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const both: LinkConfig = {};
  const up: LinkConfig = {};
  const down: LinkConfig = {};
  const out: CliOptions = {
    help: false,
    listen: { host: '', port: -1 },
    target: { host: '', port: -1 },
    seed: 1,
    upstream: up,
    downstream: down,
    duration: null,
    outages: [],
    idleTimeout: 120_000,
    trace: null,
    quiet: false,
  };
  let sawListen = false;
  let sawTarget = false;
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (raw === '-h' || raw === '--help') {
      out.help = true;
      continue;
    }
    if (!raw.startsWith('--')) fail(`unexpected argument '${raw}'`);
    const eq = raw.indexOf('=');
    const flag = eq < 0 ? raw : raw.slice(0, eq);
    const name = flag.slice(2);
    let inline = eq < 0 ? undefined : raw.slice(eq + 1);
    const value = (): string => {
      if (inline !== undefined) {
        const v = inline;
        inline = undefined;
        return v;
      }
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };

    let target: LinkConfig = both;
    let base = name;
    let dir: Outage['direction'] = 'both';
    if (name.startsWith('up-')) [target, base, dir] = [up, name.slice(3), 'upstream'];
    else if (name.startsWith('down-')) [target, base, dir] = [down, name.slice(5), 'downstream'];

    const link = BY_NAME.get(base);
    if (link !== undefined) {
      if (link.arg === '') {
        if (inline !== undefined) fail(`${flag} takes no value`);
        link.apply(target, '', flag);
      } else link.apply(target, value(), flag);
      continue;
    }
    if (base === 'outage') {
      out.outages.push(parseOutage(value(), flag, dir));
      continue;
    }
    if (target !== both) fail(`unknown option ${flag}`);
    switch (name) {
      case 'listen':
        out.listen = parseEndpoint(value(), flag);
        sawListen = true;
        break;
      case 'target':
        out.target = parseEndpoint(value(), flag);
        sawTarget = true;
        break;
      case 'seed': {
        const v = value();
        if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) fail(`${flag}: expected an integer, got '${v}'`);
        out.seed = Number(v);
        break;
      }
      case 'duration':
        out.duration = parseTime(value(), flag, true);
        break;
      case 'idle-timeout':
        out.idleTimeout = parseTime(value(), flag);
        break;
      case 'trace':
        out.trace = value();
        break;
      case 'quiet':
        out.quiet = true;
        break;
      default:
        fail(`unknown option ${flag} (see --help)`);
    }
    if (inline !== undefined) fail(`${flag} takes no value`);
  }
  out.upstream = { ...both, ...up };
  out.downstream = { ...both, ...down };
  if (!out.help) {
    if (!sawListen) fail('--listen is required');
    if (!sawTarget) fail('--target is required');
  }
  return out;
}

function fmtAddr(a: ImpairEndpoint): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The non-default parts of a resolved config, on one line. */
export function describeConfig(c: Readonly<ResolvedLinkConfig>): string {
  const parts: string[] = [];
  if (c.delay > 0) parts.push(`delay ${c.delay}ms`);
  if (c.jitter > 0) parts.push(`jitter ${c.jitter}ms${c.jitterDistribution === 'normal' ? ' (normal)' : ''}`);
  if (c.preserveOrder) parts.push('preserve-order');
  if (c.loss > 0) parts.push(`loss ${c.loss}`);
  if (c.burst !== null) parts.push(`burst p=${c.burst.p} r=${c.burst.r} good=${c.burst.lossGood} bad=${c.burst.lossBad}`);
  if (c.reorder > 0) parts.push(`reorder ${c.reorder} (+${c.reorderDelay}ms)`);
  if (c.duplicate > 0) parts.push(`duplicate ${c.duplicate}`);
  if (c.corrupt > 0) parts.push(`corrupt ${c.corrupt} (≤${c.corruptBits} bits)`);
  if (c.rate !== Infinity) parts.push(`rate ${c.rate} bit/s`);
  if (c.queueBytes !== Infinity) parts.push(`queue ${c.queueBytes} B`);
  if (c.mtu !== Infinity) parts.push(`mtu ${c.mtu}`);
  if (c.down) parts.push('down');
  return parts.length === 0 ? 'no impairment' : parts.join(', ');
}

/** The final report: one column per direction. */
export function formatStats(s: ImpairStats): string {
  const u = s.upstream;
  const d = s.downstream;
  const rows: [string, number, number][] = [
    ['sent', u.sent, d.sent],
    ['delivered', u.delivered, d.delivered],
    ['dropped', sumDropped(u.dropped), sumDropped(d.dropped)],
    ...(['loss', 'burst', 'queue', 'mtu', 'down'] as const).map((k): [string, number, number] => [`  ${k}`, u.dropped[k], d.dropped[k]]),
    ['duplicated', u.duplicated, d.duplicated],
    ['corrupted', u.corrupted, d.corrupted],
    ['reordered', u.reordered, d.reordered],
    ['bytes sent', u.bytesSent, d.bytesSent],
    ['bytes delivered', u.bytesDelivered, d.bytesDelivered],
    ['in flight (discarded)', u.inFlight, d.inFlight],
    ['send errors', u.sendErrors, d.sendErrors],
  ];
  const w = 12;
  const lines = [`${''.padEnd(22)}${'upstream'.padStart(w)}${'downstream'.padStart(w)}`];
  for (const [label, a, b] of rows) lines.push(`${label.padEnd(22)}${String(a).padStart(w)}${String(b).padStart(w)}`);
  lines.push(`clients: ${s.clientsTotal} seen, ${s.clients} active at stop; ignored datagrams: ${s.ignored}`);
  return lines.join('\n') + '\n';
}

function sumDropped(d: Record<string, number>): number {
  let n = 0;
  for (const k in d) n += d[k]!;
  return n;
}

export interface CliIO {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  /** resolves when the run should stop early (tests); signals and --duration also stop it */
  stop?: Promise<unknown>;
}

/** Run the command. Resolves to the exit code: 0 ok, 1 runtime failure, 2 usage error. */
export async function main(argv: readonly string[], io: CliIO = { out: process.stdout, err: process.stderr }): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err.write(`petrel impair: ${e.message}\n`);
    return 2;
  }
  if (opts.help) {
    io.out.write(HELP);
    return 0;
  }

  const traceFile = opts.trace === null ? null : createWriteStream(opts.trace);
  let proxy: ImpairProxy;
  try {
    proxy = new ImpairProxy({
      listen: opts.listen,
      target: opts.target,
      seed: opts.seed,
      upstream: opts.upstream,
      downstream: opts.downstream,
      idleTimeout: opts.idleTimeout,
      trace: traceFile === null ? null : (r) => void traceFile.write(r),
    });
  } catch (e) {
    io.err.write(`petrel impair: ${(e as Error).message}\n`);
    traceFile?.end();
    return 2; // LinkDirection rejects out-of-range values
  }

  let bound: ImpairEndpoint;
  try {
    bound = await proxy.start();
  } catch (e) {
    io.err.write(`petrel impair: cannot start: ${(e as Error).message}\n`);
    traceFile?.end();
    return 1;
  }
  if (!opts.quiet) {
    io.out.write(`petrel impair: ${fmtAddr(bound)} -> ${fmtAddr(opts.target)} (seed ${opts.seed})\n`);
    io.out.write(`  upstream:   ${describeConfig(proxy.config('upstream'))}\n`);
    io.out.write(`  downstream: ${describeConfig(proxy.config('downstream'))}\n`);
  }

  const timers: ReturnType<typeof setTimeout>[] = [];
  for (const o of opts.outages) {
    timers.push(setTimeout(() => proxy.set(o.direction, { down: true }), o.at));
    timers.push(setTimeout(() => proxy.set(o.direction, { down: false }), o.at + o.length));
  }
  let why = '';
  await new Promise<void>((resolve) => {
    const done = (reason: string): void => {
      if (why !== '') return;
      why = reason;
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    if (opts.duration !== null) timers.push(setTimeout(() => done('duration'), opts.duration));
    void io.stop?.then(() => done('stopped'));
  });
  for (const t of timers) clearTimeout(t);
  const stats = await proxy.stop();
  if (traceFile !== null) await new Promise<void>((r) => traceFile.end(r));
  if (!opts.quiet) io.out.write(`petrel impair: stopped (${why})\n`);
  io.out.write(formatStats(stats));
  return 0;
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`petrel impair: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
