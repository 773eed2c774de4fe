import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteReader, ByteWriter, assertField, fromHex, toHex } from '../../lib/wire/buffer.js';

function wireError(fn: () => unknown): PetrelWireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PetrelWireError) return e;
    throw e;
  }
  throw new Error('expected a PetrelWireError');
}

describe('ByteReader', () => {
  it('reads big-endian integers and advances', () => {
    const r = new ByteReader(fromHex('01 0203 fffffffe 09'));
    expect(r.u8()).toBe(1);
    expect(r.u16()).toBe(0x0203);
    expect(r.u32()).toBe(0xfffffffe);
    expect(r.remaining).toBe(1);
    expect(r.u8()).toBe(9);
    expect(r.remaining).toBe(0);
  });

  it('rejects reads past end with its error code and does not move', () => {
    const r = new ByteReader(fromHex('010203'), 0, 3, TransportErrorCode.PACKET_ENCODING_ERROR);
    r.u16();
    expect(wireError(() => r.u16()).errorCode).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
    expect(wireError(() => r.u32()).errorCode).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
    expect(wireError(() => r.bytes(2)).errorCode).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
    expect(r.pos).toBe(2);
    expect(r.u8()).toBe(3);
    expect(wireError(() => r.u8()).errorCode).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
  });

  it('defaults to FRAME_ENCODING_ERROR', () => {
    expect(wireError(() => new ByteReader(new Uint8Array(0)).u8()).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
  });

  it('honours an end below the buffer length and a start offset', () => {
    const r = new ByteReader(fromHex('aabbccddee'), 1, 3);
    expect(r.remaining).toBe(2);
    expect(toHex(r.rest())).toBe('bbcc');
    expect(r.pos).toBe(3);
    expect(wireError(() => r.u8()).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
  });

  it('bytes() and rest() return views sharing the input memory', () => {
    const buf = fromHex('0102030405');
    const r = new ByteReader(buf);
    const v = r.bytes(2);
    expect(toHex(v)).toBe('0102');
    buf[0] = 0xff;
    expect(v[0]).toBe(0xff);
    const rest = r.rest();
    expect(rest.buffer).toBe(buf.buffer);
    expect(rest.byteOffset).toBe(2);
    expect(toHex(r.rest())).toBe('');
  });

  it('bytes() rejects a negative length and accepts zero', () => {
    const r = new ByteReader(fromHex('01'));
    expect(wireError(() => r.bytes(-1)).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    expect(r.bytes(0).length).toBe(0);
    expect(r.pos).toBe(0);
  });

  it('reset re-points without allocating a new reader', () => {
    const r = new ByteReader(fromHex('01'));
    const same = r.reset(fromHex('0a0b0c'), 1, 2);
    expect(same).toBe(r);
    expect(r.u8()).toBe(0x0b);
    expect(r.remaining).toBe(0);
  });

  it('fail() carries the frame type', () => {
    const err = wireError(() => new ByteReader(new Uint8Array(0)).fail('x', 0x1c));
    expect(err.frameType).toBe(0x1c);
    expect(err.code).toBe('FRAME_ENCODING_ERROR');
  });
});

describe('ByteWriter', () => {
  it('writes big-endian integers, bytes and zeros', () => {
    const w = new ByteWriter(new Uint8Array(14).fill(0xee));
    w.u8(1);
    w.u16(0x0203);
    w.u32(0xfffffffe);
    w.bytes(fromHex('aabb'));
    w.zeros(2);
    w.varint(15293);
    expect(w.pos).toBe(13);
    expect(toHex(w.buf)).toBe('010203fffffffeaabb00007bbdee');
  });

  it('throws BUFFER_TOO_SMALL without writing or moving', () => {
    const buf = new Uint8Array(6).fill(0xee);
    const w = new ByteWriter(buf, 0, 3);
    w.u16(0x0102);
    for (const op of [() => w.u16(1), () => w.u32(1), () => w.bytes(fromHex('0102')), () => w.zeros(2), () => w.varint(64)]) {
      expect(wireError(op).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
    }
    expect(w.pos).toBe(2);
    expect(toHex(buf)).toBe('0102eeeeeeee');
    w.u8(3);
    expect(w.remaining).toBe(0);
    expect(wireError(() => w.u8(4)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
  });

  it('u64 and u53: 64-bit times round-trip up to 2^53 - 1; above it the reader fails naming the field', () => {
    const values = [0, 0xffffffff, 2 ** 32, Number.MAX_SAFE_INTEGER];
    const w = new ByteWriter(new Uint8Array(32));
    for (const v of values) w.u64(v);
    expect(toHex(w.buf)).toBe('0000000000000000' + '00000000ffffffff' + '0000000100000000' + '001fffffffffffff');
    const r = new ByteReader(w.buf);
    expect(values.map(() => r.u53('t'))).toEqual(values);
    const over = new ByteReader(fromHex('0020000000000000'));
    expect(() => over.u53('expiresAt')).toThrow(/expiresAt above 2\^53 - 1/);
    expect(wireError(() => new ByteWriter(new Uint8Array(7)).u64(1)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
  });

  it('reset re-points the writer', () => {
    const w = new ByteWriter(new Uint8Array(1));
    const buf = new Uint8Array(4);
    expect(w.reset(buf, 2)).toBe(w);
    w.u16(0xabcd);
    expect(toHex(buf)).toBe('0000abcd');
  });
});

describe('helpers', () => {
  it('toHex / fromHex round-trip and reject bad input', () => {
    expect(toHex(fromHex('00 7F ff'))).toBe('007fff');
    expect(fromHex('').length).toBe(0);
    expect(() => fromHex('abc')).toThrow();
    expect(() => fromHex('zz')).toThrow();
  });

  it('assertField accepts 0..2^53-1 integers only', () => {
    expect(() => assertField(0, 'x')).not.toThrow();
    expect(() => assertField(2 ** 53 - 1, 'x')).not.toThrow();
    for (const v of [-1, 0.5, 2 ** 53, Number.NaN]) {
      expect(wireError(() => assertField(v, 'x')).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    }
  });
});
