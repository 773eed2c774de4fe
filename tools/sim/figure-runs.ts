/**
 * The simulator bench behind `npm run sim:figures` (tools/sim/figures.ts): the figure link, the flows and
 * their streams, and one function per kind of run (a sized transfer, messages with latency, two flows on
 * one bottleneck, an endless flow with one-way delay). figures.ts strings them into the published set.
 */
import { crc32 } from 'node:zlib';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, ConnectionStats, CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { SimRandom } from '../../lib/sim/random.js';
import type { GilbertElliott, LinkConfig, LinkStats } from '../../lib/sim/link.js';

const CLIENT = { host: '10.0.1.1', port: 50000 };
const SERVER = { host: '10.0.1.2', port: 4433 };

/** Bottleneck rate of every scenario, bits/s. */
export const LINK_RATE = 10_000_000;

/** One BDP in bytes for the bottleneck rate and a base RTT in ms. */
export function bdpBytes(rttMs: number): number {
  return (LINK_RATE * rttMs) / 8000;
}

/** One direction of the link: one-way delay rtt/2, 10 Mbit/s, a drop-tail queue of `queueBdp` BDPs, Bernoulli loss, optional bursts. */
export function figureLink(rttMs: number, loss: number, queueBdp = 1, burst?: GilbertElliott): LinkConfig {
  const l: LinkConfig = { delay: rttMs / 2, rate: LINK_RATE, queueBytes: bdpBytes(rttMs) * queueBdp, loss };
  if (burst) l.burst = burst;
  return l;
}

/** Bursty loss of the controller runs: Gilbert–Elliott, bursts of 4 datagrams on average, about 1 % lost overall. */
export const BURST_LOSS: GilbertElliott = { p: 0.0025, r: 0.25, lossGood: 0, lossBad: 1 };

/** Jain's fairness index of two rates: 1 = equal shares, 0.5 = one flow has everything. */
export function jainIndex(a: number, b: number): number {
  const sq = a * a + b * b;
  return sq > 0 ? ((a + b) * (a + b)) / (2 * sq) : NaN;
}

/** Mathis et al.: the loss-limited Reno rate MSS/RTT · 1.22/√p, in bytes per second (rtt in ms). */
export function mathisBound(mss: number, rttMs: number, p: number): number {
  return (mss / (rttMs / 1000)) * (1.22 / Math.sqrt(p));
}

/** Nearest-rank percentile (p in (0, 1]) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function simEnv(rng: SimRandom): CoreEnv {
  return {
    randomFill(out: Uint8Array) {
      out.set(rng.bytes(out.length));
    },
    crc32: (d: Uint8Array) => crc32(d),
  };
}

// ───────────────────────────── streams of a flow ─────────────────────────────

/** Bytes kept written but unacknowledged on a bulk stream: far above any window the 10 Mbit/s link allows. */
const BULK_BUFFER = 1024 * 1024;
const BULK_CHUNK = new Uint8Array(64 * 1024).map((_, i) => (i * 131 + 7) & 0xff);

/** A bulk stream: `total` bytes (Infinity: forever), written as fast as the connection takes them. */
class BulkStream {
  readonly kind = 'bulk';
  id = -1;
  written = 0;
  delivered = 0;
  firstWriteAt = NaN;
  lastDeliveryAt = NaN;
  private finished = false;
  constructor(readonly total: number) {}

  get complete(): boolean {
    return this.delivered >= this.total;
  }

  pump(c: Connection, now: number): void {
    if (this.finished) return;
    while (this.written < this.total && c.streamBufferedBytes(this.id) < BULK_BUFFER) {
      const n = Math.min(BULK_CHUNK.length, this.total - this.written);
      if (Number.isNaN(this.firstWriteAt)) this.firstWriteAt = now;
      c.streamWrite(this.id, n === BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, n));
      this.written += n;
    }
    if (this.written >= this.total) {
      c.streamFinish(this.id);
      this.finished = true;
    }
  }

  onData(d: Uint8Array, now: number): void {
    this.delivered += d.length;
    this.lastDeliveryAt = now;
  }
}

/**
 * Small messages at a fixed rate on one stream. Each is `size` bytes starting with its 32-bit sequence
 * number; the receiver checks the numbers arrive in order and records send → delivery latency.
 */
class MessageStream {
  readonly kind = 'messages';
  id = -1;
  readonly sentAt: number[] = [];
  readonly latencies: number[] = [];
  private recvBytes = 0;
  private seqAcc = 0;
  corrupt = 0;
  constructor(
    readonly size: number,
    readonly intervalMs: number,
    readonly count: number,
  ) {}

  get complete(): boolean {
    return this.latencies.length >= this.count;
  }

  /** Schedules the sends from `start` on (virtual ms), one sim callback per message. */
  schedule(sim: Simulator, c: Connection, start: number): void {
    const send = (i: number): void => {
      const m = new Uint8Array(this.size);
      m[0] = i >>> 24;
      m[1] = (i >>> 16) & 0xff;
      m[2] = (i >>> 8) & 0xff;
      m[3] = i & 0xff;
      this.sentAt.push(sim.now);
      c.streamWrite(this.id, m);
      if (i + 1 < this.count) sim.at(start + (i + 1) * this.intervalMs, () => send(i + 1));
    };
    sim.at(start, () => send(0));
  }

  onData(d: Uint8Array, now: number): void {
    for (let i = 0; i < d.length; i++) {
      const pos = this.recvBytes++ % this.size;
      if (pos < 4) this.seqAcc = ((this.seqAcc << 8) | d[i]!) >>> 0;
      if (pos === this.size - 1) {
        const seq = this.latencies.length;
        if (this.seqAcc !== seq) this.corrupt++;
        this.latencies.push(now - this.sentAt[seq]!);
      }
    }
  }
}

type FlowStream = BulkStream | MessageStream;

/** One connection from the client endpoint and the streams it opens once connected. */
class Flow {
  conn: Connection;
  connectedAt = NaN;
  readonly streams: FlowStream[];
  /** delivered bulk bytes at each named sampling point */
  readonly samples = new Map<string, number>();
  constructor(
    conn: Connection,
    streams: FlowStream[],
    readonly label: string,
  ) {
    this.conn = conn;
    this.streams = streams;
  }

  get bulkDelivered(): number {
    let n = 0;
    for (const s of this.streams) if (s.kind === 'bulk') n += s.delivered;
    return n;
  }
}

// ───────────────────────────── the bench ─────────────────────────────

interface BenchOptions {
  seed: number;
  rttMs: number;
  loss: number;
  /** loss of the server → client direction (ACKs); default `loss` */
  reverseLoss?: number;
  /** drop-tail queue in BDPs (default 1) */
  queueBdp?: number;
  /** Gilbert–Elliott bursts on both directions */
  burst?: GilbertElliott;
  trace?: string[];
  title: string;
}

/**
 * A client endpoint and a server endpoint over the figure link. Flows are connections from the client;
 * the server reads everything as soon as it arrives and hands it to the flow's stream objects (matched by
 * the client's original destination connection id), so "delivered" means handed to the application.
 */
class Bench {
  readonly sim: Simulator;
  readonly flows: Flow[] = [];
  private readonly clientEp: Endpoint;
  private readonly byOdcid = new Map<string, Flow>();
  private readonly serverConns: Connection[] = [];
  private readonly serverStreams = new Map<Connection, Set<number>>();
  private readonly rttMs: number;

  constructor(o: BenchOptions) {
    this.rttMs = o.rttMs;
    this.sim = new Simulator({ seed: o.seed, trace: o.trace ?? null, title: o.title });
    const sim = this.sim;
    const cenv = simEnv(sim.rng('client-env'));
    const senv = simEnv(sim.rng('server-env'));
    if (sim.traceEnabled) {
      cenv.trace = (name, data) => sim.trace(name, { side: 'client', ...data });
      senv.trace = (name, data) => sim.trace(name, { side: 'server', ...data });
    }
    this.clientEp = new Endpoint({ env: cenv });
    const serverEp = new Endpoint({ env: senv, server: { crypto: insecureCrypto, options: {} } });
    const cn = new EndpointNode(this.clientEp);
    const sn = new EndpointNode(serverEp);
    cn.app = (ev, now) => this.onClient(ev, now);
    sn.app = (ev, now) => this.onServer(ev, now);
    sim.addNode(CLIENT, cn);
    sim.addNode(SERVER, sn);
    const q = o.queueBdp ?? 1;
    sim.link(CLIENT, SERVER, { ab: figureLink(o.rttMs, o.loss, q, o.burst), ba: figureLink(o.rttMs, o.reverseLoss ?? o.loss, q, o.burst) });
  }

  /** The bottleneck direction's statistics (client → server). */
  get dataLink(): LinkStats {
    return this.sim.direction(CLIENT, SERVER).stats;
  }

  /** Opens a connection now (virtual time) carrying `streams` once connected. */
  addFlow(label: string, streams: FlowStream[], options: ConnectionOptions = {}): Flow {
    const conn = this.clientEp.connect({ remote: SERVER, crypto: insecureCrypto, options, now: this.sim.now });
    const f = new Flow(conn, streams, label);
    this.flows.push(f);
    this.byOdcid.set(key(conn.originalDcid), f);
    return f;
  }

  /** Adds `figures:metrics` trace records (cwnd, RTT, losses) every RTT while tracing. */
  sampleMetrics(until: number): void {
    if (!this.sim.traceEnabled) return;
    const tick = (): void => {
      for (const f of this.flows) {
        const s = f.conn.stats();
        this.sim.trace('figures:metrics', {
          flow: f.label,
          cwnd: Math.round(s.cwnd),
          ssthresh: Number.isFinite(s.ssthresh) ? Math.round(s.ssthresh) : null,
          inFlight: s.bytesInFlight,
          srtt: round3(s.smoothedRtt),
          lost: s.packetsLost,
          congestionEvents: s.congestionEvents,
          delivered: f.bulkDelivered,
        });
      }
      if (this.sim.now + this.rttMs <= until) this.sim.at(this.sim.now + this.rttMs, tick);
    };
    this.sim.at(this.sim.now, tick);
  }

  private onClient(ev: EndpointEvent | null, now: number): void {
    if (ev && ev.kind === 'connection' && ev.event.type === 'connected') {
      const f = this.flows.find((x) => x.conn === ev.connection);
      if (f && Number.isNaN(f.connectedAt)) {
        f.connectedAt = now;
        for (const s of f.streams) {
          s.id = f.conn.openStream(true)!;
          if (s.kind === 'messages') s.schedule(this.sim, f.conn, now);
        }
      }
    }
    for (const f of this.flows) {
      if (Number.isNaN(f.connectedAt) || f.conn.isTerminated) continue;
      for (const s of f.streams) if (s.kind === 'bulk') s.pump(f.conn, now);
    }
  }

  private onServer(ev: EndpointEvent | null, now: number): void {
    if (ev) {
      if (ev.kind === 'accept') {
        this.serverConns.push(ev.connection);
        this.serverStreams.set(ev.connection, new Set());
      } else if (ev.event.type === 'stream_opened' || ev.event.type === 'stream_readable') {
        this.serverStreams.get(ev.connection)?.add(ev.event.streamId);
      }
    }
    for (const c of this.serverConns) {
      const f = this.byOdcid.get(key(c.originalDcid));
      if (!f) continue;
      for (const id of this.serverStreams.get(c)!) {
        const s = f.streams[id >>> 2];
        if (!s) continue;
        for (let d = c.streamRead(id); d; d = c.streamRead(id)) s.onData(d, now);
      }
    }
  }
}

function key(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// ───────────────────────────── scenarios ─────────────────────────────

export interface TransferResult {
  loss: number;
  bytes: number;
  /** ms from the first byte written to the last byte delivered; NaN if it did not finish */
  durationMs: number;
  /** goodput / link rate */
  goodput: number;
  goodputMbps: number;
  /** datagram payload size the connection ended with (UDP payload bytes) */
  mss: number;
  /** goodput / Mathis bound (NaN at 0 % loss) */
  mathis: number;
  stats: ConnectionStats;
  link: LinkStats;
  events: number;
  wallMs: number;
}

/** One bulk transfer of `bytes` from the client over the figure link at `rttMs` and `loss`. */
export function runTransfer(o: {
  seed: number;
  bytes: number;
  rttMs: number;
  loss: number;
  /** loss of the ACK direction (default: the same as `loss`) */
  reverseLoss?: number;
  burst?: GilbertElliott;
  options?: ConnectionOptions;
  trace?: string[];
}): TransferResult {
  const t0 = performance.now();
  const b = new Bench({
    seed: o.seed,
    rttMs: o.rttMs,
    loss: o.loss,
    reverseLoss: o.reverseLoss,
    burst: o.burst,
    trace: o.trace,
    title: `figures transfer ${o.loss * 100}%`,
  });
  const bulk = new BulkStream(o.bytes);
  const f = b.addFlow('bulk', [bulk], o.options);
  // Generous limit: ten times the slower of serialization and the Mathis rate, plus a minute.
  const meanLoss = o.loss + (o.burst ? o.burst.p / (o.burst.p + o.burst.r) : 0);
  const mathisSecs = meanLoss > 0 ? o.bytes / mathisBound(1200, o.rttMs, meanLoss) : 0;
  const maxTime = 60_000 + 10_000 * Math.max((o.bytes * 8) / LINK_RATE, mathisSecs);
  b.sampleMetrics(maxTime);
  b.sim.run({ maxTime, until: () => bulk.complete });
  const stats = f.conn.stats();
  const durationMs = bulk.complete ? bulk.lastDeliveryAt - bulk.firstWriteAt : NaN;
  const rate = (o.bytes * 8) / (durationMs / 1000);
  const mss = stats.maxDatagramSize;
  return {
    loss: o.loss,
    bytes: o.bytes,
    durationMs,
    goodput: rate / LINK_RATE,
    goodputMbps: rate / 1e6,
    mss,
    mathis: o.loss > 0 ? rate / 8 / mathisBound(mss, o.rttMs, o.loss) : NaN,
    stats,
    link: { ...b.dataLink, dropped: { ...b.dataLink.dropped } },
    events: b.sim.counters.events,
    wallMs: performance.now() - t0,
  };
}

export interface LatencyResult {
  withBulk: boolean;
  messages: number;
  delivered: number;
  /** latencies in units of base RTT */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** every delivered message's latency in base RTTs, ascending */
  latencies: number[];
  outOfOrder: number;
  bulkMbps: number;
  stats: ConnectionStats;
  events: number;
  wallMs: number;
}

/** `size`-byte messages every `intervalMs` on one stream for `durationMs`, optionally beside a bulk stream. */
export function runLatency(o: {
  seed: number;
  rttMs: number;
  loss: number;
  durationMs: number;
  size?: number;
  intervalMs?: number;
  withBulk: boolean;
  /** loss of the ACK direction (default: the same as `loss`) */
  reverseLoss?: number;
  options?: ConnectionOptions;
  trace?: string[];
}): LatencyResult {
  const t0 = performance.now();
  const b = new Bench({
    seed: o.seed,
    rttMs: o.rttMs,
    loss: o.loss,
    reverseLoss: o.reverseLoss,
    trace: o.trace,
    title: `figures latency${o.withBulk ? ' + bulk' : ''}`,
  });
  const interval = o.intervalMs ?? 50;
  const msgs = new MessageStream(o.size ?? 100, interval, Math.floor(o.durationMs / interval));
  const bulk = new BulkStream(Infinity);
  const f = b.addFlow('messages', o.withBulk ? [msgs, bulk] : [msgs], o.options);
  // After the last send, allow up to 100 RTTs for the tail to arrive.
  const maxTime = o.durationMs + 100 * o.rttMs + 10_000;
  b.sampleMetrics(maxTime);
  b.sim.run({ maxTime, until: () => msgs.complete });
  const lat = msgs.latencies.map((x) => x / o.rttMs).sort((x, y) => x - y);
  const lastMsg = msgs.sentAt[msgs.sentAt.length - 1] ?? 0;
  const bulkSecs = (lastMsg - f.connectedAt) / 1000;
  return {
    withBulk: o.withBulk,
    messages: msgs.count,
    delivered: lat.length,
    p50: percentile(lat, 0.5),
    p95: percentile(lat, 0.95),
    p99: percentile(lat, 0.99),
    max: lat[lat.length - 1] ?? NaN,
    latencies: lat,
    outOfOrder: msgs.corrupt,
    bulkMbps: o.withBulk && bulkSecs > 0 ? (bulk.delivered * 8) / bulkSecs / 1e6 : 0,
    stats: f.conn.stats(),
    events: b.sim.counters.events,
    wallMs: performance.now() - t0,
  };
}

export interface FairnessResult {
  labels: [string, string];
  /** Mbit/s each flow delivered over the measurement window */
  mbps: [number, number];
  /** min/max of the two */
  ratio: number;
  windowMs: number;
  link: LinkStats;
  events: number;
  wallMs: number;
}

/**
 * Two bulk flows over the one bottleneck, the second starting `stagger` ms after the first; after it starts
 * both run `runAfter` ms, and the goodput of each over the last `window` ms is compared.
 */
export function runFairness(o: {
  seed: number;
  rttMs: number;
  staggerMs: number;
  runAfterMs: number;
  windowMs: number;
  first?: ConnectionOptions;
  second?: ConnectionOptions;
  labels?: [string, string];
  queueBdp?: number;
  trace?: string[];
}): FairnessResult {
  const t0 = performance.now();
  const labels = o.labels ?? ['cubic#1', 'cubic#2'];
  const b = new Bench({
    seed: o.seed,
    rttMs: o.rttMs,
    loss: 0,
    queueBdp: o.queueBdp,
    trace: o.trace,
    title: `figures fairness ${labels.join(' vs ')}`,
  });
  const end = o.staggerMs + o.runAfterMs;
  const from = end - o.windowMs;
  b.addFlow(labels[0], [new BulkStream(Infinity)], o.first);
  b.sim.at(o.staggerMs, () => void b.addFlow(labels[1], [new BulkStream(Infinity)], o.second));
  for (const [name, t] of [
    ['from', from],
    ['end', end],
  ] as const) {
    b.sim.at(t, () => {
      for (const f of b.flows) f.samples.set(name, f.bulkDelivered);
    });
  }
  b.sampleMetrics(end);
  b.sim.run({ maxTime: end });
  const secs = o.windowMs / 1000;
  const mbps = b.flows.map((f) => (((f.samples.get('end') ?? 0) - (f.samples.get('from') ?? 0)) * 8) / secs / 1e6) as [number, number];
  const hi = Math.max(mbps[0], mbps[1]);
  return {
    labels,
    mbps,
    ratio: hi > 0 ? Math.min(mbps[0], mbps[1]) / hi : 0,
    windowMs: o.windowMs,
    link: { ...b.dataLink, dropped: { ...b.dataLink.dropped } },
    events: b.sim.counters.events,
    wallMs: performance.now() - t0,
  };
}

export interface SteadyResult {
  /** goodput / link over the measurement window */
  goodput: number;
  /**
   * one-way delay of the data direction over the window, in units of the base one-way delay: what a full-size
   * datagram takes on the idle path (rtt/2 plus its serialization at the link rate)
   */
  delayP50: number;
  delayP95: number;
  stats: ConnectionStats;
  link: LinkStats;
  events: number;
  wallMs: number;
}

/**
 * One endless bulk flow for `durationMs`; goodput and the data direction's one-way delay (every datagram
 * admitted to the link) are measured from `fromMs` on. With `rttChange`, the base RTT becomes `rttMs` at
 * `at` ms (both directions), and delays are then counted against the new base.
 */
export function runSteady(o: {
  seed: number;
  rttMs: number;
  loss?: number;
  queueBdp?: number;
  durationMs: number;
  fromMs: number;
  rttChange?: { at: number; rttMs: number };
  options?: ConnectionOptions;
  trace?: string[];
}): SteadyResult {
  const t0 = performance.now();
  const b = new Bench({ seed: o.seed, rttMs: o.rttMs, loss: o.loss ?? 0, queueBdp: o.queueBdp, trace: o.trace, title: 'figures steady' });
  const bulk = new BulkStream(Infinity);
  const f = b.addFlow('bulk', [bulk], o.options);
  const delays: number[] = [];
  const baseOf = (rtt: number): number => rtt / 2 + (MAX_DATAGRAM * 8000) / LINK_RATE;
  let base = baseOf(o.rttMs);
  const dir = b.sim.direction(CLIENT, SERVER);
  dir.onTransit = (d, now) => {
    if (now >= o.fromMs) delays.push(d / base);
  };
  const ch = o.rttChange;
  if (ch) {
    b.sim.at(ch.at, () => {
      base = baseOf(ch.rttMs);
      dir.set({ delay: ch.rttMs / 2 });
      b.sim.direction(SERVER, CLIENT).set({ delay: ch.rttMs / 2 });
    });
  }
  b.sim.at(o.fromMs, () => void f.samples.set('from', f.bulkDelivered));
  b.sampleMetrics(o.durationMs);
  b.sim.run({ maxTime: o.durationMs });
  dir.onTransit = null;
  const bytes = f.bulkDelivered - (f.samples.get('from') ?? 0);
  delays.sort((x, y) => x - y);
  return {
    goodput: (bytes * 8) / ((o.durationMs - o.fromMs) / 1000) / LINK_RATE,
    delayP50: percentile(delays, 0.5),
    delayP95: percentile(delays, 0.95),
    stats: f.conn.stats(),
    link: { ...b.dataLink, dropped: { ...b.dataLink.dropped } },
    events: b.sim.counters.events,
    wallMs: performance.now() - t0,
  };
}

/** The datagram size PMTUD reaches in the figure runs (UDP payload, IPv4). */
const MAX_DATAGRAM = 1472;

export type Controller = 'cubic' | 'newreno' | 'bbr';
export const CONTROLLERS: readonly Controller[] = ['cubic', 'newreno', 'bbr'];

/** The same runs for every controller (goodput / link unless noted). */
export interface ControllerRow {
  cc: Controller;
  /** 20 MB transfers at 0.1, 1 and 5 % random loss, and with bursty loss (BURST_LOSS) */
  loss01: number;
  loss1: number;
  loss5: number;
  burst: number;
  /** steady bulk over 0.25-BDP and 4-BDP queues: goodput and p95 one-way delay / base delay */
  shallow: SteadyResult;
  deep: SteadyResult;
  /** base RTT 50 → 100 ms mid-flow: goodput and delay after the change */
  rttChange: SteadyResult;
  /** game-like traffic: 100-byte messages at 20 Hz beside a bulk stream, 5 % loss, 100 ms (latency in base RTTs) */
  messages: LatencyResult;
  wallMs: number;
}
