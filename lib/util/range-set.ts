/**
 * A set of non-negative integers kept as sorted, disjoint, non-adjacent inclusive ranges.
 * Used for received packet numbers (ACK generation), acknowledged stream bytes and reassembly.
 * Storage is two parallel number arrays; operations are O(log n) search + O(n) shifting, and n stays
 * small in practice (ACK ranges are capped, stream gaps are bounded by flow control). Elements are moved in
 * place rather than with Array.splice, which allocates an array of the removed elements on every call
 * (this runs per received packet).
 */

/** Inserts `v` at index `i` of the `len` elements in use, shifting the tail up (in place). */
function insertAt(a: number[], len: number, i: number, v: number): void {
  for (let k = len; k > i; k--) a[k] = a[k - 1]!;
  a[i] = v;
}

/** Removes `n` of the `len` elements in use from index `i` (in place; the array keeps its length). */
function removeAt(a: number[], len: number, i: number, n: number): void {
  for (let k = i; k + n < len; k++) a[k] = a[k + n]!;
}

/** Arrays up to this length are kept when the set empties (no re-allocation per packet); longer ones go. */
const KEEP_WHEN_EMPTY = 16;
/** An inclusive range (the shape of lib/wire's AckRange, without importing it). */
export interface InclusiveRange {
  smallest: number;
  largest: number;
}

export class RangeSet {
  /** starts[i] <= ends[i] < starts[i+1] - 1, for i < n. The arrays may be longer than n: a set that empties
   * and fills again per packet (received packet numbers to acknowledge) would otherwise re-allocate them. */
  private starts: number[] = [];
  private ends: number[] = [];
  private n = 0;

  get rangeCount(): number {
    return this.n;
  }

  get isEmpty(): boolean {
    return this.n === 0;
  }

  /** Takes `count` ranges out from index i. */
  private cut(i: number, count: number): void {
    removeAt(this.starts, this.n, i, count);
    removeAt(this.ends, this.n, i, count);
    this.n -= count;
    if (this.n === 0 && this.starts.length > KEEP_WHEN_EMPTY) this.clear();
  }

  /** Smallest member, or -1 when empty. */
  min(): number {
    return this.n ? this.starts[0]! : -1;
  }

  /** Largest member, or -1 when empty. */
  max(): number {
    return this.n ? this.ends[this.n - 1]! : -1;
  }

  /** Total count of integers in the set. */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.n; i++) n += this.ends[i]! - this.starts[i]! + 1;
    return n;
  }

  /** Index of the first range whose end >= v (ranges.length if none). */
  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(v: number): boolean {
    const i = this.lowerBound(v);
    return i < this.n && this.starts[i]! <= v;
  }

  /** True when every integer of [start, end] is in the set. */
  hasRange(start: number, end: number): boolean {
    const i = this.lowerBound(start);
    return i < this.n && this.starts[i]! <= start && this.ends[i]! >= end;
  }

  /** Adds [start, end] (inclusive). Returns the number of integers that were not already present. */
  insert(start: number, end: number): number {
    if (end < start) return 0;
    // First range that touches or follows start - 1.
    let i = this.lowerBound(start === 0 ? 0 : start - 1);
    let j = i;
    let covered = 0;
    let newStart = start;
    let newEnd = end;
    // Merge every range that overlaps or is adjacent to [start, end].
    while (j < this.n && this.starts[j]! <= end + 1) {
      const s = this.starts[j]!;
      const e = this.ends[j]!;
      const os = Math.max(s, start);
      const oe = Math.min(e, end);
      if (oe >= os) covered += oe - os + 1;
      if (s < newStart) newStart = s;
      if (e > newEnd) newEnd = e;
      j++;
    }
    if (j === i) {
      insertAt(this.starts, this.n, i, newStart);
      insertAt(this.ends, this.n, i, newEnd);
      this.n++;
    } else {
      this.starts[i] = newStart;
      this.ends[i] = newEnd;
      if (j - i > 1) this.cut(i + 1, j - i - 1);
    }
    return end - start + 1 - covered;
  }

  /** Removes every integer below `v`. */
  removeBelow(v: number): void {
    let i = 0;
    while (i < this.n && this.ends[i]! < v) i++;
    if (i > 0) this.cut(0, i);
    if (this.n && this.starts[0]! < v) this.starts[0] = v;
  }

  /** Removes [start, end] (inclusive). */
  remove(start: number, end: number): void {
    if (end < start) return;
    let i = this.lowerBound(start);
    while (i < this.n && this.starts[i]! <= end) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (s < start && e > end) {
        // Split.
        insertAt(this.starts, this.n, i + 1, end + 1);
        insertAt(this.ends, this.n, i + 1, e);
        this.n++;
        this.ends[i] = start - 1;
        return;
      }
      if (s < start) {
        this.ends[i] = start - 1;
        i++;
      } else if (e > end) {
        this.starts[i] = end + 1;
        return;
      } else {
        this.cut(i, 1);
      }
    }
  }

  /** Drops the lowest ranges until at most `n` remain (bounded ACK state). */
  keepHighest(n: number): void {
    const extra = this.n - n;
    if (extra > 0) this.cut(0, extra);
  }

  /** The [start, end] of the range containing v, or null. */
  rangeContaining(v: number): [number, number] | null {
    const i = this.lowerBound(v);
    if (i < this.n && this.starts[i]! <= v) return [this.starts[i]!, this.ends[i]!];
    return null;
  }

  /** Start of range i (ascending order). */
  startAt(i: number): number {
    return this.starts[i]!;
  }

  /** End of range i (ascending order). */
  endAt(i: number): number {
    return this.ends[i]!;
  }

  /** Ranges in descending order, at most `limit` of them (the form an ACK frame carries). */
  toAckRanges(limit = Infinity): InclusiveRange[] {
    const out: InclusiveRange[] = [];
    for (let i = this.n - 1; i >= 0 && out.length < limit; i--) {
      out.push({ smallest: this.starts[i]!, largest: this.ends[i]! });
    }
    return out;
  }

  /** Ascending [start, end] pairs (for tests and debugging). */
  toArray(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.n; i++) out.push([this.starts[i]!, this.ends[i]!]);
    return out;
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
    this.n = 0;
  }
}
