/**
 * A UDP proxy that impairs real traffic with the simulator's own link model. Clients send to the listen address; per
 * client address the proxy opens a socket toward the target, so the target sees one peer per client and its replies
 * map back to the right client. Each direction is one `LinkDirection` from lib/sim shared by every client (one
 * bottleneck per direction, like a real access link), driven by a real clock through the `LinkHost` adapter below.
 * Deliveries wait in one heap; a single timer is re-armed to the earliest one, and every delivery due when it fires
 * goes out together.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { addressKey } from '../../lib/sim/address.js';
import { EventQueue } from '../../lib/sim/event-queue.js';
import { LinkDirection } from '../../lib/sim/link.js';
import type { Delivery, LinkConfig, LinkHost, LinkStats, ResolvedLinkConfig } from '../../lib/sim/link.js';
import { SimRandom } from '../../lib/sim/random.js';
import { Tracer, fingerprint } from '../../lib/sim/trace.js';
import type { TraceSink } from '../../lib/sim/trace.js';
import type { SimAddress } from '../../lib/sim/types.js';

export type { LinkConfig } from '../../lib/sim/link.js';

/** `upstream`: clients → target. `downstream`: target → clients. */
export type ImpairDirection = 'upstream' | 'downstream';

export interface ImpairEndpoint {
  host: string;
  port: number;
}

export interface ImpairProxyOptions {
  /** where clients send (port 0 picks a free port; `start()` returns the bound address) */
  listen: ImpairEndpoint;
  /** the real server; a host name is resolved once, in `start()` */
  target: ImpairEndpoint;
  /** root seed of the impairment decisions (default 1) */
  seed?: number;
  /** impairments on client → target datagrams (default: none) */
  upstream?: LinkConfig;
  /** impairments on target → client datagrams (default: none) */
  downstream?: LinkConfig;
  /** family of the listen socket; default udp6 when listen.host is an IPv6 literal, else udp4. The sockets toward
   *  the target take the family of the target's address. */
  family?: 'udp4' | 'udp6';
  /** a client silent (both ways) for this long loses its target-side socket, like an expired NAT mapping: if it
   *  speaks again the target sees a new source port. Checked when a client appears or comes back; 0 = never
   *  (default 120000 ms) */
  idleTimeout?: number;
  /** qlog-shaped JSON-SEQ records of what happened to each datagram (see spec/simulator.md, "Trace"); default off */
  trace?: TraceSink;
}

export interface ImpairDirectionStats extends LinkStats {
  /** datagrams still scheduled (in the queue or "propagating"); at stop(), the ones discarded unsent */
  inFlight: number;
  /** sends the OS refused (e.g. EMSGSIZE); such datagrams still count as delivered by the link model */
  sendErrors: number;
}

export interface ImpairStats {
  upstream: ImpairDirectionStats;
  downstream: ImpairDirectionStats;
  /** client addresses with a target-side socket right now */
  clients: number;
  /** client addresses seen since start */
  clientsTotal: number;
  /** datagrams that reached a target-side socket from somewhere other than the target (ignored) */
  ignored: number;
}

/** A client address and the socket that speaks for it toward the target. */
class Session implements SimAddress {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  readonly socket: Socket;
  lastActive: number;
  closed = false;
  constructor(host: string, port: number, key: string, socket: Socket, now: number) {
    this.host = host;
    this.port = port;
    this.key = key;
    this.socket = socket;
    this.lastActive = now;
  }
}

function sessionKey(host: string, port: number): string {
  return `${host}|${port}`;
}

function closeSocket(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** 'close' fires before libuv has released the handle, which happens in the loop's close phase (after the check
 *  phase): the second setImmediate runs after the close phase that follows the first. */
async function handlesReleased(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

function snapshot(dir: LinkDirection, sendErrors: number): ImpairDirectionStats {
  const s = dir.stats;
  const d = s.dropped;
  // every datagram entering (and every duplicate copy) is either dropped, delivered or still scheduled
  const inFlight = s.sent + s.duplicated - s.delivered - (d.loss + d.burst + d.queue + d.mtu + d.down);
  return { ...s, dropped: { ...d }, inFlight, sendErrors };
}

export class ImpairProxy {
  private readonly opts: ImpairProxyOptions;
  private readonly idleTimeout: number;
  private readonly tracer: Tracer;
  private readonly queue = new EventQueue<Delivery>();
  private readonly sessions = new Map<string, Session>();
  private readonly up: LinkDirection;
  private readonly down: LinkDirection;
  private listenSocket: Socket | null = null;
  private bound: ImpairEndpoint | null = null;
  private targetHost = '';
  private targetFamily: 'udp4' | 'udp6' = 'udp4';
  private t0 = performance.now();
  private ids = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerDue = Infinity;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private finalStats: ImpairStats | null = null;
  private stopping: Promise<ImpairStats> | null = null;
  private sendErrorsUp = 0;
  private sendErrorsDown = 0;
  private clientsTotal = 0;
  private ignored = 0;
  private readonly onUpSent = (err: Error | null): void => {
    if (err) this.sendErrorsUp++;
  };
  private readonly onDownSent = (err: Error | null): void => {
    if (err) this.sendErrorsDown++;
  };
  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerDue = Infinity;
    this.pump();
  };

  constructor(options: ImpairProxyOptions) {
    this.opts = options;
    this.idleTimeout = options.idleTimeout ?? 120_000;
    if (!(this.idleTimeout >= 0)) throw new RangeError(`idleTimeout must be >= 0, got ${this.idleTimeout}`);
    const seed = options.seed ?? 1;
    this.tracer = new Tracer(options.trace ?? null);
    this.tracer.header('petrel-impair', seed);
    const self = this;
    // The simulator's LinkHost, backed by the real clock: ms since the proxy was constructed/started.
    const host: LinkHost = {
      get now() {
        return performance.now() - self.t0;
      },
      tracer: this.tracer,
      schedule: (d) => this.queue.push(d),
      nextDatagramId: () => ++this.ids,
    };
    const root = new SimRandom(seed);
    const l = options.listen;
    const t = options.target;
    this.up = new LinkDirection(host, l, t, options.upstream ?? {}, root.fork('link:upstream'));
    this.down = new LinkDirection(host, t, l, options.downstream ?? {}, root.fork('link:downstream'));
  }

  private get now(): number {
    return performance.now() - this.t0;
  }

  /** Bind the listen socket and resolve the target. Resolves to the bound listen address. */
  async start(): Promise<ImpairEndpoint> {
    if (this.state !== 'new') throw new Error(`ImpairProxy.start: already ${this.state}`);
    this.state = 'starting';
    const { listen, target } = this.opts;
    try {
      if (isIP(target.host) !== 0) this.targetHost = target.host;
      else this.targetHost = (await lookup(target.host)).address;
      this.targetFamily = isIP(this.targetHost) === 6 ? 'udp6' : 'udp4';
      const family = this.opts.family ?? (isIP(listen.host) === 6 ? 'udp6' : 'udp4');
      const sock = createSocket(family);
      try {
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(listen.port, listen.host, () => {
            sock.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        await closeSocket(sock);
        await handlesReleased();
        throw err;
      }
      sock.on('error', () => {}); // a UDP socket's async errors (ICMP etc.) must not crash the host process
      sock.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
      this.listenSocket = sock;
      const a = sock.address();
      this.bound = { host: a.address, port: a.port };
    } catch (err) {
      this.state = 'stopped';
      this.finalStats = this.stats();
      throw err;
    }
    this.t0 = performance.now();
    this.state = 'running';
    return { ...this.bound };
  }

  /** The bound listen address (after start). */
  address(): ImpairEndpoint {
    if (this.bound === null) throw new Error('ImpairProxy.address: not started');
    return { ...this.bound };
  }

  /** Change a direction's impairments from now on (same semantics as LinkDirection.set: queued and in-flight
   *  datagrams keep their timing; going down empties the queue). Throws RangeError on an invalid value. */
  set(direction: ImpairDirection | 'both', patch: LinkConfig): void {
    if (direction !== 'downstream') this.up.set(patch);
    if (direction !== 'upstream') this.down.set(patch);
  }

  /** The current resolved config of a direction. */
  config(direction: ImpairDirection): Readonly<ResolvedLinkConfig> {
    return (direction === 'upstream' ? this.up : this.down).config;
  }

  /** Live counters (a copy). After stop(), the final ones. */
  stats(): ImpairStats {
    if (this.finalStats !== null) return this.finalStats;
    return {
      upstream: snapshot(this.up, this.sendErrorsUp),
      downstream: snapshot(this.down, this.sendErrorsDown),
      clients: this.sessions.size,
      clientsTotal: this.clientsTotal,
      ignored: this.ignored,
    };
  }

  /** Close every socket and the timer; datagrams still scheduled are discarded (reported as `inFlight`). */
  stop(): Promise<ImpairStats> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      while (this.state === 'starting') await new Promise((r) => setTimeout(r, 1));
      const stats = this.stats();
      this.state = 'stopped';
      this.finalStats = stats;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      while (this.queue.pop() !== undefined);
      const closing: Promise<void>[] = [];
      if (this.listenSocket !== null) closing.push(closeSocket(this.listenSocket));
      this.listenSocket = null;
      for (const s of this.sessions.values()) {
        s.closed = true;
        closing.push(closeSocket(s.socket));
      }
      this.sessions.clear();
      await Promise.all(closing);
      await handlesReleased();
      return stats;
    })();
    return this.stopping;
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.state !== 'running') return;
    const now = this.now;
    const session = this.session(rinfo.address, rinfo.port, now);
    session.lastActive = now;
    this.enter(this.up, msg, session);
  }

  private fromTarget(session: Session, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.state !== 'running') return;
    if (rinfo.port !== this.opts.target.port || rinfo.address !== this.targetHost) {
      this.ignored++;
      return;
    }
    session.lastActive = this.now;
    // `from` carries the client the reply is for: the link model passes it through to the delivery untouched
    this.enter(this.down, msg, session);
  }

  private enter(dir: LinkDirection, msg: Buffer, client: Session): void {
    // a plain Uint8Array view: the link model copies duplicates with .slice(), which on a Buffer would share memory
    const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
    const id = ++this.ids;
    const t = this.tracer;
    if (t.enabled) {
      const from = dir === this.up ? addressKey(client) : addressKey(this.opts.target);
      const to = dir === this.up ? addressKey(this.opts.target) : addressKey(client);
      t.event(this.now, 'sim:datagram_sent', { id, from, to, size: data.length, fingerprint: fingerprint(data) });
    }
    dir.transmit(id, data, client);
    this.pump();
  }

  /** Send everything due, then arm the one timer for the earliest delivery left. */
  private pump(): void {
    if (this.state !== 'running') return;
    const q = this.queue;
    const now = this.now;
    for (let d = q.peek(); d !== undefined && d.time <= now; d = q.peek()) {
      q.pop();
      if (!d.cancelled) this.deliver(d);
    }
    const next = q.peek();
    if (next === undefined) return;
    if (this.timer !== null) {
      if (this.timerDue <= next.time) return;
      clearTimeout(this.timer);
    }
    this.timerDue = next.time;
    // never early: a timer that fires before the due time just re-arms
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(next.time - now)));
  }

  private deliver(d: Delivery): void {
    d.dir.delivered(d);
    const t = this.tracer;
    if (d.dir === this.up) {
      // primaries carry the Session itself; duplicates a plain copy of its address
      let s = d.from instanceof Session ? d.from : undefined;
      if (s === undefined || s.closed) s = this.session(d.from.host, d.from.port, this.now);
      if (t.enabled) this.traceDelivered(d, addressKey(s), addressKey(this.opts.target));
      s.socket.send(d.data, this.opts.target.port, this.targetHost, this.onUpSent);
    } else {
      if (t.enabled) this.traceDelivered(d, addressKey(this.opts.target), addressKey(d.from));
      this.listenSocket!.send(d.data, d.from.port, d.from.host, this.onDownSent);
    }
  }

  private traceDelivered(d: Delivery, from: string, to: string): void {
    this.tracer.event(this.now, 'sim:datagram_delivered', { id: d.id, from, to, size: d.data.length, fingerprint: fingerprint(d.data) });
  }

  /** The session of a client address, opening its target-side socket on first sight. */
  private session(host: string, port: number, now: number): Session {
    const key = sessionKey(host, port);
    const existing = this.sessions.get(key);
    if (existing !== undefined && (this.idleTimeout === 0 || now - existing.lastActive < this.idleTimeout)) return existing;
    // a new client, or one back after a silence: like a NAT whose mapping expired, it gets a fresh source port
    if (this.idleTimeout > 0) this.sweep(now);
    const sock = createSocket(this.targetFamily);
    const s = new Session(host, port, key, sock, now);
    sock.on('error', () => {});
    sock.on('message', (msg, rinfo) => this.fromTarget(s, msg, rinfo));
    sock.bind(0); // sends made before the bind completes are queued by node:dgram
    this.sessions.set(key, s);
    this.clientsTotal++;
    return s;
  }

  private sweep(now: number): void {
    for (const s of this.sessions.values()) {
      if (now - s.lastActive < this.idleTimeout) continue;
      s.closed = true;
      this.sessions.delete(s.key);
      void closeSocket(s.socket);
    }
  }
}
