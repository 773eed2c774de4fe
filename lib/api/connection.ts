/**
 * PetrelConnection: the application's view of one connection (client or server side).
 *
 * It owns a ChannelLayer over the core Connection and turns the layer's events into Node-style ones:
 * 'stream' (a PetrelStream the peer opened), 'datagram' (bytes), 'channel' (the peer uses a channel name this
 * side has not opened yet), 'close' (CloseResult). It never emits 'error': everything that ends a connection
 * arrives as 'close' and resolves `closed`.
 */
import type { SessionTicket } from '../crypto/handshake/tickets.js';
import type { ConnectTokenInfo } from '../crypto/handshake/connect-token.js';
import { EventEmitter } from 'node:events';
import type { Connection } from '../connection/connection.js';
import type { CloseInfo, CloseInitiator, ConnectionEvent, ConnectionStats } from '../connection/types.js';
import { ChannelLayer, type ChannelLayerEvent, type ChannelStats } from '../channel/channel-layer.js';
import { PetrelError, TransportErrorCode, transportErrorName } from '../errors.js';
import { MAX_DATAGRAM_MESSAGE_SIZE, type ChannelMode } from '../wire/channel.js';
import { PetrelChannel, type ChannelSendOptions } from './channel.js';
import { DEFAULT_MAX_DEPTH, msgpackCodec, rawCodec, type Codec } from './codec.js';
import { asPetrelError, PetrelStream, type StreamHost } from './stream.js';
import { request as httpRequest, type BodyInput, type HttpResponse, type RequestOptions } from '../http/node.js';
import { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_STREAM_HIGH_WATER_MARK, layerOptions, type TransportOptions } from './options.js';

/** How and why a connection ended. */
export interface CloseResult {
  /** The error code: the application's (application: true) or a transport error code (0 = graceful). */
  code: number;
  reason: string;
  /**
   * 'local' (we closed), 'peer', 'idle' (idle timeout), 'reset' (the peer's port is gone) or 'peer_timeout'
   * (nothing heard from the peer for peerTimeout ms; reason "PEER_TIMEOUT: …").
   */
  initiator: CloseInitiator;
  application: boolean;
}

export interface PetrelConnectionStats extends ConnectionStats {
  channels: ChannelStats;
  /** Channel messages for names this side never opened, dropped because the holding queue was full. */
  unclaimedMessagesDropped: number;
}

export interface ChannelOptions<T> {
  mode?: ChannelMode;
  /**
   * 'msgpack' (default), 'msgpack-float32' (non-integer numbers as float32, about 7 significant digits:
   * smaller game snapshots), 'raw' (Uint8Array values) or a custom codec.
   */
  codec?: 'msgpack' | 'msgpack-float32' | 'raw' | Codec<T>;
  /** Largest encoded message (connection's maxMessageSize by default). */
  maxMessageSize?: number;
  /** Deepest MessagePack nesting accepted (32). */
  maxDepth?: number;
  /** Urgency of the channel's datagrams and streams, 0 (most urgent) – 7 (default 3). */
  priority?: number;
  /**
   * Unreliable modes: a message that has waited this long (ms) unsent is dropped, counted in
   * stats().channels.messagesDropped.expired. Per-message `send(value, { maxAge })` overrides it. Default none.
   */
  maxAge?: number;
}

export interface OpenStreamOptions {
  unidirectional?: boolean;
  /**
   * RFC 9218-style priority: an urgency from 0 (most urgent) to 7 (default 3), or `{ urgency, incremental }`.
   * Lower urgency is sent first; non-incremental streams of one urgency go one after another, incremental
   * ones share the bandwidth round-robin.
   */
  priority?: number | { urgency?: number; incremental?: boolean };
}

export interface PetrelConnectionEvents {
  stream: [stream: PetrelStream];
  /** `info.early`: the datagram arrived in 0-RTT (server, resumed connection). */
  datagram: [data: Uint8Array, info: { early: boolean }];
  channel: [name: string, mode: ChannelMode];
  /** peerTimeout: nothing heard from the peer for `silentFor` ms; recoverable ('responsive' follows if it is heard again). */
  unresponsive: [info: { silentFor: number }];
  responsive: [];
  close: [result: CloseResult];
}

/** What a connection needs from whoever drives it (a server or a client session); not part of the public API. */
export interface ConnectionOwner {
  /** The layer's timer deadline (reassembly expiry) changed. */
  setLayerDeadline(conn: PetrelConnection, t: number | null): void;
  established(conn: PetrelConnection): void;
  closed(conn: PetrelConnection): void;
}

/**
 * Shared empty collections an idle connection reads until it first needs its own (an empty Map is ~180 bytes,
 * and most server connections never open a stream or a channel here). Never written: writes go through own*().
 */
const NO_STREAMS: ReadonlyMap<number, PetrelStream> = new Map();
const NO_CHANNELS: ReadonlyMap<string, PetrelChannel<unknown>> = new Map();
const NO_UNCLAIMED: ReadonlyMap<string, Uint8Array[]> = new Map();

/** Messages held for channel names the application has not opened yet, per connection. */
const UNCLAIMED_MAX_MESSAGES = 1024;
const UNCLAIMED_MAX_BYTES = 4 * 1024 * 1024;

export class PetrelConnection extends EventEmitter<PetrelConnectionEvents> implements StreamHost {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The carrier under this connection: 'udp' or 'websocket'. */
  readonly transport: 'udp' | 'websocket';
  /** @internal */
  readonly core: Connection;
  /** @internal */
  readonly layer: ChannelLayer;
  private readonly owner: ConnectionOwner;
  private readonly options: TransportOptions;
  private streams: ReadonlyMap<number, PetrelStream> = NO_STREAMS;
  private channels: ReadonlyMap<string, PetrelChannel<unknown>> = NO_CHANNELS;
  private unclaimed: ReadonlyMap<string, Uint8Array[]> = NO_UNCLAIMED;
  private unclaimedCount = 0;
  private unclaimedBytes = 0;
  private unclaimedDropped = 0;
  private openWaiters: Array<{
    bidi: boolean;
    priority: OpenStreamOptions['priority'];
    resolve: (s: PetrelStream) => void;
    reject: (e: Error) => void;
  }> | null = null;
  private result: CloseResult | null = null;
  // The two promises exist once asked for (most connections are never awaited on both).
  private closedPromise: Promise<CloseResult> | null = null;
  private resolveClosed: ((r: CloseResult) => void) | null = null;
  private endedPromise: Promise<void> | null = null;
  private resolveEnded: (() => void) | null = null;
  private isEnded = false;
  private established = false;
  /** Server: 0-RTT streams and datagrams that arrived before the connection was surfaced (bounded by maxEarlyData). */
  private readonly early: Array<() => void> = [];

  /** @internal */
  constructor(owner: ConnectionOwner, core: Connection, options: TransportOptions, transport: 'udp' | 'websocket' = 'udp') {
    super();
    this.transport = transport;
    this.owner = owner;
    this.core = core;
    this.options = options;
    this.layer = new ChannelLayer(core, layerOptions(options));
    this.remoteAddress = core.remote.host;
    this.remotePort = core.remote.port;
  }

  /** Resolves once, when the connection is over (never rejects). */
  get closed(): Promise<CloseResult> {
    if (this.closedPromise === null) {
      const r = this.result;
      this.closedPromise = r !== null ? Promise.resolve(r) : new Promise<CloseResult>((resolve) => (this.resolveClosed = resolve));
    }
    return this.closedPromise;
  }

  private ownStreams(): Map<number, PetrelStream> {
    if (this.streams === NO_STREAMS) this.streams = new Map();
    return this.streams as Map<number, PetrelStream>;
  }

  private ownChannels(): Map<string, PetrelChannel<unknown>> {
    if (this.channels === NO_CHANNELS) this.channels = new Map();
    return this.channels as Map<string, PetrelChannel<unknown>>;
  }

  private ownUnclaimed(): Map<string, Uint8Array[]> {
    if (this.unclaimed === NO_UNCLAIMED) this.unclaimed = new Map();
    return this.unclaimed as Map<string, Uint8Array[]>;
  }

  private waiters(): NonNullable<PetrelConnection['openWaiters']> {
    return (this.openWaiters ??= []);
  }

  /** The negotiated application protocol ('' when none was offered). */
  get alpn(): string | null {
    return this.core.negotiatedAlpn;
  }

  /**
   * Server with requireConnectToken: the client's verified connect token (clientId, userData, expiresAt…),
   * present on every connection the server yields. Null otherwise.
   */
  get connectToken(): ConnectTokenInfo | null {
    return this.core.connectToken;
  }

  /** True while the connection is established (or, client with earlyData, can send 0-RTT) and not closing. */
  get isOpen(): boolean {
    // A 0-RTT client stays usable while its handshake finishes, even once 0-RTT was rejected (data then waits for 1-RTT).
    return this.result === null && (this.core.state === 'established' || (this.core.state === 'handshake' && this.core.earlyData !== 'none'));
  }

  /** Whether this connection resumed a session with a ticket (no certificate exchanged). */
  get resumed(): boolean {
    return this.core.resumed;
  }

  /**
   * Client: what became of its 0-RTT data: 'none' (not sent), 'offered' (no answer yet), 'accepted', or
   * 'rejected' (every stream byte was sent again under 1-RTT keys automatically; 0-RTT datagrams are lost).
   */
  get earlyData(): 'none' | 'offered' | 'accepted' | 'rejected' {
    return this.core.earlyData;
  }

  /** Client: the newest session ticket the server issued on this connection (connect({ session }) resumes with it). */
  get sessionTicket(): SessionTicket | null {
    return this.sessionTicketSource?.() ?? null;
  }

  /** @internal Set by the client session: where its tickets are. */
  sessionTicketSource: (() => SessionTicket | null) | null = null;

  /** The close result once the connection ended, else null. */
  get closeResult(): CloseResult | null {
    return this.result;
  }

  // ─────────────── streams ───────────────

  /** Opens a stream; waits while the peer's stream limit is reached. */
  openStream(opts: OpenStreamOptions = {}): Promise<PetrelStream> {
    const bidi = !opts.unidirectional;
    const priority = opts.priority ?? 3;
    if (!this.isOpen) return Promise.reject(this.closedError());
    if (this.openWaiters?.some((w) => w.bidi === bidi)) {
      return new Promise((resolve, reject) => this.waiters().push({ bidi, priority, resolve, reject }));
    }
    let id: number | null;
    try {
      id = this.layer.openStream(bidi);
    } catch (e) {
      return Promise.reject(asPetrelError(e));
    }
    if (id !== null) return Promise.resolve(this.addStream(id, 'local', priority));
    return new Promise((resolve, reject) => this.waiters().push({ bidi, priority, resolve, reject }));
  }

  /**
   * Sends an HTTP request (HTTP/3-style framing, QPACK) on a new stream and resolves with the response head; the
   * body streams after. Same as `request(conn, …)` from lib/http: the requests of a connection share its HTTP
   * session (control and QPACK streams, dynamic table).
   */
  request(opts: RequestOptions, body?: BodyInput): Promise<HttpResponse> {
    return httpRequest(this, opts, body);
  }

  private addStream(id: number, initiator: 'local' | 'peer', priority: OpenStreamOptions['priority'] = 3): PetrelStream {
    const p = typeof priority === 'number' ? { urgency: priority } : priority;
    if (initiator === 'local') this.core.setStreamPriority(id, p);
    const s = new PetrelStream(this, id, initiator, {
      highWaterMark: this.options.streamHighWaterMark ?? DEFAULT_STREAM_HIGH_WATER_MARK,
      // Unset: 1 MiB or twice the measured bandwidth-delay product, whichever is larger (up to maxStreamWindow).
      autoHighWater: this.options.streamHighWaterMark === undefined,
      priority: p.urgency ?? 3,
    });
    this.ownStreams().set(id, s);
    return s;
  }

  private serviceOpenWaiters(bidi: boolean): void {
    const waiting = this.openWaiters;
    if (waiting === null) return;
    for (let i = 0; i < waiting.length;) {
      const w = waiting[i]!;
      if (w.bidi !== bidi) {
        i++;
        continue;
      }
      const id = this.layer.openStream(bidi);
      if (id === null) return;
      waiting.splice(i, 1);
      w.resolve(this.addStream(id, 'local', w.priority));
    }
  }

  /** @internal StreamHost */
  streamGone(id: number): void {
    if (this.streams !== NO_STREAMS) (this.streams as Map<number, PetrelStream>).delete(id);
  }

  // ─────────────── datagrams ───────────────

  /**
   * Queues an unreliable datagram. Returns false when the connection is not open. A full send queue drops
   * its oldest datagram (counted in stats().datagramsDropped). Throws DATAGRAM_TOO_LARGE above maxDatagramSize.
   */
  sendDatagram(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.layer.sendDatagram(data);
    return true;
  }

  /** Largest datagram payload sendDatagram() takes now (0 when the peer takes none). */
  get maxDatagramSize(): number {
    return this.layer.maxDatagramPayload();
  }

  // ─────────────── channels ───────────────

  /** The channel `name` (created on first call; later calls return the same object). */
  channel<T = unknown>(name: string, opts: ChannelOptions<T> = {}): PetrelChannel<T> {
    const mode = opts.mode ?? 'reliable-ordered';
    const existing = this.channels.get(name);
    if (existing) {
      if (existing.mode !== mode) {
        throw new PetrelError('CHANNEL_MODE_MISMATCH', `channel ${JSON.stringify(name)} is ${existing.mode}, not ${mode}`);
      }
      return existing as PetrelChannel<T>;
    }
    if (!this.isOpen) throw this.closedError();
    const wireMax = mode.startsWith('unreliable') ? MAX_DATAGRAM_MESSAGE_SIZE : Infinity;
    const maxMessageSize = Math.min(opts.maxMessageSize ?? this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, wireMax);
    const limits = { maxMessageSize, maxDepth: opts.maxDepth ?? this.options.maxMessageDepth ?? DEFAULT_MAX_DEPTH };
    const c = opts.codec ?? 'msgpack';
    const codec = (
      c === 'msgpack' || c === 'msgpack-float32' ? msgpackCodec(limits, { float32: c === 'msgpack-float32' }) : c === 'raw' ? rawCodec(limits) : c
    ) as Codec<T>;
    if (opts.maxAge !== undefined && !(opts.maxAge >= 0)) throw new PetrelError('INVALID_OPTION', 'maxAge must be >= 0 (ms)');
    const id = this.layer.channel(name, mode, opts.priority ?? 3, opts.maxAge ?? Infinity);
    const ch = new PetrelChannel<T>({ sendOnChannel: (cid, bytes, o) => this.sendOnChannel(cid, bytes, o) }, id, name, mode, codec);
    this.ownChannels().set(name, ch as PetrelChannel<unknown>);
    const held = this.unclaimed.get(name);
    if (held) {
      this.ownUnclaimed().delete(name);
      this.unclaimedCount -= held.length;
      for (const m of held) this.unclaimedBytes -= m.length;
      // After the caller attached its listeners, and before any later message (those come from I/O).
      queueMicrotask(() => {
        for (const m of held) ch.deliver(m);
      });
    }
    return ch;
  }

  private sendOnChannel(id: number, bytes: Uint8Array, options?: ChannelSendOptions): void {
    if (!this.isOpen) throw this.closedError();
    const maxAge = options?.maxAge;
    if (maxAge !== undefined && !(maxAge >= 0)) throw new PetrelError('INVALID_OPTION', 'maxAge must be >= 0 (ms)');
    this.layer.send(id, bytes, { maxAge, now: performance.now() });
  }

  private onMessage(name: string, mode: ChannelMode, data: Uint8Array): void {
    const ch = this.channels.get(name);
    if (ch) {
      ch.deliver(data);
      return;
    }
    // Nobody opened this name here yet: hold a bounded backlog and tell the application.
    let q = this.unclaimed.get(name);
    const first = q === undefined;
    if (this.unclaimedCount >= UNCLAIMED_MAX_MESSAGES || this.unclaimedBytes + data.length > UNCLAIMED_MAX_BYTES) {
      this.unclaimedDropped++;
    } else {
      if (!q) this.ownUnclaimed().set(name, (q = []));
      q.push(data);
      this.unclaimedCount++;
      this.unclaimedBytes += data.length;
    }
    if (first) this.emit('channel', name, mode);
  }

  // ─────────────── stats, close ───────────────

  stats(): PetrelConnectionStats {
    return { ...this.core.stats(), channels: this.layer.stats(), unclaimedMessagesDropped: this.unclaimedDropped };
  }

  /**
   * Closes the connection with an application error code (0 = graceful) and reason. Resolves when it has
   * fully ended (closing period over, a client's socket released).
   */
  close(opts: { code?: number; reason?: string } = {}): Promise<void> {
    if (this.result === null && this.core.state !== 'closed') this.core.close(opts.code ?? 0, opts.reason ?? '', true);
    this.endedPromise ??= this.isEnded ? Promise.resolve() : new Promise<void>((resolve) => (this.resolveEnded = resolve));
    return this.endedPromise;
  }

  // ─────────────── driven by the owner ───────────────

  /** @internal One core event for this connection. */
  handleEvent(ev: ConnectionEvent, now: number): void {
    try {
      this.layer.handleEvent(ev, now);
    } catch (e) {
      // A bug in the layer ends this connection only.
      this.core.close(TransportErrorCode.INTERNAL_ERROR, `internal error: ${(e as Error).message}`, false);
    }
    this.drainLayer();
    this.owner.setLayerDeadline(this, this.layer.pollTimeout());
  }

  /** @internal The layer's deadline passed. */
  handleTimeout(now: number): void {
    this.layer.handleTimeout(now);
    this.owner.setLayerDeadline(this, this.layer.pollTimeout());
  }

  private drainLayer(): void {
    for (let e = this.layer.pollEvent(); e; e = this.layer.pollEvent()) this.dispatch(e);
  }

  private dispatch(e: ChannelLayerEvent): void {
    switch (e.type) {
      case 'connected':
        this.established = true;
        this.owner.established(this);
        for (const f of this.early.splice(0)) f();
        return;
      case 'stream_opened': {
        const s = this.addStream(e.streamId, 'peer');
        s.early = this.core.isEarlyStream(e.streamId);
        if (this.established) this.emit('stream', s);
        else this.early.push(() => this.emit('stream', s));
        return;
      }
      case 'stream_readable':
        this.streams.get(e.streamId)?.onReadable();
        return;
      case 'stream_writable':
        this.streams.get(e.streamId)?.onWritable();
        return;
      case 'stream_reset':
        this.streams.get(e.streamId)?.onPeerReset(e.errorCode);
        return;
      case 'stream_stop_sending':
        this.streams.get(e.streamId)?.onStopSending(e.errorCode);
        return;
      case 'stream_closed':
        // Both directions are done in the core; the Duplex ends (or has ended) on its own.
        return;
      case 'streams_available':
        this.serviceOpenWaiters(e.bidi);
        return;
      case 'datagram':
        if (this.established) this.emit('datagram', e.data, { early: e.early === true });
        else this.early.push(() => this.emit('datagram', e.data, { early: true }));
        return;
      case 'unresponsive':
        this.emit('unresponsive', { silentFor: e.silentFor });
        return;
      case 'responsive':
        this.emit('responsive');
        return;
      case 'message':
        this.onMessage(e.channel, e.mode, e.data);
        return;
      case 'closed':
        this.finish(e.info);
        return;
      default:
        return;
    }
  }

  /** @internal Ends the connection from outside the core (ICMP refusal): the result is final at once. */
  abort(info: CloseInfo): void {
    if (this.result !== null) return;
    if (this.core.state !== 'closed') this.core.close(info.errorCode, info.reason, info.application);
    this.finish(info);
  }

  private finish(info: CloseInfo): void {
    if (this.result !== null) return;
    const result: CloseResult = { code: info.errorCode, reason: info.reason, initiator: info.initiator, application: info.application };
    this.result = result;
    // The error (a stack capture) only when someone is waiting for it: most connections end with neither.
    const waiting = this.openWaiters;
    if ((waiting !== null && waiting.length > 0) || this.streams.size > 0) {
      const err = this.closedError();
      if (waiting !== null) for (const w of waiting.splice(0)) w.reject(err);
      for (const s of [...this.streams.values()]) s.onConnectionClosed(err);
      this.streams = NO_STREAMS;
    }
    for (const ch of this.channels.values()) ch.emit('close');
    this.unclaimed = NO_UNCLAIMED;
    this.resolveClosed?.(result);
    this.resolveClosed = null;
    this.owner.closed(this);
    if (this.established) this.emit('close', result);
  }

  /** @internal The core connection is gone (closing period over) and its resources released. */
  markEnded(): void {
    this.isEnded = true;
    this.resolveEnded?.();
    this.resolveEnded = null;
  }

  private closedError(): PetrelError {
    const r = this.result;
    if (r === null) return new PetrelError('CONNECTION_CLOSED', 'connection is not open');
    if (r.initiator === 'idle') return new PetrelError('IDLE_TIMEOUT', 'connection closed by idle timeout');
    if (r.initiator === 'peer_timeout') return new PetrelError('PEER_TIMEOUT', `connection closed: ${r.reason}`);
    const who = r.initiator === 'local' ? 'locally' : r.initiator === 'peer' ? 'by the peer' : 'by a reset';
    const what = r.application ? `code ${r.code}` : transportErrorName(r.code);
    return new PetrelError('CONNECTION_CLOSED', `connection closed ${who} (${what}${r.reason ? `: ${r.reason}` : ''})`);
  }
}
