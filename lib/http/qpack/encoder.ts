/**
 * QPACK encoder (RFC 9204 §2.1, §4.3–4.5), sans-IO. `encodeSection()` turns a field list into a field section for
 * a HEADERS frame and queues encoder-stream instructions (taken with `takeEncoderStreamData()`); the peer's decoder
 * stream goes in through `decoderStreamData()`.
 *
 * Policy: exact static matches are indexed; an exact dynamic match is referenced when it is acknowledged or the
 * stream may block; otherwise the field is inserted when it looks worth it (seen recently, or a name whose values
 * tend to repeat) and there is room made only of evictable entries, then referenced (or, if the stream may not
 * block, sent as a literal now and referenced once acknowledged). Literals use a static or dynamic name reference
 * when one exists and Huffman when it is shorter. Entries with unacknowledged references are never evicted, and at
 * most the peer's SETTINGS_QPACK_BLOCKED_STREAMS streams are ever blocked. Base = Required Insert Count, so every
 * reference is relative.
 */
import { HttpError } from '../errors.js';
import { DynamicTable, entrySize } from './dynamic-table.js';
import type { Field } from './decoder.js';
import { ByteSink, NEED_MORE, readPrefixInt, writePrefixInt, writeStringLiteral, type Cursor } from './prefix-int.js';
import { STATIC_EXACT, STATIC_NAME } from './static-table.js';

export interface QpackEncoderOptions {
  /** The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY (0 = no dynamic table). */
  maxTableCapacity: number;
  /** The peer's SETTINGS_QPACK_BLOCKED_STREAMS. */
  maxBlockedStreams: number;
  /** Dynamic table capacity to use (≤ maxTableCapacity; default min(maxTableCapacity, 4096)). */
  tableCapacity?: number;
  /**
   * Whether the peer acknowledges sections (a live decoder does; an offline interop run in ack mode 0 does not).
   * Without acknowledgements and without blocking, inserting is pointless, so nothing is inserted.
   */
  expectAcks?: boolean;
  /**
   * The peer's table already has the maximum capacity (draft-05 interop files): no Set Dynamic Table Capacity is
   * sent, and tableCapacity is ignored. Default false (RFC 9204: the table starts at 0 and the encoder sets it).
   */
  startsAtMaxCapacity?: boolean;
  /** Tuning of the insertion decision (defaults chosen on the offline-interop corpus). */
  policy?: Partial<InsertPolicy>;
}

export interface InsertPolicy {
  /** Insert a field whose name is in neither table the first time it is seen. */
  insertNewNames: boolean;
  /** Insert a field the first time it is seen when it can be referenced at once (stream may block). */
  insertFirstSeenWhenBlocking: boolean;
  /** Largest entry inserted, as a fraction of the table capacity. */
  maxEntryFraction: number;
  /** Fields remembered for "seen recently", as a multiple of the table's entry count (capacity / 32). */
  historyFactor: number;
  /** An entry used (inserted or referenced) in the last N sections is not evicted to make room (0 = off). */
  protectSections: number;
  /**
   * Stop inserting a name once this many of its entries were inserted and fewer than `minReuse` of them per
   * insertion were referenced again (dates, etags: values that never repeat). 0 = off.
   */
  judgeAfter: number;
  minReuse: number;
}

export const DEFAULT_INSERT_POLICY: InsertPolicy = {
  insertNewNames: true,
  insertFirstSeenWhenBlocking: false,
  maxEntryFraction: 0.75,
  historyFactor: 2,
  protectSections: 1,
  judgeAfter: 4,
  minReuse: 0.5,
};

interface Section {
  ric: number;
  refs: number[];
}

const enum Op {
  StaticIndexed,
  DynIndexed,
  StaticNameLiteral,
  DynNameLiteral,
  LiteralName,
}

/** Most sections outstanding (sent, not acknowledged) per stream and in all: bounds our memory, not the peer's. */
const MAX_OUTSTANDING = 10_000;

export class QpackEncoder {
  private readonly table = new DynamicTable();
  private readonly maxEntries: number;
  private readonly maxBlocked: number;
  private readonly expectAcks: boolean;
  private readonly policy: InsertPolicy;
  private readonly exact = new Map<string, number>();
  private readonly byName = new Map<string, number>();
  /** abs → number of unacknowledged sections referencing it (and the section being encoded). */
  private readonly refCount = new Map<number, number>();
  /** abs → number of the last section that inserted or referenced it. */
  private readonly lastUsed = new Map<number, number>();
  private sectionNo = 0;
  /** Per name: entries inserted, and later references to them (bounded; reset when full). */
  private readonly nameStats = new Map<string, { inserted: number; reused: number }>();
  private readonly outstanding = new Map<number, Section[]>();
  private outstandingCount = 0;
  private readonly blockedStreams = new Set<number>();
  private knownReceived = 0;
  private readonly enc = new ByteSink(256);
  private readonly lines = new ByteSink(256);
  private pending = new Uint8Array(0);
  private readonly c: Cursor = { pos: 0, value: 0 };
  // Recently seen fields and names, for the insertion decision.
  private readonly history: string[] = [];
  private historyPos = 0;
  private readonly historyCount = new Map<string, number>();
  private readonly historySize: number;
  /** Bytes of encoder-stream instructions written so far. */
  encoderStreamBytes = 0;

  constructor(opts: QpackEncoderOptions) {
    this.maxEntries = Math.floor(opts.maxTableCapacity / 32);
    this.maxBlocked = opts.maxBlockedStreams;
    this.expectAcks = opts.expectAcks ?? true;
    const cap = opts.startsAtMaxCapacity ? opts.maxTableCapacity : Math.min(opts.maxTableCapacity, opts.tableCapacity ?? 4096);
    this.policy = { ...DEFAULT_INSERT_POLICY, ...opts.policy };
    this.historySize = Math.max(16, Math.floor((cap / 32) * this.policy.historyFactor));
    if (opts.startsAtMaxCapacity) this.table.capacity = cap;
    else if (cap > 0) {
      this.table.capacity = cap;
      writePrefixInt(this.enc, 0x20, 5, cap); // Set Dynamic Table Capacity
    }
  }

  get insertCount(): number {
    return this.table.insertCount;
  }

  get knownReceivedCount(): number {
    return this.knownReceived;
  }

  get blockedStreamCount(): number {
    return this.blockedStreams.size;
  }

  /** Encoder-stream bytes to send (may be empty). */
  takeEncoderStreamData(): Uint8Array {
    this.encoderStreamBytes += this.enc.len;
    return this.enc.take();
  }

  /** Encodes a field section for `streamId`. */
  encodeSection(streamId: number, fields: ReadonlyArray<readonly [string, string]>): Uint8Array {
    const t = this.table;
    this.sectionNo++;
    const mayBlock = this.blockedStreams.has(streamId) || this.blockedStreams.size < this.maxBlocked;
    const ops: number[] = []; // triples: op, index, field position
    const refs: number[] = [];
    let maxRef = -1;
    const ref = (abs: number): void => {
      refs.push(abs);
      this.refCount.set(abs, (this.refCount.get(abs) ?? 0) + 1);
      this.lastUsed.set(abs, this.sectionNo);
      if (abs > maxRef) maxRef = abs;
    };
    const usable = (abs: number): boolean => t.has(abs) && (abs < this.knownReceived || mayBlock);
    for (let i = 0; i < fields.length; i++) {
      const [name, value] = fields[i]!;
      const key = `${name}\0${value}`;
      const si = STATIC_EXACT.get(key);
      if (si !== undefined) {
        ops.push(Op.StaticIndexed, si, i);
        continue;
      }
      const seen = this.remember(key);
      let d = this.exact.get(key);
      if (d !== undefined && usable(d)) {
        if ((this.lastUsed.get(d) ?? 0) < this.sectionNo) {
          const st = this.nameStats.get(name);
          if (st !== undefined) st.reused++;
        }
        ref(d);
        ops.push(Op.DynIndexed, d, i);
        continue;
      }
      const sn = STATIC_NAME.get(name);
      let dn = this.byName.get(name);
      if (dn !== undefined && !t.has(dn)) dn = undefined;
      if (
        t.capacity > 0 &&
        this.worthInserting(name, value, seen, sn !== undefined || dn !== undefined, mayBlock) &&
        (mayBlock || this.acksExpected())
      ) {
        d = this.insert(name, value, sn, dn);
        if (d >= 0 && mayBlock) {
          ref(d);
          ops.push(Op.DynIndexed, d, i);
          continue;
        }
      }
      // A dynamic name reference beats a static one whose index needs a second byte (4-bit prefix), when it
      // cannot block the stream (already acknowledged) and its relative index fits the prefix.
      const dynCheaper = sn !== undefined && sn >= 15 && dn !== undefined && dn < this.knownReceived && t.insertCount - 1 - dn < 15;
      if (sn !== undefined && !dynCheaper) ops.push(Op.StaticNameLiteral, sn, i);
      else if (dn !== undefined && usable(dn)) {
        ref(dn);
        ops.push(Op.DynNameLiteral, dn, i);
      } else ops.push(Op.LiteralName, 0, i);
    }
    // Prefix: Required Insert Count and Base = RIC (Delta Base 0), so references are relative.
    const out = this.lines;
    const ric = maxRef + 1;
    writePrefixInt(out, 0, 8, ric === 0 ? 0 : (ric % (2 * this.maxEntries)) + 1);
    out.byte(0);
    for (let k = 0; k < ops.length; k += 3) {
      const op = ops[k]!;
      const idx = ops[k + 1]!;
      const [name, value] = fields[ops[k + 2]!]!;
      switch (op) {
        case Op.StaticIndexed:
          writePrefixInt(out, 0xc0, 6, idx);
          break;
        case Op.DynIndexed:
          writePrefixInt(out, 0x80, 6, ric - 1 - idx);
          break;
        case Op.StaticNameLiteral:
          writePrefixInt(out, 0x50, 4, idx);
          writeStringLiteral(out, 0, 7, value);
          break;
        case Op.DynNameLiteral:
          writePrefixInt(out, 0x40, 4, ric - 1 - idx);
          writeStringLiteral(out, 0, 7, value);
          break;
        default:
          writeStringLiteral(out, 0x20, 3, name);
          writeStringLiteral(out, 0, 7, value);
      }
    }
    if (ric > 0) {
      if (this.outstandingCount >= MAX_OUTSTANDING) throw new HttpError('H3_EXCESSIVE_LOAD', 'too many unacknowledged field sections');
      let q = this.outstanding.get(streamId);
      if (q === undefined) this.outstanding.set(streamId, (q = []));
      q.push({ ric, refs });
      this.outstandingCount++;
      if (ric > this.knownReceived) this.blockedStreams.add(streamId);
    }
    return out.take();
  }

  /** Inserting pays off only if the peer will ever acknowledge (or we may block). */
  private acksExpected(): boolean {
    return this.expectAcks;
  }

  private remember(key: string): boolean {
    const seen = (this.historyCount.get(key) ?? 0) > 0;
    const h = this.history;
    if (h.length < this.historySize) h.push(key);
    else {
      const old = h[this.historyPos]!;
      const n = this.historyCount.get(old)! - 1;
      if (n === 0) this.historyCount.delete(old);
      else this.historyCount.set(old, n);
      h[this.historyPos] = key;
      this.historyPos = (this.historyPos + 1) % this.historySize;
    }
    this.historyCount.set(key, (this.historyCount.get(key) ?? 0) + 1);
    return seen;
  }

  private worthInserting(name: string, value: string, seen: boolean, knownName: boolean, mayBlock: boolean): boolean {
    const p = this.policy;
    if (entrySize(name, value) > this.table.capacity * p.maxEntryFraction) return false;
    if (p.judgeAfter > 0) {
      const st = this.nameStats.get(name);
      if (st !== undefined && st.inserted >= p.judgeAfter && st.reused < st.inserted * p.minReuse) return false;
    }
    return seen || (p.insertNewNames && !knownName) || (mayBlock && p.insertFirstSeenWhenBlocking);
  }

  /** Inserts (evicting what it must); returns the new entry's absolute index, or -1 if there is no room. */
  private insert(name: string, value: string, sn: number | undefined, dn: number | undefined): number {
    const t = this.table;
    const size = entrySize(name, value);
    // Count the oldest entries that must go, all of which must be free of unacknowledged references.
    let free = t.capacity - t.size;
    let evictUpTo = t.firstAbs;
    while (free < size) {
      if (evictUpTo >= t.insertCount || (this.refCount.get(evictUpTo) ?? 0) > 0) return -1;
      if (this.policy.protectSections > 0 && (this.lastUsed.get(evictUpTo) ?? -1e9) > this.sectionNo - this.policy.protectSections) return -1;
      free += t.sizeOf(evictUpTo);
      evictUpTo++;
    }
    const e = this.enc;
    if (sn !== undefined) {
      writePrefixInt(e, 0xc0, 6, sn);
    } else if (dn !== undefined && dn >= evictUpTo) {
      writePrefixInt(e, 0x80, 6, t.insertCount - 1 - dn);
    } else {
      writeStringLiteral(e, 0x40, 5, name);
    }
    writeStringLiteral(e, 0, 7, value);
    while (t.firstAbs < evictUpTo) this.evictOldest();
    const abs = t.insert(name, value);
    this.lastUsed.set(abs, this.sectionNo);
    if (this.policy.judgeAfter > 0) {
      let st = this.nameStats.get(name);
      if (st === undefined) {
        if (this.nameStats.size >= 1024) this.nameStats.clear();
        this.nameStats.set(name, (st = { inserted: 0, reused: 0 }));
      }
      st.inserted++;
    }
    this.exact.set(`${name}\0${value}`, abs);
    this.byName.set(name, abs);
    return abs;
  }

  private evictOldest(): void {
    const t = this.table;
    const abs = t.firstAbs;
    const name = t.name(abs);
    const key = `${name}\0${t.value(abs)}`;
    if (this.exact.get(key) === abs) this.exact.delete(key);
    if (this.byName.get(name) === abs) this.byName.delete(name);
    this.lastUsed.delete(abs);
    t.evictOne();
  }

  private release(s: Section): void {
    for (const abs of s.refs) {
      const n = this.refCount.get(abs)! - 1;
      if (n === 0) this.refCount.delete(abs);
      else this.refCount.set(abs, n);
    }
    this.outstandingCount--;
  }

  private updateBlocked(streamId: number): void {
    const q = this.outstanding.get(streamId);
    if (q === undefined || q.length === 0) {
      this.outstanding.delete(streamId);
      this.blockedStreams.delete(streamId);
      return;
    }
    if (q.some((s) => s.ric > this.knownReceived)) this.blockedStreams.add(streamId);
    else this.blockedStreams.delete(streamId);
  }

  /** Applies the peer's decoder-stream bytes (acknowledgements, cancellations, increments). */
  decoderStreamData(data: Uint8Array): void {
    let buf = data;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + data.length);
      buf.set(this.pending);
      buf.set(data, this.pending.length);
    }
    const c = this.c;
    c.pos = 0;
    const E = 'QPACK_DECODER_STREAM_ERROR' as const;
    while (c.pos < buf.length) {
      const b = buf[c.pos]!;
      if (b & 0x80) {
        if (readPrefixInt(buf, buf.length, c, 7, E) === NEED_MORE) break;
        const q = this.outstanding.get(c.value);
        if (q === undefined || q.length === 0) throw new HttpError(E, `Section Acknowledgement for stream ${c.value} with no outstanding section`);
        const s = q.shift()!;
        this.release(s);
        if (s.ric > this.knownReceived) {
          this.knownReceived = s.ric;
          for (const id of [...this.blockedStreams]) this.updateBlocked(id);
        }
        this.updateBlocked(c.value);
      } else if (b & 0x40) {
        if (readPrefixInt(buf, buf.length, c, 6, E) === NEED_MORE) break;
        const q = this.outstanding.get(c.value);
        if (q !== undefined) for (const s of q) this.release(s);
        this.outstanding.delete(c.value);
        this.blockedStreams.delete(c.value);
      } else {
        if (readPrefixInt(buf, buf.length, c, 6, E) === NEED_MORE) break;
        const inc = c.value;
        if (inc === 0 || this.knownReceived + inc > this.table.insertCount) throw new HttpError(E, `invalid Insert Count Increment ${inc}`);
        this.knownReceived += inc;
        for (const id of [...this.blockedStreams]) this.updateBlocked(id);
      }
    }
    if (buf.length - c.pos > 16) throw new HttpError(E, 'decoder-stream instruction too long');
    this.pending = buf.slice(c.pos);
  }
}

export type { Field };
