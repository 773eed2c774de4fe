import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode, type TransportErrorName } from '../../lib/errors.js';
import { ByteReader, ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  MAX_FIELD_VALUE,
  VARINT_MAX_BIG,
  decodeVarintBig,
  encodeVarintBig,
  varintLengthFromFirstByte,
  varintSize,
  writeVarint,
} from '../../lib/wire/varint.js';

function wireError(fn: () => unknown): PetrelWireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PetrelWireError) return e;
    throw e;
  }
  throw new Error('expected a PetrelWireError');
}

function readNumber(hex: string): number {
  return new ByteReader(fromHex(hex)).varint();
}

function writeNumber(v: number, size?: 1 | 2 | 4 | 8): string {
  const buf = new Uint8Array(8);
  return toHex(buf.subarray(0, writeVarint(buf, 0, v, size)));
}

describe('RFC 9000 Appendix A.1 examples', () => {
  it('decodes the 8-byte example with the bigint decoder', () => {
    expect(decodeVarintBig(fromHex('c2197c5eff14e88c'))).toEqual({ value: 151288809941952652n, length: 8 });
    expect(toHex(encodeVarintBig(151288809941952652n))).toBe('c2197c5eff14e88c');
  });

  it('rejects the 8-byte example in the number reader (above 2^53 - 1)', () => {
    const r = new ByteReader(fromHex('c2197c5eff14e88c'));
    const err = wireError(() => r.varint());
    expect(err.errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    expect(r.pos).toBe(0);
  });

  it('decodes and encodes the 4-, 2- and 1-byte examples', () => {
    expect(readNumber('9d7f3e7d')).toBe(494878333);
    expect(readNumber('7bbd')).toBe(15293);
    expect(readNumber('25')).toBe(37);
    expect(writeNumber(494878333)).toBe('9d7f3e7d');
    expect(writeNumber(15293)).toBe('7bbd');
    expect(writeNumber(37)).toBe('25');
  });

  it('accepts the non-minimal two-byte encoding of 37', () => {
    const r = new ByteReader(fromHex('4025'));
    expect(r.varint()).toBe(37);
    expect(r.pos).toBe(2);
    expect(decodeVarintBig(fromHex('4025'))).toEqual({ value: 37n, length: 2 });
  });
});

describe('boundaries', () => {
  const cases: [number, string][] = [
    [0, '00'],
    [63, '3f'],
    [64, '4040'],
    [16383, '7fff'],
    [16384, '80004000'],
    [2 ** 30 - 1, 'bfffffff'],
    [2 ** 30, 'c000000040000000'],
    [2 ** 32 + 5, 'c000000100000005'],
    [2 ** 53 - 1, 'c01fffffffffffff'],
  ];
  it.each(cases)('%d <-> %s', (v, hex) => {
    expect(writeNumber(v)).toBe(hex);
    expect(varintSize(v)).toBe(hex.length / 2);
    expect(readNumber(hex)).toBe(v);
    expect(decodeVarintBig(fromHex(hex)).value).toBe(BigInt(v));
    expect(toHex(encodeVarintBig(BigInt(v)))).toBe(hex);
  });

  it('length from the first byte', () => {
    expect([0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff].map(varintLengthFromFirstByte)).toEqual([1, 1, 2, 2, 4, 4, 8, 8]);
  });

  it('2^53 and 2^62 - 1 are varints but not Petrel field values', () => {
    expect(wireError(() => readNumber('c020000000000000')).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    expect(decodeVarintBig(fromHex('c020000000000000')).value).toBe(2n ** 53n);
    expect(decodeVarintBig(fromHex('ffffffffffffffff')).value).toBe(VARINT_MAX_BIG);
    expect(toHex(encodeVarintBig(VARINT_MAX_BIG))).toBe('ffffffffffffffff');
  });

  it('the reader error code follows the reader (packet headers use their own)', () => {
    const r = new ByteReader(fromHex('c020000000000000'), 0, 8, TransportErrorCode.PACKET_ENCODING_ERROR);
    expect(wireError(() => r.varint()).errorCode).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
  });
});

describe('encoder validation', () => {
  it('rejects values outside 0..2^53-1 and non-integers', () => {
    for (const v of [-1, 2 ** 53, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(wireError(() => writeNumber(v)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    }
    expect(wireError(() => encodeVarintBig(-1n)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(wireError(() => encodeVarintBig(VARINT_MAX_BIG + 1n)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
  });

  it('writes a chosen longer size, and refuses a size too small for the value', () => {
    expect(writeNumber(37, 2)).toBe('4025');
    expect(writeNumber(37, 8)).toBe('c000000000000025');
    expect(writeNumber(64, 4)).toBe('80000040');
    expect(wireError(() => writeNumber(64, 1)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
  });

  it('ByteWriter.varint throws BUFFER_TOO_SMALL and leaves pos alone', () => {
    const w = new ByteWriter(new Uint8Array(4), 2);
    expect(wireError(() => w.varint(16384)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
    expect(w.pos).toBe(2);
    w.varint(16383);
    expect(w.pos).toBe(4);
    expect(wireError(() => w.varint(0)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
  });

  it('ByteWriter.varint honours end below the buffer length', () => {
    const w = new ByteWriter(new Uint8Array(16), 0, 3);
    expect(wireError(() => w.varint(2 ** 20)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
    expect(w.buf[0]).toBe(0);
  });

  it('decoders reject truncated input', () => {
    for (const hex of ['', '40', '800000', 'c0000000000000']) {
      expect(wireError(() => readNumber(hex)).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
      expect(wireError(() => decodeVarintBig(fromHex(hex))).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    }
  });
});

describe('properties', () => {
  const field = fc.oneof(
    fc.integer({ min: 0, max: 63 }),
    fc.integer({ min: 0, max: 16383 }),
    fc.integer({ min: 0, max: 2 ** 30 - 1 }),
    fc.maxSafeNat(),
  );

  it('number fields round-trip in minimal form', () => {
    fc.assert(
      fc.property(field, (v) => {
        const buf = new Uint8Array(8);
        const n = writeVarint(buf, 0, v);
        expect(n).toBe(varintSize(v));
        const r = new ByteReader(buf, 0, n);
        expect(r.varint()).toBe(v);
        expect(r.pos).toBe(n);
      }),
      { seed: 1, numRuns: 2000 },
    );
  });

  it('bigint varints round-trip over the whole 62-bit range', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: VARINT_MAX_BIG }), (v) => {
        const enc = encodeVarintBig(v);
        expect(decodeVarintBig(enc)).toEqual({ value: v, length: enc.length });
        // Both codecs agree wherever the number one applies.
        if (v <= BigInt(MAX_FIELD_VALUE)) expect(new ByteReader(enc).varint()).toBe(Number(v));
      }),
      { seed: 2, numRuns: 2000 },
    );
  });
});

interface VarintVector {
  name: string;
  hex: string;
  value?: string;
  minimal?: boolean;
  error?: TransportErrorName;
}

describe('varint vectors (spec/vectors/varint.json)', () => {
  const vectors = JSON.parse(readFileSync(new URL('../../spec/vectors/varint.json', import.meta.url), 'utf8')) as VarintVector[];

  it('has valid and invalid vectors', () => {
    expect(vectors.filter((v) => v.value !== undefined).length).toBeGreaterThanOrEqual(10);
    expect(vectors.filter((v) => v.error !== undefined).length).toBeGreaterThanOrEqual(3);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const bytes = fromHex(v.hex);
    if (v.error !== undefined) {
      const code = TransportErrorCode[v.error];
      expect(wireError(() => decodeVarintBig(bytes)).errorCode).toBe(code);
      expect(wireError(() => new ByteReader(bytes).varint()).errorCode).toBe(code);
      return;
    }
    const value = BigInt(v.value!);
    expect(decodeVarintBig(bytes)).toEqual({ value, length: bytes.length });
    const canonical = toHex(encodeVarintBig(value));
    if (v.minimal === false) expect(canonical.length).toBeLessThan(v.hex.length);
    else expect(canonical).toBe(v.hex);
    if (value <= BigInt(MAX_FIELD_VALUE)) {
      const r = new ByteReader(bytes);
      expect(r.varint()).toBe(Number(value));
      expect(r.pos).toBe(bytes.length);
    } else {
      expect(wireError(() => new ByteReader(bytes).varint()).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    }
  });
});
