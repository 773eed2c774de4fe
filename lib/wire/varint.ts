/**
 * QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give the length
 * (1, 2, 4 or 8 bytes), the rest is the value, big-endian, up to 2^62 - 1.
 *
 * Petrel integers are JavaScript numbers: every integer *field* in Petrel is limited to 2^53 - 1
 * (spec/wire.md §Integers). The bigint functions cover the full 62-bit range for the varint layer itself.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';

export const VARINT_MAX_BIG = (1n << 62n) - 1n;
/** Largest value any Petrel field may carry. */
export const MAX_FIELD_VALUE = Number.MAX_SAFE_INTEGER;

/** Bytes the minimal encoding of `v` takes. */
export function varintSize(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x40000000) return 4;
  return 8;
}

/** Writes `v` at `off` with the minimal (or the given, larger) length; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, v: number, size: 1 | 2 | 4 | 8 = varintSize(v)): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_FIELD_VALUE) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `varint value out of range: ${v}`);
  }
  if (size < varintSize(v)) throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `${v} does not fit ${size} bytes`);
  if (off + size > buf.length) throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, 'buffer too small for varint');
  switch (size) {
    case 1:
      buf[off] = v;
      return off + 1;
    case 2:
      buf[off] = 0x40 | (v >>> 8);
      buf[off + 1] = v & 0xff;
      return off + 2;
    case 4:
      buf[off] = 0x80 | (v >>> 24);
      buf[off + 1] = (v >>> 16) & 0xff;
      buf[off + 2] = (v >>> 8) & 0xff;
      buf[off + 3] = v & 0xff;
      return off + 4;
    default: {
      const hi = Math.floor(v / 0x100000000);
      const lo = v >>> 0;
      buf[off] = 0xc0 | (hi >>> 24);
      buf[off + 1] = (hi >>> 16) & 0xff;
      buf[off + 2] = (hi >>> 8) & 0xff;
      buf[off + 3] = hi & 0xff;
      buf[off + 4] = lo >>> 24;
      buf[off + 5] = (lo >>> 16) & 0xff;
      buf[off + 6] = (lo >>> 8) & 0xff;
      buf[off + 7] = lo & 0xff;
      return off + 8;
    }
  }
}

/** Length in bytes of the varint whose first byte is `first`. */
export function varintLengthFromFirstByte(first: number): 1 | 2 | 4 | 8 {
  return (1 << (first >>> 6)) as 1 | 2 | 4 | 8;
}

/** Full-range encoder (62 bits) for the varint layer itself; fields use `writeVarint`. */
export function encodeVarintBig(v: bigint): Uint8Array {
  if (v < 0n || v > VARINT_MAX_BIG) throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `varint out of range: ${v}`);
  const size = v < 0x40n ? 1 : v < 0x4000n ? 2 : v < 0x40000000n ? 4 : 8;
  const out = new Uint8Array(size);
  let x = v;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  out[0]! |= [0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0][size]!;
  return out;
}

/** Full-range decoder; returns the value and the bytes consumed. Accepts non-minimal encodings. */
export function decodeVarintBig(buf: Uint8Array, off = 0): { value: bigint; length: number } {
  if (off >= buf.length) throw new PetrelWireError(TransportErrorCode.FRAME_ENCODING_ERROR, 'truncated varint');
  const len = varintLengthFromFirstByte(buf[off]!);
  if (off + len > buf.length) throw new PetrelWireError(TransportErrorCode.FRAME_ENCODING_ERROR, 'truncated varint');
  let v = BigInt(buf[off]! & 0x3f);
  for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(buf[off + i]!);
  return { value: v, length: len };
}
