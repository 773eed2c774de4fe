/**
 * The browser client's connection: the same core Connection and channel layer as on Node, driven by a
 * CarrierClient over the browser's WebSocket, with a small promise/event API instead of Node streams.
 */
import { ChannelLayer, type ChannelLayerEvent } from '../channel/channel-layer.js';
import type { Connection } from '../connection/connection.js';
import type { CloseInfo, ConnectionStats } from '../connection/types.js';
import type { EndpointEvent } from '../endpoint/endpoint.js';
import { PetrelError, TransportErrorCode, transportErrorName } from '../errors.js';
import type { CarrierClient, CarrierClientHandler } from '../transport/ws-client.js';
import type { ChannelMode } from '../wire/channel.js';
import { msgpackCodec, rawCodec, type Codec } from '../api/codec.js';
import { Emitter } from './emitter.js';

export interface BrowserCloseResult {
  code: number;
  reason: string;
  initiator: CloseInfo['initiator'];
  application: boolean;
}

/** Bytes a stream may have unacknowledged before write() waits. */
const STREAM_HIGH_WATER = 1024 * 1024;

/** One stream: write()/end() with backpressure, and async iteration of what the peer sent. */
export class BrowserStream implements AsyncIterable<Uint8Array> {
  readonly id: number;
  private readonly conn: BrowserConnection;
  private writeWaiters: Array<() => void> = [];
  private readWaiter: (() => void) | null = null;
  private ended = false;

  /** @internal */
  constructor(conn: BrowserConnection, id: number) {
    this.conn = conn;
    this.id = id;
  }

  /** Queues bytes; resolves once fewer than 1 MiB are unacknowledged. */
  async write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.conn.core.streamWrite(this.id, bytes);
    while (this.conn.core.streamBufferedBytes(this.id) > STREAM_HIGH_WATER) {
      this.conn.assertOpen();
      await new Promise<void>((r) => this.writeWaiters.push(r));
    }
  }

  /** Writes `data` (if any) and finishes the sending side. */
  async end(data?: Uint8Array | string): Promise<void> {
    if (data !== undefined) await this.write(data);
    this.conn.core.streamFinish(this.id);
  }

  /** Reads chunks as they come, pulling from the core only when asked (so flow control applies). */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const core = this.conn.core;
    for (;;) {
      if (core.streamStats(this.id) === null) return;
      const d = this.conn.layer.streamRead(this.id);
      if (d !== null) {
        yield d;
        continue;
      }
      if (core.streamFinished(this.id)) {
        this.conn.layer.streamRead(this.id); // lets the core retire the receiving side
        this.ended = true;
        return;
      }
      this.conn.assertOpen();
      await new Promise<void>((r) => (this.readWaiter = r));
    }
  }

  /** Everything the peer sends, concatenated. */
  async readAll(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of this) {
      parts.push(c);
      n += c.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  get readEnded(): boolean {
    return this.ended;
  }

  /** @internal */
  wake(): void {
    const w = this.readWaiter;
    this.readWaiter = null;
    w?.();
    for (const r of this.writeWaiters.splice(0)) r();
  }
}

export class BrowserChannel<T> extends Emitter<{ message: [value: T] }> {
  readonly name: string;
  readonly mode: ChannelMode;
  private readonly conn: BrowserConnection;
  private readonly id: number;
  private readonly codec: Codec<T>;

  /** @internal */
  constructor(conn: BrowserConnection, id: number, name: string, mode: ChannelMode, codec: Codec<T>) {
    super();
    this.conn = conn;
    this.id = id;
    this.name = name;
    this.mode = mode;
    this.codec = codec;
  }

  send(value: T): void {
    this.conn.assertOpen();
    this.conn.layer.send(this.id, this.codec.encode(value));
  }

  /** @internal */
  deliver(bytes: Uint8Array): void {
    let v: T;
    try {
      v = this.codec.decode(bytes);
    } catch {
      return; // a message that does not decode is dropped, as on Node
    }
    this.emit('message', v);
  }
}

interface BrowserConnectionEvents extends Record<string, unknown[]> {
  stream: [stream: BrowserStream];
  datagram: [data: Uint8Array];
  close: [result: BrowserCloseResult];
}

export class BrowserConnection extends Emitter<BrowserConnectionEvents> implements CarrierClientHandler {
  readonly transport = 'websocket' as const;
  readonly closed: Promise<BrowserCloseResult>;
  /** @internal */
  core!: Connection;
  /** @internal */
  layer!: ChannelLayer;
  private client!: CarrierClient;
  private readonly streams = new Map<number, BrowserStream>();
  private readonly channels = new Map<string, BrowserChannel<unknown>>();
  private result: BrowserCloseResult | null = null;
  private resolveClosed!: (r: BrowserCloseResult) => void;
  private settle: { resolve: (c: BrowserConnection) => void; reject: (e: Error) => void } | null = null;
  private deadline: number | null = null;
  private readonly streamWaiters: Array<() => void> = [];

  /** @internal */
  constructor() {
    super();
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** @internal Starts the handshake on an open carrier; resolves once it completes. */
  start(client: CarrierClient, core: Connection, timeout: number): Promise<BrowserConnection> {
    this.client = client;
    this.core = core;
    this.layer = new ChannelLayer(core, {});
    this.deadline = performance.now() + timeout;
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
      client.kick();
    });
  }

  get isOpen(): boolean {
    return this.result === null && this.core.state === 'established';
  }

  /** @internal */
  assertOpen(): void {
    if (this.result !== null) throw new PetrelError('CONNECTION_CLOSED', `connection closed (${this.result.reason || this.result.code})`);
  }

  async openStream(opts: { unidirectional?: boolean } = {}): Promise<BrowserStream> {
    for (;;) {
      this.assertOpen();
      const id = this.layer.openStream(!opts.unidirectional);
      if (id !== null) return this.addStream(id);
      await new Promise<void>((r) => this.streamWaiters.push(r));
    }
  }

  private addStream(id: number): BrowserStream {
    const s = new BrowserStream(this, id);
    this.streams.set(id, s);
    return s;
  }

  channel<T = unknown>(name: string, opts: { mode?: ChannelMode; codec?: 'msgpack' | 'raw' | Codec<T> } = {}): BrowserChannel<T> {
    const existing = this.channels.get(name);
    if (existing) return existing as BrowserChannel<T>;
    this.assertOpen();
    const mode = opts.mode ?? 'reliable-ordered';
    const limits = { maxMessageSize: mode.startsWith('unreliable') ? 256 * 1024 : 1024 * 1024, maxDepth: 32 };
    const c = opts.codec ?? 'msgpack';
    const codec = (c === 'msgpack' ? msgpackCodec(limits) : c === 'raw' ? rawCodec(limits) : c) as Codec<T>;
    const ch = new BrowserChannel<T>(this, this.layer.channel(name, mode), name, mode, codec);
    this.channels.set(name, ch as BrowserChannel<unknown>);
    return ch;
  }

  sendDatagram(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    this.layer.sendDatagram(data);
    return true;
  }

  stats(): ConnectionStats {
    return this.core.stats();
  }

  /** Closes with an application code (0 = graceful); resolves once the socket is released. */
  async close(opts: { code?: number; reason?: string } = {}): Promise<void> {
    if (this.result === null && this.core.state !== 'closed') this.core.close(opts.code ?? 0, opts.reason ?? '', true);
    await this.closed;
    await this.client.close();
  }

  // ─────────────── CarrierClientHandler ───────────────

  /** @internal */
  onEvent(ev: EndpointEvent, now: number): void {
    if (ev.kind !== 'connection') return;
    try {
      this.layer.handleEvent(ev.event, now);
    } catch (e) {
      this.core.close(TransportErrorCode.INTERNAL_ERROR, `internal error: ${(e as Error).message}`, false);
    }
    for (let e = this.layer.pollEvent(); e; e = this.layer.pollEvent()) this.dispatch(e);
  }

  private dispatch(e: ChannelLayerEvent): void {
    switch (e.type) {
      case 'connected': {
        const s = this.settle;
        this.settle = null;
        this.deadline = null;
        s?.resolve(this);
        return;
      }
      case 'stream_opened':
        this.emit('stream', this.addStream(e.streamId));
        return;
      case 'stream_readable':
      case 'stream_writable':
      case 'stream_reset':
      case 'stream_closed':
        this.streams.get(e.streamId)?.wake();
        return;
      case 'streams_available':
        for (const w of this.streamWaiters.splice(0)) w();
        return;
      case 'datagram':
        this.emit('datagram', e.data);
        return;
      case 'message':
        this.channels.get(e.channel)?.deliver(e.data);
        return;
      case 'closed':
        this.finish(e.info);
        return;
      default:
        return;
    }
  }

  private finish(info: CloseInfo): void {
    if (this.result !== null) return;
    this.result = { code: info.errorCode, reason: info.reason, initiator: info.initiator, application: info.application };
    for (const s of this.streams.values()) s.wake();
    for (const w of this.streamWaiters.splice(0)) w();
    const s = this.settle;
    this.settle = null;
    if (s) {
      const what = info.application ? `application code ${info.errorCode}` : transportErrorName(info.errorCode);
      const m = /^([A-Z][A-Z0-9_]{2,}): /.exec(info.reason);
      s.reject(new PetrelError(m ? m[1]! : 'HANDSHAKE_FAILED', `closed during the handshake: ${what}${info.reason ? ` (${info.reason})` : ''}`));
      void this.client.close();
    } else this.emit('close', this.result);
    this.resolveClosed(this.result);
  }

  /** @internal */
  pollTimeout(): number | null {
    const l = this.layer.pollTimeout();
    const d = this.deadline;
    if (d === null) return l;
    return l === null ? d : Math.min(l, d);
  }

  /** @internal */
  onTimeout(now: number): void {
    if (this.deadline !== null && now >= this.deadline) {
      this.core.close(TransportErrorCode.APPLICATION_ERROR, 'CONNECT_TIMEOUT: no handshake in time', false);
      this.finish({
        errorCode: TransportErrorCode.APPLICATION_ERROR,
        reason: 'CONNECT_TIMEOUT: no handshake in time',
        application: false,
        initiator: 'local',
      });
      return;
    }
    this.layer.handleTimeout(now);
  }

  /** @internal */
  afterPump(): void {
    if (this.result !== null && this.core.isTerminated) void this.client.close();
  }

  /** @internal The socket closed underneath the connection. */
  onRefused(err: Error): void {
    if (this.result === null && this.core.state !== 'closed') this.core.close(TransportErrorCode.CONNECTION_REFUSED, err.message, false);
    this.finish({ errorCode: TransportErrorCode.CONNECTION_REFUSED, reason: err.message, application: false, initiator: 'reset' });
  }
}
