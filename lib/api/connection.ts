/**
 * PetrelConnection: the application's view of one connection (client or server side).
 *
 * It owns a ChannelLayer over the core Connection and turns the layer's events into Node-style ones:
 * 'stream' (a PetrelStream the peer opened), 'datagram' (bytes), 'channel' (the peer uses a channel name this
 * side has not opened yet), 'close' (CloseResult). It never emits 'error': everything that ends a connection
 * arrives as 'close' and resolves `closed`.
 */
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
  datagram: [data: Uint8Array];
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

/** Messages held for channel names the application has not opened yet, per connection. */
const UNCLAIMED_MAX_MESSAGES = 1024;
const UNCLAIMED_MAX_BYTES = 4 * 1024 * 1024;

export class PetrelConnection extends EventEmitter<PetrelConnectionEvents> implements StreamHost {
  /** Resolves once, when the connection is over (never rejects). */
  readonly closed: Promise<CloseResult>;
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
  private readonly streams = new Map<number, PetrelStream>();
  private readonly channels = new Map<string, PetrelChannel<unknown>>();
  private readonly unclaimed = new Map<string, Uint8Array[]>();
  private unclaimedCount = 0;
  private unclaimedBytes = 0;
  private unclaimedDropped = 0;
  private readonly openWaiters: Array<{
    bidi: boolean;
    priority: OpenStreamOptions['priority'];
    resolve: (s: PetrelStream) => void;
    reject: (e: Error) => void;
  }> = [];
  private result: CloseResult | null = null;
  private resolveClosed!: (r: CloseResult) => void;
  private resolveEnded!: () => void;
  private readonly ended: Promise<void>;
  private established = false;

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
    this.closed = new Promise<CloseResult>((r) => (this.resolveClosed = r));
    this.ended = new Promise<void>((r) => (this.resolveEnded = r));
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

  /** True while the connection is established and not closing. */
  get isOpen(): boolean {
    return this.result === null && this.core.state === 'established';
  }

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
    if (this.openWaiters.some((w) => w.bidi === bidi)) {
      return new Promise((resolve, reject) => this.openWaiters.push({ bidi, priority, resolve, reject }));
    }
    let id: number | null;
    try {
      id = this.layer.openStream(bidi);
    } catch (e) {
      return Promise.reject(asPetrelError(e));
    }
    if (id !== null) return Promise.resolve(this.addStream(id, 'local', priority));
    return new Promise((resolve, reject) => this.openWaiters.push({ bidi, priority, resolve, reject }));
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
    this.streams.set(id, s);
    return s;
  }

  private serviceOpenWaiters(bidi: boolean): void {
    for (let i = 0; i < this.openWaiters.length;) {
      const w = this.openWaiters[i]!;
      if (w.bidi !== bidi) {
        i++;
        continue;
      }
      const id = this.layer.openStream(bidi);
      if (id === null) return;
      this.openWaiters.splice(i, 1);
      w.resolve(this.addStream(id, 'local', w.priority));
    }
  }

  /** @internal StreamHost */
  streamGone(id: number): void {
    this.streams.delete(id);
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
    this.channels.set(name, ch as PetrelChannel<unknown>);
    const held = this.unclaimed.get(name);
    if (held) {
      this.unclaimed.delete(name);
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
      if (!q) this.unclaimed.set(name, (q = []));
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
    return this.ended;
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
        return;
      case 'stream_opened': {
        const s = this.addStream(e.streamId, 'peer');
        this.emit('stream', s);
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
        this.emit('datagram', e.data);
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
    const err = this.closedError();
    for (const w of this.openWaiters.splice(0)) w.reject(err);
    for (const s of [...this.streams.values()]) s.onConnectionClosed(err);
    this.streams.clear();
    for (const ch of this.channels.values()) ch.emit('close');
    this.unclaimed.clear();
    this.resolveClosed(result);
    this.owner.closed(this);
    if (this.established) this.emit('close', result);
  }

  /** @internal The core connection is gone (closing period over) and its resources released. */
  markEnded(): void {
    this.resolveEnded();
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
