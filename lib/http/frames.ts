/**
 * HTTP/3-style frames (RFC 9114 §7) on Petrel streams: type and length as QUIC varints, then the payload.
 * `FrameParser` is a streaming, sans-IO parser: bytes in, frame events out. DATA payloads are passed through in
 * pieces as they arrive (never buffered whole); other known frames are buffered up to a limit; unknown and
 * reserved (grease) types are skipped without buffering. Frames HTTP/2 defined but HTTP/3 forbids are errors.
 */
import { varintSize, writeVarint } from '../wire/varint.js';
import { HttpError } from './errors.js';

export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;

/** Frame types HTTP/2 used that must not appear (RFC 9114 §7.2.8). */
const HTTP2_ONLY = new Set([0x02, 0x06, 0x08, 0x09]);

export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

export const SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
} as const;

/** Setting ids HTTP/2 defined (RFC 9114 §7.2.4.1): an error if received. */
const HTTP2_SETTINGS = new Set([0x02, 0x03, 0x04, 0x05]);

/** The N-th reserved ("grease") value for frame types, stream types, settings and error codes: 0x1f·N + 0x21. */
export function greaseValue(n: number): number {
  return 0x1f * n + 0x21;
}

export function isGrease(v: number): boolean {
  return v >= 0x21 && (v - 0x21) % 0x1f === 0;
}

export function varint(v: number): Uint8Array {
  const b = new Uint8Array(varintSize(v));
  writeVarint(b, 0, v);
  return b;
}

/** A whole frame: type, length, payload. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const ts = varintSize(type);
  const ls = varintSize(payload.length);
  const out = new Uint8Array(ts + ls + payload.length);
  writeVarint(out, 0, type, ts);
  writeVarint(out, ts, payload.length, ls);
  out.set(payload, ts + ls);
  return out;
}

/** Just the header of a frame (for DATA written in front of a body chunk without copying it). */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const ts = varintSize(type);
  const out = new Uint8Array(ts + varintSize(length));
  writeVarint(out, 0, type, ts);
  writeVarint(out, ts, length);
  return out;
}

export interface HttpSettings {
  /** SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 0). */
  qpackMaxTableCapacity: number;
  /** SETTINGS_QPACK_BLOCKED_STREAMS (default 0). */
  qpackBlockedStreams: number;
  /** SETTINGS_MAX_FIELD_SECTION_SIZE (default unlimited). */
  maxFieldSectionSize: number;
}

export const DEFAULT_PEER_SETTINGS: HttpSettings = {
  qpackMaxTableCapacity: 0,
  qpackBlockedStreams: 0,
  maxFieldSectionSize: Number.MAX_SAFE_INTEGER,
};

/** SETTINGS payload: the three settings plus one reserved (grease) setting with value `greaseN`. */
export function encodeSettingsPayload(s: HttpSettings, greaseN?: number): Uint8Array {
  const parts: number[] = [SettingId.QPACK_MAX_TABLE_CAPACITY, s.qpackMaxTableCapacity, SettingId.QPACK_BLOCKED_STREAMS, s.qpackBlockedStreams];
  if (s.maxFieldSectionSize < Number.MAX_SAFE_INTEGER) parts.push(SettingId.MAX_FIELD_SECTION_SIZE, s.maxFieldSectionSize);
  if (greaseN !== undefined) parts.push(greaseValue(greaseN), greaseN);
  return concatBytes(parts.map(varint));
}

export function decodeSettingsPayload(p: Uint8Array): HttpSettings {
  const s = { ...DEFAULT_PEER_SETTINGS };
  const seen = new Set<number>();
  const c = { pos: 0 };
  while (c.pos < p.length) {
    const id = readVarintFull(p, c, 'H3_FRAME_ERROR');
    const value = readVarintFull(p, c, 'H3_FRAME_ERROR');
    if (seen.has(id)) throw new HttpError('H3_SETTINGS_ERROR', `setting 0x${id.toString(16)} repeated`);
    seen.add(id);
    if (HTTP2_SETTINGS.has(id)) throw new HttpError('H3_SETTINGS_ERROR', `HTTP/2 setting 0x${id.toString(16)}`);
    if (id === SettingId.QPACK_MAX_TABLE_CAPACITY) s.qpackMaxTableCapacity = value;
    else if (id === SettingId.QPACK_BLOCKED_STREAMS) s.qpackBlockedStreams = value;
    else if (id === SettingId.MAX_FIELD_SECTION_SIZE) s.maxFieldSectionSize = value;
    // Unknown and reserved settings are ignored (RFC 9114 §7.2.4).
  }
  return s;
}

export function encodeGoawayPayload(id: number): Uint8Array {
  return varint(id);
}

export function decodeGoawayPayload(p: Uint8Array): number {
  const c = { pos: 0 };
  const id = readVarintFull(p, c, 'H3_FRAME_ERROR');
  if (c.pos !== p.length) throw new HttpError('H3_FRAME_ERROR', 'GOAWAY with trailing bytes');
  return id;
}

/** Reads a varint that must be complete; values above 2^53 − 1 are an error. */
export function readVarintFull(p: Uint8Array, c: { pos: number }, err: 'H3_FRAME_ERROR' | 'H3_SETTINGS_ERROR'): number {
  const v = readVarint(p, c.pos, p.length);
  if (v === null) throw new HttpError(err, 'truncated varint');
  if (v.value > Number.MAX_SAFE_INTEGER) throw new HttpError(err, 'varint above 2^53 - 1');
  c.pos += v.length;
  return v.value;
}

/** Reads a varint at `pos`, or null when `end` comes first. Values above 2^53 come back inexact (only ever skipped). */
export function readVarint(p: Uint8Array, pos: number, end: number): { value: number; length: number } | null {
  if (pos >= end) return null;
  const first = p[pos]!;
  const length = 1 << (first >> 6);
  if (pos + length > end) return null;
  let v = first & 0x3f;
  for (let i = 1; i < length; i++) v = v * 256 + p[pos + i]!;
  return { value: v, length };
}

export function concatBytes(parts: ReadonlyArray<Uint8Array>): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export type FrameEvent = { kind: 'frame'; type: number; payload: Uint8Array } | { kind: 'data'; chunk: Uint8Array } | { kind: 'data-end' };

/**
 * Streaming frame parser for one stream. `maxPayload` bounds the buffered (non-DATA) frames: a longer HEADERS,
 * SETTINGS or GOAWAY is H3_EXCESSIVE_LOAD before any of it is held. The header of a frame split across pushes
 * is held (at most 16 bytes).
 */
export class FrameParser {
  private head = new Uint8Array(16);
  private headLen = 0;
  private type = -1;
  private remaining = 0;
  private buf: Uint8Array | null = null;
  private bufLen = 0;
  private skipping = false;
  constructor(private readonly maxPayload: number) {}

  /** True while inside a frame (the stream must not end here). */
  get midFrame(): boolean {
    return this.type >= 0 || this.headLen > 0;
  }

  push(data: Uint8Array, out: FrameEvent[] = []): FrameEvent[] {
    let pos = 0;
    while (pos < data.length) {
      if (this.type < 0) {
        // Accumulate the frame header (two varints, at most 16 bytes).
        while (pos < data.length && this.headLen < 16) {
          this.head[this.headLen++] = data[pos++]!;
          const t = readVarint(this.head, 0, this.headLen);
          if (t === null) continue;
          const l = readVarint(this.head, t.length, this.headLen);
          if (l === null) continue;
          if (l.value > Number.MAX_SAFE_INTEGER) throw new HttpError('H3_FRAME_ERROR', 'frame length above 2^53 - 1');
          this.startFrame(t.value, l.value, out);
          break;
        }
        continue;
      }
      const n = Math.min(this.remaining, data.length - pos);
      const piece = data.subarray(pos, pos + n);
      pos += n;
      this.remaining -= n;
      if (this.type === FrameType.DATA) {
        if (n > 0) out.push({ kind: 'data', chunk: piece });
      } else if (!this.skipping) {
        this.buf!.set(piece, this.bufLen);
        this.bufLen += n;
      }
      if (this.remaining === 0) this.finishFrame(out);
    }
    return out;
  }

  private startFrame(type: number, length: number, out: FrameEvent[]): void {
    this.headLen = 0;
    this.type = type;
    this.remaining = length;
    if (HTTP2_ONLY.has(type)) throw new HttpError('H3_FRAME_UNEXPECTED', `HTTP/2 frame type 0x${type.toString(16)}`);
    const known =
      type === FrameType.DATA ||
      type === FrameType.HEADERS ||
      type === FrameType.SETTINGS ||
      type === FrameType.GOAWAY ||
      type === FrameType.CANCEL_PUSH ||
      type === FrameType.PUSH_PROMISE ||
      type === FrameType.MAX_PUSH_ID;
    this.skipping = !known;
    if (known && type !== FrameType.DATA) {
      if (length > this.maxPayload) {
        throw new HttpError('H3_EXCESSIVE_LOAD', `frame 0x${type.toString(16)} of ${length} bytes exceeds ${this.maxPayload}`);
      }
      this.buf = new Uint8Array(length);
      this.bufLen = 0;
    }
    if (length === 0) this.finishFrame(out);
  }

  private finishFrame(out: FrameEvent[]): void {
    if (this.type === FrameType.DATA) out.push({ kind: 'data-end' });
    else if (!this.skipping) out.push({ kind: 'frame', type: this.type, payload: this.buf! });
    this.type = -1;
    this.buf = null;
    this.skipping = false;
  }
}
