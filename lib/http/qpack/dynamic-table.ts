/**
 * The QPACK dynamic table (RFC 9204 §3.2): entries addressed by absolute index (0 = first ever inserted), oldest
 * evicted first, size = name + value + 32 bytes per entry. Used by both the decoder and the encoder.
 */
export const ENTRY_OVERHEAD = 32;

export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

export class DynamicTable {
  /** Live entries; index i holds absolute index firstAbs + i - head. */
  private names: string[] = [];
  private values: string[] = [];
  private head = 0;
  /** Absolute index of the oldest live entry. */
  firstAbs = 0;
  /** Total number of insertions so far (= absolute index of the next entry). */
  insertCount = 0;
  size = 0;
  capacity = 0;

  get count(): number {
    return this.insertCount - this.firstAbs;
  }

  has(abs: number): boolean {
    return abs >= this.firstAbs && abs < this.insertCount;
  }

  name(abs: number): string {
    return this.names[this.head + abs - this.firstAbs]!;
  }

  value(abs: number): string {
    return this.values[this.head + abs - this.firstAbs]!;
  }

  sizeOf(abs: number): number {
    return entrySize(this.name(abs), this.value(abs));
  }

  /** Evicts the oldest entry. */
  evictOne(): void {
    this.size -= this.sizeOf(this.firstAbs);
    this.names[this.head] = '';
    this.values[this.head] = '';
    this.head++;
    this.firstAbs++;
    if (this.head > 256 && this.head * 2 > this.names.length) {
      this.names = this.names.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
  }

  /** Evicts oldest entries until `size` ≤ target. */
  evictTo(target: number): void {
    while (this.size > target) this.evictOne();
  }

  /** Appends an entry (the caller has made room). Returns its absolute index. */
  insert(name: string, value: string): number {
    this.names.push(name);
    this.values.push(value);
    this.size += entrySize(name, value);
    return this.insertCount++;
  }
}
