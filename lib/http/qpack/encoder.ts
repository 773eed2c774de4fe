/**
 * QPACK encoder (RFC 9204 §2.1, §4.3–4.5), sans-IO. `encodeSection()` turns a field list into a field section for
 * a HEADERS frame and queues encoder-stream instructions (taken with `takeEncoderStreamData()`); the peer's decoder
 * stream goes in through `decoderStreamData()`.
 *
 * Policy. Exact static matches are indexed. An exact dynamic match is referenced when it is acknowledged or the
 * stream may block. Entries close to eviction ("draining") that are in steady use are copied to the head of the
 * table with a Duplicate (one or two bytes) riding along with the next encoder-stream bytes, so a field in steady
 * use is never inserted twice. Otherwise a field is inserted when it is likely to repeat (seen recently, or a new
 * name), never a name whose inserted values were seldom used again (dates, etags): such a name, when it recurs
 * and is in neither table, is inserted alone (empty value) for its name. A section's inserts go in order of bytes
 * saved per byte of table, so when room is short the best ones get it. Literals use the cheapest of a static name,
 * a dynamic name or a literal name, and Huffman when it is shorter. An entry is evicted only once its insertion is
 * acknowledged and no unacknowledged section references it (RFC 9204 §2.1.1), and at most the peer's
 * SETTINGS_QPACK_BLOCKED_STREAMS streams are ever blocked. When the peer never acknowledges (an offline run in ack
 * mode 0), a blocked-stream slot is never returned, so it goes only to a section that saves enough with it.
 * Base = Required Insert Count, so every reference is relative.
 */
import { HttpError } from '../errors.js';
import { DynamicTable, entrySize } from './dynamic-table.js';
import type { Field } from './decoder.js';
import {
  ByteSink,
  NEED_MORE,
  prefixIntLength,
  readPrefixInt,
  stringLiteralLength,
  writePrefixInt,
  writeStringLiteral,
  type Cursor,
} from './prefix-int.js';
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
  /**
   * Stop inserting a name once this many of its entries were inserted and fewer than `minReuse` of them per
   * insertion were referenced again (dates, etags: values that never repeat). 0 = off.
   */
  judgeAfter: number;
  minReuse: number;
  /** An entry with less than this fraction of the capacity left to go before eviction is duplicated when used. */
  drainFraction: number;
  /** Insert a recurring name alone (empty value) when its values do not repeat. */
  insertNames: boolean;
  /**
   * Without acknowledgements a blocked-stream slot is never returned: the first `freeSlots` (fraction of the limit)
   * go to any section that saves a byte with the table, the rest only to one saving `slotGain` × the best seen.
   */
  freeSlots: number;
  slotGain: number;
  /**
   * When the stream may block, an entry with less than this fraction of the capacity left before eviction is
   * duplicated at once and the copy referenced (so the original can go); otherwise duplicates wait for the next
   * encoder-stream write (a Duplicate alone costs a write of its own).
   */
  immediateDuplicate: number;
  /** A draining entry used in two sections or more, the last within this many sections, is duplicated. 0 = off. */
  keepFor: number;
}

export const DEFAULT_INSERT_POLICY: InsertPolicy = {
  insertNewNames: true,
  insertFirstSeenWhenBlocking: false,
  maxEntryFraction: 0.75,
  historyFactor: 2,
  judgeAfter: 4,
  minReuse: 0.5,
  drainFraction: 0.25,
  insertNames: true,
  freeSlots: 0.25,
  slotGain: 0.5,
  immediateDuplicate: 0.1,
  keepFor: 24,
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
/** Most names with insertion statistics (reset when full). */
const MAX_NAME_STATS = 1024;

export class QpackEncoder {
  private readonly table = new DynamicTable();
  private readonly maxEntries: number;
  private readonly maxBlocked: number;
  private readonly expectAcks: boolean;
  private readonly policy: InsertPolicy;
  /** name\0value → newest entry with it; name → newest entry with that name. */
  private readonly exact = new Map<string, number>();
  private readonly byName = new Map<string, number>();
  /** abs → number of unacknowledged sections referencing it (and the section being encoded). */
  private readonly refCount = new Map<number, number>();
  /** abs → number of the last section that inserted or referenced it. */
  private readonly lastUsed = new Map<number, number>();
  /** abs → bytes inserted before it (entry sizes), for the distance to eviction. */
  private readonly offset = new Map<number, number>();
  /** abs → sections that referenced it (a copy inherits the count). */
  private readonly uses = new Map<number, number>();
  private insertedBytes = 0;
  /** Draining entries referenced since the last encoder-stream write: duplicated with the next one. */
  private readonly toDuplicate = new Set<number>();
  /** Without acknowledgements: the most bytes a section could save with the table. */
  private maxGain = 0;
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
  // Recently seen fields (name\0value) and names (\u0001name), for the insertion decision.
  private readonly history: string[] = [];
  private historyPos = 0;
  private readonly historyCount = new Map<string, number>();
  private readonly historySize: number;
  private lastRic = 0;
  /** Bytes of encoder-stream instructions written so far. */
  encoderStreamBytes = 0;

  constructor(opts: QpackEncoderOptions) {
    this.maxEntries = Math.floor(opts.maxTableCapacity / 32);
    this.maxBlocked = opts.maxBlockedStreams;
    this.expectAcks = opts.expectAcks ?? true;
    const cap = opts.startsAtMaxCapacity ? opts.maxTableCapacity : Math.min(opts.maxTableCapacity, opts.tableCapacity ?? 4096);
    this.policy = { ...DEFAULT_INSERT_POLICY, ...opts.policy };
    this.historySize = Math.max(16, Math.floor((cap / 32) * this.policy.historyFactor)) * 2;
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

  /** Required Insert Count of the last section encoded: encoder-stream bytes past it may wait for a later write. */
  get lastRequiredInsertCount(): number {
    return this.lastRic;
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
    const p = this.policy;
    this.sectionNo++;
    const alreadyBlocked = this.blockedStreams.has(streamId);
    let mayBlock = alreadyBlocked || this.blockedStreams.size < this.maxBlocked;
    // Without acknowledgements a blocked-stream slot is taken for good: only a section that gains enough gets one.
    if (mayBlock && !alreadyBlocked && !this.expectAcks) {
      const gain = this.sectionGain(fields);
      if (gain > this.maxGain) this.maxGain = gain;
      const need = this.blockedStreams.size < this.maxBlocked * p.freeSlots ? 1 : this.maxGain * p.slotGain;
      if (gain < need) mayBlock = false;
    }
    // Whether an insertion can ever be referenced.
    const useTable = t.capacity > 0 && (this.expectAcks || mayBlock || this.blockedStreams.size < this.maxBlocked);
    const esStart = this.enc.len;
    const n = fields.length;
    const kind: Op[] = new Array<Op>(n);
    const index: number[] = new Array<number>(n).fill(0);
    const refs: number[] = [];
    let maxRef = -1;
    const ref = (abs: number): void => {
      refs.push(abs);
      this.refCount.set(abs, (this.refCount.get(abs) ?? 0) + 1);
      if ((this.lastUsed.get(abs) ?? 0) < this.sectionNo) {
        this.uses.set(abs, (this.uses.get(abs) ?? 0) + 1);
        const st = this.nameStats.get(t.name(abs));
        if (st !== undefined) st.reused++;
      }
      this.lastUsed.set(abs, this.sectionNo);
      if (abs > maxRef) maxRef = abs;
    };
    const usable = (abs: number): boolean => t.has(abs) && (abs < this.knownReceived || mayBlock);
    const live = (abs: number | undefined): number | undefined => (abs !== undefined && t.has(abs) ? abs : undefined);
    // 1. Static and usable dynamic matches (referenced first, so the inserts below cannot evict them).
    const rest: Array<{ i: number; seen: boolean; nameSeen: boolean; density: number }> = [];
    for (let i = 0; i < n; i++) {
      const [name, value] = fields[i]!;
      const key = `${name}\0${value}`;
      const si = STATIC_EXACT.get(key);
      if (si !== undefined) {
        kind[i] = Op.StaticIndexed;
        index[i] = si;
        continue;
      }
      const seen = this.remember(key);
      const nameSeen = this.remember(`\u0001${name}`);
      const d = live(this.exact.get(key));
      if (d !== undefined && usable(d)) {
        // Close to eviction: copy it to the head of the table (the copy may evict the original, not yet referenced).
        let use = d;
        if (useTable && mayBlock && this.draining(d, p.immediateDuplicate)) {
          const copy = this.duplicate(d);
          if (copy >= 0 && mayBlock) use = copy;
        } else if (useTable && this.draining(d)) this.toDuplicate.add(d);
        if (t.has(use)) {
          ref(use);
          kind[i] = Op.DynIndexed;
          index[i] = use;
          continue;
        }
      }
      kind[i] = Op.LiteralName;
      rest.push({ i, seen, nameSeen, density: (this.literalLength(name, value) - 1) / entrySize(name, value) });
    }
    // 2. Insertions, the most bytes saved per byte of table first (what fits when room is short is the best).
    if (useTable && rest.length > 0) {
      const order = rest.length > 1 ? [...rest].sort((x, y) => y.density - x.density) : rest;
      for (const r of order) {
        const [name, value] = fields[r.i]!;
        // Already in the table (inserted but not acknowledged, or by an earlier line of this section).
        if (live(this.exact.get(`${name}\0${value}`)) !== undefined) continue;
        const sn = STATIC_NAME.get(name);
        const dn = live(this.byName.get(name));
        const judged = this.judged(name);
        if (!judged && this.worthInserting(name, value, r.seen, sn !== undefined || dn !== undefined, mayBlock)) this.insert(name, value, sn, dn);
        else if (p.insertNames && (r.nameSeen || judged) && sn === undefined && dn === undefined && value !== '') {
          this.insert(name, '', undefined, undefined);
        }
      }
    }
    // 3. The rest: a reference to what was just inserted (when the stream may block), or the cheapest literal.
    for (const r of rest) {
      const i = r.i;
      const [name, value] = fields[i]!;
      const d = live(this.exact.get(`${name}\0${value}`));
      if (d !== undefined && usable(d)) {
        ref(d);
        kind[i] = Op.DynIndexed;
        index[i] = d;
        continue;
      }
      // The cheapest name: static (4-bit prefix), dynamic (4-bit prefix, relative index at most this) or literal.
      const sn = STATIC_NAME.get(name);
      const dn = live(this.byName.get(name));
      const staticLen = sn !== undefined ? prefixIntLength(4, sn) : Infinity;
      const dynLen = dn !== undefined && usable(dn) ? prefixIntLength(4, t.insertCount - 1 - dn) : Infinity;
      if (sn !== undefined && staticLen <= dynLen) {
        kind[i] = Op.StaticNameLiteral;
        index[i] = sn;
      } else if (dn !== undefined && dynLen < Infinity && dynLen <= stringLiteralLength(3, name)) {
        ref(dn);
        kind[i] = Op.DynNameLiteral;
        index[i] = dn;
      }
    }
    // Duplicates ride along with other encoder-stream bytes (an instruction alone costs a write of its own).
    if (this.enc.len > esStart) this.flushDuplicates();
    // Prefix: Required Insert Count and Base = RIC (Delta Base 0), so references are relative.
    const out = this.lines;
    const ric = maxRef + 1;
    this.lastRic = ric;
    writePrefixInt(out, 0, 8, ric === 0 ? 0 : (ric % (2 * this.maxEntries)) + 1);
    out.byte(0);
    for (let i = 0; i < n; i++) {
      const idx = index[i]!;
      const [name, value] = fields[i]!;
      switch (kind[i]) {
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

  /** Bytes the section would save by referencing the entries already in the table (exact matches, names). */
  private sectionGain(fields: ReadonlyArray<readonly [string, string]>): number {
    let gain = 0;
    for (const [name, value] of fields) {
      const key = `${name}\0${value}`;
      if (STATIC_EXACT.has(key)) continue;
      const d = this.exact.get(key);
      if (d !== undefined && this.table.has(d)) gain += this.literalLength(name, value) - 1;
      else if (!STATIC_NAME.has(name) && this.byName.has(name) && this.table.has(this.byName.get(name)!)) gain += stringLiteralLength(3, name) - 1;
    }
    return gain;
  }

  /** Bytes of the field as a literal line with a static name reference or a literal name. */
  private literalLength(name: string, value: string): number {
    const sn = STATIC_NAME.get(name);
    return (sn !== undefined ? prefixIntLength(4, sn) : stringLiteralLength(3, name)) + stringLiteralLength(7, value);
  }

  /** An entry is evictable once its insertion is acknowledged and no unacknowledged section references it. */
  private evictable(abs: number): boolean {
    return abs < this.knownReceived && (this.refCount.get(abs) ?? 0) === 0;
  }

  /** Bytes that can still be inserted before `abs` is evicted, under a fraction of the capacity. */
  private draining(abs: number, fraction = this.policy.drainFraction): boolean {
    const t = this.table;
    const left = t.capacity - t.size + this.offset.get(abs)! - this.offset.get(t.firstAbs)!;
    return left < t.capacity * fraction;
  }

  /** Oldest absolute index still live after making room for `size` bytes, or -1 if that would evict the unevictable. */
  private roomFor(size: number): number {
    const t = this.table;
    let free = t.capacity - t.size;
    let evictUpTo = t.firstAbs;
    while (free < size) {
      if (evictUpTo >= t.insertCount || !this.evictable(evictUpTo)) return -1;
      free += t.sizeOf(evictUpTo);
      evictUpTo++;
    }
    return evictUpTo;
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

  /** A name whose inserted values were seldom used again. */
  private judged(name: string): boolean {
    const p = this.policy;
    if (p.judgeAfter === 0) return false;
    const st = this.nameStats.get(name);
    return st !== undefined && st.inserted >= p.judgeAfter && st.reused < st.inserted * p.minReuse;
  }

  private worthInserting(name: string, value: string, seen: boolean, knownName: boolean, mayBlock: boolean): boolean {
    const p = this.policy;
    const size = entrySize(name, value);
    if (size > this.table.capacity * p.maxEntryFraction) return false;
    return seen || (p.insertNewNames && !knownName) || (mayBlock && p.insertFirstSeenWhenBlocking);
  }

  /** Duplicates the draining entries still live and not already copied. */
  private flushDuplicates(): void {
    const t = this.table;
    const p = this.policy;
    const newest = (abs: number): boolean => t.has(abs) && this.exact.get(`${t.name(abs)}\0${t.value(abs)}`) === abs;
    // Also the draining entries in steady use (used in two sections or more, lately), even if not in this one.
    if (p.keepFor > 0) {
      for (let abs = t.firstAbs; abs < t.insertCount && this.draining(abs); abs++) {
        if ((this.uses.get(abs) ?? 0) >= 2 && this.sectionNo - (this.lastUsed.get(abs) ?? 0) <= p.keepFor) this.toDuplicate.add(abs);
      }
    }
    for (const abs of this.toDuplicate) if (newest(abs)) this.duplicate(abs);
    this.toDuplicate.clear();
  }

  /** Duplicates `abs` (RFC 9204 §4.3.4); returns the copy's absolute index, or -1 if there is no room. */
  private duplicate(abs: number): number {
    const t = this.table;
    const size = t.sizeOf(abs);
    const evictUpTo = this.roomFor(size);
    if (evictUpTo < 0) return -1;
    const name = t.name(abs);
    const value = t.value(abs);
    writePrefixInt(this.enc, 0x00, 5, t.insertCount - 1 - abs);
    const uses = this.uses.get(abs);
    const copy = this.add(name, value, evictUpTo);
    if (uses !== undefined) this.uses.set(copy, uses);
    return copy;
  }

  /** Inserts (evicting what it must); returns the new entry's absolute index, or -1 if there is no room. */
  private insert(name: string, value: string, sn: number | undefined, dn: number | undefined): number {
    const t = this.table;
    const size = entrySize(name, value);
    if (size > t.capacity * this.policy.maxEntryFraction) return -1;
    // Pending duplicates first: they may be what stands between this insert and the room it needs.
    if (this.toDuplicate.size > 0) this.flushDuplicates();
    const evictUpTo = this.roomFor(size);
    if (evictUpTo < 0) return -1;
    const e = this.enc;
    const dynRef = dn !== undefined && dn >= evictUpTo ? t.insertCount - 1 - dn : -1;
    if (sn !== undefined && (dynRef < 0 || prefixIntLength(6, sn) <= prefixIntLength(6, dynRef))) writePrefixInt(e, 0xc0, 6, sn);
    else if (dynRef >= 0 && prefixIntLength(6, dynRef) <= stringLiteralLength(5, name)) writePrefixInt(e, 0x80, 6, dynRef);
    else writeStringLiteral(e, 0x40, 5, name);
    writeStringLiteral(e, 0, 7, value);
    const abs = this.add(name, value, evictUpTo);
    if (this.policy.judgeAfter > 0 && value !== '') {
      let st = this.nameStats.get(name);
      if (st === undefined) {
        if (this.nameStats.size >= MAX_NAME_STATS) this.nameStats.clear();
        this.nameStats.set(name, (st = { inserted: 0, reused: 0 }));
      }
      st.inserted++;
    }
    return abs;
  }

  /** Evicts up to `evictUpTo` and appends the entry; returns its absolute index. */
  private add(name: string, value: string, evictUpTo: number): number {
    const t = this.table;
    while (t.firstAbs < evictUpTo) this.evictOldest();
    const abs = t.insert(name, value);
    this.offset.set(abs, this.insertedBytes);
    this.insertedBytes += entrySize(name, value);
    this.lastUsed.set(abs, this.sectionNo);
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
    this.offset.delete(abs);
    this.uses.delete(abs);
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
