/**
 * The Node driver: one node:dgram socket, one core Endpoint, one timer.
 *
 * Every input (a datagram, the timer, an application call) ends with `pump`: drain pollTransmit until null,
 * hand the endpoint's events to the handler, repeat while the handler produced more, then re-arm the single
 * timer to the earliest of the endpoint's deadline and the handler's own (channel reassembly, connect timeout).
 * A pump sends at most BURST datagrams and then yields to I/O (setImmediate) before going on, so a large
 * congestion window does not starve the receive path.
 * Application calls reach the core synchronously; the core's wake hook schedules one pump per microtask turn,
 * so a burst of writes is sent together.
 *
 * Outgoing datagrams are written into pooled 2 KiB buffers: `socket.send` may keep a buffer until its callback,
 * so buffers return to the pool once no send is pending (one shared callback, no closure per datagram). Socket errors never escape as 'error' events: ICMP refusals on a
 * connected (client) socket go to `onRefused`, anything else is counted and reported to `onSocketError`.
 */
import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { createHmac, hash, randomBytes, randomFillSync } from 'node:crypto';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { Endpoint, type EndpointConfig, type EndpointEvent, type EndpointStats, type ServerConfig } from '../endpoint/endpoint.js';
import type { Connection } from '../connection/connection.js';
import type { ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../connection/types.js';
import { PetrelError } from '../errors.js';
import { AddressTokens } from '../endpoint/retry-token.js';
import { RetryIntegrity } from '../crypto/retry.js';
import { nodeCryptoProvider } from '../crypto/node-provider.js';

export const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;
const SEND_BUFFER_SIZE = 2048;
/** Free send buffers kept for reuse; more may be in flight, they are then left to the GC. */
const POOL_MAX = 256;
/** Pump rounds (transmit + events) per input before yielding to the event loop. */
const MAX_ROUNDS = 64;
/**
 * Datagrams sent per pump before yielding to I/O (setImmediate) and continuing: a whole congestion window in
 * one synchronous burst would starve our own receive path (ACKs) and overflow a local peer's socket buffer.
 */
const BURST = 256;
/**
 * Received datagrams handled per pump at most (PETREL_RECV_BATCH overrides; 1 = a pump per datagram). Under
 * load, datagrams read in one poll phase are all handed to the core and then pumped once (setImmediate runs
 * right after the poll phase), so ACKs and events are built once per batch instead of once per datagram.
 */
const RECV_BATCH = Math.max(1, Math.floor(Number(process.env.PETREL_RECV_BATCH ?? 32)) || 32);

/** What the driver asks of its owner (the API layer). */
export interface EndpointHandler {
  /** One endpoint event; may call back into the core (writes are picked up by the same pump). */
  onEvent(ev: EndpointEvent, now: number): void;
  /** The owner's earliest deadline (folded into the endpoint's single timer), or null. */
  pollTimeout?(): number | null;
  /** The timer fired; handle the owner's due deadlines. */
  onTimeout?(now: number): void;
  /** Called at the end of every pump (e.g. to notice connections that finished closing). */
  afterPump?(now: number): void;
  /** A connected socket got ECONNREFUSED (ICMP port unreachable). */
  onRefused?(err: Error): void;
  /** Any other socket error (already counted). */
  onSocketError?(err: Error): void;
}

export interface UdpEndpointOptions {
  /** Local address to bind. Default '0.0.0.0' (udp4) or '::' (udp6). */
  host?: string;
  port?: number;
  /** Default: 'udp6' when host is an IPv6 address, else 'udp4'. */
  type?: 'udp4' | 'udp6';
  /** udp6 only: false = dual-stack (also IPv4 through mapped addresses). Default false. */
  ipv6Only?: boolean;
  /** Present on endpoints that accept connections. */
  server?: ServerConfig;
  /** Client endpoints: connect the socket to this peer, so ICMP refusals are reported. */
  connectTo?: PeerAddress;
  /** Requested kernel buffer sizes (bytes, default 4 MiB); the kernel may grant less (see stats). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Override the injected environment (tests). */
  env?: CoreEnv;
  /** Per-connection trace sink (qlog), passed to the core Endpoint. */
  traceFor?: EndpointConfig['traceFor'];
  /**
   * Secret (≥ 16 bytes) behind stateless-reset tokens and address-validation tokens. A server restarted with
   * the same key resets its old clients at once and accepts the tokens it gave out. Default: a random key
   * per process (resets still work within the process; old clients of a restarted one wait for idle timeout).
   */
  statelessResetKey?: Uint8Array;
}

export interface UdpEndpointStats extends EndpointStats {
  /** Kernel buffer sizes actually granted (getRecvBufferSize / getSendBufferSize). */
  recvBufferSize: number;
  sendBufferSize: number;
  socketErrors: number;
  sendErrors: number;
  /** Throws caught from the core (each closed its connection with INTERNAL_ERROR) or from the driver's own entries. */
  internalErrors: number;
  /** Throws caught from the owner's event handlers (user listeners): reported, never fatal. */
  listenerErrors: number;
  /** Driver wake-ups: datagrams received, timer firings, pumps. */
  timerFires: number;
  pumps: number;
}

let processKey: Uint8Array | null = null;
let integrity: RetryIntegrity | null = null;
function retryIntegrity(): RetryIntegrity {
  integrity ??= new RetryIntegrity(nodeCryptoProvider);
  return integrity;
}
/** The default secret: random, once per process. */
export function processStatelessResetKey(): Uint8Array {
  processKey ??= new Uint8Array(randomBytes(32));
  return processKey;
}

/** A key for one purpose derived from the endpoint secret (reset tokens and address tokens never share one). */
function subkey(secret: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(label).digest());
}

/**
 * CSPRNG bytes for the core's small requests (connection ids, path challenges: 1–20 bytes each), served from
 * a pool refilled 4 KiB at a time: one randomFillSync call costs ~3 µs whatever its size. Bytes are handed
 * out once and never reused.
 */
const RANDOM_POOL_SIZE = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_SIZE);
let randomPoolAt = RANDOM_POOL_SIZE;
function pooledRandomFill(out: Uint8Array): void {
  const n = out.length;
  if (n > 256) {
    randomFillSync(out);
    return;
  }
  if (randomPoolAt + n > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  out.set(randomPool.subarray(randomPoolAt, randomPoolAt + n));
  randomPool.fill(0, randomPoolAt, randomPoolAt + n);
  randomPoolAt += n;
}

/**
 * HMAC-SHA256(key, data) truncated to 16 bytes, as two one-shot `crypto.hash` calls over precomputed pads
 * (RFC 2104): the same bytes as createHmac without an Hmac object per token. Keys up to 64 bytes.
 */
function resetTokenFn(key: Uint8Array): (cid: Uint8Array) => Uint8Array {
  const inner = new Uint8Array(64 + 64);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    inner[i] = (key[i] ?? 0) ^ 0x36;
    outer[i] = (key[i] ?? 0) ^ 0x5c;
  }
  return (cid) => {
    if (cid.length > 64) return new Uint8Array(createHmac('sha256', key).update(cid).digest().subarray(0, 16));
    inner.set(cid, 64);
    outer.set(hash('sha256', inner.subarray(0, 64 + cid.length), 'buffer'), 64);
    return new Uint8Array(hash('sha256', outer, 'buffer').subarray(0, 16));
  };
}

/** The Node environment of the core: zlib CRC-32, the CSPRNG, and stateless-reset tokens under `secret`. */
export function nodeEnv(secret: Uint8Array = processStatelessResetKey()): CoreEnv {
  return {
    randomFill: pooledRandomFill,
    crc32: (d: Uint8Array) => crc32(d),
    resetToken: resetTokenFn(subkey(secret, 'petrel stateless reset v1')),
    retryIntegrity: retryIntegrity(),
  };
}

/**
 * The socket's address lookup: an IP literal (every destination a server answers, from rinfo) is its own
 * answer at once, as dns.lookup gives it but without dns.lookup's argument checks and its process.nextTick
 * hop before every unconnected send; names still go to dns.lookup.
 */
function literalLookup(host: string, family: unknown, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const f = isIP(host);
  if (f !== 0) cb(null, host, f);
  else dnsLookup(host, family as number, cb);
}

function checkSecret(key: Uint8Array | undefined): void {
  if (key !== undefined && !(key instanceof Uint8Array && key.length >= 16)) {
    throw new PetrelError('INVALID_OPTION', 'statelessResetKey must be a Uint8Array of at least 16 bytes');
  }
}

export class UdpEndpoint {
  readonly core: Endpoint;
  readonly socket: dgram.Socket;
  private readonly handler: EndpointHandler;
  private readonly connected: boolean;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private pumpScheduled = false;
  private resumeScheduled = false;
  private pumping = false;
  /** Woken (kick) while pumping: the pump goes round again. */
  private rewake = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  // Free buffers are pool[0, poolSize) and sent ones sentBufs[0, sentCount): counts rather than push/pop and
  // `length = 0`, since an array emptied that way loses its backing store and re-allocates on the next push.
  private readonly pool: Buffer[] = [];
  private poolSize = 0;
  private readonly counters = { socketErrors: 0, sendErrors: 0, internalErrors: 0, listenerErrors: 0, timerFires: 0, pumps: 0 };
  private granted = { recv: 0, send: 0 };
  private warnedCore = false;
  /** Sends handed to the socket whose callback has not run yet, and their buffers in send order. */
  private inflight = 0;
  private readonly sentBufs: Array<Buffer | undefined> = [];
  private sentCount = 0;
  private onDrained: (() => void) | null = null;
  // Every entry from the event loop (socket message, timer, microtask, setImmediate) is guarded: the core
  // closes a connection that throws (Endpoint.guard); what still escapes is counted here, never rethrown.
  private readonly runPump = (): void => {
    this.pumpScheduled = false;
    this.safePump(performance.now());
  };
  /** Datagrams handed to the core since the last pump; whether this event-loop turn has seen one already. */
  private received = 0;
  private turnOpen = false;
  private readonly endTurn = (): void => {
    this.turnOpen = false;
    if (this.received > 0) this.safePump(performance.now());
  };
  private readonly resume = (): void => {
    this.resumeScheduled = false;
    this.safePump(performance.now());
  };
  /** The sender of the last datagram received, reused while the next one comes from the same address. */
  private lastFrom: PeerAddress = { host: '', port: 0 };
  private readonly onTimer = (): void => {
    this.timer = null;
    const armed = this.timerAt;
    this.timerAt = Infinity;
    if (this.closed) return;
    this.counters.timerFires++;
    // Node timers tick in whole milliseconds: treat the armed deadline as reached even if the clock lags.
    const now = Math.max(performance.now(), armed);
    this.safely(() => this.core.handleTimeout(now));
    this.safely(() => this.handler.onTimeout?.(now), 'listenerErrors');
    this.safePump(now);
  };

  private constructor(socket: dgram.Socket, handler: EndpointHandler, opts: UdpEndpointOptions) {
    this.socket = socket;
    this.handler = handler;
    this.connected = opts.connectTo !== undefined;
    checkSecret(opts.statelessResetKey);
    const secret = opts.statelessResetKey ?? processStatelessResetKey();
    let server = opts.server;
    if (server && !server.tokens) {
      const tokenKey = subkey(secret, 'petrel address token v1');
      server = {
        ...server,
        tokens: new AddressTokens({ hmacSha256: nodeCryptoProvider.hmacSha256, key: tokenKey, clock: Date.now }),
        retryIntegrity: server.retryIntegrity ?? retryIntegrity(),
      };
    }
    this.core = new Endpoint({ env: opts.env ?? nodeEnv(secret), server, traceFor: opts.traceFor });
    socket.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err: Error) => this.onError(err));
  }

  /** Creates the socket, binds it (and connects it for clients), sizes its buffers. */
  static async bind(opts: UdpEndpointOptions, handler: EndpointHandler): Promise<UdpEndpoint> {
    const type = opts.type ?? (opts.host !== undefined && isIP(opts.host) === 6 ? 'udp6' : 'udp4');
    const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' ? (opts.ipv6Only ?? false) : undefined, lookup: literalLookup });
    const ep = new UdpEndpoint(socket, handler, opts);
    try {
      await new Promise<void>((resolve, reject) => {
        const onErr = (e: Error) => reject(e);
        socket.once('error', onErr);
        socket.bind({ address: opts.host ?? (type === 'udp6' ? '::' : '0.0.0.0'), port: opts.port ?? 0 }, () => {
          socket.off('error', onErr);
          resolve();
        });
      });
      if (opts.connectTo) {
        const to = opts.connectTo;
        await new Promise<void>((resolve, reject) => {
          socket.connect(to.port, to.host, (err?: Error) => (err ? reject(err) : resolve()));
        });
      }
    } catch (e) {
      ep.closed = true;
      try {
        socket.close();
      } catch {
        // already closed
      }
      const err = e as NodeJS.ErrnoException;
      throw new PetrelError(err.code === 'EADDRINUSE' ? 'ADDRESS_IN_USE' : 'SOCKET_ERROR', err.message, { cause: e });
    }
    ep.sizeBuffers(opts.recvBufferSize ?? DEFAULT_SOCKET_BUFFER, opts.sendBufferSize ?? DEFAULT_SOCKET_BUFFER);
    return ep;
  }

  private sizeBuffers(recv: number, send: number): void {
    // The kernel clamps (and Linux doubles) what we ask; a refusal is not fatal, we read back what we got.
    try {
      this.socket.setRecvBufferSize(recv);
    } catch {
      this.counters.socketErrors++;
    }
    try {
      this.socket.setSendBufferSize(send);
    } catch {
      this.counters.socketErrors++;
    }
    try {
      this.granted = { recv: this.socket.getRecvBufferSize(), send: this.socket.getSendBufferSize() };
    } catch {
      this.granted = { recv: 0, send: 0 };
    }
  }

  address(): { address: string; port: number; family: string } {
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: a.family };
  }

  /** Starts a client connection on this endpoint. */
  connect(args: { remote: PeerAddress; crypto: CryptoConfig; options?: ConnectionOptions }): Connection {
    const conn = this.core.connect({ ...args, now: performance.now() });
    this.watch(conn);
    this.kick();
    return conn;
  }

  /**
   * Chains the core's wake hook (set by the Endpoint) with a pump, so application calls on the connection
   * are sent without the caller having to kick the driver. Call for every accepted connection too.
   */
  watch(conn: Connection): void {
    const inner = conn.onWake;
    if (inner === null) return;
    conn.onWake = () => {
      inner();
      this.kick();
    };
  }

  /** Schedules one pump at the end of the current microtask turn. */
  kick(): void {
    if (this.closed) return;
    // Inside a pump (a listener wrote, say): its loop goes round again instead of a second pump afterwards.
    if (this.pumping) {
      this.rewake = true;
      return;
    }
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.runPump);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const now = performance.now();
    // msg is ours alone: the core may unprotect headers in place. The core drops and counts bad input itself
    // and closes a connection that throws; anything left is a bug that must not take the process down.
    // A plain Uint8Array view: Buffer#slice() is a view, so ids and tokens the core copies with slice() would
    // otherwise keep the whole received datagram alive for the connection's life.
    const data = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    // The core keeps addresses as given and never changes them: one object per sender, not per datagram.
    let from = this.lastFrom;
    if (from.port !== rinfo.port || from.host !== rinfo.address) from = this.lastFrom = { host: rinfo.address, port: rinfo.port };
    try {
      this.core.handleDatagram(data, from, now);
    } catch (e) {
      this.report('internalErrors', e);
    }
    this.received++;
    // Latency guard: the first datagram of an event-loop turn is pumped at once, as before, so sparse
    // traffic (a ping, a game tick) waits for nothing. Datagrams that follow it in the same poll phase
    // (back to back: bulk data, ACK trains) are pumped together at the end of the phase (setImmediate),
    // or as soon as RECV_BATCH of them are waiting.
    if (!this.turnOpen) {
      this.turnOpen = true;
      setImmediate(this.endTurn);
      this.safePump(now);
    } else if (this.received >= RECV_BATCH) this.safePump(now);
  }

  /** `pump` as an entry from the event loop: a throw is counted and reported, never rethrown. */
  private safePump(now: number): void {
    try {
      this.pump(now);
    } catch (e) {
      this.report('internalErrors', e);
    }
  }

  /** Runs an entry; a throw is counted and reported once per kind, never rethrown to the event loop. */
  private safely(fn: () => void, counter: 'internalErrors' | 'listenerErrors' = 'internalErrors'): void {
    try {
      fn();
    } catch (e) {
      this.report(counter, e);
    }
  }

  /** For owners: a user listener threw outside the pump (counted as a listener error, reported once). */
  reportListenerError(e: unknown): void {
    this.report('listenerErrors', e);
  }

  private report(counter: 'internalErrors' | 'listenerErrors', e: unknown): void {
    this.counters[counter]++;
    if (this.counters[counter] === 1) {
      const what = counter === 'listenerErrors' ? 'an event handler threw' : 'internal error';
      process.emitWarning(`petrel: ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Drains output and events, then re-arms the timer. Re-entrant calls (from event handlers) are folded in. */
  pump(now: number): void {
    if (this.closed) return;
    if (this.pumping) {
      this.kick();
      return;
    }
    this.pumping = true;
    this.counters.pumps++;
    this.received = 0;
    try {
      let budget = BURST;
      for (let round = 0; round < MAX_ROUNDS; round++) {
        this.rewake = false;
        budget -= this.drainTransmit(now, budget);
        if (budget <= 0) {
          // More may be sendable: let received datagrams in first, then carry on.
          if (!this.resumeScheduled) {
            this.resumeScheduled = true;
            setImmediate(this.resume);
          }
          break;
        }
        let any = false;
        for (let ev = this.core.pollEvent(); ev; ev = this.core.pollEvent()) {
          any = true;
          if (ev.kind === 'accept') this.watch(ev.connection);
          // The owner's handler runs user listeners: one that throws is reported and the pump goes on.
          try {
            this.handler.onEvent(ev, now);
          } catch (e) {
            this.report('listenerErrors', e);
          }
          if (this.closed) return;
        }
        if (!any && !this.rewake) break;
        // Out of rounds: keep going on the next turn rather than starve I/O.
        if (round === MAX_ROUNDS - 1) this.rewake = true;
      }
      try {
        this.handler.afterPump?.(now);
      } catch (e) {
        this.report('listenerErrors', e);
      }
    } finally {
      this.pumping = false;
      if (this.rewake) {
        // Woken after its last round (by afterPump, or out of rounds): one more pump on this turn.
        this.rewake = false;
        this.kick();
      }
      if (!this.closed) this.arm(now);
      const err = this.core.lastInternalError;
      if (err) {
        // Already counted and contained by the core (that connection closed with INTERNAL_ERROR): say it once.
        this.core.lastInternalError = null;
        if (!this.warnedCore) process.emitWarning(`petrel: a connection threw and was closed with INTERNAL_ERROR: ${err.message}`);
        this.warnedCore = true;
      }
    }
  }

  /** Sends up to `budget` datagrams; returns how many. */
  private drainTransmit(now: number, budget: number): number {
    let n = 0;
    while (n < budget) {
      const buf = this.poolSize > 0 ? this.pool[--this.poolSize]! : Buffer.allocUnsafe(SEND_BUFFER_SIZE);
      const t = this.core.pollTransmit(now, buf);
      if (t === null) {
        this.pool[this.poolSize++] = buf;
        break;
      }
      this.send(buf, t.length, t.to);
      n++;
    }
    return n;
  }

  private send(buf: Buffer, length: number, to: PeerAddress): void {
    this.inflight++;
    this.sentBufs[this.sentCount++] = buf;
    try {
      if (this.connected) this.socket.send(buf, 0, length, this.onSent);
      else this.socket.send(buf, 0, length, to.port, to.host, this.onSent);
    } catch (e) {
      // Synchronous throws: socket closed underneath us, bad address. Never fatal.
      this.inflight--;
      this.sentBufs[--this.sentCount] = undefined;
      this.onSendError(e as Error);
    }
  }

  /**
   * Every send's completion, one shared function (no closure per datagram). Buffers go back to the pool
   * once no send is pending at all: which buffer a completion belongs to is then never in doubt, and in a
   * burst (sends complete synchronously, their callbacks run on the next tick) that is at the burst's end.
   */
  private readonly onSent = (err: Error | null): void => {
    this.inflight--;
    if (err) this.onSendError(err);
    if (this.inflight > 0) return;
    const sent = this.sentBufs;
    for (let i = 0; i < this.sentCount; i++) {
      if (this.poolSize < POOL_MAX) this.pool[this.poolSize++] = sent[i]!;
      sent[i] = undefined;
    }
    this.sentCount = 0;
    if (this.onDrained) this.onDrained();
  };

  private arm(now: number): void {
    let t = this.core.pollTimeout();
    const own = this.handler.pollTimeout?.() ?? null;
    if (own !== null && (t === null || own < t)) t = own;
    if (t === null) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        this.timerAt = Infinity;
      }
      return;
    }
    if (t === -Infinity) {
      // Output is pending now: go again next turn (after I/O when the burst budget ran out).
      if (!this.resumeScheduled) this.kick();
      return;
    }
    // An armed timer that fires earlier than needed is harmless (it re-arms); only move it earlier.
    if (this.timer && this.timerAt <= t) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = t;
    this.timer = setTimeout(this.onTimer, Math.max(0, t - now));
  }

  /** Socket 'error' events (a failed receive) and failed sends: never thrown, always routed or counted. */
  private onError(err: Error, counter: 'socketErrors' | 'sendErrors' = 'socketErrors'): void {
    if (this.closed) return;
    if (this.connected && (err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
      this.safely(() => this.handler.onRefused?.(err), 'listenerErrors');
      return;
    }
    this.counters[counter]++;
    this.safely(() => this.handler.onSocketError?.(err), 'listenerErrors');
  }

  private onSendError(err: Error): void {
    this.onError(err, 'sendErrors');
  }

  stats(): UdpEndpointStats {
    const core = this.core.stats();
    return {
      ...core,
      recvBufferSize: this.granted.recv,
      sendBufferSize: this.granted.send,
      ...this.counters,
      internalErrors: this.counters.internalErrors + core.internalErrors,
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops the timer and closes the socket once the datagrams already handed to it are out (a final
   * CONNECTION_CLOSE, say). Connections are not closed first: that is the owner's job.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closing = new Promise<void>((resolve) => {
      const finish = (): void => {
        this.onDrained = null;
        // 'close' fires before libuv releases the handle; one more turn and it is really gone.
        const done = (): void => void setImmediate(resolve);
        try {
          this.socket.close(done);
        } catch {
          done();
        }
      };
      if (this.inflight === 0) finish();
      else this.onDrained = finish;
    });
    return this.closing;
  }
}
