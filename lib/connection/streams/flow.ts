/**
 * Connection-level flow control (RFC 9000 §4.1): our send credit (the peer's MAX_DATA) and receive window
 * (our MAX_DATA), DATA_BLOCKED, and the time spent blocked by the peer's limit (stats).
 */
import type { ByteWriter } from '../../wire/buffer.js';
import { RecvWindow, SendCredit } from '../../stream/flow-control.js';
import type { ResolvedOptions } from '../defaults.js';
import { writeIfFits } from '../frame-room.js';
import type { SentFrame } from '../sent-frame.js';

export class ConnectionFlow {
  readonly send = new SendCredit(0);
  readonly recv: RecvWindow;
  /** Highest offsets received, summed over streams (counted against `recv`). */
  recvOffset = 0;
  /** Bytes the application consumed (or resets released), summed over streams. */
  consumed = 0;
  maxDataPending = false;
  dataBlockedPending: number | null = null;
  blockedSince: number | null = null;
  private timeBlocked = 0;

  constructor(opts: ResolvedOptions) {
    this.recv = new RecvWindow({ initialWindow: opts.connectionWindow, maxWindow: opts.maxConnectionWindow });
  }

  /** Counts newly received stream bytes; false when they exceed our limit (FLOW_CONTROL_ERROR). */
  onReceived(bytes: number): boolean {
    this.recvOffset += bytes;
    return this.recv.onReceived(this.recvOffset);
  }

  /** Counts consumed bytes and queues MAX_DATA once the window has moved far enough. Returns whether it did. */
  onConsumed(bytes: number, now: number, rtt: number): boolean {
    this.consumed += bytes;
    this.recv.onConsumed(this.consumed, now, rtt);
    if (this.recv.pollUpdate(now, rtt) !== null) return (this.maxDataPending = true);
    return false;
  }

  /** MAX_DATA from the peer; returns whether the credit grew. */
  onMaxData(max: number, now: number): boolean {
    if (!this.send.raise(max)) return false;
    if (this.blockedSince !== null) {
      this.timeBlocked += now - this.blockedSince;
      this.blockedSince = null;
    }
    return true;
  }

  /** Data waits on the connection limit: note since when, and DATA_BLOCKED once per limit. */
  noteBlocked(now: number): void {
    if (this.blockedSince === null) this.blockedSince = now;
    const b = this.send.pollBlocked();
    if (b !== null) this.dataBlockedPending = b;
  }

  totalTimeBlocked(now: number): number {
    return this.timeBlocked + (this.blockedSince !== null ? now - this.blockedSince : 0);
  }

  writeMaxData(w: ByteWriter, frames: SentFrame[]): boolean {
    if (!this.maxDataPending || !writeIfFits(w, { type: 'max_data', maximum: this.recv.limit })) return false;
    frames.push({ k: 'max_data', max: this.recv.limit });
    this.maxDataPending = false;
    return true;
  }

  writeDataBlocked(w: ByteWriter, frames: SentFrame[]): boolean {
    if (this.dataBlockedPending === null || !writeIfFits(w, { type: 'data_blocked', limit: this.dataBlockedPending })) return false;
    frames.push({ k: 'data_blocked', limit: this.dataBlockedPending });
    this.dataBlockedPending = null;
    return true;
  }
}
