/**
 * Unreliable datagrams (RFC 9221): the outgoing queues (one FIFO per urgency, bounded), the DATAGRAM
 * frame writer, received DATAGRAM frames, and acked/lost notifications to the application.
 */
import { PetrelError, TransportErrorCode } from '../errors.js';
import type { ByteWriter } from '../wire/buffer.js';
import { datagramFrameOverhead, encodeFrame } from '../wire/frames.js';
import type { ConnContext, FrameError } from './context.js';
import { DEFAULT_URGENCY, URGENCY_LEVELS, clampUrgency } from './scheduler.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';

export class Datagrams {
  /** Outgoing datagrams, one FIFO per urgency. */
  private readonly queues: Array<Array<{ id: number; data: Uint8Array }>> = Array.from({ length: URGENCY_LEVELS }, () => []);
  queued = 0;
  private nextId = 0;

  /** `maxPayload`: the largest datagram payload that fits one packet on the current path. */
  constructor(
    private readonly ctx: ConnContext,
    private readonly maxPayload: () => number,
  ) {}

  /**
   * Queues a datagram; throws a typed error when it can never fit. A full queue drops the oldest
   * datagram of the least urgent level first (counted).
   */
  send(data: Uint8Array, urgency = DEFAULT_URGENCY): number {
    const limit = this.maxPayload();
    if (limit <= 0) throw new PetrelError('DATAGRAMS_UNSUPPORTED', 'the peer does not accept datagrams');
    if (data.length > limit) {
      throw new PetrelError('DATAGRAM_TOO_LARGE', `datagram of ${data.length} bytes exceeds ${limit}`);
    }
    const u = clampUrgency(urgency);
    if (this.queued >= this.ctx.opts.datagramQueueLength) {
      for (let l = URGENCY_LEVELS - 1; l >= 0; l--) {
        if (this.queues[l]!.length > 0) {
          this.queues[l]!.shift();
          this.queued--;
          break;
        }
      }
      this.ctx.counters.datagramsDropped++;
      this.ctx.counters.countDrop('datagram_queue_full');
    }
    const id = this.nextId++;
    this.queues[u]!.push({ id, data: data.slice() });
    this.queued++;
    this.ctx.wake();
    return id;
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
    const dq = this.queues[u]!;
    let wrote = false;
    while (dq.length > 0) {
      const d = dq[0]!;
      const need = datagramFrameOverhead(d.data.length, true) + d.data.length;
      if (d.data.length > this.maxPayload()) {
        // Queued before the path MTU shrank: it can never fit now. Drop it rather than block the queue.
        dq.shift();
        this.queued--;
        this.ctx.counters.datagramsDropped++;
        this.ctx.counters.countDrop('datagram_too_large_for_path');
        this.ctx.events.push({ type: 'datagram_lost', id: d.id });
        continue;
      }
      if (need > w.remaining) break; // waits for the next packet
      encodeFrame(w, { type: 'datagram', data: d.data });
      frames.push({ k: 'datagram', id: d.id, length: d.data.length });
      dq.shift();
      this.queued--;
      this.ctx.counters.datagramsSent++;
      wrote = true;
    }
    return wrote;
  }

  sentFrameHandlers(): SentFrameHandlers {
    return {
      datagram: {
        acked: (f) => void this.ctx.events.push({ type: 'datagram_acked', id: f.id }),
        lost: (f) => void this.ctx.events.push({ type: 'datagram_lost', id: f.id }),
      },
    };
  }
}
