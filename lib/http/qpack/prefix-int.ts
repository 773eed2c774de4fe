/**
 * QPACK primitives (RFC 9204 §4.1): prefixed integers (RFC 7541 §5.1) and string literals with an optional Huffman
 * flag. Decoding works on a byte array and an offset and returns NEED_MORE when the input ends mid-primitive, so
 * the streaming encoder-stream parser can wait for more bytes; callers that hold complete input turn that into an
 * error. Integers are limited to 2^53 − 1 (what a JS number holds exactly): a longer one is an error, never a wrap.
 */
import { HttpError, type HttpErrorName } from '../errors.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './huffman.js';

export const NEED_MORE = -1;

/** Result slot of the decoders (reused; read right after the call). */
export interface Cursor {
  pos: number;
  value: number;
}

/**
 * Reads an integer with an N-bit prefix starting at c.pos. On success sets c.value, advances c.pos and returns the
 * new position; returns NEED_MORE (c untouched) when the input ends first.
 */
export function readPrefixInt(buf: Uint8Array, end: number, c: Cursor, prefixBits: number, err: HttpErrorName): number {
  let p = c.pos;
  if (p >= end) return NEED_MORE;
  const max = (1 << prefixBits) - 1;
  let v = buf[p++]! & max;
  if (v === max) {
    let mul = 1;
    for (;;) {
      if (p >= end) return NEED_MORE;
      const b = buf[p++]!;
      v += (b & 0x7f) * mul;
      if (v > Number.MAX_SAFE_INTEGER) throw new HttpError(err, 'prefixed integer exceeds 2^53 - 1');
      if ((b & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 56) throw new HttpError(err, 'prefixed integer too long');
    }
  }
  c.value = v;
  c.pos = p;
  return p;
}

/** Growable byte output. */
export class ByteSink {
  buf: Uint8Array;
  len = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** A copy of what was written; resets the sink. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/** Writes `v` with an N-bit prefix; `flags` are the bits above the prefix in the first byte. */
export function writePrefixInt(out: ByteSink, flags: number, prefixBits: number, v: number): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) {
    out.byte(flags | v);
    return;
  }
  out.byte(flags | max);
  v -= max;
  while (v >= 128) {
    out.byte((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.byte(v);
}

export function prefixIntLength(prefixBits: number, v: number): number {
  const max = (1 << prefixBits) - 1;
  if (v < max) return 1;
  let n = 2;
  v -= max;
  while (v >= 128) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** Field names and values are byte strings held as latin1 JS strings (one char per byte, like Node's http). */
export function latin1Bytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new HttpError('H3_MESSAGE_ERROR', 'field names and values are byte strings (latin1); got a character above U+00FF');
    b[i] = c;
  }
  return b;
}

export function latin1String(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}

/**
 * Writes a string literal: H flag at bit `prefixBits` of the first byte, the length with an N-bit prefix, then the
 * bytes, Huffman-coded when that is shorter.
 */
export function writeStringLiteral(out: ByteSink, flags: number, prefixBits: number, s: string): void {
  const raw = latin1Bytes(s);
  const hlen = huffmanEncodedLength(raw);
  if (hlen < raw.length) {
    writePrefixInt(out, flags | (1 << prefixBits), prefixBits, hlen);
    out.ensure(hlen);
    huffmanEncode(raw, out.buf, out.len);
    out.len += hlen;
  } else {
    writePrefixInt(out, flags, prefixBits, raw.length);
    out.bytes(raw);
  }
}

/** Bytes writeStringLiteral would use. */
export function stringLiteralLength(prefixBits: number, s: string): number {
  const raw = latin1Bytes(s);
  const n = Math.min(huffmanEncodedLength(raw), raw.length);
  return prefixIntLength(prefixBits, n) + n;
}

/**
 * Reads a string literal whose H flag is bit `prefixBits` of the first byte. Sets c.pos and returns the string,
 * or returns null when the input ends first. Longer than `maxLength` (encoded or decoded) is an error.
 */
export function readStringLiteral(buf: Uint8Array, end: number, c: Cursor, prefixBits: number, maxLength: number, err: HttpErrorName): string | null {
  if (c.pos >= end) return null;
  const huffman = (buf[c.pos]! >> prefixBits) & 1;
  const save = c.pos;
  if (readPrefixInt(buf, end, c, prefixBits, err) === NEED_MORE) return null;
  const n = c.value;
  if (n > maxLength) throw new HttpError(err, `string literal of ${n} bytes exceeds the limit of ${maxLength}`);
  if (c.pos + n > end) {
    c.pos = save;
    return null;
  }
  const start = c.pos;
  c.pos += n;
  if (!huffman) return latin1String(buf, start, start + n);
  const s = huffmanDecode(buf, start, start + n, maxLength);
  if (s === null) throw new HttpError(err, 'invalid Huffman-coded string (EOS, bad padding or too long)');
  return s;
}
