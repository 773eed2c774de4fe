/**
 * The sending half of a stream's data (spec/streams.md §Sending): bytes the application wrote, which of them
 * were sent, acknowledged or declared lost, and the FIN. Sans-IO: the connection asks for the next chunk to put
 * in a STREAM frame and reports acks and losses back.
 *
 * Storage is a list of chunks with a head index. Small writes are copied into owned blocks that grow from
 * MIN_BLOCK to MAX_BLOCK bytes (many tiny messages do not become many tiny chunks); large writes become a chunk
 * of their own. A chunk is released as soon as every byte in it is acknowledged, and the list is compacted when
 * its dead prefix dominates, so memory follows `bufferedBytes`. A cursor tracks the chunk holding the send
 * offset, so sending new data never scans the list; retransmissions find their chunk by binary search.
 */
import { PetrelError } from '../errors.js';
import { RangeSet } from '../recovery/range-set.js';

/** First owned block of a stream: small, so an idle or chatty stream with short messages holds little. */
const MIN_BLOCK = 256;
/** Owned blocks double up to this size; writes at least this large become their own chunk. */
const MAX_BLOCK = 16 * 1024;
/** Compact the chunk list once this many released entries sit at its front (and they are at least half). */
const COMPACT_AT = 64;
const EMPTY = new Uint8Array(0);

export interface SendChunk {
  /** Stream offset of data[0]. */
  offset: number;
  /**
   * The bytes: a view into held chunks or into a reused scratch buffer. Valid until the next nextChunk() call;
   * encode it (copy it into the packet) immediately.
   */
  data: Uint8Array;
  /** Set the FIN bit: the chunk ends at the final size and the FIN has not been acknowledged. */
  fin: boolean;
  /** True for bytes sent before (declared lost): they do not consume flow-control credit again. */
  retransmit: boolean;
}

export interface WriteOptions {
  /**
   * Retain `data` instead of copying it (large writes only; small ones are still coalesced by copying).
   * The caller must not modify the bytes afterwards.
   */
  transfer?: boolean;
}

export class SendBuffer {
  /** Chunk i holds stream bytes [starts[i], starts[i + 1]) (the last one up to `written`); bufs[i] may be longer (an owned block with room). */
  private readonly bufs: Uint8Array[] = [];
  private readonly starts: number[] = [];
  /** First live chunk; entries below it are released. */
  private head = 0;
  /** Chunk holding the send offset (or the last chunk once everything is sent). */
  private cursor = 0;
  /** The last chunk is an owned block that still accepts appended bytes. */
  private openBlock = false;
  private nextBlockSize = MIN_BLOCK;
  private scratch = EMPTY;
  private held = 0;

  private _written = 0;
  private _finished = false;
  private _sendOffset = 0;
  private _ackedOffset = 0;
  private _reset = false;
  /** Acknowledged byte ranges above ackedOffset (holes are bytes in flight or lost). */
  private readonly acked = new RangeSet();
  /** Sent, unacknowledged bytes declared lost: sent again before new data. */
  private readonly lost = new RangeSet();
  private finSent = false;
  /** The FIN must go out (never sent, or declared lost). */
  private finPending = false;
  private finAcked = false;

  /** Total bytes written by the application (the final size once finished). */
  get written(): number {
    return this._written;
  }
  get finished(): boolean {
    return this._finished;
  }
  /** Every byte below this offset is acknowledged and its memory released. */
  get ackedOffset(): number {
    return this._ackedOffset;
  }
  /** Bytes written but not yet acknowledged as a contiguous prefix (the figure for backpressure). */
  get bufferedBytes(): number {
    return this._reset ? 0 : this._written - this._ackedOffset;
  }
  /** Memory held for stream bytes, including unused room in the open block (for stats and memory bounds). */
  get heldBytes(): number {
    return this.held;
  }
  /** Highest offset ever sent (the new-data frontier). After reset() it is the final size for RESET_STREAM. */
  get sendOffset(): number {
    return this._sendOffset;
  }
  /** Finished, and every byte and the FIN acknowledged. */
  get allAcked(): boolean {
    return this._finished && this.finAcked && this._ackedOffset === this._written;
  }
  get isReset(): boolean {
    return this._reset;
  }

  /** Appends bytes to the stream. Copies them unless `transfer` is set (see WriteOptions). */
  write(data: Uint8Array, opts?: WriteOptions): void {
    if (this._finished || this._reset) {
      throw new PetrelError('STREAM_STATE', this._reset ? 'write after reset' : 'write after finish');
    }
    const len = data.length;
    if (len === 0) return;
    let done = 0;
    if (this.openBlock) {
      const last = this.bufs.length - 1;
      const block = this.bufs[last]!;
      const fill = this._written - this.starts[last]!;
      done = Math.min(len, block.length - fill);
      if (done > 0) block.set(done === len ? data : data.subarray(0, done), fill);
      if (done < len) this.openBlock = false;
    }
    if (done < len) {
      const rest = data.subarray(done);
      const start = this._written + done;
      if (opts?.transfer || rest.length >= MAX_BLOCK) {
        this.push(opts?.transfer ? rest : rest.slice(), start);
      } else {
        const block = new Uint8Array(Math.max(this.nextBlockSize, rest.length));
        this.nextBlockSize = Math.min(this.nextBlockSize * 2, MAX_BLOCK);
        block.set(rest);
        this.push(block, start);
        this.openBlock = true;
      }
    }
    this._written += len;
  }

  /** Marks the end of the stream after everything written so far. Idempotent. */
  finish(): void {
    if (this._reset || this._finished) return;
    this._finished = true;
    this.finPending = true;
  }

  /** Whether nextChunk() would return something, given the flow-control limit for new data. */
  hasPending(limit: number): boolean {
    if (this._reset) return false;
    return (
      !this.lost.isEmpty || (this._sendOffset < this._written && this._sendOffset < limit) || (this.finPending && this._sendOffset === this._written)
    );
  }

  /**
   * Next chunk to send: lost ranges first (lowest offset first), then new data from the send offset up to
   * `limit` (absolute flow-control limit; retransmissions ignore it, their credit was consumed when first sent),
   * then a FIN-only chunk when all data is sent but the FIN still has to go. Null when nothing is pending.
   * New bytes advance sendOffset: flow-control credit to consume is the growth of sendOffset.
   */
  nextChunk(maxLength: number, limit: number): SendChunk | null {
    if (this._reset) return null;
    if (maxLength > 0 && !this.lost.isEmpty) {
      const start = this.lost.startAt(0);
      const end = Math.min(this.lost.endAt(0) + 1, start + maxLength);
      this.lost.remove(start, end - 1);
      return { offset: start, data: this.bytes(start, end, this.findChunk(start)), fin: this.finAt(end), retransmit: true };
    }
    const start = this._sendOffset;
    const end = Math.min(this._written, limit, start + Math.max(0, maxLength));
    if (end > start) {
      this._sendOffset = end;
      const n = this.bufs.length;
      while (this.cursor + 1 < n && this.starts[this.cursor + 1]! <= start) this.cursor++;
      return { offset: start, data: this.bytes(start, end, this.cursor), fin: this.finAt(end), retransmit: false };
    }
    if (this.finPending && start === this._written) {
      this.finPending = false;
      const again = this.finSent;
      this.finSent = true;
      return { offset: start, data: EMPTY, fin: true, retransmit: again };
    }
    return null;
  }

  /** Bytes [offset, offset + length) and, when `fin`, the FIN were acknowledged. */
  onAck(offset: number, length: number, fin: boolean): void {
    if (this._reset) return;
    if (fin && this._finished) {
      this.finAcked = true;
      this.finPending = false;
    }
    const start = Math.max(offset, this._ackedOffset);
    const end = offset + length;
    if (end > start) {
      if (!this.lost.isEmpty) this.lost.remove(start, end - 1); // a spurious loss: do not resend
      this.acked.insert(start, end - 1);
      if (this.acked.startAt(0) === this._ackedOffset) {
        this._ackedOffset = this.acked.endAt(0) + 1;
        this.acked.removeBelow(this._ackedOffset);
      }
    }
    this.release();
  }

  /** The packet carrying [offset, offset + length) (and the FIN when `fin`) was lost: re-queues what is still unacknowledged. */
  onLost(offset: number, length: number, fin: boolean): void {
    if (this._reset) return;
    if (fin && this._finished && !this.finAcked) this.finPending = true;
    let start = Math.max(offset, this._ackedOffset);
    const end = Math.min(offset + length, this._sendOffset);
    if (start >= end) return;
    // Subtract the acknowledged ranges that overlap [start, end).
    const acked = this.acked;
    const count = acked.rangeCount;
    for (let i = firstRangeEndingAtOrAfter(acked, start); i < count && start < end; i++) {
      const aStart = acked.startAt(i);
      if (aStart >= end) break;
      if (aStart > start) this.lost.insert(start, aStart - 1);
      start = Math.max(start, acked.endAt(i) + 1);
    }
    if (start < end) this.lost.insert(start, end - 1);
  }

  /** RESET_STREAM: abandons every byte. sendOffset stays (it is the final size to send). */
  reset(): void {
    if (this._reset) return;
    this._reset = true;
    this.dropChunks();
    this.acked.clear();
    this.lost.clear();
    this.finPending = false;
  }

  private push(buf: Uint8Array, start: number): void {
    this.bufs.push(buf);
    this.starts.push(start);
    this.held += buf.length;
  }

  private chunkEnd(i: number): number {
    return i + 1 < this.bufs.length ? this.starts[i + 1]! : this._written;
  }

  /** Index of the live chunk holding `offset` (binary search). */
  private findChunk(offset: number): number {
    let lo = this.head;
    let hi = this.bufs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Stream bytes [start, end), chunk i holding `start`: a view when inside one chunk, else a scratch copy. */
  private bytes(start: number, end: number, i: number): Uint8Array {
    let chunkStart = this.starts[i]!;
    if (end <= this.chunkEnd(i)) return this.bufs[i]!.subarray(start - chunkStart, end - chunkStart);
    const len = end - start;
    if (this.scratch.length < len) this.scratch = new Uint8Array(len);
    let pos = start;
    while (pos < end) {
      chunkStart = this.starts[i]!;
      const take = Math.min(end, this.chunkEnd(i)) - pos;
      this.scratch.set(this.bufs[i]!.subarray(pos - chunkStart, pos - chunkStart + take), pos - start);
      pos += take;
      i++;
    }
    return this.scratch.subarray(0, len);
  }

  /** Whether a chunk ending at `end` carries the FIN; clears the pending FIN when it does. */
  private finAt(end: number): boolean {
    if (!this._finished || end !== this._written || this.finAcked) return false;
    this.finPending = false;
    this.finSent = true;
    return true;
  }

  /** Releases chunks wholly below the acknowledged prefix. */
  private release(): void {
    const n = this.bufs.length;
    if (this._ackedOffset === this._written) {
      if (n > 0) this.dropChunks();
      return;
    }
    while (this.head < n && this.chunkEnd(this.head) <= this._ackedOffset) {
      this.held -= this.bufs[this.head]!.length;
      this.bufs[this.head++] = EMPTY;
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= n) {
      this.bufs.splice(0, this.head);
      this.starts.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
    if (this.cursor < this.head) this.cursor = this.head;
  }

  private dropChunks(): void {
    this.bufs.length = 0;
    this.starts.length = 0;
    this.head = 0;
    this.cursor = 0;
    this.held = 0;
    this.openBlock = false;
    this.nextBlockSize = MIN_BLOCK; // the stream went idle: start small again
  }
}

/** Index of the first range of `set` whose end is >= v (binary search; rangeCount when none). */
function firstRangeEndingAtOrAfter(set: RangeSet, v: number): number {
  let lo = 0;
  let hi = set.rangeCount;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (set.endAt(mid) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
