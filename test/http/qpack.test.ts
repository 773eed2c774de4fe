/** QPACK unit tests: primitives, Huffman (RFC 7541 C.4), the RFC 9204 Appendix B exchange, hostile input, round trips. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../lib/http/errors.js';
import {
  QpackDecoder,
  QpackEncoder,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  STATIC_TABLE,
  latin1Bytes,
  type Field,
} from '../../lib/http/qpack/index.js';
import { ByteSink, readPrefixInt, readStringLiteral, writePrefixInt } from '../../lib/http/qpack/prefix-int.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function httpError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error('expected an HttpError');
}

function huff(s: string): string {
  const raw = latin1Bytes(s);
  const out = new Uint8Array(huffmanEncodedLength(raw));
  expect(huffmanEncode(raw, out, 0)).toBe(out.length);
  return toHex(out);
}

describe('Huffman code (RFC 7541 Appendix B)', () => {
  it("is a complete prefix code with the table's codes", () => {
    let kraft = 0;
    for (let s = 0; s <= 256; s++) kraft += 2 ** -HUFFMAN_LENGTHS[s]!;
    expect(kraft).toBe(1);
    // Spot checks against the table's hex column.
    expect(HUFFMAN_CODES[0]).toBe(0x1ff8);
    expect(HUFFMAN_CODES[1]).toBe(0x7fffd8);
    expect(HUFFMAN_CODES[10]).toBe(0x3ffffffc);
    expect(HUFFMAN_CODES[47]).toBe(0x18);
    expect(HUFFMAN_CODES[92]).toBe(0x7fff0);
    expect(HUFFMAN_CODES[128]).toBe(0xfffe6);
    expect(HUFFMAN_CODES[203]).toBe(0x7ffffde);
    expect(HUFFMAN_CODES[255]).toBe(0x3ffffee);
    expect(HUFFMAN_CODES[256]).toBe(0x3fffffff);
  });

  it('encodes the RFC 7541 C.4 strings', () => {
    expect(huff('www.example.com')).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    expect(huff('no-cache')).toBe('a8eb10649cbf');
    expect(huff('custom-key')).toBe('25a849e95ba97d7f');
    expect(huff('custom-value')).toBe('25a849e95bb8e8b4bf');
  });

  it('rejects EOS, padding longer than 7 bits and padding that is not all ones', () => {
    const dec = (h: string): string | null => {
      const b = hex(h);
      return huffmanDecode(b, 0, b.length, 1000);
    };
    expect(dec('f1e3c2e5f23a6ba0ab90f4ff')).toBe('www.example.com');
    expect(dec('')).toBe('');
    expect(dec('ffffffff')).toBeNull(); // 30 one-bits: EOS
    expect(dec('07')).toBe('0'); // '0' = 00000, then 3 one-bits of padding
    expect(dec('07ff')).toBeNull(); // 11 bits of padding
    expect(dec('00')).toBeNull(); // '0' then 000: padding not ones
    expect(dec('ff')).toBeNull(); // 8 one-bits: padding longer than 7 bits
    expect(huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4ff'), 0, 12, 10)).toBeNull(); // longer than the limit
  });

  it('round-trips any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        const out = new Uint8Array(huffmanEncodedLength(raw));
        huffmanEncode(raw, out, 0);
        const s = huffmanDecode(out, 0, out.length, 1000);
        expect(s).not.toBeNull();
        expect(Uint8Array.from(s!, (c) => c.charCodeAt(0))).toEqual(raw);
      }),
    );
  });
});

describe('prefixed integers (RFC 7541 C.1)', () => {
  it('writes and reads the examples', () => {
    const w = new ByteSink();
    writePrefixInt(w, 0xe0, 5, 10);
    writePrefixInt(w, 0xe0, 5, 1337);
    writePrefixInt(w, 0, 8, 42);
    const b = w.take();
    expect(toHex(b)).toBe('ea' + 'ff9a0a' + '2a');
    const c = { pos: 0, value: 0 };
    readPrefixInt(b, b.length, c, 5, 'QPACK_DECOMPRESSION_FAILED');
    expect(c.value).toBe(10);
    readPrefixInt(b, b.length, c, 5, 'QPACK_DECOMPRESSION_FAILED');
    expect(c.value).toBe(1337);
    readPrefixInt(b, b.length, c, 8, 'QPACK_DECOMPRESSION_FAILED');
    expect(c.value).toBe(42);
  });

  it('reports a truncated integer as need-more and an overlong one as an error', () => {
    const c = { pos: 0, value: 0 };
    expect(readPrefixInt(hex('1f9a'), 2, c, 5, 'QPACK_DECOMPRESSION_FAILED')).toBe(-1);
    expect(c.pos).toBe(0);
    const long = hex('1f' + 'ff'.repeat(9) + '01');
    expect(httpError(() => readPrefixInt(long, long.length, c, 5, 'QPACK_ENCODER_STREAM_ERROR')).code).toBe('QPACK_ENCODER_STREAM_ERROR');
  });

  it('round-trips every prefix size up to 2^53 - 1 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.maxSafeNat(), (bits, v) => {
        const w = new ByteSink();
        writePrefixInt(w, 0, bits, v);
        const b = w.take();
        const c = { pos: 0, value: 0 };
        expect(readPrefixInt(b, b.length, c, bits, 'QPACK_DECOMPRESSION_FAILED')).toBe(b.length);
        expect(c.value).toBe(v);
      }),
    );
  });
});

describe('RFC 9204 Appendix B exchange', () => {
  it('decodes B.1–B.5 and produces the decoder-stream bytes of the RFC', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    expect(STATIC_TABLE).toHaveLength(99);
    // B.1: literal with static name reference.
    expect(d.decodeSection(0, hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'))).toEqual([[':path', '/index.html']]);
    expect(toHex(d.takeDecoderStreamData())).toBe('');
    // B.2: capacity, two inserts, post-base references; the decoder acknowledges stream 4.
    expect(d.encoderStreamData(hex('3fbd01 c00f 7777772e6578616d706c652e636f6d c10c 2f73616d706c652f70617468'))).toEqual([]);
    expect(d.decodeSection(4, hex('0381 10 11'))).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    expect(toHex(d.takeDecoderStreamData())).toBe('84');
    expect(d.tableSize).toBe(106);
    // B.3: speculative insert, acknowledged by an Insert Count Increment.
    d.encoderStreamData(hex('4a 637573746f6d2d6b6579 0c 637573746f6d2d76616c7565'));
    expect(toHex(d.takeDecoderStreamData())).toBe('01');
    expect(d.tableSize).toBe(160);
    // B.4: the section for stream 8 arrives before the Duplicate it needs: blocked, then cancelled.
    expect(d.decodeSection(8, hex('0500 80 c1 81'))).toBeNull();
    expect(d.blockedStreams).toBe(1);
    d.cancelStream(8);
    expect(d.blockedStreams).toBe(0);
    expect(toHex(d.takeDecoderStreamData())).toBe('48');
    // The delayed Duplicate, then B.5: insert with a dynamic name reference, evicting entry 0.
    expect(d.encoderStreamData(hex('02'))).toEqual([]);
    expect(d.tableSize).toBe(217);
    d.encoderStreamData(hex('810d 637573746f6d2d76616c756532'));
    expect(d.tableSize).toBe(215);
    expect(d.insertCount).toBe(5);
    // Entry 0 is gone: a section referencing it fails. RIC 5 (encoded 6), Base 5, relative index 4 → abs 0.
    expect(httpError(() => d.decodeSection(12, hex('0600 84'))).code).toBe('QPACK_DECOMPRESSION_FAILED');
  });

  it('decodes the same B.4 section once its Duplicate arrives (unblocking)', () => {
    const d = new QpackDecoder({ maxTableCapacity: 220 });
    d.encoderStreamData(
      hex('3fbd01 c00f 7777772e6578616d706c652e636f6d c10c 2f73616d706c652f70617468 4a 637573746f6d2d6b6579 0c 637573746f6d2d76616c7565'),
    );
    expect(d.decodeSection(8, hex('0500 80 c1 81'))).toBeNull();
    // Split the Duplicate across two deliveries of an insert to exercise partial instructions.
    const out = d.encoderStreamData(hex('02'));
    expect(out).toEqual([
      {
        streamId: 8,
        fields: [
          [':authority', 'www.example.com'],
          [':path', '/'],
          ['custom-key', 'custom-value'],
        ],
      },
    ]);
    expect(toHex(d.takeDecoderStreamData())).toBe('88');
  });

  it('reassembles encoder-stream instructions split at every byte', () => {
    const bytes = hex(
      '3fbd01 c00f 7777772e6578616d706c652e636f6d c10c 2f73616d706c652f70617468 4a 637573746f6d2d6b6579 0c 637573746f6d2d76616c7565 02',
    );
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = new QpackDecoder({ maxTableCapacity: 220 });
      d.encoderStreamData(bytes.subarray(0, cut));
      d.encoderStreamData(bytes.subarray(cut));
      expect(d.insertCount).toBe(4);
      expect(d.tableSize).toBe(217);
    }
  });
});

describe('QPACK decoder limits against hostile input', () => {
  it('rejects a capacity above our maximum and an entry larger than the capacity', () => {
    expect(httpError(() => new QpackDecoder({ maxTableCapacity: 100 }).encoderStreamData(hex('3f46'))).code).toBe('QPACK_ENCODER_STREAM_ERROR'); // 101
    const d = new QpackDecoder({ maxTableCapacity: 100 });
    d.encoderStreamData(hex('3f21')); // capacity 64
    expect(httpError(() => d.encoderStreamData(hex('c0 21' + '61'.repeat(33)))).code).toBe('QPACK_ENCODER_STREAM_ERROR'); // 32 + 10 + 33 > 64
  });

  it('limits blocked streams to our SETTINGS_QPACK_BLOCKED_STREAMS', () => {
    const d = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 2 });
    expect(d.decodeSection(4, hex('0200 80'))).toBeNull();
    expect(d.decodeSection(8, hex('0200 80'))).toBeNull();
    expect(httpError(() => d.decodeSection(12, hex('0200 80'))).code).toBe('QPACK_DECOMPRESSION_FAILED');
    const none = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 0 });
    expect(httpError(() => none.decodeSection(4, hex('0200 80'))).code).toBe('QPACK_DECOMPRESSION_FAILED');
  });

  it('limits the decoded field-section size and string lengths before buffering them', () => {
    const d = new QpackDecoder({ maxFieldSectionSize: 100 });
    // 3 × ':authority: aaaaaaaaaa' = 3 × (10 + 10 + 32) = 156 > 100.
    const line = '500a' + '61'.repeat(10);
    expect(httpError(() => d.decodeSection(0, hex('0000' + line.repeat(3)))).code).toBe('QPACK_DECOMPRESSION_FAILED');
    const s = new QpackDecoder({ maxStringLength: 1000 });
    // A literal claiming 2^40 bytes fails at once, without waiting for (or allocating) them.
    expect(httpError(() => s.decodeSection(0, hex('0000 507f 8180808080 20'))).message).toMatch(/exceeds the limit/);
    expect(httpError(() => s.encoderStreamData(hex('3f00 c07f 8180808080 20'))).code).toBe('QPACK_ENCODER_STREAM_ERROR');
  });

  it('rejects Huffman garbage, bad indices and impossible prefixes with typed errors', () => {
    const d = new QpackDecoder({ maxTableCapacity: 4096 });
    const cases = [
      '0000 5184 ffffffff', // :path value: Huffman EOS
      '0000 5181 00', // Huffman padding of zeros
      '0000 ff24', // static index 99
      '0000 80', // dynamic reference with Required Insert Count 0
      '0000 10', // post-base reference with Required Insert Count 0
      '0081 c1', // Base below zero
      'ff 7f 00', // encoded Required Insert Count beyond 2 × MaxEntries
      '0000 2f', // truncated literal name length
    ];
    for (const c of cases) expect(httpError(() => d.decodeSection(0, hex(c))).code, c).toBe('QPACK_DECOMPRESSION_FAILED');
    expect(httpError(() => d.encoderStreamData(hex('00'))).code).toBe('QPACK_ENCODER_STREAM_ERROR'); // duplicate of nothing
    expect(httpError(() => new QpackDecoder().encoderStreamData(hex('ff24 00'))).code).toBe('QPACK_ENCODER_STREAM_ERROR');
  });

  it('bounds a partial encoder-stream instruction by the string limit', () => {
    const d = new QpackDecoder({ maxTableCapacity: 100, initialTableCapacity: 100 });
    // Insert with a literal name of 60 bytes (within the limit), delivered in part: held (52 bytes).
    expect(d.encoderStreamData(hex('5f1d' + '61'.repeat(50)))).toEqual([]);
    expect(d.insertCount).toBe(0);
    // The rest of the name, then a value claiming 2^28 bytes: rejected on its length, nothing more is held.
    expect(httpError(() => d.encoderStreamData(hex('61'.repeat(10) + '7f 8080808001'))).code).toBe('QPACK_ENCODER_STREAM_ERROR');
  });
});

describe('QPACK encoder', () => {
  it('parses the decoder stream and rejects what a decoder cannot say', () => {
    const e = new QpackEncoder({ maxTableCapacity: 4096, maxBlockedStreams: 10 });
    e.takeEncoderStreamData();
    const f: Field[] = [
      ['x-custom', 'one'],
      ['x-custom', 'one'],
    ];
    e.encodeSection(4, f);
    e.encodeSection(4, f);
    expect(e.insertCount).toBe(1);
    expect(e.blockedStreamCount).toBe(1);
    e.decoderStreamData(hex('84'));
    expect(e.knownReceivedCount).toBe(1);
    expect(e.blockedStreamCount).toBe(0);
    e.decoderStreamData(hex('84'));
    expect(httpError(() => e.decoderStreamData(hex('84'))).code).toBe('QPACK_DECODER_STREAM_ERROR'); // nothing outstanding
    expect(httpError(() => new QpackEncoder({ maxTableCapacity: 4096, maxBlockedStreams: 1 }).decoderStreamData(hex('00'))).code).toBe(
      'QPACK_DECODER_STREAM_ERROR',
    );
    expect(httpError(() => new QpackEncoder({ maxTableCapacity: 4096, maxBlockedStreams: 1 }).decoderStreamData(hex('02'))).code).toBe(
      'QPACK_DECODER_STREAM_ERROR',
    );
  });

  it('never blocks more streams than allowed and never evicts a referenced entry', () => {
    const e = new QpackEncoder({ maxTableCapacity: 256, maxBlockedStreams: 2 });
    const d = new QpackDecoder({ maxTableCapacity: 256, maxBlockedStreams: 2 });
    d.encoderStreamData(e.takeEncoderStreamData());
    const held: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < 20; i++) {
      const id = i * 4;
      held.push([
        id,
        e.encodeSection(id, [
          ['x-a', `v${i % 3}`],
          ['x-a', `v${i % 3}`],
          ['x-b', 'w'.repeat(i % 5)],
        ]),
      ]);
      expect(e.blockedStreamCount).toBeLessThanOrEqual(2);
    }
    // Deliver the sections first, inserts last: the decoder blocks on at most 2 and all decode exactly.
    const got = new Map<number, Field[]>();
    for (const [id, b] of held) {
      const f = d.decodeSection(id, b);
      if (f) got.set(id, f);
    }
    for (const s of d.encoderStreamData(e.takeEncoderStreamData())) got.set(s.streamId, s.fields);
    expect(got.size).toBe(20);
    for (let i = 0; i < 20; i++) {
      expect(got.get(i * 4)).toEqual([
        ['x-a', `v${i % 3}`],
        ['x-a', `v${i % 3}`],
        ['x-b', 'w'.repeat(i % 5)],
      ]);
    }
  });

  /** Encodes `lists` with immediate acknowledgement, checking every section; returns the encoder stream and encoder. */
  function live(lists: Field[][], opts: ConstructorParameters<typeof QpackEncoder>[0]): { es: Uint8Array[]; e: QpackEncoder } {
    const e = new QpackEncoder(opts);
    const d = new QpackDecoder({ maxTableCapacity: opts.maxTableCapacity, maxBlockedStreams: opts.maxBlockedStreams });
    const es: Uint8Array[] = [];
    lists.forEach((f, i) => {
      const block = e.encodeSection(4 * i, f);
      const ins = e.takeEncoderStreamData();
      es.push(ins);
      d.encoderStreamData(ins);
      expect(d.decodeSection(4 * i, block)).toEqual(f);
      e.decoderStreamData(d.takeDecoderStreamData());
    });
    return { es, e };
  }

  /** Counts Duplicate instructions (000xxxxx) in encoder-stream chunks, stepping over the other instructions. */
  function duplicates(chunks: Uint8Array[]): number {
    let n = 0;
    const E = 'QPACK_ENCODER_STREAM_ERROR' as const;
    for (const buf of chunks) {
      const c = { pos: 0, value: 0 };
      while (c.pos < buf.length) {
        const b = buf[c.pos]!;
        if (b & 0x80) {
          readPrefixInt(buf, buf.length, c, 6, E);
          readStringLiteral(buf, buf.length, c, 7, 1 << 16, E);
        } else if (b & 0x40) {
          readStringLiteral(buf, buf.length, c, 5, 1 << 16, E);
          readStringLiteral(buf, buf.length, c, 7, 1 << 16, E);
        } else if (b & 0x20) readPrefixInt(buf, buf.length, c, 5, E);
        else {
          readPrefixInt(buf, buf.length, c, 5, E);
          n++;
        }
      }
    }
    return n;
  }

  it('duplicates an entry in steady use before it is evicted (and its decoder follows)', () => {
    // A 60-byte value in every section; values that each recur for three sections push it towards eviction.
    const lists: Field[][] = Array.from({ length: 60 }, (_, i) => [
      ['x-hot', 'h'.repeat(60)],
      ['x-seq', `${Math.floor(i / 3)}`.padStart(30, 'q')],
    ]);
    const opts = { maxTableCapacity: 300, maxBlockedStreams: 16 };
    expect(duplicates(live(lists, opts).es)).toBeGreaterThan(0);
    expect(duplicates(live(lists, { ...opts, policy: { drainFraction: 0, keepFor: 0, immediateDuplicate: 0 } }).es)).toBe(0);
  });

  it('keeps its bookkeeping bounded by the table, whatever the fields (values that never repeat)', () => {
    const lists: Field[][] = Array.from({ length: 3000 }, (_, i) => [
      ['x-id', `${i}`],
      ['date', `Mon, ${i} Jan`],
      ['x-new-name-' + (i % 500), 'v'],
      ['user-agent', 'petrel'],
    ]);
    const { e } = live(lists, { maxTableCapacity: 1024, maxBlockedStreams: 4 });
    const inner = e as unknown as Record<string, Map<unknown, unknown> | Set<unknown> | unknown[]>;
    const entries = 1024 / 32;
    for (const k of ['refCount', 'lastUsed', 'offset', 'uses', 'exact', 'byName', 'toDuplicate']) {
      expect((inner[k] as Map<unknown, unknown>).size, k).toBeLessThanOrEqual(entries);
    }
    expect((inner['history'] as unknown[]).length).toBeLessThanOrEqual(4 * entries * 2);
    expect((inner['nameStats'] as Map<unknown, unknown>).size).toBeLessThanOrEqual(1024);
    expect(e.blockedStreamCount).toBe(0);
  });

  it('rejects characters above U+00FF in field values', () => {
    const e = new QpackEncoder({ maxTableCapacity: 0, maxBlockedStreams: 0 });
    expect(httpError(() => e.encodeSection(0, [['x', 'é✓']])).code).toBe('H3_MESSAGE_ERROR');
  });

  const fieldArb = fc.tuple(
    fc.constantFrom(':path', 'x-a', 'x-b', 'cookie', 'user-agent', 'content-type', 'x-long-header-name'),
    fc.oneof(
      fc.constantFrom('', '/', 'v', 'text/css', 'abc'),
      fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x00-\xff]/g, '?')),
    ),
  );

  for (const tableSize of [0, 64, 256, 512, 4096]) {
    it(`round-trips random field lists at table size ${tableSize}, with acks and cancellations (property)`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fieldArb, { maxLength: 12 }), { minLength: 1, maxLength: 25 }),
          fc.integer({ min: 0, max: 3 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1000 }),
          (lists, maxBlocked, acks, seed) => {
            const e = new QpackEncoder({ maxTableCapacity: tableSize, maxBlockedStreams: maxBlocked });
            const d = new QpackDecoder({ maxTableCapacity: tableSize, maxBlockedStreams: maxBlocked });
            let es = e.takeEncoderStreamData();
            lists.forEach((fields, i) => {
              const id = i * 4;
              const block = e.encodeSection(id, fields);
              const newEs = e.takeEncoderStreamData();
              // Sometimes the section overtakes the inserts it needs.
              const late = (seed + i) % 3 === 0;
              if (!late) {
                d.encoderStreamData(concat(es, newEs));
                es = new Uint8Array(0);
              } else es = concat(es, newEs);
              const got = d.decodeSection(id, block);
              const out = got ?? d.encoderStreamData(es).find((s) => s.streamId === id)?.fields;
              if (got === null) es = new Uint8Array(0);
              expect(out).toEqual(fields);
              if (acks) e.decoderStreamData(d.takeDecoderStreamData());
            });
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}
