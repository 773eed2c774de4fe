/**
 * Deterministic discrete-event network simulator. Virtual time (ms, float) only moves when the next event pops;
 * events are datagram deliveries, node timeouts and scheduled callbacks, ordered by (time, scheduling order).
 * Nodes are sans-IO endpoints (SimNode): after every call into a node the simulator drains its pollTransmit and
 * re-reads its pollTimeout, so a node never needs to know it is simulated.
 */
import { PetrelError } from '../errors.js';
import { addressKey, sameAddress } from './address.js';
import { EventQueue } from './event-queue.js';
import type { QueuedEvent } from './event-queue.js';
import { LinkDirection, SimLink } from './link.js';
import type { Delivery, LinkConfig, LinkHost } from './link.js';
import { SimRandom } from './random.js';
import { Tracer, fingerprint } from './trace.js';
import type { TraceSink } from './trace.js';
import type { SimAddress, SimNode } from './types.js';

export interface SimulatorOptions {
  /** root seed of every random stream (default 1) */
  seed?: number;
  /** trace destination (default null: no tracing, no cost) */
  trace?: TraceSink;
  /** qlog title (default 'petrel-sim') */
  title?: string;
  /** impairments of any direction used without link() having been called for it (default: perfect and instant) */
  defaultLink?: LinkConfig;
  /** virtual time at construction, ms (default 0) */
  startTime?: number;
  /** most datagrams one node may emit in a single drain before it is declared a runaway (default 1,000,000) */
  maxBurst?: number;
}

/** A single config applies to both directions (each gets its own copy and its own random streams). */
export type LinkOptions = LinkConfig | { ab?: LinkConfig; ba?: LinkConfig };

export interface RunOptions {
  /** checked before the first event and after each one; true stops the run */
  until?: () => boolean;
  /** absolute virtual time (ms): events due later stay queued and the clock is advanced to maxTime */
  maxTime: number;
  /** most events this call may process (deliveries, timeouts, callbacks) */
  maxEvents?: number;
}

export type StopReason = 'condition' | 'idle' | 'maxTime' | 'maxEvents';

export interface RunResult {
  reason: StopReason;
  now: number;
  /** events processed by this call */
  events: number;
}

export interface SimCounters {
  /** events processed over the simulator's life */
  events: number;
  /** datagrams nodes emitted */
  sent: number;
  /** datagrams handed to nodes (duplicates included) */
  delivered: number;
  /** datagrams addressed to an address no node (or NAT mapping) answers to */
  noroute: number;
}

export interface RebindOptions {
  /** keep routing the previous public address to the node too (default false: the old mapping is gone) */
  keepOldMapping?: boolean;
}

/** A real address: a node's (rec set) or an unregistered source a node spoofed (rec null, unreachable). */
interface Endpoint {
  readonly key: string;
  readonly address: SimAddress;
  readonly rec: NodeRec | null;
  /** the source address receivers see: differs from `address` after a rebind */
  public: SimAddress;
  /** directions leaving this address, by receiving endpoint (a cache of `dirs`) */
  readonly out: Map<Endpoint, LinkDirection>;
}

/**
 * host → port → value. Lookups hash the host string, which is usually the very string object the simulator handed
 * the node (hash cached), instead of building and hashing a fresh `host:port` per datagram.
 */
class AddressTable<T> {
  private readonly hosts = new Map<string, Map<number, T>>();
  get(a: SimAddress): T | undefined {
    return this.hosts.get(a.host)?.get(a.port);
  }
  set(a: SimAddress, v: T): void {
    let ports = this.hosts.get(a.host);
    if (ports === undefined) this.hosts.set(a.host, (ports = new Map()));
    ports.set(a.port, v);
  }
  delete(a: SimAddress): void {
    this.hosts.get(a.host)?.delete(a.port);
  }
}

interface NodeRec {
  readonly node: SimNode;
  /** the first address it was registered at: the default source of its datagrams */
  readonly address: SimAddress;
  timerAt: number | null;
  timerVersion: number;
}

interface TimerEvent extends QueuedEvent {
  kind: 'timer';
  rec: NodeRec;
  version: number;
}

interface CallbackEvent extends QueuedEvent {
  kind: 'callback';
  fn: (sim: Simulator) => void;
}

type SimEvent = Delivery | TimerEvent | CallbackEvent;

function copyAddress(a: SimAddress): SimAddress {
  return { host: a.host, port: a.port };
}

export class Simulator {
  /** root random stream; links fork from it by name, nodes should use rng(label) */
  readonly random: SimRandom;
  readonly counters: SimCounters = { events: 0, sent: 0, delivered: 0, noroute: 0 };
  private clock: number;
  private readonly tracer: Tracer;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly defaultLink: LinkConfig;
  private readonly maxBurst: number;
  private readonly records: NodeRec[] = [];
  /** real addresses (nodes' and spoofed sources) */
  private readonly local = new AddressTable<Endpoint>();
  private readonly byKey = new Map<string, Endpoint>();
  /** address a sender may target → endpoint it reaches (identity unless rebound) */
  private readonly inbound = new AddressTable<Endpoint>();
  /** `from>to` → direction */
  private readonly dirs = new Map<string, LinkDirection>();
  private readonly dirList: LinkDirection[] = [];
  private readonly linkHost: LinkHost;
  private datagramIds = 0;
  private running = false;

  constructor(options: SimulatorOptions = {}) {
    const seed = options.seed ?? 1;
    this.random = new SimRandom(seed);
    this.clock = options.startTime ?? 0;
    this.tracer = new Tracer(options.trace ?? null);
    this.defaultLink = options.defaultLink ?? {};
    this.maxBurst = options.maxBurst ?? 1_000_000;
    this.tracer.header(options.title ?? 'petrel-sim', seed);
    const self = this;
    this.linkHost = {
      get now() {
        return self.clock;
      },
      tracer: this.tracer,
      schedule: (d) => this.queue.push(d),
      nextDatagramId: () => ++this.datagramIds,
    };
  }

  /** Current virtual time, ms. */
  get now(): number {
    return this.clock;
  }

  /** An independent random stream for a node or test, derived from the seed and `label`. */
  rng(label: string): SimRandom {
    return this.random.fork(`user:${label}`);
  }

  /** False when the sink is null: check it before building trace data. */
  get traceEnabled(): boolean {
    return this.tracer.enabled;
  }

  /** Append an event of your own (e.g. `transport:packet_sent`) at the current virtual time. */
  trace(name: string, data?: unknown): void {
    if (this.tracer.enabled) this.tracer.event(this.clock, name, data);
  }

  /** Register `node` at `address`. Registering the same node again adds another address it answers to. */
  addNode(address: SimAddress, node: SimNode): void {
    const key = addressKey(address);
    if (this.byKey.get(key)?.rec || this.inbound.get(address)) throw new PetrelError('SIM_ADDRESS_IN_USE', `address ${key} is already in use`);
    let rec = this.records.find((r) => r.node === node);
    if (rec === undefined) {
      rec = { node, address: copyAddress(address), timerAt: null, timerVersion: 0 };
      this.records.push(rec);
    }
    const ep: Endpoint = { key, address: copyAddress(address), rec, public: copyAddress(address), out: new Map() };
    this.local.set(address, ep);
    this.byKey.set(key, ep);
    this.inbound.set(address, ep);
  }

  /** The node registered at a real address. */
  nodeAt(address: SimAddress): SimNode | undefined {
    return this.local.get(address)?.rec?.node;
  }

  /** Create the link between a and b. Throws if either direction already exists (use direction()/linkBetween().set()). */
  link(a: SimAddress, b: SimAddress, options: LinkOptions = {}): SimLink {
    let ab: LinkConfig;
    let ba: LinkConfig;
    if ('ab' in options || 'ba' in options) {
      const o = options as { ab?: LinkConfig; ba?: LinkConfig };
      ab = o.ab ?? {};
      ba = o.ba ?? {};
    } else {
      ab = options as LinkConfig;
      ba = options as LinkConfig;
    }
    const kab = `${addressKey(a)}>${addressKey(b)}`;
    const kba = `${addressKey(b)}>${addressKey(a)}`;
    if (this.dirs.has(kab) || this.dirs.has(kba)) throw new PetrelError('SIM_LINK_EXISTS', `a link between ${kab} already exists`);
    return new SimLink(this.createDirection(a, b, kab, ab), this.createDirection(b, a, kba, ba));
  }

  /** The direction from → to (real addresses), created with the default config if it does not exist yet. */
  direction(from: SimAddress, to: SimAddress): LinkDirection {
    const k = `${addressKey(from)}>${addressKey(to)}`;
    return this.dirs.get(k) ?? this.createDirection(from, to, k, this.defaultLink);
  }

  /** Both directions between a and b, oriented a → b (created with defaults as needed). */
  linkBetween(a: SimAddress, b: SimAddress): SimLink {
    return new SimLink(this.direction(a, b), this.direction(b, a));
  }

  /** Every direction created so far, in creation order. */
  directions(): readonly LinkDirection[] {
    return this.dirList;
  }

  /** Run `fn` at virtual time `time` (now, if already past); afterwards every node is drained and re-polled. */
  at(time: number, fn: (sim: Simulator) => void): void {
    const e: CallbackEvent = { kind: 'callback', time: time < this.clock ? this.clock : time, seq: 0, fn };
    this.queue.push(e);
  }

  /** Take the link between a and b down in [start, end): datagrams entering meanwhile are dropped. */
  outage(a: SimAddress, b: SimAddress, start: number, end: number): void {
    const link = this.linkBetween(a, b);
    this.at(start, () => link.set({ down: true }));
    this.at(end, () => link.set({ down: false }));
  }

  /**
   * NAT rebinding: from `at` on, datagrams sent from the node's real address `nodeAddress` arrive with source
   * `newAddress`, and datagrams sent to `newAddress` reach the node. The previous public address stops routing
   * unless keepOldMapping. Applied immediately when `at` <= now; rewriting happens when a datagram is sent.
   */
  rebind(nodeAddress: SimAddress, newAddress: SimAddress, at: number = this.clock, options: RebindOptions = {}): void {
    const ep = this.local.get(nodeAddress);
    if (ep?.rec == null) throw new PetrelError('SIM_UNKNOWN_ADDRESS', `no node at ${addressKey(nodeAddress)}`);
    const apply = (): void => {
      const owner = this.inbound.get(newAddress);
      if (owner !== undefined && owner !== ep) throw new PetrelError('SIM_ADDRESS_IN_USE', `address ${addressKey(newAddress)} is already in use`);
      const previous = ep.public;
      if (!options.keepOldMapping && !sameAddress(previous, newAddress)) this.inbound.delete(previous);
      this.inbound.set(newAddress, ep);
      ep.public = copyAddress(newAddress);
      this.trace('sim:address_rebound', { address: ep.key, previous: addressKey(previous), public: addressKey(newAddress) });
    };
    if (at <= this.clock) apply();
    else this.at(at, apply);
  }

  /** The source address receivers currently see for a node's real address. */
  publicAddress(nodeAddress: SimAddress): SimAddress {
    return copyAddress(this.local.get(nodeAddress)?.public ?? nodeAddress);
  }

  /** Drain and re-poll a node (or all) after touching it from outside the simulator, e.g. queuing app data. */
  flush(node?: SimNode): void {
    for (const rec of this.records) if (node === undefined || rec.node === node) this.settle(rec);
  }

  run(options: RunOptions): RunResult {
    if (this.running) throw new PetrelError('SIM_REENTRANT', 'Simulator.run called from inside a run');
    this.running = true;
    try {
      const { until, maxTime } = options;
      const maxEvents = options.maxEvents ?? Infinity;
      let events = 0;
      this.flush();
      for (;;) {
        if (until !== undefined && until()) return { reason: 'condition', now: this.clock, events };
        const ev = this.peekLive();
        if (ev === undefined) return { reason: 'idle', now: this.clock, events };
        if (ev.time > maxTime) {
          if (this.clock < maxTime) this.clock = maxTime;
          return { reason: 'maxTime', now: this.clock, events };
        }
        if (events >= maxEvents) return { reason: 'maxEvents', now: this.clock, events };
        this.queue.pop();
        if (ev.time > this.clock) this.clock = ev.time;
        events++;
        this.counters.events++;
        this.dispatch(ev);
      }
    } finally {
      this.running = false;
    }
  }

  private createDirection(from: SimAddress, to: SimAddress, key: string, config: LinkConfig): LinkDirection {
    const dir = new LinkDirection(this.linkHost, from, to, config, this.random.fork(`link:${key}`));
    this.dirs.set(key, dir);
    this.dirList.push(dir);
    return dir;
  }

  /** Next event that still matters: cancelled deliveries and superseded timers are discarded here. */
  private peekLive(): SimEvent | undefined {
    for (;;) {
      const ev = this.queue.peek();
      if (ev === undefined) return undefined;
      if ((ev.kind === 'deliver' && ev.cancelled) || (ev.kind === 'timer' && ev.version !== ev.rec.timerVersion)) {
        this.queue.pop();
        continue;
      }
      return ev;
    }
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case 'deliver': {
        const target = this.byKey.get(ev.dir.toKey)!.rec!;
        ev.dir.delivered(ev);
        this.counters.delivered++;
        const t = this.tracer;
        if (t.enabled) {
          t.event(this.clock, 'sim:datagram_delivered', {
            id: ev.id,
            from: addressKey(ev.from),
            to: ev.dir.toKey,
            size: ev.data.length,
            fingerprint: fingerprint(ev.data),
          });
        }
        target.node.handleDatagram(ev.data, ev.from, this.clock);
        this.settle(target);
        return;
      }
      case 'timer':
        ev.rec.timerAt = null;
        ev.rec.node.handleTimeout(this.clock);
        this.settle(ev.rec);
        return;
      case 'callback':
        ev.fn(this);
        this.flush();
        return;
    }
  }

  /** After any call into a node: send everything it has queued, then re-arm its timer. */
  private settle(rec: NodeRec): void {
    const node = rec.node;
    let n = 0;
    for (let out = node.pollTransmit(this.clock); out !== null; out = node.pollTransmit(this.clock)) {
      if (++n > this.maxBurst) {
        throw new PetrelError('SIM_RUNAWAY_NODE', `node at ${addressKey(rec.address)} emitted more than ${this.maxBurst} datagrams at once`);
      }
      this.send(out.data, out.to, out.from ?? rec.address);
    }
    const t = node.pollTimeout();
    if (t === rec.timerAt) return;
    if (t !== null && Number.isNaN(t)) throw new PetrelError('SIM_BAD_TIMEOUT', `node at ${addressKey(rec.address)} returned a NaN timeout`);
    rec.timerAt = t;
    rec.timerVersion++;
    if (t !== null) this.queue.push({ kind: 'timer', time: t < this.clock ? this.clock : t, seq: 0, rec, version: rec.timerVersion });
  }

  private send(payload: Uint8Array, to: SimAddress, from: SimAddress): void {
    const id = ++this.datagramIds;
    const data = payload.slice();
    this.counters.sent++;
    const t = this.tracer;
    if (t.enabled) {
      t.event(this.clock, 'sim:datagram_sent', { id, from: addressKey(from), to: addressKey(to), size: data.length, fingerprint: fingerprint(data) });
    }
    const dst = this.inbound.get(to);
    if (dst === undefined) {
      this.counters.noroute++;
      if (t.enabled) t.event(this.clock, 'sim:datagram_dropped', { id, reason: 'noroute', to: addressKey(to), size: data.length });
      return;
    }
    const src = this.local.get(from) ?? this.spoofed(from);
    let dir = src.out.get(dst);
    if (dir === undefined) {
      const key = `${src.key}>${dst.key}`;
      dir = this.dirs.get(key) ?? this.createDirection(src.address, dst.address, key, this.defaultLink);
      src.out.set(dst, dir);
    }
    dir.transmit(id, data, copyAddress(src.public));
  }

  /** An endpoint for a source address no node is registered at: it can send, nothing routes back to it. */
  private spoofed(address: SimAddress): Endpoint {
    const ep: Endpoint = { key: addressKey(address), address: copyAddress(address), rec: null, public: copyAddress(address), out: new Map() };
    this.local.set(address, ep);
    this.byKey.set(ep.key, ep);
    return ep;
  }
}
