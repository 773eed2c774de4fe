/**
 * QPACK decoder (RFC 9204 §2.2, §4.3–4.5), sans-IO. Bytes of the peer's encoder stream go in through
 * `encoderStreamData()`; each field section goes in whole through `decodeSection()`. A section that needs entries
 * not yet received is held (blocked) and comes out of a later `encoderStreamData()` call once they arrive.
 * What this side must send on its decoder stream (Section Acknowledgement, Stream Cancellation, Insert Count
 * Increment) accumulates and is taken with `takeDecoderStreamData()`.
 *
 * Every limit a hostile encoder could push against is bounded and typed: table capacity (our
 * SETTINGS_QPACK_MAX_TABLE_CAPACITY), blocked streams (SETTINGS_QPACK_BLOCKED_STREAMS), decoded field-section size,
 * string-literal length, buffered encoder-stream bytes, buffered blocked-section bytes, prefixed-integer overflow
 * and Huffman garbage.
 */
import { HttpError, type HttpErrorName } from '../errors.js';
import { DynamicTable, ENTRY_OVERHEAD, entrySize } from './dynamic-table.js';
import { ByteSink, NEED_MORE, readPrefixInt, readStringLiteral, writePrefixInt, type Cursor } from './prefix-int.js';
import { STATIC_TABLE } from './static-table.js';

export type Field = [name: string, value: string];

export interface QpackDecoderOptions {
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 4096). */
  maxTableCapacity?: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS (default 100). */
  maxBlockedStreams?: number;
  /** Largest decoded field section (sum of name + value + 32 per line; default 64 KiB). */
  maxFieldSectionSize?: number;
  /** Largest string literal, encoded or decoded (default 64 KiB). */
  maxStringLength?: number;
  /**
   * Dynamic table capacity before any Set Dynamic Table Capacity: 0 per RFC 9204 §3.2.3. The draft-05 files of the
   * offline-interop corpus start at the maximum instead (draft-ietf-quic-qpack-05 §3.2.2).
   */
  initialTableCapacity?: number;
}

export interface DecodedSection {
  streamId: number;
  fields: Field[];
}

interface Blocked {
  streamId: number;
  bytes: Uint8Array;
  ric: number;
  base: number;
  pos: number;
}

export class QpackDecoder {
  readonly maxTableCapacity: number;
  readonly maxBlockedStreams: number;
  readonly maxFieldSectionSize: number;
  readonly maxStringLength: number;
  private readonly table = new DynamicTable();
  private readonly maxEntries: number;
  /** Unparsed tail of the encoder stream (an instruction split across deliveries). */
  private pending: Uint8Array = new Uint8Array(0);
  private readonly blocked: Blocked[] = [];
  private blockedBytes = 0;
  private readonly out = new ByteSink(64);
  private knownReceived = 0;
  private readonly c: Cursor = { pos: 0, value: 0 };

  constructor(opts: QpackDecoderOptions = {}) {
    this.maxTableCapacity = opts.maxTableCapacity ?? 4096;
    this.maxBlockedStreams = opts.maxBlockedStreams ?? 100;
    this.maxFieldSectionSize = opts.maxFieldSectionSize ?? 65536;
    this.maxStringLength = opts.maxStringLength ?? 65536;
    this.maxEntries = Math.floor(this.maxTableCapacity / 32);
    this.table.capacity = Math.min(opts.initialTableCapacity ?? 0, this.maxTableCapacity);
  }

  /** Entries inserted so far. */
  get insertCount(): number {
    return this.table.insertCount;
  }

  get blockedStreams(): number {
    return this.blocked.length;
  }

  get tableSize(): number {
    return this.table.size;
  }

  // ─────────── encoder stream ───────────

  /** Applies encoder-stream bytes; returns the sections this unblocked, decoded, in the order they arrived. */
  encoderStreamData(data: Uint8Array): DecodedSection[] {
    let buf = data;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + data.length);
      buf.set(this.pending);
      buf.set(data, this.pending.length);
    }
    const c = this.c;
    c.pos = 0;
    const end = buf.length;
    const t = this.table;
    const E: HttpErrorName = 'QPACK_ENCODER_STREAM_ERROR';
    const maxStr = Math.min(this.maxStringLength, this.maxTableCapacity);
    while (c.pos < end) {
      const start = c.pos;
      const b = buf[start]!;
      if (b & 0x80) {
        // Insert with name reference: 1 T index(6), value.
        if (readPrefixInt(buf, end, c, 6, E) === NEED_MORE) break;
        const idx = c.value;
        let name: string;
        if (b & 0x40) {
          if (idx >= STATIC_TABLE.length) throw new HttpError(E, `static index ${idx} out of range`);
          name = STATIC_TABLE[idx]![0];
        } else {
          const abs = t.insertCount - 1 - idx;
          if (!t.has(abs)) throw new HttpError(E, `relative index ${idx} does not name a live entry`);
          name = t.name(abs);
        }
        const value = readStringLiteral(buf, end, c, 7, maxStr, E);
        if (value === null) {
          c.pos = start;
          break;
        }
        this.insert(name, value);
      } else if (b & 0x40) {
        // Insert with literal name: 01 H len(5) name, value.
        const name = readStringLiteral(buf, end, c, 5, maxStr, E);
        if (name === null) break;
        const value = readStringLiteral(buf, end, c, 7, maxStr, E);
        if (value === null) {
          c.pos = start;
          break;
        }
        this.insert(name, value);
      } else if (b & 0x20) {
        // Set Dynamic Table Capacity: 001 capacity(5).
        if (readPrefixInt(buf, end, c, 5, E) === NEED_MORE) break;
        if (c.value > this.maxTableCapacity) throw new HttpError(E, `capacity ${c.value} exceeds our maximum ${this.maxTableCapacity}`);
        t.capacity = c.value;
        t.evictTo(t.capacity);
      } else {
        // Duplicate: 000 index(5).
        if (readPrefixInt(buf, end, c, 5, E) === NEED_MORE) break;
        const abs = t.insertCount - 1 - c.value;
        if (!t.has(abs)) throw new HttpError(E, `duplicate of relative index ${c.value}: no such entry`);
        this.insert(t.name(abs), t.value(abs));
      }
    }
    const rest = end - c.pos;
    // A partial instruction is at most two strings plus their prefixes.
    if (rest > 2 * maxStr + 32) throw new HttpError(E, 'encoder-stream instruction exceeds the string limit');
    this.pending = rest > 0 ? buf.slice(c.pos) : new Uint8Array(0);
    return this.unblock();
  }

  private insert(name: string, value: string): void {
    const t = this.table;
    const size = entrySize(name, value);
    if (size > t.capacity) throw new HttpError('QPACK_ENCODER_STREAM_ERROR', `entry of ${size} bytes exceeds the table capacity ${t.capacity}`);
    t.evictTo(t.capacity - size);
    t.insert(name, value);
  }

  private unblock(): DecodedSection[] {
    const done: DecodedSection[] = [];
    for (let i = 0; i < this.blocked.length;) {
      const b = this.blocked[i]!;
      if (b.ric > this.table.insertCount) {
        i++;
        continue;
      }
      this.blocked.splice(i, 1);
      this.blockedBytes -= b.bytes.length;
      done.push({ streamId: b.streamId, fields: this.decodeLines(b.streamId, b.bytes, b.pos, b.ric, b.base) });
    }
    return done;
  }

  // ─────────── field sections ───────────

  /**
   * Decodes one complete field section (the payload of a HEADERS frame) on `streamId`. Returns its fields, or
   * null when it is blocked: it then comes out of a later encoderStreamData() call.
   */
  decodeSection(streamId: number, bytes: Uint8Array): Field[] | null {
    const D: HttpErrorName = 'QPACK_DECOMPRESSION_FAILED';
    const c = this.c;
    c.pos = 0;
    const end = bytes.length;
    if (readPrefixInt(bytes, end, c, 8, D) === NEED_MORE) throw new HttpError(D, 'truncated field section prefix');
    const encRic = c.value;
    if (c.pos >= end) throw new HttpError(D, 'truncated field section prefix');
    const sign = bytes[c.pos]! & 0x80;
    if (readPrefixInt(bytes, end, c, 7, D) === NEED_MORE) throw new HttpError(D, 'truncated field section prefix');
    const delta = c.value;
    const ric = this.requiredInsertCount(encRic);
    let base: number;
    if (sign) {
      if (delta >= ric) throw new HttpError(D, `Delta Base ${delta} gives a negative Base (Required Insert Count ${ric})`);
      base = ric - delta - 1;
    } else base = ric + delta;
    if (ric > this.table.insertCount) {
      if (this.blocked.length >= this.maxBlockedStreams) {
        throw new HttpError(D, `more than ${this.maxBlockedStreams} blocked streams`);
      }
      if (bytes.length > this.maxFieldSectionSize) throw new HttpError(D, 'blocked field section exceeds the field-section limit');
      this.blocked.push({ streamId, bytes: bytes.slice(), ric, base, pos: c.pos });
      this.blockedBytes += bytes.length;
      return null;
    }
    return this.decodeLines(streamId, bytes, c.pos, ric, base);
  }

  /** Bytes held in blocked sections. */
  get blockedSectionBytes(): number {
    return this.blockedBytes;
  }

  private requiredInsertCount(enc: number): number {
    if (enc === 0) return 0;
    const D: HttpErrorName = 'QPACK_DECOMPRESSION_FAILED';
    const fullRange = 2 * this.maxEntries;
    if (enc > fullRange) throw new HttpError(D, `encoded Required Insert Count ${enc} exceeds ${fullRange}`);
    const maxValue = this.table.insertCount + this.maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let ric = maxWrapped + enc - 1;
    if (ric > maxValue) {
      if (ric <= fullRange) throw new HttpError(D, 'invalid encoded Required Insert Count');
      ric -= fullRange;
    }
    if (ric === 0) throw new HttpError(D, 'invalid encoded Required Insert Count');
    return ric;
  }

  private decodeLines(streamId: number, buf: Uint8Array, pos: number, ric: number, base: number): Field[] {
    const D: HttpErrorName = 'QPACK_DECOMPRESSION_FAILED';
    const c = this.c;
    c.pos = pos;
    const end = buf.length;
    const t = this.table;
    const fields: Field[] = [];
    let total = 0;
    const maxStr = this.maxStringLength;
    const dyn = (abs: number): void => {
      if (abs < 0 || abs >= ric) throw new HttpError(D, `reference to entry ${abs} not below Required Insert Count ${ric}`);
      if (!t.has(abs)) throw new HttpError(D, `reference to evicted entry ${abs}`);
    };
    const truncated = (): never => {
      throw new HttpError(D, 'truncated field line');
    };
    while (c.pos < end) {
      const b = buf[c.pos]!;
      let name: string;
      let value: string | null;
      if (b & 0x80) {
        // Indexed field line: 1 T index(6).
        if (readPrefixInt(buf, end, c, 6, D) === NEED_MORE) truncated();
        if (b & 0x40) {
          if (c.value >= STATIC_TABLE.length) throw new HttpError(D, `static index ${c.value} out of range`);
          [name, value] = STATIC_TABLE[c.value]!;
        } else {
          const abs = base - 1 - c.value;
          dyn(abs);
          name = t.name(abs);
          value = t.value(abs);
        }
      } else if (b & 0x40) {
        // Literal with name reference: 01 N T index(4), value.
        if (readPrefixInt(buf, end, c, 4, D) === NEED_MORE) truncated();
        if (b & 0x10) {
          if (c.value >= STATIC_TABLE.length) throw new HttpError(D, `static index ${c.value} out of range`);
          name = STATIC_TABLE[c.value]![0];
        } else {
          const abs = base - 1 - c.value;
          dyn(abs);
          name = t.name(abs);
        }
        value = readStringLiteral(buf, end, c, 7, maxStr, D);
      } else if (b & 0x20) {
        // Literal with literal name: 001 N H len(3), value.
        const n = readStringLiteral(buf, end, c, 3, maxStr, D);
        if (n === null) truncated();
        name = n!;
        value = readStringLiteral(buf, end, c, 7, maxStr, D);
      } else if (b & 0x10) {
        // Indexed with post-base index: 0001 index(4).
        if (readPrefixInt(buf, end, c, 4, D) === NEED_MORE) truncated();
        const abs = base + c.value;
        dyn(abs);
        name = t.name(abs);
        value = t.value(abs);
      } else {
        // Literal with post-base name reference: 0000 N index(3), value.
        if (readPrefixInt(buf, end, c, 3, D) === NEED_MORE) truncated();
        const abs = base + c.value;
        dyn(abs);
        name = t.name(abs);
        value = readStringLiteral(buf, end, c, 7, maxStr, D);
      }
      if (value === null) truncated();
      total += name.length + value!.length + ENTRY_OVERHEAD;
      if (total > this.maxFieldSectionSize) throw new HttpError(D, `field section exceeds ${this.maxFieldSectionSize} bytes`);
      fields.push([name, value!]);
    }
    if (ric > 0) {
      writePrefixInt(this.out, 0x80, 7, streamId); // Section Acknowledgement
      if (ric > this.knownReceived) this.knownReceived = ric;
    }
    return fields;
  }

  /**
   * Abandons the stream's blocked sections (a reset or abandoned request stream) and queues a Stream
   * Cancellation (RFC 9204 §4.4.2) when the table is in use.
   */
  cancelStream(streamId: number): void {
    for (let i = this.blocked.length - 1; i >= 0; i--) {
      if (this.blocked[i]!.streamId === streamId) {
        this.blockedBytes -= this.blocked[i]!.bytes.length;
        this.blocked.splice(i, 1);
      }
    }
    if (this.maxTableCapacity > 0) writePrefixInt(this.out, 0x40, 6, streamId);
  }

  /** Decoder-stream bytes to send: acknowledgements and cancellations so far, then an Insert Count Increment. */
  takeDecoderStreamData(): Uint8Array {
    const inc = this.table.insertCount - this.knownReceived;
    if (inc > 0) {
      writePrefixInt(this.out, 0x00, 6, inc);
      this.knownReceived = this.table.insertCount;
    }
    return this.out.take();
  }
}
