/**
 * Cursor-based reader and writer over a Uint8Array. Platform-neutral (no Buffer), bounds-checked:
 * a short input or a full output is a typed PetrelWireError, never a silent truncation.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { MAX_FIELD_VALUE, varintLengthFromFirstByte, writeVarint } from './varint.js';

export class ByteReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  /** Error code used when the input is short or malformed (frames vs packet headers differ). */
  errorCode: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length, errorCode: number = TransportErrorCode.FRAME_ENCODING_ERROR) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.errorCode = errorCode;
  }

  /** Re-points the reader without allocating a new one (hot path). */
  reset(buf: Uint8Array, pos = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string, frameType?: number): never {
    throw new PetrelWireError(this.errorCode, message, frameType);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated: need ${n} byte(s), ${this.end - this.pos} left`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos = p + 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A big-endian 64-bit integer (times in ms): fails when above 2^53 - 1, naming `what`. */
  u53(what: string): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi > 0x1fffff) this.fail(`${what} above 2^53 - 1`);
    return hi * 0x1_0000_0000 + lo;
  }

  /** Reads a varint (any length, minimal or not). Values above 2^53 - 1 are rejected (spec §Integers). */
  varint(): number {
    this.need(1);
    const b = this.buf;
    const p = this.pos;
    const first = b[p]!;
    const len = varintLengthFromFirstByte(first);
    this.need(len);
    this.pos = p + len;
    switch (len) {
      case 1:
        return first;
      case 2:
        return ((first & 0x3f) << 8) | b[p + 1]!;
      case 4:
        return (((first & 0x3f) << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
      default: {
        const hi = (((first & 0x3f) << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
        const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
        if (hi > 0x1fffff) {
          this.pos = p;
          throw new PetrelWireError(this.errorCode, 'integer above 2^53 - 1');
        }
        return hi * 0x100000000 + lo;
      }
    }
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    if (n < 0) this.fail('negative length');
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A view of everything left. */
  rest(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

export class ByteWriter {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Uint8Array, pos = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, `buffer too small: need ${n}, ${this.end - this.pos} left`);
    }
  }

  u8(v: number): void {
    this.need(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.need(2);
    this.buf[this.pos] = v >>> 8;
    this.buf[this.pos + 1] = v & 0xff;
    this.pos += 2;
  }

  u32(v: number): void {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
  }

  /** A big-endian 64-bit integer; `v` is a non-negative safe integer (callers check). */
  u64(v: number): void {
    this.need(8);
    this.u32(Math.floor(v / 0x1_0000_0000));
    this.u32(v >>> 0);
  }

  varint(v: number, size?: 1 | 2 | 4 | 8): void {
    if (this.pos >= this.end) this.need(1);
    this.pos = writeVarint(this.buf.subarray(0, this.end), this.pos, v, size);
  }

  bytes(src: Uint8Array): void {
    this.need(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Writes `n` zero bytes (PADDING). */
  zeros(n: number): void {
    this.need(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
}

export function assertField(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_FIELD_VALUE) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `${what} out of range: ${v}`);
  }
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(h: string): Uint8Array {
  const clean = h.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${h}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}
