/**
 * Per-space log of sent, not yet acknowledged or lost packets. Packets arrive in increasing pn
 * order, so they live in an array indexed by `pn - basePn`; acknowledged or lost entries become
 * holes and a head index skips them. Every lookup is O(1) and the array is compacted in amortized
 * O(1), so an ACK costs O(newly acknowledged + ranges), whatever the number of packets in flight.
 *
 * It also remembers (bounded) which pns were skipped by the sender, so an ACK of one of them is a
 * protocol violation, and which were declared lost, so a late ACK of one counts as a spurious loss.
 */
import { RangeSet } from './range-set.js';
import type { SentPacket } from './types.js';

/** How many disjoint skipped / lost ranges are remembered (older ones are forgotten). */
const SKIPPED_MEMORY = 64;
const LOST_MEMORY = 256;
/** Non-in-flight (ACK-only) packets the peer may never acknowledge: keep at most this many at the head. */
const MAX_STALE_NON_IN_FLIGHT = 1024;
const COMPACT_MIN = 1024;

export class SentPacketLog<F> {
  /**
   * slots[head, len) is the log; every slot from len on is undefined. `len` rather than the array's length:
   * an array emptied with `length = 0` loses its backing store, and with one packet in flight (a round trip
   * at a time) the log empties on every ACK.
   */
  private slots: (SentPacket<F> | undefined)[] = [];
  private len = 0;
  private head = 0;
  private basePn = 0;
  private _largestSent = -1;
  private _firstSent = -1;
  private live = 0;
  private readonly skipped = new RangeSet();
  private readonly lost = new RangeSet();
  /** bytes of in-flight packets still in the log */
  bytesInFlight = 0;
  /** ack-eliciting in-flight packets still in the log */
  ackElicitingInFlight = 0;

  get largestSent(): number {
    return this._largestSent;
  }
  get firstSent(): number {
    return this._firstSent;
  }
  get size(): number {
    return this.live;
  }
  /** pn of the oldest packet still in the log (largestSent + 1 when empty). */
  get headPn(): number {
    return this.head < this.len ? this.basePn + this.head : this._largestSent + 1;
  }

  add(p: SentPacket<F>): void {
    const pn = p.pn;
    if (!Number.isSafeInteger(pn) || pn < 0 || pn <= this._largestSent) {
      throw new RangeError(`packet number ${pn} is not above the largest sent (${this._largestSent})`);
    }
    if (this._firstSent < 0) this._firstSent = pn;
    else if (pn > this._largestSent + 1) {
      this.skipped.insert(this._largestSent + 1, pn - 1);
      this.skipped.keepHighest(SKIPPED_MEMORY);
    }
    if (this.head === this.len) {
      // Empty (every slot is undefined): start over at the front.
      if (this.slots.length > 2 * COMPACT_MIN) this.slots = [];
      this.len = 0;
      this.head = 0;
      this.basePn = pn;
    } else {
      // Skipped pns become holes; senders only skip a few at a time.
      for (let q = this.basePn + this.len; q < pn; q++) this.slots[this.len++] = undefined;
    }
    this.slots[this.len++] = p;
    this._largestSent = pn;
    this.live++;
    if (p.inFlight) {
      this.bytesInFlight += p.size;
      if (p.ackEliciting) this.ackElicitingInFlight++;
    }
    this.pruneStale();
  }

  get(pn: number): SentPacket<F> | undefined {
    const i = pn - this.basePn;
    return i >= this.head && i < this.len ? this.slots[i] : undefined;
  }

  /** Removes and returns the packet, or undefined when it is not in the log. */
  take(pn: number): SentPacket<F> | undefined {
    const i = pn - this.basePn;
    if (i < this.head || i >= this.len) return undefined;
    const p = this.slots[i];
    if (p === undefined) return undefined;
    this.slots[i] = undefined;
    this.live--;
    if (p.inFlight) {
      this.bytesInFlight -= p.size;
      if (p.ackEliciting) this.ackElicitingInFlight--;
    }
    if (i === this.head) this.advanceHead();
    return p;
  }

  /** Oldest-first iteration over the packets still in the log (by pn, so removal while iterating is safe). */
  *packets(): IterableIterator<SentPacket<F>> {
    for (let pn = this.headPn; pn <= this._largestSent; pn++) {
      const p = this.get(pn);
      if (p !== undefined) yield p;
    }
  }

  /** Empties the log (space discarded), returning what it held. */
  clear(): SentPacket<F>[] {
    const out: SentPacket<F>[] = [];
    for (let i = this.head; i < this.len; i++) {
      const p = this.slots[i];
      if (p !== undefined) out.push(p);
    }
    this.slots = [];
    this.len = 0;
    this.head = 0;
    this.basePn = this._largestSent + 1;
    this.live = 0;
    this.bytesInFlight = 0;
    this.ackElicitingInFlight = 0;
    return out;
  }

  /** True when some pn in [s, e] was skipped (never sent) or lies below the first sent pn. */
  anyNeverSent(s: number, e: number): boolean {
    if (this._firstSent < 0 || s < this._firstSent || e > this._largestSent) return true;
    return overlap(this.skipped, s, e) > 0;
  }

  isSkipped(pn: number): boolean {
    return this.skipped.has(pn);
  }

  markLost(pn: number): void {
    this.lost.insert(pn, pn);
    this.lost.keepHighest(LOST_MEMORY);
  }

  wasDeclaredLost(pn: number): boolean {
    return this.lost.has(pn);
  }

  /** Counts and forgets the pns in [s, e] that were declared lost (a later ACK proves those losses spurious). */
  /** The smallest packet number in [s, e] that was declared lost, or -1. */
  smallestDeclaredLost(s: number, e: number): number {
    for (let i = 0; i < this.lost.rangeCount; i++) {
      const a = this.lost.startAt(i);
      const b = this.lost.endAt(i);
      if (b < s) continue;
      if (a > e) break;
      return Math.max(a, s);
    }
    return -1;
  }

  takeDeclaredLost(s: number, e: number): number {
    const n = overlap(this.lost, s, e);
    if (n > 0) this.lost.remove(s, e);
    return n;
  }

  private advanceHead(): void {
    const slots = this.slots;
    let h = this.head;
    const len = this.len;
    while (h < len && slots[h] === undefined) h++;
    this.head = h;
    if (h === len) {
      this.len = 0;
      this.head = 0;
      this.basePn = this._largestSent + 1;
    } else if (h >= COMPACT_MIN && h * 2 >= len) {
      // Move the live part down in place; the slots it leaves are cleared.
      for (let k = 0; k + h < len; k++) slots[k] = slots[k + h];
      for (let k = len - h; k < len; k++) slots[k] = undefined;
      this.len = len - h;
      this.basePn += h;
      this.head = 0;
    }
  }

  /** Drops old ACK-only packets at the head: a peer only acknowledges them when it has something to ack. */
  private pruneStale(): void {
    for (;;) {
      const p = this.head < this.len ? this.slots[this.head] : undefined;
      if (p === undefined || p.inFlight || this._largestSent - p.pn < MAX_STALE_NON_IN_FLIGHT) return;
      this.take(p.pn);
    }
  }
}

/** Number of members of `set` inside [s, e]. */
function overlap(set: RangeSet, s: number, e: number): number {
  const n = set.rangeCount;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (set.endAt(mid) < s) lo = mid + 1;
    else hi = mid;
  }
  let count = 0;
  for (let i = lo; i < n; i++) {
    const rs = set.startAt(i);
    if (rs > e) break;
    const re = set.endAt(i);
    count += Math.min(re, e) - Math.max(rs, s) + 1;
  }
  return count;
}
