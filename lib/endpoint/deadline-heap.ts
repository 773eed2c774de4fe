/**
 * A binary min-heap of items keyed by deadline, with in-place updates: one entry per item, so an
 * endpoint with 10,000 connections keeps exactly one timer of its own and O(log n) updates.
 */
export class DeadlineHeap<T> {
  private readonly items: T[] = [];
  private readonly times: number[] = [];
  private readonly index = new Map<T, number>();

  get size(): number {
    return this.items.length;
  }

  /** Sets (or clears, with null) the deadline of `item`. */
  set(item: T, time: number | null): void {
    const i = this.index.get(item);
    if (time === null) {
      if (i !== undefined) this.removeAt(i);
      return;
    }
    if (i === undefined) {
      this.items.push(item);
      this.times.push(time);
      this.index.set(item, this.items.length - 1);
      this.up(this.items.length - 1);
    } else {
      const old = this.times[i]!;
      this.times[i] = time;
      if (time < old) this.up(i);
      else this.down(i);
    }
  }

  delete(item: T): void {
    const i = this.index.get(item);
    if (i !== undefined) this.removeAt(i);
  }

  peekTime(): number | null {
    return this.items.length ? this.times[0]! : null;
  }

  /** Removes and returns the earliest item whose deadline is <= now, or null. */
  popDue(now: number): T | null {
    if (!this.items.length || this.times[0]! > now) return null;
    const item = this.items[0]!;
    this.removeAt(0);
    return item;
  }

  private removeAt(i: number): void {
    const last = this.items.length - 1;
    this.index.delete(this.items[i]!);
    if (i !== last) {
      this.items[i] = this.items[last]!;
      this.times[i] = this.times[last]!;
      this.index.set(this.items[i]!, i);
    }
    this.items.pop();
    this.times.pop();
    if (i < this.items.length) {
      this.up(i);
      this.down(i);
    }
  }

  private swap(a: number, b: number): void {
    const ia = this.items[a]!;
    const ta = this.times[a]!;
    this.items[a] = this.items[b]!;
    this.times[a] = this.times[b]!;
    this.items[b] = ia;
    this.times[b] = ta;
    this.index.set(this.items[a]!, a);
    this.index.set(this.items[b]!, b);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.times[p]! <= this.times[i]!) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.times[l]! < this.times[m]!) m = l;
      if (r < n && this.times[r]! < this.times[m]!) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}
