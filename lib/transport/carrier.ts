/**
 * A platform-neutral driver for one core Endpoint over a message carrier (a WebSocket): each binary message
 * is one whole Petrel datagram (CRC trailer and all), so the handshake and packet protection are end to end.
 *
 * Unlike the UDP driver it runs on Node and in browsers: the clock is `performance.now()`, timers are the
 * global setTimeout, nothing from node:*. One CarrierEndpoint serves one carrier link (one WebSocket); a
 * server runs one per accepted socket, so backpressure stays per connection.
 *
 * Backpressure: the carrier is reliable and ordered and already does congestion control. When the link
 * holds more than `highWater` unsent bytes the driver stops pulling datagrams from the core until the link
 * drains below `lowWater`. Stream data then waits in the core (bounded by flow control); datagrams wait in
 * the core's bounded datagram queue, which drops its oldest when full — so under backpressure datagrams and
 * unreliable channel messages are dropped, never reordered into reliable data.
 */
import { Endpoint, type EndpointConfig, type EndpointEvent, type EndpointStats, type ServerConfig } from '../endpoint/endpoint.js';
import type { Connection } from '../connection/connection.js';
import type { ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../connection/types.js';

/** One reliable, ordered, message-preserving link that carries whole datagrams (a WebSocket). */
export interface DatagramLink {
  /** Sends one datagram as one binary message. The link owns `datagram` from now on. */
  send(datagram: Uint8Array): void;
  /** Bytes accepted by send() and not yet written to the network. */
  readonly buffered: number;
  /** Calls `cb` once, when `buffered` has fallen to `lowWater` or below (or the link closed). */
  onceDrained(lowWater: number, cb: () => void): void;
  /** Closes the link (a WebSocket close code and reason). Idempotent. */
  close(code: number, reason: string): void;
  /** Optional: hold writes between cork() and uncork() so a burst of datagrams leaves in few syscalls. */
  cork?(): void;
  uncork?(): void;
}

/** What the driver asks of its owner. */
export interface CarrierHandler {
  onEvent(ev: EndpointEvent, now: number): void;
  /** The owner's earliest deadline (folded into this driver's timer), or null. */
  pollTimeout?(): number | null;
  onTimeout?(now: number): void;
  afterPump?(now: number): void;
}

export interface CarrierEndpointOptions {
  env: CoreEnv;
  /** The peer as the core sees it (a server: the socket's remote address and port). */
  peer: PeerAddress;
  server?: ServerConfig;
  traceFor?: EndpointConfig['traceFor'];
  /** Stop pulling datagrams above this many buffered bytes (256 KiB) and resume at lowWater (64 KiB). */
  highWater?: number;
  lowWater?: number;
}

export const DEFAULT_HIGH_WATER = 256 * 1024;
export const DEFAULT_LOW_WATER = 64 * 1024;
/** Largest Petrel datagram; outgoing ones are built in a scratch buffer this size and copied out exactly. */
const SCRATCH_SIZE = 2048;
const MAX_ROUNDS = 64;
/** Datagrams per pump before yielding to I/O. */
const BURST = 256;

export interface CarrierStats extends EndpointStats {
  /** Times the driver stopped pulling output because the link was full. */
  backpressureStalls: number;
  internalErrors: number;
}

const now = (): number => performance.now();
const yieldToIo: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (fn) => void (globalThis as unknown as { setImmediate: (f: () => void) => unknown }).setImmediate(fn)
    : (fn) => void setTimeout(fn, 0);

export class CarrierEndpoint {
  readonly core: Endpoint;
  readonly peer: PeerAddress;
  private readonly link: DatagramLink;
  private readonly handler: CarrierHandler;
  private readonly highWater: number;
  private readonly lowWater: number;
  private readonly scratch = new Uint8Array(SCRATCH_SIZE);
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private pumpScheduled = false;
  private resumeScheduled = false;
  private pumping = false;
  private blocked = false;
  private closed = false;
  private readonly counters = { backpressureStalls: 0, internalErrors: 0 };
  private readonly runPump = (): void => {
    this.pumpScheduled = false;
    this.pump(now());
  };
  private readonly resume = (): void => {
    this.resumeScheduled = false;
    this.pump(now());
  };
  private readonly drained = (): void => {
    this.blocked = false;
    this.pump(now());
  };
  private readonly onTimer = (): void => {
    this.timer = null;
    const armed = this.timerAt;
    this.timerAt = Infinity;
    if (this.closed) return;
    const t = Math.max(now(), armed);
    this.core.handleTimeout(t);
    this.handler.onTimeout?.(t);
    this.pump(t);
  };

  constructor(link: DatagramLink, handler: CarrierHandler, opts: CarrierEndpointOptions) {
    this.link = link;
    this.handler = handler;
    this.peer = opts.peer;
    this.highWater = opts.highWater ?? DEFAULT_HIGH_WATER;
    this.lowWater = Math.min(opts.lowWater ?? DEFAULT_LOW_WATER, this.highWater);
    this.core = new Endpoint({ env: opts.env, server: opts.server, traceFor: opts.traceFor });
  }

  /** Starts the client connection of this link. */
  connect(args: { remote: PeerAddress; crypto: CryptoConfig; options?: ConnectionOptions }): Connection {
    const conn = this.core.connect({ ...args, now: now() });
    this.watch(conn);
    this.kick();
    return conn;
  }

  /** Chains the core's wake hook with a pump (as the UDP driver does). */
  watch(conn: Connection): void {
    const inner = conn.onWake;
    if (inner === null) return;
    conn.onWake = () => {
      inner();
      this.kick();
    };
  }

  kick(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    queueMicrotask(this.runPump);
  }

  /** One message from the link: a datagram the core may modify in place. */
  receive(datagram: Uint8Array): void {
    if (this.closed) return;
    const t = now();
    try {
      this.core.handleDatagram(datagram, this.peer, t);
    } catch {
      // The core counts bad input itself; a throw is a core bug and must not escape into the socket's handler.
      this.counters.internalErrors++;
    }
    this.pump(t);
  }

  pump(t: number): void {
    if (this.closed) return;
    if (this.pumping) {
      this.kick();
      return;
    }
    this.pumping = true;
    try {
      let budget = BURST;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        budget -= this.drainTransmit(t, budget);
        if (budget <= 0 && !this.blocked) {
          if (!this.resumeScheduled) {
            this.resumeScheduled = true;
            yieldToIo(this.resume);
          }
          break;
        }
        let any = false;
        for (let ev = this.core.pollEvent(); ev; ev = this.core.pollEvent()) {
          any = true;
          if (ev.kind === 'accept') this.watch(ev.connection);
          this.handler.onEvent(ev, t);
          if (this.closed) return;
        }
        if (!any) break;
        if (round === MAX_ROUNDS - 1) this.kick();
      }
      this.handler.afterPump?.(t);
    } finally {
      this.pumping = false;
      if (!this.closed) this.arm(t);
    }
  }

  private drainTransmit(t: number, budget: number): number {
    this.link.cork?.();
    try {
      return this.transmit(t, budget);
    } finally {
      this.link.uncork?.();
    }
  }

  private transmit(t: number, budget: number): number {
    let n = 0;
    while (n < budget) {
      if (this.blocked) break;
      if (this.link.buffered > this.highWater) {
        this.blocked = true;
        this.counters.backpressureStalls++;
        this.link.onceDrained(this.lowWater, this.drained);
        break;
      }
      const out = this.core.pollTransmit(t, this.scratch);
      if (out === null) break;
      // The link keeps what it is given until written: hand it an exact copy, the scratch is reused.
      this.link.send(this.scratch.slice(0, out.length));
      n++;
    }
    return n;
  }

  private arm(t: number): void {
    let d = this.core.pollTimeout();
    const own = this.handler.pollTimeout?.() ?? null;
    if (own !== null && (d === null || own < d)) d = own;
    if (d === null) {
      this.clearTimer();
      return;
    }
    if (d === -Infinity) {
      // Output pending: go again next turn — unless the link is full, then its drain callback resumes us
      // (the link drains on its own; a dead link calls back at once).
      if (!this.resumeScheduled && !this.blocked) this.kick();
      return;
    }
    if (this.timer && this.timerAt <= d) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = d;
    this.timer = setTimeout(this.onTimer, Math.max(0, d - t));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Connections still held by the core (a server link is done when this reaches 0 after an accept). */
  get connectionCount(): number {
    return this.core.connectionCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): CarrierStats {
    return { ...this.core.stats(), ...this.counters };
  }

  /** Stops the driver (its timer) and closes the link. Connections are the owner's to close first. */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    this.link.close(code, reason);
  }
}

/**
 * The core options of a connection over a reliable carrier: the carrier already retransmits, controls
 * congestion and paces, so the core must not do it again (spirit of draft-kazuho-quic-quic-on-streams).
 * Streams, flow control, channels and the handshake stay as they are.
 */
export function reliableCarrierOptions(o: ConnectionOptions): ConnectionOptions {
  return { ...o, pacing: false, reliableCarrier: true };
}
