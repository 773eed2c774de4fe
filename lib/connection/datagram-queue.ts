/**
 * The outgoing DATAGRAM queue of a connection (issue 12): one FIFO per urgency, bounded in entries, with
 * what a realtime sender needs on top of a plain queue —
 * - every entry remembers when it was queued, so its age is visible (stats) and a `maxAge` can drop it
 *   before it is sent (stale unreliable data is worth less than nothing: it delays the fresh data behind it);
 * - an entry can be cancelled by id while still queued (a newer message superseded it);
 * - a full queue drops the oldest entry of the least urgent level.
 * Sans-IO: times are the connection's `now`.
 */
import { URGENCY_LEVELS } from './scheduler.js';

export interface QueuedDatagram {
  id: number;
  data: Uint8Array;
  /** When it was queued (ms). */
  queuedAt: number;
  /** Dropped unsent once `now` is past this (ms); Infinity = never. */
  expiresAt: number;
}

export interface DatagramQueueState {
  /** Datagrams waiting to be sent. */
  messages: number;
  /** Their payload bytes. */
  bytes: number;
  /** Age (ms) of the oldest one; 0 when empty. */
  oldestAge: number;
}

const NONE: readonly QueuedDatagram[] = [];

export class DatagramQueue {
  // Per urgency FIFOs, created with the first datagram queued (reads check `count` first).
  private levelsLazy: QueuedDatagram[][] | null = null;
  private get levels(): QueuedDatagram[][] {
    return (this.levelsLazy ??= Array.from({ length: URGENCY_LEVELS }, () => []));
  }
  private readonly maxEntries: number;
  private count = 0;
  private byteCount = 0;
  /** A lower bound of every queued expiresAt: expire() is a no-op (no scan) before it. */
  private minExpiry = Infinity;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Queues a datagram (copied by the caller); returns the entry evicted to make room, if any. */
  push(urgency: number, d: QueuedDatagram): QueuedDatagram | null {
    let evicted: QueuedDatagram | null = null;
    if (this.count >= this.maxEntries) {
      for (let l = URGENCY_LEVELS - 1; l >= 0 && evicted === null; l--) {
        const q = this.levels[l]!;
        if (q.length > 0) evicted = this.take(q);
      }
    }
    this.levels[urgency]!.push(d);
    if (d.expiresAt < this.minExpiry) this.minExpiry = d.expiresAt;
    this.count++;
    this.byteCount += d.data.length;
    return evicted;
  }

  /** The head of one urgency level, or undefined. */
  head(urgency: number): QueuedDatagram | undefined {
    if (this.count === 0) return undefined;
    return this.levels[urgency]![0];
  }

  /** Removes and returns the head of one urgency level. */
  shift(urgency: number): QueuedDatagram | undefined {
    if (this.count === 0) return undefined;
    const q = this.levels[urgency]!;
    return q.length > 0 ? this.take(q) : undefined;
  }

  /** Removes a still-queued datagram; false if it was already sent or dropped. */
  cancel(id: number): boolean {
    if (this.count === 0) return false;
    for (const q of this.levels) {
      const i = q.findIndex((d) => d.id === id);
      if (i >= 0) {
        const [d] = q.splice(i, 1);
        this.count--;
        this.byteCount -= d!.data.length;
        return true;
      }
    }
    return false;
  }

  /** Whether a datagram is still waiting. */
  has(id: number): boolean {
    if (this.count === 0) return false;
    for (const q of this.levels) if (q.some((d) => d.id === id)) return true;
    return false;
  }

  /** Removes every entry whose deadline has passed; returns them (oldest first per level). */
  expire(now: number): readonly QueuedDatagram[] {
    // Called for every packet built: nothing due (the usual case) allocates nothing.
    if (!(now > this.minExpiry)) return NONE;
    const out: QueuedDatagram[] = [];
    let min = Infinity;
    for (const q of this.levels) {
      if (q.length === 0) continue;
      let kept = 0;
      for (let i = 0; i < q.length; i++) {
        const d = q[i]!;
        if (now > d.expiresAt) out.push(d);
        else {
          q[kept++] = d;
          if (d.expiresAt < min) min = d.expiresAt;
        }
      }
      q.length = kept;
    }
    this.minExpiry = min;
    for (const d of out) {
      this.count--;
      this.byteCount -= d.data.length;
    }
    return out;
  }

  state(now: number): DatagramQueueState {
    let oldest = Infinity;
    if (this.count > 0) for (const q of this.levels) if (q.length > 0 && q[0]!.queuedAt < oldest) oldest = q[0]!.queuedAt;
    return { messages: this.count, bytes: this.byteCount, oldestAge: oldest === Infinity ? 0 : Math.max(0, now - oldest) };
  }

  private take(q: QueuedDatagram[]): QueuedDatagram {
    const d = q.shift()!;
    this.count--;
    this.byteCount -= d.data.length;
    return d;
  }
}
