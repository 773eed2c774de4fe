import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Packr, Unpackr } from 'msgpackr';
import { msgpackCodec, rawCodec, scanMsgpack } from '../../lib/api/codec.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const code = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'untyped';
  }
};

describe('scanMsgpack', () => {
  it('accepts well-formed values and measures nesting by open containers', () => {
    expect(code(() => scanMsgpack(hex('c0'), 0))).toBeNull(); // nil at depth 0
    expect(code(() => scanMsgpack(hex('91 91 91 01'), 3))).toBeNull(); // [[[1]]]: depth 3
    expect(code(() => scanMsgpack(hex('91 91 91 01'), 2))).toBe('DECODE_ERROR');
    expect(code(() => scanMsgpack(hex('81 a1 61 92 01 02'), 2))).toBeNull(); // {a: [1, 2]}
    expect(code(() => scanMsgpack(hex('90'), 0))).toBeNull(); // an empty array opens nothing
    expect(code(() => scanMsgpack(hex('d6 ff 00 00 00 00'), 1))).toBeNull(); // timestamp ext
    expect(code(() => scanMsgpack(hex('d4 00 00'), 1))).toBeNull(); // msgpackr's undefined
    expect(code(() => scanMsgpack(hex('c4 03 01 02 03'), 1))).toBeNull(); // bin 8
  });

  it('rejects truncation, trailing bytes, the unused type, foreign extensions and lying counts', () => {
    expect(code(() => scanMsgpack(hex('92 01'), 4))).toBe('DECODE_ERROR');
    expect(code(() => scanMsgpack(hex('01 02'), 4))).toBe('DECODE_ERROR');
    expect(code(() => scanMsgpack(hex('c1'), 4))).toBe('DECODE_ERROR');
    expect(code(() => scanMsgpack(hex('d4 72 00'), 4))).toBe('DECODE_ERROR'); // msgpackr records ext
    expect(code(() => scanMsgpack(hex('c7 02 65 91 01'), 4))).toBe('DECODE_ERROR'); // Error ext hiding nesting
    expect(code(() => scanMsgpack(hex('dd ff ff ff ff'), 4))).toBe('DECODE_ERROR'); // 4 billion items in 5 bytes
    expect(code(() => scanMsgpack(hex('df 00 00 00 01 01'), 4))).toBe('DECODE_ERROR'); // map of 1 pair, 1 item present
    expect(code(() => scanMsgpack(hex('db 00 00 00 05 61'), 4))).toBe('DECODE_ERROR'); // str 32 longer than the buffer
  });

  it('walks 100,000 levels without recursion', () => {
    const deep = new Uint8Array(100_001).fill(0x91);
    deep[100_000] = 0xc0;
    expect(code(() => scanMsgpack(deep, 100_000))).toBeNull();
    expect(code(() => scanMsgpack(deep, 99_999))).toBe('DECODE_ERROR');
  });

  it('agrees with msgpackr on generated values, and rejects every strict prefix', () => {
    const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
    const plain = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 40 })),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const bytes = packr.pack(v);
        const codec = msgpackCodec({ maxMessageSize: 1 << 20, maxDepth: 64 });
        // The guard never refuses what msgpackr itself produced, and decoding is msgpackr's.
        expect(codec.decode(bytes)).toEqual(plain.unpack(bytes));
        for (let cut = 0; cut < bytes.length; cut++) expect(code(() => scanMsgpack(bytes.subarray(0, cut), 64))).toBe('DECODE_ERROR');
      }),
      { numRuns: 300 },
    );
  });
});

describe('codecs', () => {
  it('msgpack enforces the size limit both ways', () => {
    const c = msgpackCodec({ maxMessageSize: 16, maxDepth: 8 });
    expect(code(() => c.encode('x'.repeat(100)))).toBe('MESSAGE_TOO_LARGE');
    expect(code(() => c.decode(new Uint8Array(17)))).toBe('DECODE_ERROR');
    expect(c.decode(c.encode({ a: [1, 'b'] }))).toEqual({ a: [1, 'b'] });
  });

  it('msgpack does not let a __proto__ key reach the prototype', () => {
    const c = msgpackCodec({ maxMessageSize: 1000, maxDepth: 8 });
    const v = c.decode(hex('81 a9 5f5f70726f746f5f5f 81 a1 78 01')) as Record<string, unknown>; // {"__proto__": {x: 1}}
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('raw passes bytes through and checks size and type', () => {
    const c = rawCodec({ maxMessageSize: 4 });
    const b = new Uint8Array([1, 2, 3]);
    expect(c.decode(c.encode(b))).toBe(b);
    expect(code(() => c.encode(new Uint8Array(5)))).toBe('MESSAGE_TOO_LARGE');
    expect(code(() => c.decode(new Uint8Array(5)))).toBe('DECODE_ERROR');
  });
});
