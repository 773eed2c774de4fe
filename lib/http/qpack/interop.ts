/**
 * The QPACK offline-interop formats (github.com/quicwg/base-drafts/wiki/QPACK-Offline-Interop), as pure functions:
 * QIF text (field lists separated by blank lines, `name<TAB>value`, `#` comments) and the encoded file (records of
 * an 8-byte stream id, a 4-byte length and that many bytes; stream 0 carries the encoder stream).
 */
import { HttpError } from '../errors.js';
import { QpackDecoder, type DecodedSection, type Field } from './decoder.js';
import { QpackEncoder, type InsertPolicy } from './encoder.js';
import { latin1Bytes, latin1String } from './prefix-int.js';

/** Parses QIF text (latin1: one char per byte) into field lists. */
export function parseQif(text: string): Field[][] {
  const lists: Field[][] = [];
  let cur: Field[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('#')) continue;
    if (line === '') {
      if (cur.length > 0) lists.push(cur);
      cur = [];
      continue;
    }
    const tab = line.indexOf('\t');
    cur.push(tab < 0 ? [line, ''] : [line.slice(0, tab), line.slice(tab + 1)]);
  }
  if (cur.length > 0) lists.push(cur);
  return lists;
}

/** QIF text of decoded sections: `# stream <id>`, the lines, a blank line. */
export function formatQif(sections: ReadonlyArray<DecodedSection>): string {
  let s = '';
  for (const sec of sections) {
    s += `# stream ${sec.streamId}\n`;
    for (const [n, v] of sec.fields) s += `${n}\t${v}\n`;
    s += '\n';
  }
  return s;
}

export interface InteropRecord {
  streamId: number;
  data: Uint8Array;
}

export function parseInteropFile(bytes: Uint8Array): InteropRecord[] {
  const out: InteropRecord[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p < bytes.length) {
    if (p + 12 > bytes.length) throw new HttpError('H3_FRAME_ERROR', `truncated record header at offset ${p}`);
    const hi = dv.getUint32(p);
    const lo = dv.getUint32(p + 4);
    if (hi > 0x1fffff) throw new HttpError('H3_ID_ERROR', `stream id at offset ${p} exceeds 2^53`);
    const len = dv.getUint32(p + 8);
    p += 12;
    if (p + len > bytes.length) throw new HttpError('H3_FRAME_ERROR', `record at offset ${p - 12} runs past the end`);
    out.push({ streamId: hi * 2 ** 32 + lo, data: bytes.subarray(p, p + len) });
    p += len;
  }
  return out;
}

export function writeInteropFile(records: ReadonlyArray<InteropRecord>): Uint8Array {
  let total = 0;
  for (const r of records) total += 12 + r.data.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const r of records) {
    dv.setUint32(p, Math.floor(r.streamId / 2 ** 32));
    dv.setUint32(p + 4, r.streamId >>> 0);
    dv.setUint32(p + 8, r.data.length);
    out.set(r.data, p + 12);
    p += 12 + r.data.length;
  }
  return out;
}

export interface InteropSettings {
  tableSize: number;
  maxBlocked: number;
  /** Immediate acknowledgement: the decoder's acks reach the encoder after every section. */
  ack: boolean;
  /**
   * RFC 9204 table start (capacity 0 until Set Dynamic Table Capacity). Default false: the corpus is draft-05,
   * where the table starts at the maximum capacity.
   */
  rfc9204?: boolean;
  /** Encoder tuning (tests and experiments). */
  policy?: Partial<InsertPolicy>;
}

export interface DecodeResult {
  /** Sections in the order they were decoded (a blocked one comes out when its inserts arrive). */
  sections: DecodedSection[];
  /** Decoder-stream bytes the decoder produced. */
  decoderStream: Uint8Array[];
  /** Sections that had to wait for encoder-stream inserts. */
  blockedSections: number;
}

/** Decodes an interop file. Throws HttpError on bad input or if a section is still blocked at the end. */
export function decodeInteropFile(bytes: Uint8Array, s: Pick<InteropSettings, 'tableSize' | 'maxBlocked' | 'rfc9204'>): DecodeResult {
  const dec = new QpackDecoder({
    maxTableCapacity: s.tableSize,
    maxBlockedStreams: s.maxBlocked,
    maxFieldSectionSize: 1 << 20,
    initialTableCapacity: s.rfc9204 ? 0 : s.tableSize,
  });
  const sections: DecodedSection[] = [];
  const decoderStream: Uint8Array[] = [];
  let blockedSections = 0;
  for (const r of parseInteropFile(bytes)) {
    if (r.streamId === 0) sections.push(...dec.encoderStreamData(r.data));
    else {
      const f = dec.decodeSection(r.streamId, r.data);
      if (f !== null) sections.push({ streamId: r.streamId, fields: f });
      else blockedSections++;
    }
    const d = dec.takeDecoderStreamData();
    if (d.length > 0) decoderStream.push(d);
  }
  if (dec.blockedStreams > 0) {
    throw new HttpError('QPACK_DECOMPRESSION_FAILED', `${dec.blockedStreams} section(s) still blocked at the end of the input`);
  }
  return { sections, decoderStream, blockedSections };
}

/**
 * Encodes field lists as an interop file: list i on stream i + 1, each section preceded by the encoder-stream
 * bytes it needs. With `ack`, a decoder decodes each section at once and its decoder stream goes back to the
 * encoder (immediate acknowledgement); without, the encoder never hears from the decoder.
 */
export function encodeInteropFile(lists: ReadonlyArray<ReadonlyArray<readonly [string, string]>>, s: InteropSettings): Uint8Array {
  const enc = new QpackEncoder({
    maxTableCapacity: s.tableSize,
    maxBlockedStreams: s.maxBlocked,
    tableCapacity: s.tableSize,
    expectAcks: s.ack,
    startsAtMaxCapacity: !s.rfc9204,
    ...(s.policy ? { policy: s.policy } : {}),
  });
  const dec = s.ack
    ? new QpackDecoder({
        maxTableCapacity: s.tableSize,
        maxBlockedStreams: s.maxBlocked,
        maxFieldSectionSize: 1 << 20,
        initialTableCapacity: s.rfc9204 ? 0 : s.tableSize,
      })
    : null;
  const records: InteropRecord[] = [];
  // Without acknowledgements, encoder-stream bytes no section needs yet wait and go out with the next ones needed
  // (one record instead of two); with them, they go at once so that the acknowledgement comes back sooner.
  let held: Uint8Array[] = [];
  let heldInserts = 0;
  const flush = (): void => {
    if (held.length === 0) return;
    const data = new Uint8Array(held.reduce((n, b) => n + b.length, 0));
    held.reduce((at, b) => (data.set(b, at), at + b.length), 0);
    records.push({ streamId: 0, data });
    if (dec !== null) dec.encoderStreamData(data);
    held = [];
  };
  lists.forEach((fields, i) => {
    const streamId = i + 1;
    const block = enc.encodeSection(streamId, fields);
    const es = enc.takeEncoderStreamData();
    if (es.length > 0) held.push(es);
    if (dec !== null || enc.lastRequiredInsertCount > heldInserts) {
      flush();
      heldInserts = enc.insertCount;
    }
    records.push({ streamId, data: block });
    if (dec !== null) {
      dec.decodeSection(streamId, block);
      enc.decoderStreamData(dec.takeDecoderStreamData());
    }
  });
  flush();
  return writeInteropFile(records);
}

export { latin1Bytes, latin1String };
