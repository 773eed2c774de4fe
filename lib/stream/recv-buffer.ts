/**
 * The receiving half of a stream's data (spec/streams.md §Receiving): reassembles STREAM frames that arrive out
 * of order, duplicated or overlapping, enforces the final-size rules and hands contiguous bytes to the reader.
 *
 * Received bytes are copied (frame data is a view into a packet that is about to be reused; see InsertOptions for
 * the zero-copy exception) into "runs": sorted, non-overlapping byte ranges, each backed by its own array. Bytes that extend a run are appended to it (the
 * array grows by doubling up to MAX_RUN), so in-order data and data following a gap coalesce instead of
 * piling up as one entry per packet. Only bytes not already held are stored. A run is released when fully read.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';

/** Runs stop growing at this size; data beyond starts a new run. */
const MAX_RUN = 64 * 1024;
/** Compact the run list once this many consumed entries sit at its front (and they are at least half). */
const COMPACT_AT = 32;
const EMPTY = new Uint8Array(0);
/** A transferred frame is retained only if it is at least 1/RETAIN_RATIO of its backing buffer. */
const RETAIN_RATIO = 8;

export interface InsertOptions {
  /**
   * Keep a view of `data` instead of copying it, for callers whose packet plaintext is a fresh buffer they never
   * reuse. Only the new bytes are kept, and pieces smaller than 1/8 of their backing buffer are still copied (a few
   * new bytes must not pin a whole packet), so a retained piece pins at most 8x its size. The caller must not
   * modify the bytes afterwards.
   */
  transfer?: boolean;
}

/** Stream bytes [off, off + len), stored at buf[begin, begin + len); buf beyond that is room to append. */
interface Run {
  off: number;
  buf: Uint8Array;
  begin: number;
  len: number;
}

export class RecvBuffer {
  /** Sorted by offset, disjoint; entries below `head` are consumed. */
  private readonly runs: Run[] = [];
  private head = 0;
  private _readOffset = 0;
  private _maxOffset = 0;
  private _finalSize: number | null = null;
  private _buffered = 0;
  private held = 0;
  /** Every byte in [readOffset, contigEnd) is held. */
  private contigEnd = 0;
  private _reset = false;

  get readOffset(): number {
    return this._readOffset;
  }
  /** Highest byte offset received + 1 (the figure flow control checks). After reset() it is the final size. */
  get maxOffset(): number {
    return this._maxOffset;
  }
  /** Known once a FIN or RESET_STREAM arrived. */
  get finalSize(): number | null {
    return this._finalSize;
  }
  /** Contiguous bytes readable now. */
  get readable(): number {
    return this.contigEnd - this._readOffset;
  }
  /** Bytes held in memory (received, not yet read). */
  get bufferedBytes(): number {
    return this._buffered;
  }
  /** Memory held: bufferedBytes plus room reserved for appends and the already-read front of the first run. */
  get heldBytes(): number {
    return this.held;
  }
  /** All data up to the final size has been read. */
  get finished(): boolean {
    return !this._reset && this._finalSize === this._readOffset;
  }
  get isReset(): boolean {
    return this._reset;
  }

  /**
   * Stores the bytes of a STREAM frame, copied unless `transfer` is set (see InsertOptions). Duplicates and
   * overlaps are fine.
   * Throws FINAL_SIZE_ERROR for data beyond a known final size, a FIN that changes the final size, or a FIN
   * below data already received. Flow control is the caller's check: compare maxOffset with the window.
   */
  insert(offset: number, data: Uint8Array, fin: boolean, opts?: InsertOptions): void {
    const end = offset + data.length;
    this.checkFinalSize(end, fin);
    if (fin) this._finalSize = end;
    if (end > this._maxOffset) this._maxOffset = end;
    // Bytes below contigEnd are all held already: skip them (covers duplicates and already-read data).
    if (this._reset || end <= this.contigEnd) return;
    let pos = Math.max(offset, this.contigEnd);
    const touchesContig = pos === this.contigEnd;
    const transfer = opts?.transfer === true;
    const runs = this.runs;
    let i = this.firstRunEndingAfter(pos);
    while (pos < end) {
      const r = i < runs.length ? runs[i] : undefined;
      if (r !== undefined && r.off <= pos) {
        pos = Math.max(pos, r.off + r.len); // already held
        i++;
        continue;
      }
      const next = r === undefined ? Infinity : r.off;
      const gapEnd = Math.min(end, next);
      i = this.store(i, pos, data.subarray(pos - offset, gapEnd - offset), next, transfer);
      pos = gapEnd;
    }
    if (touchesContig) this.extendContig();
  }

  /**
   * Up to `max` contiguous bytes from the read offset, or null when none are readable. A view into the buffer
   * when the bytes lie in one run (the in-order case); a fresh copy when they span runs.
   */
  read(max = Infinity): Uint8Array | null {
    const n = Math.min(this.contigEnd - this._readOffset, max);
    if (!(n > 0)) return null;
    const first = this.runs[this.head]!;
    if (n <= first.len) {
      const view = first.buf.subarray(first.begin, first.begin + n);
      this.consume(n);
      return view;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const r = this.runs[this.head]!;
      const take = Math.min(r.len, n - o);
      out.set(r.buf.subarray(r.begin, r.begin + take), o);
      o += take;
      this.consume(take);
    }
    return out;
  }

  /** RESET_STREAM received: checks the final size against what is known and discards every buffered byte. */
  reset(finalSize: number): void {
    if (this._finalSize !== null && finalSize !== this._finalSize) {
      throw finalSizeError(`RESET_STREAM final size ${finalSize} differs from known final size ${this._finalSize}`);
    }
    if (finalSize < this._maxOffset) {
      throw finalSizeError(`RESET_STREAM final size ${finalSize} is below received data (${this._maxOffset})`);
    }
    this._finalSize = finalSize;
    this._maxOffset = finalSize;
    this._reset = true;
    this.runs.length = 0;
    this.head = 0;
    this._buffered = 0;
    this.held = 0;
    this.contigEnd = this._readOffset;
  }

  private checkFinalSize(end: number, fin: boolean): void {
    const known = this._finalSize;
    if (known !== null) {
      if (end > known) throw finalSizeError(`data up to ${end} beyond final size ${known}`);
      if (fin && end !== known) throw finalSizeError(`FIN at ${end} changes final size ${known}`);
    } else if (fin && end < this._maxOffset) {
      throw finalSizeError(`FIN at ${end} is below received data (${this._maxOffset})`);
    }
  }

  /** Index of the first live run whose end is > pos. */
  private firstRunEndingAfter(pos: number): number {
    let lo = this.head;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.runs[mid]!;
      if (r.off + r.len <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Stores `bytes` (stream offset `pos`, ending at or before `next`, the start of run i) before run i:
   * appended to the previous run when it ends at `pos`, else as a new run. Returns the index of the run after them.
   */
  private store(i: number, pos: number, bytes: Uint8Array, next: number, transfer: boolean): number {
    this._buffered += bytes.length;
    // A retained view pins its whole backing buffer: only worth it when these bytes fill a good part of it.
    const retain = transfer && bytes.length * RETAIN_RATIO >= bytes.buffer.byteLength;
    let done = 0;
    const prev = i > this.head ? this.runs[i - 1]! : undefined;
    if (prev !== undefined && prev.off + prev.len === pos) {
      // A retained frame only fills existing room (no reallocating copy); it becomes a run of its own otherwise.
      done = retain ? this.fillRoom(prev, bytes) : this.append(prev, bytes, next);
    }
    if (done < bytes.length) {
      const rest = bytes.subarray(done);
      this.runs.splice(i, 0, { off: pos + done, buf: retain ? rest : rest.slice(), begin: 0, len: rest.length });
      this.held += rest.length;
      i++;
    }
    return i;
  }

  /** Appends as much of `bytes` to run r as its size cap allows, growing its array by doubling. Returns the count. */
  private append(r: Run, bytes: Uint8Array, next: number): number {
    const room = r.buf.length - r.begin - r.len;
    if (room < bytes.length) {
      // Never grow past the next run, the final size or MAX_RUN.
      const cap = Math.min(MAX_RUN, next - r.off, (this._finalSize ?? Infinity) - r.off);
      const size = Math.min(cap, Math.max(r.len * 2, r.len + bytes.length));
      if (size > r.len + room) {
        const grown = new Uint8Array(size);
        grown.set(r.buf.subarray(r.begin, r.begin + r.len));
        this.held += size - r.buf.length;
        r.buf = grown;
        r.begin = 0;
      }
    }
    return this.fillRoom(r, bytes);
  }

  /** Copies as much of `bytes` as fits in run r's free room. Returns the count. */
  private fillRoom(r: Run, bytes: Uint8Array): number {
    const take = Math.min(r.buf.length - r.begin - r.len, bytes.length);
    if (take > 0) {
      r.buf.set(take === bytes.length ? bytes : bytes.subarray(0, take), r.begin + r.len);
      r.len += take;
    }
    return take;
  }

  /** Moves contigEnd over runs that now touch it. */
  private extendContig(): void {
    const runs = this.runs;
    for (let j = this.firstRunEndingAfter(this.contigEnd); j < runs.length && runs[j]!.off <= this.contigEnd; j++) {
      this.contigEnd = runs[j]!.off + runs[j]!.len;
    }
  }

  /** Consumes n bytes (n <= len) from the head run, releasing it when emptied. */
  private consume(n: number): void {
    const r = this.runs[this.head]!;
    r.off += n;
    r.begin += n;
    r.len -= n;
    this._readOffset += n;
    this._buffered -= n;
    if (r.len > 0) return;
    this.held -= r.buf.length;
    r.buf = EMPTY; // free the bytes now; views handed out keep their own reference
    this.head++;
    if (this.head === this.runs.length) {
      this.runs.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AT && this.head * 2 >= this.runs.length) {
      this.runs.splice(0, this.head);
      this.head = 0;
    }
  }
}

function finalSizeError(message: string): PetrelWireError {
  return new PetrelWireError(TransportErrorCode.FINAL_SIZE_ERROR, message);
}
