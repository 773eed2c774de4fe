/**
 * PetrelStream: one Petrel stream as a Node Duplex (so pipeline(), backpressure and `for await` work).
 *
 * Writes go straight into the core's send buffer; the write callback is held while more than
 * `highWaterMark` bytes are unacknowledged and released by the core's 'stream_writable' events (acks).
 * Reads pull from the core on 'stream_readable' and stop when push() says the consumer is full; flow control
 * then holds the peer back. A peer RESET_STREAM / STOP_SENDING or the connection closing destroys the stream
 * with a typed PetrelError — emitted as 'error' only if an 'error' listener is attached (a remote peer must
 * never be able to crash the process); `peerError` keeps it either way.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import type { Connection } from '../connection/connection.js';
import type { ChannelLayer } from '../channel/channel-layer.js';
import { PetrelError } from '../errors.js';
import { isBidi } from '../stream/stream-id.js';

/** What a stream needs from its connection. */
export interface StreamHost {
  readonly core: Connection;
  readonly layer: ChannelLayer;
  /** The connection can still carry stream frames. */
  readonly isOpen: boolean;
  /** The stream is gone (destroyed or closed): forget it. */
  streamGone(id: number): void;
}

export class PetrelStream extends Duplex {
  readonly id: number;
  readonly bidirectional: boolean;
  /** 'local' when this side opened it. */
  readonly initiator: 'local' | 'peer';
  /** Scheduling hint (accepted and kept; the core schedules streams round-robin for now). */
  readonly priority: number;
  /** Why the stream ended abnormally: peer reset / stop-sending, or the connection closing. */
  peerError: PetrelError | null = null;
  /**
   * Server: the client opened this stream in 0-RTT (before the handshake completed, under a session ticket).
   * Such data may be acted on before the client is authenticated by its Finished; Petrel's single-use tickets
   * keep it from being replayed (spec/handshake.md §Anti-replay), but treat it as you would a first request.
   */
  early = false;
  private readonly host: StreamHost;
  private readonly sendHighWater: number;
  /** The high-water mark follows the path's bandwidth-delay product (core.streamSendTarget), never below sendHighWater. */
  private readonly autoHighWater: boolean;
  private pendingWrite: ((err?: Error | null) => void) | null = null;
  private wantRead = false;
  private readDone: boolean;
  private writeDone: boolean;

  constructor(
    host: StreamHost,
    id: number,
    initiator: 'local' | 'peer',
    opts: { highWaterMark: number; autoHighWater?: boolean; priority?: number },
  ) {
    const bidi = isBidi(id);
    const canRead = bidi || initiator === 'peer';
    const canWrite = bidi || initiator === 'local';
    // `readable` / `writable: false` (Node ≥ 15) end the missing side of a unidirectional stream; @types omits them.
    super({ readable: canRead, writable: canWrite, allowHalfOpen: true } as DuplexOptions);
    this.host = host;
    this.id = id;
    this.bidirectional = bidi;
    this.initiator = initiator;
    this.priority = opts.priority ?? 0;
    this.sendHighWater = opts.highWaterMark;
    this.autoHighWater = opts.autoHighWater === true;
    this.readDone = !canRead;
    this.writeDone = !canWrite;
  }

  /** Bytes write() buffers before it waits for acknowledgements. */
  private highWater(): number {
    return this.autoHighWater ? Math.max(this.sendHighWater, this.host.core.streamSendTarget()) : this.sendHighWater;
  }

  /** Bytes written but not yet acknowledged by the peer. */
  get bufferedBytes(): number {
    return this.host.core.streamBufferedBytes(this.id);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    const core = this.host.core;
    try {
      core.streamWrite(this.id, chunk);
    } catch (e) {
      cb(asPetrelError(e));
      return;
    }
    if (core.streamBufferedBytes(this.id) > this.highWater()) this.pendingWrite = cb;
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.host.core.streamFinish(this.id);
      this.writeDone = true;
      cb();
    } catch (e) {
      cb(asPetrelError(e));
    }
  }

  override _read(): void {
    this.wantRead = true;
    this.pull();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Tell the peer about an abandoned direction (a no-op for the directions already done).
    if (this.host.isOpen) {
      if (!this.writeDone) this.host.core.streamReset(this.id, 0);
      if (!this.readDone) this.host.core.streamStopSending(this.id, 0);
    }
    this.writeDone = this.readDone = true;
    const w = this.pendingWrite;
    this.pendingWrite = null;
    this.host.streamGone(this.id);
    if (w) w(err ?? new PetrelError('STREAM_DESTROYED', `stream ${this.id} destroyed`));
    cb(err);
  }

  /**
   * `for await (const chunk of stream)`: reading to the end leaves the writable side open, so the first server a
   * Node user writes — read the request to its end, then `stream.end(reply)` — works. Node's own iterator destroys
   * the whole Duplex when the loop ends; here only an early `break`, `return` or throw out of the loop destroys it
   * (the peer sees STOP_SENDING / RESET_STREAM, as with Node's default). A read error still destroys it.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Readable's own signature
  override [Symbol.asyncIterator](): NodeJS.AsyncIterator<any> {
    const inner = this.iterator({ destroyOnReturn: false });
    let ended = false;
    const early = async (): Promise<void> => {
      await inner.return?.();
      if (!ended && !this.destroyed) this.destroy();
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const it: NodeJS.AsyncIterator<any> = {
      next: async () => {
        const r = await inner.next();
        if (r.done === true) ended = true;
        return r;
      },
      return: async (value?: unknown) => {
        await early();
        return { done: true, value };
      },
      throw: async (err?: unknown) => {
        await early();
        throw err;
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** Abruptly ends our sending side with an application error code (RESET_STREAM). */
  reset(code = 0): void {
    if (this.writeDone) return;
    this.host.core.streamReset(this.id, code);
    this.writeDone = true;
    this.destroy();
  }

  /** Asks the peer to stop sending (STOP_SENDING); what still arrives is discarded. */
  stopSending(code = 0): void {
    if (this.readDone) return;
    this.host.core.streamStopSending(this.id, code);
    this.readDone = true;
    this.push(null);
  }

  // ─────────────── driven by the connection ───────────────

  /** @internal */
  onReadable(): void {
    this.pull();
  }

  /** @internal An acknowledgement freed send buffer: release a held write below the high-water mark. */
  onWritable(): void {
    const w = this.pendingWrite;
    if (w && this.host.core.streamBufferedBytes(this.id) <= this.highWater()) {
      this.pendingWrite = null;
      w();
    }
  }

  /** @internal */
  onPeerReset(code: number): void {
    this.readDone = true;
    this.fail(new PetrelError('STREAM_RESET', `peer reset stream ${this.id} (code ${code})`));
  }

  /** @internal */
  onStopSending(code: number): void {
    this.writeDone = true; // the core already answered with RESET_STREAM
    this.fail(new PetrelError('STREAM_STOPPED', `peer asked to stop sending on stream ${this.id} (code ${code})`));
  }

  /** @internal */
  onConnectionClosed(err: PetrelError): void {
    if (this.destroyed) return;
    if (this.readDone && this.writeDone) {
      this.destroy();
      return;
    }
    this.writeDone = this.readDone = true;
    this.fail(err);
  }

  private fail(err: PetrelError): void {
    if (this.destroyed) return;
    this.peerError = err;
    if (this.listenerCount('error') > 0) this.destroy(err);
    else this.destroy();
  }

  private pull(): void {
    if (!this.wantRead || this.readDone) return;
    const core = this.host.core;
    // Gone before we read: a reset whose event is on its way (a FIN is only consumed by our reads).
    if (core.streamStats(this.id) === null) return;
    for (;;) {
      const d = this.host.layer.streamRead(this.id);
      if (d === null) break;
      if (!this.push(d)) {
        this.wantRead = false;
        break;
      }
    }
    if (core.streamStats(this.id) === null || core.streamFinished(this.id)) {
      // One more read lets the core retire its receiving side (and credit the peer another stream).
      this.host.layer.streamRead(this.id);
      this.readDone = true;
      this.push(null);
    }
  }
}

export function asPetrelError(e: unknown): PetrelError {
  if (e instanceof PetrelError) return e;
  return new PetrelError('INTERNAL_ERROR', e instanceof Error ? e.message : String(e), { cause: e });
}
