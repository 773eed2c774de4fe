/**
 * The receiving half of a stream's data (spec/streams.md §Receiving): reassembles STREAM frames that arrive out
 * of order, duplicated or overlapping, enforces the final-size rules and hands contiguous bytes to the reader.
 *
 * Received bytes are copied (frame data is a view into a packet that is about to be reused; see InsertOptions for
 * the zero-copy exception) into "runs": non-overlapping byte ranges in an AVL tree (run-tree.ts, O(log n) per
 * lookup, insert and removal whatever the arrival order), each backed by its own array. Bytes that extend a run
 * are appended to it (the array grows by doubling up to MAX_RUN), and a small run that a store makes adjacent
 * is copied in, so in-order data and filled gaps coalesce instead of piling up as one entry per packet. Only
 * bytes not already held are stored. A run is released when fully read.
 *
 * Runs are bounded per buffer and, through a shared FragmentBudget, per connection (spec/streams.md
 * §Receiving): past the bound an insert throws a PetrelWireError, which closes the connection cleanly. Flow
 * control bounds the bytes; this bounds the entries, which a peer sending 1-byte frames at every other offset
 * would otherwise multiply (issue 11: 137 MiB of heap for 4 MB of stream data).
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { RunTree } from './run-tree.js';

/** Runs stop growing at this size; data beyond starts a new run. */
const MAX_RUN = 64 * 1024;
/** A run this small that a store made adjacent to the run before it is copied into that run (coalescing). */
const COALESCE_MAX = 1024;
/** Default bound on held runs (fragments) of one buffer: what 1-byte frames at every other offset cost. */
export const DEFAULT_MAX_FRAGMENTS = 4096;
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

/**
 * A bound on fragments shared by several buffers (every stream of a connection): `used` counts the runs they
 * hold, `limit` is the most they may hold together.
 */
export interface FragmentBudget {
  used: number;
  readonly limit: number;
}

export interface RecvBufferOptions {
  /** Most runs (disjoint byte ranges) this buffer holds; default DEFAULT_MAX_FRAGMENTS. */
  maxFragments?: number;
  /** A budget shared with other buffers (per connection), checked as well. */
  shared?: FragmentBudget;
  /** Error code thrown past either bound (default PROTOCOL_VIOLATION; CRYPTO_BUFFER_EXCEEDED for CRYPTO). */
  errorCode?: number;
}

/** Stream bytes [off, off + len), stored at buf[begin, begin + len); buf beyond that is room to append. */
interface Run {
  off: number;
  buf: Uint8Array;
  begin: number;
  len: number;
}

export class RecvBuffer {
  /** Runs by offset, disjoint, all unread (a run is removed once fully read). */
  private readonly runs = new RunTree<Run>();
  private _readOffset = 0;
  private _maxOffset = 0;
  private _finalSize: number | null = null;
  private _buffered = 0;
  private held = 0;
  /** Every byte in [readOffset, contigEnd) is held. */
  private contigEnd = 0;
  private _reset = false;
  private readonly maxFragments: number;
  private readonly shared: FragmentBudget | undefined;
  private readonly errorCode: number;

  constructor(opts: RecvBufferOptions = {}) {
    this.maxFragments = opts.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.shared = opts.shared;
    this.errorCode = opts.errorCode ?? TransportErrorCode.PROTOCOL_VIOLATION;
  }

  /** Runs (fragments) held now. */
  get fragments(): number {
    return this.runs.size;
  }

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
    while (pos < end) {
      const prev = runs.floor(pos);
      if (prev !== undefined && prev.off + prev.len > pos) {
        pos = prev.off + prev.len; // already held
        continue;
      }
      const nextRun = runs.higher(pos);
      const next = nextRun === undefined ? Infinity : nextRun.off;
      const gapEnd = Math.min(end, next);
      this.store(prev, pos, data.subarray(pos - offset, gapEnd - offset), nextRun, transfer);
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
    const first = this.runs.first()!;
    if (n <= first.len) {
      const view = first.buf.subarray(first.begin, first.begin + n);
      this.consume(n);
      return view;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const r = this.runs.first()!;
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
    this.release(this.runs.size);
    this.runs.clear();
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

  /**
   * Stores `bytes` (stream offset `pos`, ending at or before `nextRun`): appended to `prev` when it ends at
   * `pos`, else as a new run; a small `nextRun` the stored bytes now touch is copied in too (coalescing), so
   * filling the gaps between small fragments leaves one run, not many.
   */
  private store(prev: Run | undefined, pos: number, bytes: Uint8Array, nextRun: Run | undefined, transfer: boolean): void {
    const next = nextRun === undefined ? Infinity : nextRun.off;
    // A retained view pins its whole backing buffer: only worth it when these bytes fill a good part of it.
    const retain = transfer && bytes.length * RETAIN_RATIO >= bytes.buffer.byteLength;
    let done = 0;
    let holder: Run | undefined;
    if (prev !== undefined && prev.off + prev.len === pos) {
      // A retained frame only fills existing room (no reallocating copy); it becomes a run of its own otherwise.
      done = retain ? this.fillRoom(prev, bytes) : this.append(prev, bytes, next);
      if (done === bytes.length) holder = prev;
    }
    this._buffered += done;
    if (done < bytes.length) {
      // A run at the read frontier is readable at once and released by the reader: never refused.
      this.claimFragment(pos + done === this.contigEnd);
      const rest = bytes.subarray(done);
      this._buffered += rest.length;
      holder = { off: pos + done, buf: retain ? rest : rest.slice(), begin: 0, len: rest.length };
      this.runs.insert(holder);
      this.held += holder.buf.length;
    }
    if (
      nextRun !== undefined &&
      holder !== undefined &&
      holder.off + holder.len === next &&
      nextRun.len <= COALESCE_MAX &&
      holder.len + nextRun.len <= MAX_RUN
    ) {
      const after = this.runs.higher(next);
      const bytesOfNext = nextRun.buf.subarray(nextRun.begin, nextRun.begin + nextRun.len);
      if (this.append(holder, bytesOfNext, after === undefined ? Infinity : after.off) === nextRun.len) {
        this.runs.delete(next);
        this.held -= nextRun.buf.length;
        this.release(1);
      }
    }
  }

  /** Counts one more run against this buffer's bound and the shared one; past either, a typed error. */
  private claimFragment(readable: boolean): void {
    const sh = this.shared;
    if (!readable && (this.runs.size >= this.maxFragments || (sh !== undefined && sh.used >= sh.limit))) {
      throw new PetrelWireError(this.errorCode, `too many fragments to reassemble (${this.runs.size} held)`);
    }
    if (sh !== undefined) sh.used++;
  }

  private release(n: number): void {
    if (this.shared !== undefined) this.shared.used -= n;
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
    for (let r = this.runs.floor(this.contigEnd); r !== undefined && r.off + r.len > this.contigEnd; r = this.runs.floor(this.contigEnd)) {
      this.contigEnd = r.off + r.len;
    }
  }

  /** Consumes n bytes (n <= len) from the first run, releasing it when emptied. */
  private consume(n: number): void {
    const r = this.runs.first()!;
    this._readOffset += n;
    this._buffered -= n;
    if (n === r.len) {
      this.runs.delete(r.off);
      this.release(1);
      this.held -= r.buf.length;
      r.buf = EMPTY; // free the bytes now; views handed out keep their own reference
      r.len = 0;
      return;
    }
    // The first run's offset moves up but stays below the next run's: the tree order holds.
    r.off += n;
    r.begin += n;
    r.len -= n;
  }
}

function finalSizeError(message: string): PetrelWireError {
  return new PetrelWireError(TransportErrorCode.FINAL_SIZE_ERROR, message);
}
