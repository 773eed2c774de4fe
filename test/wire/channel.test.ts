import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteWriter, toHex } from '../../lib/wire/buffer.js';
import {
  channelDatagramHeaderSize,
  decodeChannelDatagram,
  decodeControlMessage,
  encodeChannelDatagram,
  encodeChannelDeclaration,
  encodeStreamMessageHeader,
  encodeStreamPreamble,
  fragmentMessage,
  MAX_CHANNEL_ID,
  MAX_DATAGRAM_MESSAGE_SIZE,
  MAX_FRAGMENTS,
  maxChannelFragmentPayload,
  readStreamPreamble,
  StreamMessageParser,
  type ChannelDatagramHeader,
  type ChannelMode,
  type StreamPreamble,
} from '../../lib/wire/channel.js';

function writer(size = 4096): ByteWriter {
  return new ByteWriter(new Uint8Array(size));
}
const written = (w: ByteWriter) => w.buf.slice(0, w.pos);

function channelErr(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelWireError);
    expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.CHANNEL_ENCODING_ERROR);
    return;
  }
  expect.unreachable('no error');
}

const headerArb: fc.Arbitrary<ChannelDatagramHeader> = fc.oneof(
  fc.constant<ChannelDatagramHeader>({ kind: 'raw' }),
  fc
    .record({
      channelId: fc.integer({ min: 0, max: MAX_CHANNEL_ID }),
      sequence: fc.option(fc.maxSafeNat(), { nil: undefined }),
      fragment: fc.option(
        fc
          .record({ messageId: fc.maxSafeNat(), count: fc.integer({ min: 2, max: MAX_FRAGMENTS }), at: fc.nat() })
          .map(({ messageId, count, at }) => ({ messageId, count, index: at % count })),
        { nil: undefined },
      ),
    })
    .map((r) => {
      const h: ChannelDatagramHeader = { kind: 'channel', channelId: r.channelId };
      if (r.sequence !== undefined) h.sequence = r.sequence;
      if (r.fragment !== undefined) h.fragment = r.fragment;
      return h;
    }),
);

describe('channel datagrams', () => {
  it('lays out kind | channel | sequence | message id, index, count | payload', () => {
    const w = writer();
    encodeChannelDatagram(w, { kind: 'channel', channelId: 64, sequence: 300, fragment: { messageId: 7, index: 2, count: 3 } }, Uint8Array.of(0xff));
    // 07 = CHANNEL | SEQUENCED | FRAGMENT; 64 -> 4040; 300 -> 412c
    expect(toHex(written(w))).toBe('07' + '4040' + '412c' + '07' + '02' + '03' + 'ff');
    const w2 = writer();
    encodeChannelDatagram(w2, { kind: 'raw' }, Uint8Array.of(1, 2));
    expect(toHex(written(w2))).toBe('000102');
  });

  it('rejects invalid headers on encode', () => {
    channelErr(() => encodeChannelDatagram(writer(), { kind: 'channel', channelId: MAX_CHANNEL_ID + 1 }, new Uint8Array(0)));
    channelErr(() =>
      encodeChannelDatagram(writer(), { kind: 'channel', channelId: 1, fragment: { messageId: 0, index: 2, count: 2 } }, new Uint8Array(0)),
    );
    channelErr(() =>
      encodeChannelDatagram(writer(), { kind: 'channel', channelId: 1, fragment: { messageId: 0, index: 0, count: 257 } }, new Uint8Array(0)),
    );
    channelErr(() => encodeChannelDatagram(writer(), { kind: 'channel', channelId: 1, sequence: -1 }, new Uint8Array(0)));
  });

  it('round-trips any header and payload; header size is exact (property)', () => {
    fc.assert(
      fc.property(headerArb, fc.uint8Array({ maxLength: 200 }), (h, payload) => {
        const w = writer();
        encodeChannelDatagram(w, h, payload);
        expect(w.pos).toBe(channelDatagramHeaderSize(h) + payload.length);
        const d = decodeChannelDatagram(written(w));
        expect(d).toEqual({ ...h, payload });
      }),
      { numRuns: 1000, seed: 0x505c },
    );
  });
});

describe('fragment planning', () => {
  it('sends a message that fits unfragmented', () => {
    // header: kind + channel 5 = 2 bytes
    expect(fragmentMessage(98, 100, { channelId: 5, messageId: 0 })).toEqual({ count: 1, fragmentSize: 98 });
    expect(fragmentMessage(0, 100, { channelId: 5, messageId: 0 })).toEqual({ count: 1, fragmentSize: 0 });
  });

  it('budgets 2 bytes each for index and count', () => {
    // 1 kind + 1 channel + 1 sequence + 1 message id + 2 + 2 = 8
    expect(maxChannelFragmentPayload(100, { channelId: 5, sequence: 1, messageId: 3 })).toBe(92);
    // 99 bytes do not fit 2 + 99 > 100: two fragments of 50 and 49
    expect(fragmentMessage(99, 100, { channelId: 5, messageId: 0 })).toEqual({ count: 2, fragmentSize: 50 });
  });

  it('refuses messages above the limits', () => {
    channelErr(() => fragmentMessage(MAX_DATAGRAM_MESSAGE_SIZE + 1, 1_000_000, { channelId: 0, messageId: 0 }));
    // 100-byte datagrams carry 100 - (1 + 1 + 1 + 2 + 2) = 93 bytes per fragment: 256 fragments hold 23808 bytes
    expect(fragmentMessage(93 * 256, 100, { channelId: 0, messageId: 0 })).toEqual({ count: 256, fragmentSize: 93 });
    channelErr(() => fragmentMessage(93 * 256 + 1, 100, { channelId: 0, messageId: 0 }));
    channelErr(() => fragmentMessage(10, 6, { channelId: 0, messageId: 0 }));
  });

  it('plans fragments that cover the message and fit the datagram (property)', () => {
    const w = writer(2000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30_000 }),
        fc.integer({ min: 40, max: 1400 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.nat(),
        (len, max, channelId, sequence, messageId) => {
          const header = { channelId, sequence, messageId };
          let plan: { count: number; fragmentSize: number };
          try {
            plan = fragmentMessage(len, max, header);
          } catch (e) {
            expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.CHANNEL_ENCODING_ERROR);
            expect(Math.ceil(len / maxChannelFragmentPayload(max, header))).toBeGreaterThan(MAX_FRAGMENTS);
            return;
          }
          const message = new Uint8Array(len).map((_, i) => i * 7);
          const joined = new Uint8Array(len);
          let at = 0;
          for (let i = 0; i < plan.count; i++) {
            const h: ChannelDatagramHeader = { kind: 'channel', channelId };
            if (sequence !== undefined) h.sequence = sequence;
            if (plan.count > 1) h.fragment = { messageId, index: i, count: plan.count };
            const chunk = message.subarray(i * plan.fragmentSize, Math.min(len, (i + 1) * plan.fragmentSize));
            if (plan.count > 1 && chunk.length === 0) throw new Error(`fragment ${i} of ${plan.count} is empty`);
            w.reset(w.buf);
            encodeChannelDatagram(w, h, chunk);
            if (w.pos > max) throw new Error(`fragment ${i} takes ${w.pos} > ${max} bytes`);
            const d = decodeChannelDatagram(w.buf.subarray(0, w.pos));
            joined.set(d.payload, at);
            at += d.payload.length;
          }
          expect(at).toBe(len);
          expect(Buffer.compare(joined, message)).toBe(0);
        },
      ),
      { numRuns: 300, seed: 0x505d },
    );
  });
});

describe('stream preamble', () => {
  it('encodes and reads every kind', () => {
    const cases: [StreamPreamble, string][] = [
      [{ kind: 'raw' }, '00'],
      [{ kind: 'control' }, '03'],
      [{ kind: 'ordered', channelId: 5 }, '0105'],
      [{ kind: 'unordered', channelId: 291 }, '024123'],
    ];
    for (const [p, hex] of cases) {
      const w = writer();
      encodeStreamPreamble(w, p);
      expect(toHex(written(w))).toBe(hex);
      expect(readStreamPreamble(written(w))).toEqual({ preamble: p, length: hex.length / 2 });
    }
  });

  it('returns null until the channel id is complete, and ignores what follows', () => {
    expect(readStreamPreamble(new Uint8Array(0))).toBeNull();
    expect(readStreamPreamble(Uint8Array.of(0x01))).toBeNull();
    expect(readStreamPreamble(Uint8Array.of(0x01, 0x80, 0, 0))).toBeNull();
    expect(readStreamPreamble(Uint8Array.of(0x01, 0x80, 0, 0, 9, 0xaa))).toEqual({ preamble: { kind: 'ordered', channelId: 9 }, length: 5 });
    channelErr(() => readStreamPreamble(Uint8Array.of(0x04)));
  });
});

describe('StreamMessageParser', () => {
  it('splits length-prefixed messages, including empty ones', () => {
    const p = new StreamMessageParser();
    const out = p.push(Uint8Array.of(3, 0x61, 0x62, 0x63, 0, 2, 0x64));
    expect(out.map(toHex)).toEqual(['616263', '']);
    expect(p.atBoundary).toBe(false);
    expect(p.push(Uint8Array.of(0x65)).map(toHex)).toEqual(['6465']);
    expect(p.atBoundary).toBe(true);
    p.finish();
  });

  it('returns copies, not views of the pushed chunk', () => {
    const chunk = Uint8Array.of(2, 7, 8);
    const [m] = new StreamMessageParser().push(chunk);
    chunk[1] = 0;
    expect(toHex(m!)).toBe('0708');
  });

  it('enforces the maximum message size as soon as the length is known', () => {
    const p = new StreamMessageParser(4);
    expect(p.push(Uint8Array.of(4, 1, 2, 3, 4)).length).toBe(1);
    expect(p.push(Uint8Array.of(0x40))).toEqual([]); // first byte of a 2-byte length
    channelErr(() => p.push(Uint8Array.of(0x05)));
  });

  it('finish() rejects a stream that ends inside a length or a message', () => {
    const a = new StreamMessageParser();
    a.push(Uint8Array.of(0x40));
    channelErr(() => a.finish());
    const b = new StreamMessageParser();
    b.push(Uint8Array.of(3, 1));
    channelErr(() => b.finish());
  });

  it('rejects a length above 2^53 - 1', () => {
    channelErr(() => new StreamMessageParser(Number.MAX_SAFE_INTEGER).push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)));
  });

  it('delivers the same messages however the byte stream is chunked (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20_000 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 30 }),
        (messages, cuts) => {
          const w = writer(300_000);
          for (const m of messages) {
            encodeStreamMessageHeader(w, m.length);
            w.bytes(m);
          }
          const stream = written(w);
          const p = new StreamMessageParser(20_000);
          const got: Uint8Array[] = [];
          let at = 0;
          let c = 0;
          while (at < stream.length) {
            const n = cuts[c++ % cuts.length]!;
            got.push(...p.push(stream.subarray(at, at + n)));
            at += n;
          }
          p.finish();
          expect(got).toEqual(messages);
        },
      ),
      { numRuns: 200, seed: 0x505e },
    );
  });
});

describe('channel declarations', () => {
  const modes: ChannelMode[] = ['unreliable', 'unreliable-sequenced', 'reliable-ordered', 'reliable-unordered'];

  it('frames DECLARE as length | 01 | id | mode | name', () => {
    const w = writer();
    encodeChannelDeclaration(w, { channelId: 5, mode: 'unreliable', name: 'move' });
    expect(toHex(written(w))).toBe('07' + '01' + '05' + '00' + '6d6f7665');
  });

  it('rejects empty, oversized and ill-formed names and unknown modes', () => {
    channelErr(() => encodeChannelDeclaration(writer(), { channelId: 1, mode: 'unreliable', name: '' }));
    channelErr(() => encodeChannelDeclaration(writer(), { channelId: 1, mode: 'unreliable', name: 'x'.repeat(256) }));
    channelErr(() => encodeChannelDeclaration(writer(), { channelId: 1, mode: 'bogus' as ChannelMode, name: 'x' }));
    expect(() => encodeChannelDeclaration(writer(), { channelId: 1, mode: 'unreliable', name: 'x'.repeat(255) })).not.toThrow();
  });

  it('round-trips through the control stream (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            channelId: fc.integer({ min: 0, max: MAX_CHANNEL_ID }),
            mode: fc.constantFrom(...modes),
            name: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
          }),
          { maxLength: 10 },
        ),
        (decls) => {
          const w = writer(20_000);
          encodeStreamPreamble(w, { kind: 'control' });
          for (const d of decls) encodeChannelDeclaration(w, d);
          const bytes = written(w);
          const pre = readStreamPreamble(bytes)!;
          expect(pre.preamble).toEqual({ kind: 'control' });
          const msgs = new StreamMessageParser().push(bytes.subarray(pre.length));
          // Compared as JSON: vitest's deep equality is very slow on astral-plane strings.
          const got = JSON.stringify(msgs.map((m) => decodeControlMessage(m)));
          if (got !== JSON.stringify(decls)) throw new Error(`declarations differ: ${got}`);
        },
      ),
      { numRuns: 500, seed: 0x505f },
    );
  });
});
