/**
 * The endpoint's per-connection bookkeeping on the per-packet path, without a collection that grows and
 * shrinks per datagram: a Set that empties after every datagram re-allocates its table each time it does.
 */

/**
 * Items in the order they became active, as a Set keeps them (an item already in keeps its place; one taken
 * out and added again goes last), as an array queue with a flag per item. An entry whose flag is not true is
 * stale (the item was deleted while queued) and is skipped.
 */
export class ActiveQueue<T> {
  // Slots [head, tail) hold the queue; slots outside it are undefined (no reference kept). The array's length
  // is left alone: an array whose length drops to 0 loses its backing store, and the next push re-allocates.
  private readonly queue: Array<T | undefined> = [];
  private head = 0;
  private tail = 0;
  private readonly flags = new Map<T, boolean>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(item: T): void {
    if (this.flags.get(item) === true) return;
    this.flags.set(item, true);
    const q = this.queue;
    if (this.head > 64 && this.head * 2 > this.tail) {
      let w = 0;
      for (let r = this.head; r < this.tail; r++) {
        q[w++] = q[r];
        q[r] = undefined;
      }
      this.head = 0;
      this.tail = w;
    }
    q[this.tail++] = item;
    this.count++;
  }

  /** The first item, or null. Items added while a caller walks with peek/shift are reached too. */
  peek(): T | null {
    const q = this.queue;
    while (this.head < this.tail) {
      const item = q[this.head]!;
      if (this.flags.get(item) === true) return item;
      q[this.head++] = undefined;
    }
    this.head = 0;
    this.tail = 0;
    if (q.length > RELEASE_ABOVE) q.length = 0;
    return null;
  }

  /** Takes out the first item (the one peek returned). */
  shift(): void {
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined;
    this.flags.set(item, false);
    this.count--;
  }

  /** Forgets an item for good (its entry, if queued, becomes stale). */
  delete(item: T): void {
    if (this.flags.get(item) === true) this.count--;
    this.flags.delete(item);
  }
}

/** Items marked since the last drain, each once, in marking order. */
export class MarkList<T> {
  private readonly list: Array<T | undefined> = [];
  private len = 0;
  private readonly marked = new Map<T, boolean>();

  mark(item: T): void {
    if (this.marked.get(item) === true) return;
    this.marked.set(item, true);
    this.list[this.len++] = item;
  }

  delete(item: T): void {
    this.marked.delete(item);
  }

  /** Calls `fn` for every marked item (items marked by `fn` itself are reached too) and clears the marks. */
  drain(fn: (item: T) => void): void {
    const l = this.list;
    for (let i = 0; i < this.len; i++) {
      const item = l[i]!;
      l[i] = undefined;
      if (this.marked.get(item) !== true) continue; // deleted since
      this.marked.set(item, false);
      fn(item);
    }
    this.len = 0;
    if (l.length > RELEASE_ABOVE) l.length = 0;
  }
}

/** Queue arrays longer than this are released when they empty (after a burst of many connections). */
const RELEASE_ABOVE = 1024;
