/**
 * One seeded simulator scenario: a client and a server connected by an impaired link, several streams
 * of random sizes each way, every byte hashed on both ends, unreliable datagrams, messages on game channels
 * of all four modes each way (each checked against its mode's guarantees), a graceful close at the end.
 * Each side drives its connection through a ChannelLayer, which owns stream preambles and datagram kinds.
 * Used by `npm run sim` (tools/sim/cli.ts) and by the test suite (test/sim/soak.test.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { seededProvider } from '../../lib/crypto/seeded-provider.js';
import { identityFromPrivateKey } from '../../lib/api/identity.js';
import type { CryptoConfig } from '../../lib/connection/types.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { SimAddress, SimNode } from '../../lib/sim/types.js';
import { ChannelLayer, type ChannelLayerEvent, type ChannelLayerOptions, type ChannelMode } from '../../lib/channel/channel-layer.js';
import { SimRandom } from '../../lib/sim/random.js';
import { describeMix, randomImpairmentMix, type ImpairmentMix } from '../../lib/sim/impairment-mix.js';
import type { LinkConfig } from '../../lib/sim/link.js';

export const CLIENT = { host: '10.0.0.1', port: 50000 };
export const SERVER = { host: '10.0.0.2', port: 4433 };

/** Deterministic stream contents: a cheap xorshift keystream, generated chunk by chunk. */
export class PatternSource {
  private x: number;
  private remaining: number;
  readonly size: number;
  private readonly hash: Hash = createHash('sha256');
  constructor(seed: number, size: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
    this.size = size;
    this.remaining = size;
  }
  get done(): boolean {
    return this.remaining === 0;
  }
  next(max: number): Uint8Array {
    const n = Math.min(max, this.remaining);
    const out = new Uint8Array(n);
    let x = this.x;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    this.x = x;
    this.remaining -= n;
    this.hash.update(out);
    return out;
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

interface OutStream {
  id: number;
  src: PatternSource;
  finished: boolean;
}

interface InStream {
  hash: Hash;
  bytes: number;
  done: boolean;
  digest?: string;
}

/** The four channel modes, in the order of their index in plans, names and message salts. */
export const CHANNEL_MODES: readonly ChannelMode[] = ['reliable-ordered', 'reliable-unordered', 'unreliable-sequenced', 'unreliable'];
const channelName = (mode: ChannelMode) => `sim/${mode}`;
const isReliable = (mode: ChannelMode) => mode === 'reliable-ordered' || mode === 'reliable-unordered';

/** One side's channel workload for one mode: message sizes and the virtual-time gap before each send. */
interface ChannelPlan {
  sizes: number[];
  gaps: number[];
}

/**
 * Draws each side's channel messages: 12–36 per mode, sizes log-uniform from 1 byte to 20 KiB (over a
 * quarter above one datagram, so fragmented on the unreliable modes), one every 0–40 ms with some bursts.
 * About 200 KB per side on average, comparable to the streams: the soak takes about 1.9 times as long
 * as without channels (the cost is per packet), which is why the counts are not higher.
 */
function drawChannelPlans(rng: SimRandom): ChannelPlan[] {
  return CHANNEL_MODES.map(() => {
    const n = rng.int(12, 36);
    const sizes: number[] = [];
    const gaps: number[] = [];
    for (let i = 0; i < n; i++) {
      sizes.push(Math.floor(Math.exp(rng.uniform(0, Math.log(20 * 1024)))));
      gaps.push(rng.chance(0.25) ? 0 : rng.uniform(1, 40));
    }
    return { sizes, gaps };
  });
}

/**
 * A channel message is self-describing: byte 0 is its sequence number (plans stay below 256 per mode),
 * the rest an LCG keystream keyed by (sequence, side, mode), so a shifted, swapped or foreign fragment,
 * a truncation or a bit flip shows; the receiver also knows the planned size of every sequence number.
 */
function fillChannelMessage(out: Uint8Array, seq: number, salt: number): void {
  out[0] = seq;
  let x = Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b);
  for (let i = 1; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
}

function checkChannelMessage(d: Uint8Array, seq: number, salt: number): boolean {
  let x = Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b);
  for (let i = 1; i < d.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    if (d[i] !== x >>> 24) return false;
  }
  return true;
}

/** Sending state of one local channel. */
interface ChannelOut {
  id: number;
  next: number;
  nextAt: number;
  bytes: number;
}

/** Receiving state of one peer channel. */
interface ChannelIn {
  seen: Uint8Array;
  received: number;
  bytes: number;
  last: number;
}

/** The application on one side: writes its streams, reads and hashes the peer's, sends and checks channel messages. */
class Side {
  conn: Connection | null = null;
  layer: ChannelLayer | null = null;
  /** The other side: its channel plans tell this side what each received message must be. */
  peer!: Side;
  readonly out: OutStream[] = [];
  readonly inbound = new Map<number, InStream>();
  connected = false;
  closed: { code: number; reason: string; initiator: string } | null = null;
  readonly plan: number[];
  private readonly seeds: number[];
  maxRecvBuffered = 0;
  private pumps = 0;
  violation: string | null = null;
  /** Unreliable datagrams: how many to send, sent so far, and the sequence numbers received. */
  datagramsToSend = 0;
  datagramsSent = 0;
  readonly datagramsSeen = new Set<number>();
  datagramsCorrupt = 0;
  datagramsDuplicate = 0;
  private lastDatagramAt = -Infinity;
  /** Channel messages: what to send per mode (emptied when channels were not negotiated), and the state. */
  readonly channelPlans: ChannelPlan[];
  readonly chOut: ChannelOut[] = [];
  readonly chIn: ChannelIn[];
  /** The first channel delivery that broke a mode's guarantee. */
  channelViolation: string | null = null;
  now = 0;
  private readonly limits: { stream: number; connection: number };
  private readonly name: string;
  private readonly saltBase: number;

  constructor(
    name: 'client' | 'server',
    plan: number[],
    seeds: number[],
    limits: { stream: number; connection: number },
    channelPlans: ChannelPlan[],
  ) {
    this.name = name;
    this.saltBase = name === 'client' ? 0 : 4;
    this.plan = plan;
    this.seeds = seeds;
    this.limits = limits;
    this.channelPlans = channelPlans;
    this.chIn = CHANNEL_MODES.map(() => ({ seen: new Uint8Array(256), received: 0, bytes: 0, last: -1 }));
  }

  attach(conn: Connection, layerOptions?: ChannelLayerOptions): void {
    this.conn = conn;
    this.layer = new ChannelLayer(conn, layerOptions);
  }

  onEvent(ev: EndpointEvent | null, now: number): void {
    this.now = now;
    if (ev) {
      if (ev.kind === 'accept') this.attach(ev.connection);
      else {
        // Every core event goes through the layer; the application sees only the layer's events.
        const layer = this.layer!;
        layer.handleEvent(ev.event, now);
        for (let e = layer.pollEvent(); e; e = layer.pollEvent()) this.onLayerEvent(e);
      }
    }
    this.pump();
  }

  private onLayerEvent(e: ChannelLayerEvent): void {
    if (e.type === 'connected') {
      this.connected = true;
      this.startChannels();
      this.openAll();
    } else if (e.type === 'streams_available') this.openAll();
    else if (e.type === 'stream_opened') {
      // Peer-initiated raw bidirectional streams (the layer announces them once their preamble is read).
      const id = e.streamId;
      if ((id & 2) === 0 && (id & 1) === (this.conn!.isClient ? 1 : 0) && !this.inbound.has(id)) {
        this.inbound.set(id, { hash: createHash('sha256'), bytes: 0, done: false });
      }
    } else if (e.type === 'closed') this.closed = { code: e.info.errorCode, reason: e.info.reason, initiator: e.info.initiator };
    else if (e.type === 'datagram') this.onDatagram(e.data);
    else if (e.type === 'message') this.onMessage(e.channel, e.mode, e.data);
  }

  private openAll(): void {
    const layer = this.layer;
    if (!layer || this.closed) return;
    while (this.out.length < this.plan.length) {
      const id = layer.openStream(true);
      if (id === null) return;
      const i = this.out.length;
      this.out.push({ id, src: new PatternSource(this.seeds[i]!, this.plan[i]!), finished: false });
    }
  }

  private onDatagram(d: Uint8Array): void {
    if (d.length < 4) {
      this.datagramsCorrupt++;
      return;
    }
    const seq = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    for (let i = 4; i < d.length; i++) {
      if (d[i] !== ((seq * 31 + i) & 0xff)) {
        this.datagramsCorrupt++;
        return;
      }
    }
    if (this.datagramsSeen.has(seq)) this.datagramsDuplicate++;
    this.datagramsSeen.add(seq);
  }

  private sendDatagrams(layer: ChannelLayer): void {
    // One datagram every 20 ms of virtual time while the transfer runs, of a size derived from its number.
    if (this.datagramsSent >= this.datagramsToSend || this.now - this.lastDatagramAt < 20) return;
    const max = layer.maxDatagramPayload();
    if (max < 8) return;
    const seq = this.datagramsSent++;
    const len = 4 + ((seq * 97) % (max - 4));
    const d = new Uint8Array(len);
    d[0] = seq >>> 24;
    d[1] = (seq >>> 16) & 0xff;
    d[2] = (seq >>> 8) & 0xff;
    d[3] = seq & 0xff;
    for (let i = 4; i < len; i++) d[i] = (seq * 31 + i) & 0xff;
    layer.sendDatagram(d);
    this.lastDatagramAt = this.now;
  }

  // ───────────────────────────── channels ─────────────────────────────

  /** Declares one channel per mode and starts each one's send clock (nothing to send without negotiation). */
  private startChannels(): void {
    const layer = this.layer!;
    if (!layer.negotiated || this.conn!.maxDatagramPayload() <= 0) {
      for (const p of this.channelPlans) p.sizes.length = p.gaps.length = 0;
      return;
    }
    CHANNEL_MODES.forEach((mode, m) => {
      const p = this.channelPlans[m]!;
      this.chOut.push({ id: layer.channel(channelName(mode), mode), next: 0, nextAt: this.now + (p.gaps[0] ?? 0), bytes: 0 });
    });
  }

  /** Channel messages may be sent (the same test gates the send clock in nextChannelDeadline). */
  private canSendChannels(): boolean {
    return this.connected && !this.closed && this.chOut.length > 0 && this.conn!.state === 'established';
  }

  private sendChannels(layer: ChannelLayer): void {
    if (!this.canSendChannels()) return;
    for (let m = 0; m < this.chOut.length; m++) {
      const o = this.chOut[m]!;
      const p = this.channelPlans[m]!;
      while (o.next < p.sizes.length && o.nextAt <= this.now) {
        const seq = o.next++;
        const d = new Uint8Array(p.sizes[seq]!);
        fillChannelMessage(d, seq, this.saltBase + m);
        layer.send(o.id, d);
        o.bytes += d.length;
        if (o.next < p.sizes.length) o.nextAt += p.gaps[o.next]!;
      }
    }
  }

  /** When the next channel message is due, or null when none is (the node's timer includes it). */
  nextChannelDeadline(): number | null {
    if (!this.canSendChannels()) return null;
    let t: number | null = null;
    for (let m = 0; m < this.chOut.length; m++) {
      const o = this.chOut[m]!;
      if (o.next < this.channelPlans[m]!.sizes.length && (t === null || o.nextAt < t)) t = o.nextAt;
    }
    return t;
  }

  /** Every planned channel message was handed to the layer. */
  channelsSent(): boolean {
    for (let m = 0; m < CHANNEL_MODES.length; m++) {
      const n = this.channelPlans[m]!.sizes.length;
      if (n > 0 && this.chOut[m]?.next !== n) return false;
    }
    return true;
  }

  /** This side received every reliable message the peer planned. */
  reliableReceived(): boolean {
    for (let m = 0; m < CHANNEL_MODES.length; m++) {
      if (isReliable(CHANNEL_MODES[m]!) && this.chIn[m]!.received !== this.peer.channelPlans[m]!.sizes.length) return false;
    }
    return true;
  }

  private onMessage(channel: string, mode: ChannelMode, d: Uint8Array): void {
    const problem = this.checkMessage(channel, mode, d);
    if (problem !== null) this.channelViolation ??= `${this.peer.name}→${this.name} ${mode}: ${problem}`;
  }

  /** Records one delivered message; returns what is wrong with it, or null. */
  private checkMessage(channel: string, mode: ChannelMode, d: Uint8Array): string | null {
    const m = CHANNEL_MODES.indexOf(mode);
    if (m < 0 || channel !== channelName(mode)) return `message on unexpected channel ${JSON.stringify(channel)}`;
    const sizes = this.peer.channelPlans[m]!.sizes;
    const seq = d.length > 0 ? d[0]! : -1;
    if (seq < 0 || seq >= sizes.length) return `message with unknown sequence ${seq} (${d.length} bytes)`;
    if (d.length !== sizes[seq] || !checkChannelMessage(d, seq, this.peer.saltBase + m)) {
      return `message ${seq} corrupt (${d.length} bytes, planned ${sizes[seq]})`;
    }
    const st = this.chIn[m]!;
    if (st.seen[seq]) return `message ${seq} delivered twice`;
    if (mode === 'reliable-ordered' && seq !== st.received) return `message ${seq} delivered when ${st.received} was next`;
    if (mode === 'unreliable-sequenced' && seq <= st.last) return `message ${seq} delivered after ${st.last}`;
    st.seen[seq] = 1;
    st.received++;
    st.bytes += d.length;
    if (seq > st.last) st.last = seq;
    return null;
  }

  // ───────────────────────────── streams ─────────────────────────────

  /** Keeps up to 256 KiB buffered per stream, reads everything readable, checks the flow-control invariant. */
  pump(): void {
    const c = this.conn;
    const layer = this.layer;
    if (!c || !layer || !this.connected || this.closed) return;
    this.sendDatagrams(layer);
    this.sendChannels(layer);
    for (const s of this.out) {
      if (s.finished) continue;
      while (!s.src.done && c.streamBufferedBytes(s.id) < 256 * 1024) c.streamWrite(s.id, s.src.next(64 * 1024));
      if (s.src.done) {
        c.streamFinish(s.id);
        s.finished = true;
      }
    }
    let buffered = 0;
    for (const [id, st] of this.inbound) {
      if (st.done) continue;
      // Raw streams are read through the layer (it consumed their preamble already).
      for (let d = layer.streamRead(id); d; d = layer.streamRead(id)) {
        st.hash.update(d);
        st.bytes += d.length;
      }
      if (c.streamFinished(id)) {
        st.done = true;
        st.digest = st.hash.digest('hex');
      }
      const ss = c.streamStats(id);
      if (ss) {
        buffered += ss.recvBuffered;
        if (ss.recvBuffered > this.limits.stream) this.violation = `stream ${id} buffered ${ss.recvBuffered} > window cap ${this.limits.stream}`;
      }
    }
    if (buffered > this.limits.connection) this.violation = `connection buffered ${buffered} > window cap ${this.limits.connection}`;
    if (buffered > this.maxRecvBuffered) this.maxRecvBuffered = buffered;
    // Against what this side actually advertised, not only the caps: the peer's sender may never have used
    // more credit than our current limits (limits only grow, so this holds at every instant).
    // stats() is costly: sampled every 32nd pump (a violation persists, so sampling still catches it).
    const pc = this.peer?.conn;
    if (pc && (this.pumps++ & 31) === 0) {
      const used = pc.stats().sendCredit.used;
      const advertised = c.stats().recvWindow.limit;
      if (used > advertised) this.violation = `peer sent ${used} connection bytes > advertised ${advertised}`;
      for (const id of this.inbound.keys()) {
        const theirs = pc.streamStats(id);
        const mine = c.streamStats(id);
        if (theirs && mine && theirs.sendCredit.used > mine.recvLimit) {
          this.violation = `peer sent ${theirs.sendCredit.used} bytes on stream ${id} > advertised ${mine.recvLimit}`;
        }
      }
    }
  }

  allSent(): boolean {
    return this.out.length === this.plan.length && this.out.every((s) => s.finished && this.conn!.streamBufferedBytes(s.id) === 0);
  }
}

export type Ending = 'client-close' | 'server-close' | 'app-error' | 'idle';

/** Lifecycle extras drawn per seed: how the connection ends, an outage, a NAT rebinding, datagrams. */
export interface Extras {
  ending: Ending;
  outage: { start: number; length: number } | null;
  rebind: { at: number; hostChange: boolean } | null;
  datagrams: [number, number];
  /** A path MTU below 1472 from the start, and/or a drop to a lower one mid-transfer (a black hole). */
  mtu: number | null;
  mtuDrop: { at: number; to: number } | null;
}

function drawExtras(rng: SimRandom): Extras {
  const endings: Ending[] = ['client-close', 'server-close', 'app-error', 'idle'];
  return {
    ending: endings[rng.int(0, 3)]!,
    outage: rng.chance(0.2) ? { start: rng.uniform(100, 2000), length: rng.uniform(200, 8000) } : null,
    rebind: rng.chance(0.2) ? { at: rng.uniform(100, 3000), hostChange: rng.chance(0.3) } : null,
    datagrams: [rng.int(0, 40), rng.int(0, 40)],
    mtu: rng.chance(0.2) ? rng.int(1200, 1472) : null,
    mtuDrop: rng.chance(0.1) ? { at: rng.uniform(200, 3000), to: rng.int(1200, 1400) } : null,
  };
}

export function describeExtras(x: Extras): string {
  const parts = [`end ${x.ending}`];
  if (x.outage) parts.push(`outage ${x.outage.length.toFixed(0)}ms@${x.outage.start.toFixed(0)}`);
  if (x.rebind) parts.push(`rebind${x.rebind.hostChange ? '+host' : ''}@${x.rebind.at.toFixed(0)}`);
  if (x.mtu) parts.push(`mtu ${x.mtu}`);
  if (x.mtuDrop) parts.push(`mtu→${x.mtuDrop.to}@${x.mtuDrop.at.toFixed(0)}`);
  parts.push(`dgrams ${x.datagrams[0]}/${x.datagrams[1]}`);
  return parts.join(' ');
}

export interface ScenarioOptions {
  seed: number;
  /** Trace records (JSON-SEQ strings) are appended here when given. */
  trace?: string[];
  /** Override the random link (tests pin a link to check one behaviour). */
  link?: LinkConfig;
  /** Override the random workload: stream sizes client→server and server→client. */
  clientStreams?: number[];
  serverStreams?: number[];
  options?: ConnectionOptions;
  /** Plaintext handshake and packets (default: encrypted, as a real deployment). */
  insecure?: boolean;
  /** Override the random lifecycle extras. */
  extras?: Partial<Extras>;
  /** Channel messages during the transfer (default true). */
  channels?: boolean;
}

/** Channel traffic of one mode, both directions summed. */
export interface ChannelModeCounts {
  /** Messages handed to the layer. */
  sent: number;
  /** Messages delivered intact (each checked against its mode's guarantees). */
  received: number;
  /** sent − received: zero on the reliable modes of a passing seed. */
  lost: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface ChannelCounts {
  modes: Record<ChannelMode, ChannelModeCounts>;
  /** The layers' statistics, both sides summed. */
  fragmentsSent: number;
  fragmentsReceived: number;
  /** Sequenced messages or fragments dropped as older than one already delivered. */
  stale: number;
  datagramsDropped: Record<string, number>;
  messagesDropped: Record<string, number>;
}

export interface ScenarioResult {
  seed: number;
  ok: boolean;
  failure?: string;
  mix: ImpairmentMix | null;
  mixText: string;
  simTime: number;
  bytes: number;
  clientStats: ReturnType<Connection['stats']> | null;
  serverStats: ReturnType<Connection['stats']> | null;
  events: number;
  channels: ChannelCounts;
}

/**
 * The SimNode of one side: the EndpointNode plus the timers it does not know about, the channel layer's
 * reassembly deadlines and the application's next channel send.
 */
class SideNode implements SimNode {
  readonly inner: EndpointNode;
  private readonly side: Side;
  constructor(inner: EndpointNode, side: Side) {
    this.inner = inner;
    this.side = side;
  }
  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void {
    this.inner.handleDatagram(data, from, now);
  }
  pollTransmit(now: number): { data: Uint8Array; to: SimAddress } | null {
    return this.inner.pollTransmit(now);
  }
  pollTimeout(): number | null {
    const t = this.inner.pollTimeout();
    const r = this.side.layer?.pollTimeout() ?? null;
    const a = this.side.nextChannelDeadline();
    let min = t;
    if (r !== null && (min === null || r < min)) min = r;
    if (a !== null && (min === null || a < min)) min = a;
    return min;
  }
  handleTimeout(now: number): void {
    // The endpoint fires only the connection deadlines that are due, so an early call for a layer or
    // application deadline is harmless; the application then runs (and sends what is due).
    this.side.layer?.handleTimeout(now);
    this.inner.handleTimeout(now);
  }
}

function sim_env(rng: SimRandom): CoreEnv {
  return {
    randomFill(out: Uint8Array) {
      out.set(rng.bytes(out.length));
    },
    crc32: (d: Uint8Array) => crc32(d),
  };
}

/** Draws stream sizes: 1–4 streams per side, log-uniform up to 400 KB; about 10 % of seeds move ≥ 2 MB. */
function drawWorkload(rng: SimRandom): { client: number[]; server: number[] } {
  const big = rng.chance(0.12);
  const one = () => Math.floor(Math.exp(rng.uniform(0, Math.log(400_000))));
  const client = Array.from({ length: rng.int(1, 4) }, one);
  const server = Array.from({ length: rng.int(0, 3) }, one);
  if (big) client[0] = rng.int(2_000_000, 3_000_000);
  return { client, server };
}

const WINDOWS = { stream: 16 * 1024 * 1024, connection: 24 * 1024 * 1024 };

/** The simulated server's identity: fixed, so a seed's trace is the same in every run. */
const SERVER_IDENTITY = identityFromPrivateKey(new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff));

/** Encrypted by default, with the simulator's seeded randomness behind the real primitives. */
function simCrypto(insecure: boolean, rng: SimRandom, now: () => number): { client: CryptoConfig; server: CryptoConfig } {
  if (insecure) return { client: insecureCrypto, server: insecureCrypto };
  const provider = seededProvider(nodeCryptoProvider, (n) => rng.bytes(n));
  return {
    client: secureCrypto({ provider, client: { serverKey: SERVER_IDENTITY.publicKey, now } }),
    server: secureCrypto({ provider, server: { identity: SERVER_IDENTITY } }),
  };
}

export function runScenario(o: ScenarioOptions): ScenarioResult {
  const sim = new Simulator({ seed: o.seed, trace: o.trace ?? null, title: `petrel seed ${o.seed}` });
  const mixRng = sim.rng('mix');
  const mix = o.link ? null : randomImpairmentMix(mixRng);
  const link: LinkConfig = o.link ?? mix!.link;
  const work = drawWorkload(sim.rng('workload'));
  const extras: Extras = { ...drawExtras(sim.rng('lifecycle')), ...o.extras };
  const clientPlan = o.clientStreams ?? work.client;
  const serverPlan = o.serverStreams ?? work.server;
  const options: ConnectionOptions = { ...o.options };
  const idle = options.idleTimeout ?? 30_000;
  const limits = { stream: options.maxStreamWindow ?? WINDOWS.stream, connection: options.maxConnectionWindow ?? WINDOWS.connection };

  const cenv = sim_env(sim.rng('client-env'));
  const senv = sim_env(sim.rng('server-env'));
  if (sim.traceEnabled) {
    // Core events go into the same trace, stamped by the simulator's clock.
    cenv.trace = (name, data) => sim.trace(name, { side: 'client', ...data });
    senv.trace = (name, data) => sim.trace(name, { side: 'server', ...data });
  }
  const crypto = simCrypto(o.insecure ?? false, sim.rng('crypto'), () => sim.now);
  const clientEp = new Endpoint({ env: cenv });
  const serverEp = new Endpoint({ env: senv, server: { crypto: crypto.server, options } });
  const seedRng = sim.rng('contents');
  // A fork of its own, so the channel workload shifts no other draw.
  const channelRng = sim.rng('channels');
  const noChannels = () => CHANNEL_MODES.map(() => ({ sizes: [], gaps: [] }));
  const clientChannels = o.channels === false ? noChannels() : drawChannelPlans(channelRng);
  const serverChannels = o.channels === false ? noChannels() : drawChannelPlans(channelRng);
  const client = new Side(
    'client',
    clientPlan,
    clientPlan.map(() => seedRng.int(1, 0xffffffff)),
    limits,
    clientChannels,
  );
  const server = new Side(
    'server',
    serverPlan,
    serverPlan.map(() => seedRng.int(1, 0xffffffff)),
    limits,
    serverChannels,
  );
  client.peer = server;
  server.peer = client;
  const cn = new EndpointNode(clientEp);
  const sn = new EndpointNode(serverEp);
  const cnode = new SideNode(cn, client);
  const snode = new SideNode(sn, server);
  let closeStarted = false;
  cn.app = (ev, now) => client.onEvent(ev, now);
  sn.app = (ev, now) => server.onEvent(ev, now);
  sim.addNode(CLIENT, cnode);
  sim.addNode(SERVER, snode);
  const simLink = sim.link(CLIENT, SERVER, extras.mtu ? { ...link, mtu: extras.mtu } : link);
  if (extras.mtuDrop) {
    const to = Math.min(extras.mtuDrop.to, extras.mtu ?? Infinity);
    sim.at(extras.mtuDrop.at, () => simLink.set({ mtu: to }));
  }
  // The client sends keep-alives, as a game client behind a NAT would: after a rebinding while only the
  // server sends, the client's next packet is what creates the new mapping the server can migrate to.
  client.attach(clientEp.connect({ remote: SERVER, crypto: crypto.client, options: { keepAlive: 5000, ...options }, now: 0 }));
  client.datagramsToSend = extras.datagrams[0];
  server.datagramsToSend = extras.datagrams[1];
  if (extras.outage) sim.outage(CLIENT, SERVER, extras.outage.start, extras.outage.start + extras.outage.length);
  if (extras.rebind) {
    const to = { host: extras.rebind.hostChange ? '10.0.0.9' : CLIENT.host, port: CLIENT.port + 1 };
    sim.rebind(CLIENT, to, extras.rebind.at);
  }

  const totalBytes = clientPlan.reduce((a, b) => a + b, 0) + serverPlan.reduce((a, b) => a + b, 0);
  let channelBytes = 0;
  for (const p of [...clientChannels, ...serverChannels]) for (const n of p.sizes) channelBytes += n;
  const rate = link.rate ?? 1e9;
  const loss = Math.min(0.5, (link.loss ?? 0) + (link.burst ? 0.15 : 0));
  const rttMs = Math.max(1, 2 * (link.delay ?? 0) + (link.jitter ?? 0) + (link.reorderDelay ?? 0));
  // Generous bound: ten times the slower of serialization and the loss-limited (Mathis) rate, plus
  // handshake time, plus the idle timeout thrice (a side whose every CONNECTION_CLOSE copy was lost
  // ends by idle timeout).
  const boundBytes = totalBytes + channelBytes;
  const serialization = (boundBytes * 8 * 1000) / rate;
  const mathis = loss > 0 ? boundBytes / ((1200 / rttMs) * (1.22 / Math.sqrt(loss))) : 0;
  const maxTime = 60_000 + 3 * idle + (extras.outage?.length ?? 0) + (10 * Math.max(serialization, mathis)) / (1 - loss);

  const delivered = () => {
    const check = (from: Side, to: Side) =>
      from.out.length === from.plan.length &&
      from.out.every((s) => {
        const st = to.inbound.get(s.id);
        return st?.done === true;
      });
    return (
      client.connected &&
      server.connected &&
      check(client, server) &&
      check(server, client) &&
      client.allSent() &&
      server.allSent() &&
      // Every channel message handed to the layer, every reliable one delivered (closing would discard it).
      client.channelsSent() &&
      server.channelsSent() &&
      client.reliableReceived() &&
      server.reliableReceived()
    );
  };
  const result = sim.run({
    maxTime,
    until: () => {
      if (client.violation || server.violation || client.channelViolation || server.channelViolation) return true;
      if (!closeStarted && delivered()) {
        closeStarted = true;
        if (extras.ending === 'client-close') client.conn!.close(0, 'done');
        else if (extras.ending === 'app-error') client.conn!.close(7, 'app error');
        else if (extras.ending === 'server-close') server.conn!.close(0, 'done');
        else client.conn!.setKeepAlive(0); // idle ending: go quiet
        cn.poke(sim.now);
        sn.poke(sim.now);
        sim.flush(cnode);
        sim.flush(snode);
      }
      return closeStarted && client.conn!.isTerminated && (server.conn?.isTerminated ?? true);
    },
  });

  let failure: string | undefined;
  if (client.violation || server.violation) failure = `flow-control invariant: ${client.violation ?? server.violation}`;
  else if (client.channelViolation || server.channelViolation) failure = `channel ${client.channelViolation ?? server.channelViolation}`;
  else if (!closeStarted) {
    failure = `not delivered by ${result.now.toFixed(0)} ms (${result.reason}); client closed=${JSON.stringify(client.closed)} server closed=${JSON.stringify(server.closed)}`;
  } else if (result.reason !== 'condition') failure = `close did not finish (${result.reason})`;
  if (!failure) {
    for (const [from, to, name] of [
      [client, server, 'c→s'],
      [server, client, 's→c'],
    ] as const) {
      for (const s of from.out) {
        const st = to.inbound.get(s.id)!;
        const want = s.src.digest();
        if (st.bytes !== s.src.size || st.digest !== want) {
          failure = `${name} stream ${s.id}: got ${st.bytes}/${s.src.size} bytes, hash ${st.digest === want ? 'ok' : 'MISMATCH'}`;
          break;
        }
      }
    }
  }
  // The closer reports 'local'; the other side the same code and reason from the CONNECTION_CLOSE or, if
  // every copy of it was lost, its idle timeout. With the idle ending both report 'idle'.
  if (!failure) {
    const [closer, other] = extras.ending === 'server-close' ? [server, client] : [client, server];
    const code = extras.ending === 'app-error' ? 7 : 0;
    const okEnd =
      extras.ending === 'idle'
        ? client.closed?.initiator === 'idle' && server.closed?.initiator === 'idle'
        : closer.closed?.initiator === 'local' &&
          closer.closed.code === code &&
          !!other.closed &&
          ((other.closed.initiator === 'peer' && other.closed.code === code) || other.closed.initiator === 'idle');
    if (!okEnd) {
      failure = `ending ${extras.ending} not seen on both sides: client=${JSON.stringify(client.closed)} server=${JSON.stringify(server.closed)}`;
    }
  }
  for (const [side, name] of [
    [client, 'client'],
    [server, 'server'],
  ] as const) {
    if (!failure && (side.datagramsCorrupt > 0 || side.datagramsDuplicate > 0)) {
      failure = `${name} received ${side.datagramsCorrupt} corrupt and ${side.datagramsDuplicate} duplicate datagrams`;
    }
  }
  const channels = channelCounts(client, server);
  for (const mode of CHANNEL_MODES) {
    const c = channels.modes[mode];
    if (!failure && isReliable(mode) && closeStarted && c.lost !== 0) failure = `channel ${mode}: ${c.received} of ${c.sent} messages delivered`;
  }
  return {
    seed: o.seed,
    ok: !failure,
    failure,
    mix,
    mixText: `${mix ? describeMix(mix) : JSON.stringify(link)} | ${describeExtras(extras)}`,
    simTime: result.now,
    bytes: totalBytes,
    clientStats: client.conn?.stats() ?? null,
    serverStats: server.conn?.stats() ?? null,
    events: sim.counters.events,
    channels,
  };
}

function channelCounts(client: Side, server: Side): ChannelCounts {
  const modes = {} as Record<ChannelMode, ChannelModeCounts>;
  CHANNEL_MODES.forEach((mode, m) => {
    const c: ChannelModeCounts = { sent: 0, received: 0, lost: 0, bytesSent: 0, bytesReceived: 0 };
    for (const [from, to] of [
      [client, server],
      [server, client],
    ] as const) {
      const o = from.chOut[m];
      c.sent += o?.next ?? 0;
      c.bytesSent += o?.bytes ?? 0;
      c.received += to.chIn[m]!.received;
      c.bytesReceived += to.chIn[m]!.bytes;
    }
    c.lost = c.sent - c.received;
    modes[mode] = c;
  });
  const out: ChannelCounts = { modes, fragmentsSent: 0, fragmentsReceived: 0, stale: 0, datagramsDropped: {}, messagesDropped: {} };
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  for (const side of [client, server]) {
    if (!side.layer) continue;
    const s = side.layer.stats();
    out.fragmentsSent += s.fragmentsSent;
    out.fragmentsReceived += s.fragmentsReceived;
    add(out.datagramsDropped, s.datagramsDropped);
    add(out.messagesDropped, s.messagesDropped);
  }
  out.stale = (out.datagramsDropped.stale ?? 0) + (out.messagesDropped.stale ?? 0);
  return out;
}
