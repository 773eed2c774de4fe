/**
 * Unreliable datagrams (RFC 9221): the outgoing queue (one FIFO per urgency, bounded, with enqueue times,
 * maxAge expiry and cancellation: lib/connection/datagram-queue.ts), the DATAGRAM frame writer, received
 * DATAGRAM frames, and acked/lost notifications to the application.
 */
import { PetrelError, TransportErrorCode } from '../errors.js';
import type { ByteWriter } from '../wire/buffer.js';
import { datagramFrameOverhead, encodeFrame } from '../wire/frames.js';
import type { ConnContext, FrameError } from './context.js';
import { DatagramQueue, type DatagramQueueState } from './datagram-queue.js';
import { DEFAULT_URGENCY, clampUrgency } from './scheduler.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';

export class Datagrams {
  /** Outgoing datagrams, one FIFO per urgency. */
  private readonly queue: DatagramQueue;
  private nextId = 0;

  /** `maxPayload`: the largest datagram payload that fits one packet on the current path. */
  constructor(
    private readonly ctx: ConnContext,
    private readonly maxPayload: () => number,
  ) {
    this.queue = new DatagramQueue(ctx.opts.datagramQueueLength);
  }

  /** Datagrams waiting. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Queues a datagram; throws a typed error when it can never fit. A full queue drops the oldest
   * datagram of the least urgent level first (counted). With `maxAge` (ms) it is dropped unsent (counted
   * as `datagram_expired`) once it has waited longer; `now` is the caller's clock (default: the latest input's).
   */
  send(data: Uint8Array, urgency = DEFAULT_URGENCY, options?: { maxAge?: number; now?: number }): number {
    const limit = this.maxPayload();
    if (limit <= 0) throw new PetrelError('DATAGRAMS_UNSUPPORTED', 'the peer does not accept datagrams');
    if (data.length > limit) {
      throw new PetrelError('DATAGRAM_TOO_LARGE', `datagram of ${data.length} bytes exceeds ${limit}`);
    }
    const u = clampUrgency(urgency);
    const id = this.nextId++;
    const queuedAt = options?.now ?? this.ctx.now;
    const maxAge = options?.maxAge;
    const expiresAt = maxAge !== undefined && maxAge >= 0 ? queuedAt + maxAge : Infinity;
    if (this.queue.push(u, { id, data: data.slice(), queuedAt, expiresAt }) !== null) {
      this.ctx.counters.datagramsDropped++;
      this.ctx.counters.countDrop('datagram_queue_full');
    }
    this.ctx.wake();
    return id;
  }

  /** Withdraws a datagram not sent yet (superseded by newer state); false when it already left. Counted. */
  cancel(id: number): boolean {
    if (!this.queue.cancel(id)) return false;
    this.ctx.counters.countDrop('datagram_cancelled');
    return true;
  }

  /** Whether a datagram is still waiting. */
  isQueued(id: number): boolean {
    return this.queue.has(id);
  }

  /** Drops datagrams past their maxAge (counted; no event: the application chose the age). */
  expire(now: number): void {
    const gone = this.queue.expire(now);
    if (gone.length === 0) return;
    this.ctx.counters.datagramsDropped += gone.length;
    for (let i = 0; i < gone.length; i++) this.ctx.counters.countDrop('datagram_expired');
  }

  state(now: number): DatagramQueueState {
    return this.queue.state(now);
  }

  /** A DATAGRAM frame from the peer. */
  onFrame(data: Uint8Array): FrameError | null {
    const max = this.ctx.localParams.maxDatagramFrameSize ?? 0;
    if (max === 0 || data.length > max) {
      return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'DATAGRAM exceeds max_datagram_frame_size', frameType: 0x30 };
    }
    this.ctx.counters.datagramsReceived++;
    this.ctx.events.push({ type: 'datagram', data: data.slice() });
    return null;
  }

  /** Writes the datagrams of one urgency that fit; returns whether any was written. */
  writeAt(u: number, w: ByteWriter, frames: SentFrame[]): boolean {
    const dq = this.queue;
    let wrote = false;
    for (let d = dq.head(u); d !== undefined; d = dq.head(u)) {
      const need = datagramFrameOverhead(d.data.length, true) + d.data.length;
      if (d.data.length > this.maxPayload()) {
        // Queued before the path MTU shrank: it can never fit now. Drop it rather than block the queue.
        dq.shift(u);
        this.ctx.counters.datagramsDropped++;
        this.ctx.counters.countDrop('datagram_too_large_for_path');
        this.ctx.events.push({ type: 'datagram_lost', id: d.id });
        continue;
      }
      if (need > w.remaining) break; // waits for the next packet
      encodeFrame(w, { type: 'datagram', data: d.data });
      frames.push({ k: 'datagram', id: d.id, length: d.data.length });
      dq.shift(u);
      this.ctx.counters.datagramsSent++;
      wrote = true;
    }
    return wrote;
  }

  static readonly sentFrames: SentFrameHandlers<Datagrams> = {
    datagram: {
      acked: (d, f) => void d.ctx.events.push({ type: 'datagram_acked', id: f.id }),
      lost: (d, f) => void d.ctx.events.push({ type: 'datagram_lost', id: f.id }),
    },
  };
}
