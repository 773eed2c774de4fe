/**
 * One direction of a simulated path and its impairments. A datagram entering the direction goes through, in order:
 * random draws (each impairment has its own stream), outage / MTU / loss / burst-loss drops, the bottleneck queue
 * (drop-tail, serialization at `rate`), corruption, propagation delay + jitter (+ explicit reorder delay), and may be
 * duplicated. The result is a scheduled `Delivery`; nothing is delivered synchronously.
 */
import { addressKey } from './address.js';
import type { QueuedEvent } from './event-queue.js';
import type { SimRandom } from './random.js';
import { fingerprint } from './trace.js';
import type { Tracer } from './trace.js';
import type { SimAddress } from './types.js';

/** Two-state bursty loss (Gilbert–Elliott). Per datagram the state moves first, then the datagram is lost with the
 *  new state's loss probability. Stationary P(bad) = p / (p + r); mean burst (bad-state) length = 1 / r datagrams. */
export interface GilbertElliott {
  /** P(good → bad) per datagram */
  p: number;
  /** P(bad → good) per datagram */
  r: number;
  /** loss probability in the good state (default 0) */
  lossGood?: number;
  /** loss probability in the bad state (default 1) */
  lossBad?: number;
  /**
   * Longest a bad state lasts in time, ms (default Infinity). Per-datagram chains make a burst span any
   * amount of time when a sender goes quiet (e.g. backs off its probes); real bursts (fades, queue
   * overflows elsewhere) end in time, so the random mix bounds them.
   */
  maxDuration?: number;
}

/** Per-direction impairments. Every field is optional; the defaults describe a perfect, instant link. */
export interface LinkConfig {
  /** one-way propagation delay, ms (default 0) */
  delay?: number;
  /** extra random delay in [0, jitter] ms added per datagram (default 0) */
  jitter?: number;
  /** 'uniform' over [0, jitter], or 'normal': mean of 4 uniforms (bell-shaped, mean jitter/2, still bounded) */
  jitterDistribution?: 'uniform' | 'normal';
  /** never let jitter reorder: a datagram never arrives before one sent earlier on this direction (default false) */
  preserveOrder?: boolean;
  /** Bernoulli loss probability per datagram */
  loss?: number;
  /** bursty loss, or null for none */
  burst?: GilbertElliott | null;
  /** probability a datagram is held back by `reorderDelay` ms extra, letting later ones overtake it */
  reorder?: number;
  /** extra delay of a reordered datagram, ms (default 10) */
  reorderDelay?: number;
  /** probability a datagram is delivered twice (the copy takes its own jitter sample) */
  duplicate?: number;
  /** probability a datagram has bits flipped */
  corrupt?: number;
  /** a corrupted datagram has 1..corruptBits distinct bits flipped (default 1) */
  corruptBits?: number;
  /** bottleneck rate in bits/s; 0 or Infinity = unlimited (default) */
  rate?: number;
  /** drop-tail queue in front of the bottleneck, bytes waiting (not counting the one being serialized); default Infinity */
  queueBytes?: number;
  /** datagrams larger than this many bytes are dropped (default Infinity) */
  mtu?: number;
  /** the direction is down: everything entering is dropped, and going down empties the queue */
  down?: boolean;
}

export interface ResolvedLinkConfig {
  delay: number;
  jitter: number;
  jitterDistribution: 'uniform' | 'normal';
  preserveOrder: boolean;
  loss: number;
  burst: Required<GilbertElliott> | null;
  reorder: number;
  reorderDelay: number;
  duplicate: number;
  corrupt: number;
  corruptBits: number;
  rate: number;
  queueBytes: number;
  mtu: number;
  down: boolean;
}

export type DropReason = 'loss' | 'burst' | 'queue' | 'mtu' | 'down';

export interface LinkStats {
  /** datagrams that entered this direction */
  sent: number;
  /** copies handed to the receiving node (duplicates included) */
  delivered: number;
  dropped: Record<DropReason, number>;
  duplicated: number;
  corrupted: number;
  /** original copies delivered after a datagram sent later on this direction */
  reordered: number;
  bytesSent: number;
  bytesDelivered: number;
}

/** A datagram scheduled to arrive at `dir.to`; `from` is the source the receiver will see. */
export interface Delivery extends QueuedEvent {
  kind: 'deliver';
  dir: LinkDirection;
  id: number;
  /** index of the original datagram on this direction (for reorder accounting) */
  linkSeq: number;
  primary: boolean;
  data: Uint8Array;
  from: SimAddress;
  /** set when an outage flushed it from the queue */
  cancelled: boolean;
}

/** What a direction needs from the simulator. */
export interface LinkHost {
  readonly now: number;
  readonly tracer: Tracer;
  schedule(d: Delivery): void;
  nextDatagramId(): number;
}

/** Mean loss of a Gilbert–Elliott channel: π_good·lossGood + π_bad·lossBad. */
export function gilbertElliottLossRate(ge: GilbertElliott): number {
  const piBad = ge.p + ge.r === 0 ? 0 : ge.p / (ge.p + ge.r);
  return (1 - piBad) * (ge.lossGood ?? 0) + piBad * (ge.lossBad ?? 1);
}

const DEFAULTS: ResolvedLinkConfig = {
  delay: 0,
  jitter: 0,
  jitterDistribution: 'uniform',
  preserveOrder: false,
  loss: 0,
  burst: null,
  reorder: 0,
  reorderDelay: 10,
  duplicate: 0,
  corrupt: 0,
  corruptBits: 1,
  rate: Infinity,
  queueBytes: Infinity,
  mtu: Infinity,
  down: false,
};

function checkProbability(name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`link ${name} must be a probability in [0, 1], got ${v}`);
}
function checkNonNegative(name: string, v: number): void {
  if (!(v >= 0)) throw new RangeError(`link ${name} must be >= 0, got ${v}`);
}

function applyPatch(base: ResolvedLinkConfig, patch: LinkConfig): ResolvedLinkConfig {
  const c: ResolvedLinkConfig = { ...base };
  for (const k of ['delay', 'jitter', 'reorderDelay', 'queueBytes', 'mtu'] as const) {
    const v = patch[k];
    if (v !== undefined) {
      checkNonNegative(k, v);
      c[k] = v;
    }
  }
  for (const k of ['loss', 'reorder', 'duplicate', 'corrupt'] as const) {
    const v = patch[k];
    if (v !== undefined) {
      checkProbability(k, v);
      c[k] = v;
    }
  }
  if (patch.rate !== undefined) {
    checkNonNegative('rate', patch.rate);
    c.rate = patch.rate === 0 ? Infinity : patch.rate;
  }
  if (patch.corruptBits !== undefined) {
    if (!Number.isInteger(patch.corruptBits) || patch.corruptBits < 1) throw new RangeError(`link corruptBits must be an integer >= 1`);
    c.corruptBits = patch.corruptBits;
  }
  if (patch.jitterDistribution !== undefined) c.jitterDistribution = patch.jitterDistribution;
  if (patch.preserveOrder !== undefined) c.preserveOrder = patch.preserveOrder;
  if (patch.down !== undefined) c.down = patch.down;
  if (patch.burst !== undefined) {
    const b = patch.burst;
    if (b === null) c.burst = null;
    else {
      const ge = { p: b.p, r: b.r, lossGood: b.lossGood ?? 0, lossBad: b.lossBad ?? 1, maxDuration: b.maxDuration ?? Infinity };
      for (const k of ['p', 'r', 'lossGood', 'lossBad'] as const) checkProbability(`burst.${k}`, ge[k]);
      if (!(ge.maxDuration > 0)) throw new RangeError(`burst.maxDuration must be > 0, got ${ge.maxDuration}`);
      c.burst = ge;
    }
  }
  return c;
}

function newStats(): LinkStats {
  return {
    sent: 0,
    delivered: 0,
    dropped: { loss: 0, burst: 0, queue: 0, mtu: 0, down: 0 },
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    bytesSent: 0,
    bytesDelivered: 0,
  };
}

/** A datagram waiting in the bottleneck queue. */
interface Waiting {
  txStart: number;
  size: number;
  delivery: Delivery;
}

export class LinkDirection {
  readonly from: SimAddress;
  readonly to: SimAddress;
  /** `host:port` of `to` */
  readonly toKey: string;
  /** `from>to`, as it appears in traces */
  readonly name: string;
  readonly stats: LinkStats = newStats();
  /**
   * Called for every datagram admitted to this direction with its one-way delay (queueing, serialization,
   * propagation and jitter, ms) and the time it entered; measurement only, it changes nothing.
   */
  onTransit: ((delayMs: number, now: number) => void) | null = null;
  private cfg: ResolvedLinkConfig;
  private readonly host: LinkHost;
  private readonly rLoss: SimRandom;
  private readonly rBurst: SimRandom;
  private readonly rJitter: SimRandom;
  private readonly rReorder: SimRandom;
  private readonly rDuplicate: SimRandom;
  private readonly rCorrupt: SimRandom;
  private burstBad = false;
  private burstStart = 0;
  /** when the bottleneck finishes serializing everything admitted so far */
  private busyUntil = -Infinity;
  /** datagrams admitted but not yet started serializing, FIFO from `waitHead` */
  private waiting: Waiting[] = [];
  private waitHead = 0;
  private queuedBytes = 0;
  private lastArrival = -Infinity;
  private maxDeliveredSeq = -1;

  constructor(host: LinkHost, from: SimAddress, to: SimAddress, config: LinkConfig, rng: SimRandom) {
    this.host = host;
    this.from = { host: from.host, port: from.port };
    this.to = { host: to.host, port: to.port };
    this.toKey = addressKey(to);
    this.name = `${addressKey(from)}>${this.toKey}`;
    this.cfg = applyPatch(DEFAULTS, config);
    this.rLoss = rng.fork('loss');
    this.rBurst = rng.fork('burst');
    this.rJitter = rng.fork('jitter');
    this.rReorder = rng.fork('reorder');
    this.rDuplicate = rng.fork('duplicate');
    this.rCorrupt = rng.fork('corrupt');
  }

  get config(): Readonly<ResolvedLinkConfig> {
    return this.cfg;
  }

  /** True while the Gilbert–Elliott channel is in its bad state. */
  get inBurst(): boolean {
    return this.burstBad;
  }

  /** Change impairments from now on. Datagrams already queued or in flight keep the timing they were given, except
   *  that going down drops everything still waiting in the queue. */
  set(patch: LinkConfig): void {
    const wasDown = this.cfg.down;
    this.cfg = applyPatch(this.cfg, patch);
    const t = this.host.tracer;
    if (t.enabled) t.event(this.host.now, 'sim:link_updated', { link: this.name, changes: patch });
    if (!wasDown && this.cfg.down) this.flushQueue();
  }

  /** A datagram enters this direction at host.now. `data` is the simulator's own copy; `from` is the source the
   *  receiver will see (after address rewriting). */
  transmit(id: number, data: Uint8Array, from: SimAddress): void {
    const c = this.cfg;
    const now = this.host.now;
    const size = data.length;
    const s = this.stats;
    const linkSeq = s.sent++;
    s.bytesSent += size;

    // Draw every enabled impairment's randomness up front, whatever the outcome, so each stream advances exactly
    // once per datagram and one impairment's decisions never depend on another's.
    const lost = c.loss > 0 && this.rLoss.next() < c.loss;
    const burstLost = c.burst !== null && this.burstStep(c.burst);
    const jitter = c.jitter > 0 ? this.sampleJitter(this.rJitter) : 0;
    const reordered = c.reorder > 0 && this.rReorder.next() < c.reorder;
    const duplicated = c.duplicate > 0 && this.rDuplicate.next() < c.duplicate;
    const corrupted = c.corrupt > 0 && this.rCorrupt.next() < c.corrupt;

    let reason: DropReason | null = null;
    if (c.down) reason = 'down';
    else if (size > c.mtu) reason = 'mtu';
    else if (lost) reason = 'loss';
    else if (burstLost) reason = 'burst';
    if (reason !== null) {
      this.drop(id, reason, size);
      return;
    }

    const copy = duplicated ? data.slice() : null;
    this.enqueue(id, linkSeq, true, data, from, now, jitter, reordered ? c.reorderDelay : 0, corrupted);

    if (copy !== null) {
      const copyId = this.host.nextDatagramId();
      s.duplicated++;
      const t = this.host.tracer;
      if (t.enabled) t.event(now, 'sim:datagram_duplicated', { id, copy: copyId, link: this.name });
      const copyJitter = c.jitter > 0 ? this.sampleJitter(this.rDuplicate) : 0;
      this.enqueue(copyId, linkSeq, false, copy, { host: from.host, port: from.port }, now, copyJitter, 0, false);
    }
  }

  /** Called by the simulator when a delivery pops (not cancelled). */
  delivered(d: Delivery): void {
    const s = this.stats;
    s.delivered++;
    s.bytesDelivered += d.data.length;
    if (d.primary) {
      if (d.linkSeq < this.maxDeliveredSeq) s.reordered++;
      else this.maxDeliveredSeq = d.linkSeq;
    }
  }

  private enqueue(
    id: number,
    linkSeq: number,
    primary: boolean,
    data: Uint8Array,
    from: SimAddress,
    now: number,
    jitter: number,
    extraDelay: number,
    corrupt: boolean,
  ): void {
    const c = this.cfg;
    const size = data.length;

    // bottleneck: release what has started serializing, then drop-tail admission
    const w = this.waiting;
    while (this.waitHead < w.length && w[this.waitHead]!.txStart <= now) this.queuedBytes -= w[this.waitHead++]!.size;
    if (this.waitHead === w.length) {
      w.length = 0;
      this.waitHead = 0;
    } else if (this.waitHead > 1024 && this.waitHead * 2 > w.length) {
      w.splice(0, this.waitHead);
      this.waitHead = 0;
    }
    const txStart = this.busyUntil > now ? this.busyUntil : now;
    const waits = txStart > now;
    if (waits && this.queuedBytes + size > c.queueBytes) {
      this.drop(id, 'queue', size);
      return;
    }
    const txEnd = c.rate === Infinity ? txStart : txStart + (size * 8000) / c.rate;
    this.busyUntil = txEnd;

    if (corrupt && size > 0) this.corrupt(id, data);

    let arrival = txEnd + c.delay + jitter;
    if (c.preserveOrder) {
      if (arrival < this.lastArrival) arrival = this.lastArrival;
      this.lastArrival = arrival;
    }
    arrival += extraDelay;

    if (this.onTransit !== null) this.onTransit(arrival - now, now);
    const d: Delivery = { kind: 'deliver', time: arrival, seq: 0, dir: this, id, linkSeq, primary, data, from, cancelled: false };
    if (waits) {
      this.queuedBytes += size;
      w.push({ txStart, size, delivery: d });
    }
    this.host.schedule(d);
  }

  /** Outage: everything still waiting for the bottleneck is lost; the datagram being serialized finishes. */
  private flushQueue(): void {
    const now = this.host.now;
    const w = this.waiting;
    let first = true;
    for (let i = this.waitHead; i < w.length; i++) {
      const e = w[i]!;
      if (e.txStart <= now) continue;
      if (first) {
        this.busyUntil = e.txStart;
        first = false;
      }
      e.delivery.cancelled = true;
      this.drop(e.delivery.id, 'down', e.size);
    }
    w.length = 0;
    this.waitHead = 0;
    this.queuedBytes = 0;
  }

  private corrupt(id: number, data: Uint8Array): void {
    const r = this.rCorrupt;
    const totalBits = data.length * 8;
    const n = Math.min(r.int(1, this.cfg.corruptBits), totalBits);
    const bits: number[] = [];
    while (bits.length < n) {
      const b = r.int(0, totalBits - 1);
      if (!bits.includes(b)) bits.push(b);
    }
    for (const b of bits) data[b >>> 3]! ^= 0x80 >>> (b & 7);
    this.stats.corrupted++;
    const t = this.host.tracer;
    if (t.enabled) t.event(this.host.now, 'sim:datagram_corrupted', { id, link: this.name, bits, fingerprint: fingerprint(data) });
  }

  private burstStep(ge: Required<GilbertElliott>): boolean {
    const r = this.rBurst;
    const move = r.next();
    if (this.burstBad) {
      if (move < ge.r || this.host.now - this.burstStart > ge.maxDuration) this.burstBad = false;
    } else if (move < ge.p) {
      this.burstBad = true;
      this.burstStart = this.host.now;
    }
    return r.next() < (this.burstBad ? ge.lossBad : ge.lossGood);
  }

  private sampleJitter(r: SimRandom): number {
    const j = this.cfg.jitter;
    if (this.cfg.jitterDistribution === 'uniform') return j * r.next();
    return (j * (r.next() + r.next() + r.next() + r.next())) / 4;
  }

  private drop(id: number, reason: DropReason, size: number): void {
    this.stats.dropped[reason]++;
    const t = this.host.tracer;
    if (t.enabled) t.event(this.host.now, 'sim:datagram_dropped', { id, reason, link: this.name, size });
  }
}

/** Both directions of a link between two addresses. */
export class SimLink {
  readonly ab: LinkDirection;
  readonly ba: LinkDirection;
  constructor(ab: LinkDirection, ba: LinkDirection) {
    this.ab = ab;
    this.ba = ba;
  }
  /** Apply the same change to both directions. */
  set(patch: LinkConfig): void {
    this.ab.set(patch);
    this.ba.set(patch);
  }
}
