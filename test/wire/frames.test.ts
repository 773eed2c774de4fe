import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteReader, ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import type { AckRange, Frame, FrameKind } from '../../lib/wire/frame-types.js';
import {
  ackFrameSize,
  cryptoFrameOverhead,
  datagramFrameOverhead,
  decodeFrame,
  decodeFrames,
  encodeFrame,
  frameAllowedIn,
  frameSize,
  frameTypeOf,
  isAckEliciting,
  isProbingFrame,
  maxCryptoDataLength,
  maxStreamDataLength,
  streamFrameOverhead,
  type FrameSpace,
} from '../../lib/wire/frames.js';
import { MAX_FIELD_VALUE, varintSize } from '../../lib/wire/varint.js';

const MAX = MAX_FIELD_VALUE;

function wireError(fn: () => unknown): PetrelWireError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PetrelWireError) return e;
    throw e;
  }
  throw new Error('expected a PetrelWireError');
}

function encode(f: Frame): Uint8Array {
  const w = new ByteWriter(new Uint8Array(frameSize(f) + 16));
  encodeFrame(w, f);
  return w.buf.slice(0, w.pos);
}

const hex = (f: Frame): string => toHex(encode(f));
const b = fromHex;

// -----------------------------------------------------------------------------------------------
// Arbitraries
// -----------------------------------------------------------------------------------------------

/** A field value, spread over every varint length. */
const field = fc.oneof(
  fc.integer({ min: 0, max: 63 }),
  fc.integer({ min: 64, max: 16383 }),
  fc.integer({ min: 16384, max: 2 ** 30 - 1 }),
  fc.integer({ min: 2 ** 30, max: MAX }),
);
const smallish = fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 2 ** 40 }));
const bytes = fc.uint8Array({ maxLength: 80 });
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const ackArb = fc
  .record({
    ackDelay: field,
    lowest: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 2 ** 52 })),
    pairs: fc.array(fc.tuple(smallish, smallish), { minLength: 1, maxLength: 12 }),
    ecn: fc.option(fc.record({ ect0: field, ect1: field, ce: field }), { nil: undefined }),
  })
  .map(({ ackDelay, lowest, pairs, ecn }): Frame => {
    const ascending: AckRange[] = [];
    let next = lowest;
    for (const [gap, len] of pairs) {
      const smallest = ascending.length === 0 ? next : next + gap;
      ascending.push({ smallest, largest: smallest + len });
      next = smallest + len + 2; // at least one missing packet between ranges
    }
    const ranges = ascending.reverse();
    return ecn ? { type: 'ack', ackDelay, ranges, ecn } : { type: 'ack', ackDelay, ranges };
  });

const arbitraries: Record<FrameKind, fc.Arbitrary<Frame>> = {
  padding: fc.integer({ min: 1, max: 100 }).map((length): Frame => ({ type: 'padding', length })),
  ping: fc.constant<Frame>({ type: 'ping' }),
  ack: ackArb,
  reset_stream: fc.record({ streamId: field, errorCode: field, finalSize: field }).map((r): Frame => ({ type: 'reset_stream', ...r })),
  stop_sending: fc.record({ streamId: field, errorCode: field }).map((r): Frame => ({ type: 'stop_sending', ...r })),
  crypto: fc
    .record({ offset: field, data: bytes })
    .map((r): Frame => ({ type: 'crypto', offset: Math.min(r.offset, MAX - r.data.length), data: r.data })),
  new_token: fc.uint8Array({ minLength: 1, maxLength: 80 }).map((token): Frame => ({ type: 'new_token', token })),
  stream: fc
    .record({ streamId: field, offset: field, data: bytes, fin: fc.boolean(), implicitLength: fc.boolean() })
    .map((r): Frame => ({ type: 'stream', ...r, offset: Math.min(r.offset, MAX - r.data.length) })),
  max_data: field.map((maximum): Frame => ({ type: 'max_data', maximum })),
  max_stream_data: fc.record({ streamId: field, maximum: field }).map((r): Frame => ({ type: 'max_stream_data', ...r })),
  max_streams: fc.record({ bidi: fc.boolean(), maximum: field }).map((r): Frame => ({ type: 'max_streams', ...r })),
  data_blocked: field.map((limit): Frame => ({ type: 'data_blocked', limit })),
  stream_data_blocked: fc.record({ streamId: field, limit: field }).map((r): Frame => ({ type: 'stream_data_blocked', ...r })),
  streams_blocked: fc.record({ bidi: fc.boolean(), limit: field }).map((r): Frame => ({ type: 'streams_blocked', ...r })),
  new_connection_id: fc
    .record({ sequence: field, retire: field, connectionId: fc.uint8Array({ minLength: 1, maxLength: 20 }), resetToken: fixed(16) })
    .map((r): Frame => ({
      type: 'new_connection_id',
      sequence: r.sequence,
      retirePriorTo: Math.min(r.retire, r.sequence),
      connectionId: r.connectionId,
      resetToken: r.resetToken,
    })),
  retire_connection_id: field.map((sequence): Frame => ({ type: 'retire_connection_id', sequence })),
  path_challenge: fixed(8).map((data): Frame => ({ type: 'path_challenge', data })),
  path_response: fixed(8).map((data): Frame => ({ type: 'path_response', data })),
  connection_close: fc
    .record({ application: fc.boolean(), errorCode: field, frameType: field, reason: bytes })
    .map((r): Frame => ({ type: 'connection_close', ...r, frameType: r.application ? 0 : r.frameType })),
  handshake_done: fc.constant<Frame>({ type: 'handshake_done' }),
  immediate_ack: fc.constant<Frame>({ type: 'immediate_ack' }),
  datagram: fc.record({ data: bytes, implicitLength: fc.boolean() }).map((r): Frame => ({ type: 'datagram', ...r })),
  ack_frequency: fc
    .record({ sequence: field, ackElicitingThreshold: field, requestMaxAckDelay: field, reorderingThreshold: field })
    .map((r): Frame => ({ type: 'ack_frequency', ...r })),
};
const anyFrame = fc.oneof(...Object.values(arbitraries));

/** Frames that can share one payload: implicit-length frames only last, no two PADDINGs in a row. */
const payloadArb = fc.array(anyFrame, { minLength: 1, maxLength: 8 }).map((frames) => {
  const out: Frame[] = [];
  frames.forEach((f, i) => {
    if (f.type === 'padding' && out[out.length - 1]?.type === 'padding') return;
    if ((f.type === 'stream' || f.type === 'datagram') && i < frames.length - 1) out.push({ ...f, implicitLength: false });
    else out.push(f);
  });
  return out;
});

// -----------------------------------------------------------------------------------------------

describe('encodeFrame: hand-computed encodings', () => {
  it('PADDING writes `length` zero bytes', () => {
    expect(hex({ type: 'padding', length: 3 })).toBe('000000');
  });

  it('STREAM sets OFF only for a non-zero offset, LEN unless implicit, FIN from the frame', () => {
    const data = b('616263');
    expect(hex({ type: 'stream', streamId: 4, offset: 1000, data, fin: true })).toBe('0f0443e803616263');
    expect(hex({ type: 'stream', streamId: 4, offset: 0, data, fin: false })).toBe('0a0403616263');
    expect(hex({ type: 'stream', streamId: 4, offset: 0, data, fin: false, implicitLength: true })).toBe('0804616263');
    expect(hex({ type: 'stream', streamId: 64, offset: 1, data, fin: true, implicitLength: true })).toBe('0d404001616263');
  });

  it('ACK converts descending ranges to Largest / First Range / (Gap, Length) pairs', () => {
    // 10..8, then 5..2 (gap 8 - 5 - 2 = 1, length 3), then 0 (gap 2 - 0 - 2 = 0, length 0).
    const ranges = [
      { smallest: 8, largest: 10 },
      { smallest: 2, largest: 5 },
      { smallest: 0, largest: 0 },
    ];
    expect(hex({ type: 'ack', ackDelay: 5, ranges })).toBe('020a05020201030000');
    expect(hex({ type: 'ack', ackDelay: 5, ranges, ecn: { ect0: 1, ect1: 0, ce: 64 } })).toBe('030a050202010300000100' + '4040');
  });

  it('ACK_FREQUENCY uses the two-byte type 0x40af', () => {
    expect(hex({ type: 'ack_frequency', sequence: 0, ackElicitingThreshold: 9, requestMaxAckDelay: 1000, reorderingThreshold: 0 })).toBe(
      '40af000943e800',
    );
  });

  it('DATAGRAM: 0x31 with a length, 0x30 without', () => {
    expect(hex({ type: 'datagram', data: b('aabb') })).toBe('3102aabb');
    expect(hex({ type: 'datagram', data: b('aabb'), implicitLength: true })).toBe('30aabb');
  });

  it('CONNECTION_CLOSE: the application variant has no Frame Type field', () => {
    const reason = new TextEncoder().encode('bye');
    expect(hex({ type: 'connection_close', application: false, errorCode: 0x0a, frameType: 0x1e, reason })).toBe('1c0a1e03627965');
    expect(hex({ type: 'connection_close', application: true, errorCode: 0x0a, frameType: 0x1e, reason })).toBe('1d0a03627965');
  });

  it('NEW_CONNECTION_ID writes the CID length as one byte', () => {
    const token = b('000102030405060708090a0b0c0d0e0f');
    expect(hex({ type: 'new_connection_id', sequence: 300, retirePriorTo: 2, connectionId: b('abcd'), resetToken: token })).toBe(
      '18412c0202abcd000102030405060708090a0b0c0d0e0f',
    );
  });

  it('encodes at the writer position and touches nothing around the frame', () => {
    const buf = new Uint8Array(10).fill(0xee);
    const w = new ByteWriter(buf, 3);
    encodeFrame(w, { type: 'reset_stream', streamId: 1, errorCode: 2, finalSize: 64 });
    expect(w.pos).toBe(8);
    expect(toHex(buf)).toBe('eeeeee0401024040eeee');
  });
});

describe('encodeFrame: rejects invalid frames with VALUE_OUT_OF_RANGE, writing nothing', () => {
  const token16 = new Uint8Array(16);
  const cases: [string, Frame][] = [
    ['path challenge of 7 bytes', { type: 'path_challenge', data: new Uint8Array(7) }],
    ['path response of 9 bytes', { type: 'path_response', data: new Uint8Array(9) }],
    ['reset token of 15 bytes', { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: b('01'), resetToken: new Uint8Array(15) }],
    ['cid of 21 bytes', { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: new Uint8Array(21), resetToken: token16 }],
    ['empty cid', { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: new Uint8Array(0), resetToken: token16 }],
    ['retire prior to above sequence', { type: 'new_connection_id', sequence: 1, retirePriorTo: 2, connectionId: b('01'), resetToken: token16 }],
    ['ACK without ranges', { type: 'ack', ackDelay: 0, ranges: [] }],
    [
      'ACK ranges ascending',
      {
        type: 'ack',
        ackDelay: 0,
        ranges: [
          { smallest: 0, largest: 1 },
          { smallest: 5, largest: 6 },
        ],
      },
    ],
    [
      'ACK ranges overlapping',
      {
        type: 'ack',
        ackDelay: 0,
        ranges: [
          { smallest: 4, largest: 9 },
          { smallest: 2, largest: 5 },
        ],
      },
    ],
    [
      'ACK ranges adjacent',
      {
        type: 'ack',
        ackDelay: 0,
        ranges: [
          { smallest: 6, largest: 9 },
          { smallest: 2, largest: 5 },
        ],
      },
    ],
    ['ACK range inverted', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 9, largest: 6 }] }],
    ['ACK range negative', { type: 'ack', ackDelay: 0, ranges: [{ smallest: -1, largest: 6 }] }],
    ['ACK delay fractional', { type: 'ack', ackDelay: 1.5, ranges: [{ smallest: 1, largest: 6 }] }],
    ['ACK largest above 2^53-1', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 2 ** 53 }] }],
    ['ECN count negative', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }], ecn: { ect0: 0, ect1: -1, ce: 0 } }],
    ['STREAM offset + length above 2^53-1', { type: 'stream', streamId: 0, offset: MAX, data: b('00'), fin: false }],
    ['STREAM id NaN', { type: 'stream', streamId: Number.NaN, offset: 0, data: b('00'), fin: false }],
    ['CRYPTO offset + length above 2^53-1', { type: 'crypto', offset: MAX - 1, data: b('0000') }],
    ['empty NEW_TOKEN', { type: 'new_token', token: new Uint8Array(0) }],
    ['PADDING of 0 bytes', { type: 'padding', length: 0 }],
    ['MAX_DATA above 2^53-1', { type: 'max_data', maximum: 2 ** 53 }],
    ['MAX_STREAMS negative', { type: 'max_streams', bidi: true, maximum: -5 }],
    ['CONNECTION_CLOSE frame type above 2^53-1', { type: 'connection_close', application: false, errorCode: 0, frameType: 2 ** 60, reason: b('') }],
    [
      'ACK_FREQUENCY threshold infinite',
      { type: 'ack_frequency', sequence: 0, ackElicitingThreshold: Infinity, requestMaxAckDelay: 0, reorderingThreshold: 0 },
    ],
    ['unknown kind', { type: 'bogus' } as unknown as Frame],
  ];
  it.each(cases)('%s', (_name, f) => {
    const buf = new Uint8Array(64).fill(0xee);
    const w = new ByteWriter(buf, 1);
    expect(wireError(() => encodeFrame(w, f)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(wireError(() => frameSize(f)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(w.pos).toBe(1);
    expect(buf.every((x) => x === 0xee)).toBe(true);
  });

  it('an application CONNECTION_CLOSE ignores its frameType instead of failing', () => {
    expect(hex({ type: 'connection_close', application: true, errorCode: 1, frameType: -1, reason: b('') })).toBe('1d0100');
  });
});

describe('encodeFrame: BUFFER_TOO_SMALL', () => {
  it('for every shortfall, throws without writing or moving the writer', () => {
    fc.assert(
      fc.property(anyFrame, fc.nat(), (f, k) => {
        const size = frameSize(f);
        const room = k % size; // 0 .. size - 1
        const buf = new Uint8Array(size + 4).fill(0xee);
        const w = new ByteWriter(buf, 2, 2 + room);
        expect(wireError(() => encodeFrame(w, f)).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
        expect(w.pos).toBe(2);
        expect(buf.every((x) => x === 0xee)).toBe(true);
        // ...and with exactly enough room it fits.
        w.end = 2 + size;
        encodeFrame(w, f);
        expect(w.pos).toBe(2 + size);
      }),
      { seed: 7, numRuns: 1500 },
    );
  });
});

describe('round trip: encode → decode → deep equal, frameSize === bytes written', () => {
  it.each(Object.keys(arbitraries) as FrameKind[])('%s', (kind) => {
    fc.assert(
      fc.property(arbitraries[kind], (f) => {
        const buf = new Uint8Array(frameSize(f) + 8).fill(0xee);
        const w = new ByteWriter(buf, 3, 3 + frameSize(f));
        encodeFrame(w, f);
        expect(w.pos - 3).toBe(frameSize(f));
        const encoded = buf.subarray(3, w.pos);
        if (f.type !== 'padding') expect(new ByteReader(encoded).varint()).toBe(frameTypeOf(f));
        const r = new ByteReader(buf, 3, w.pos);
        const back = decodeFrame(r);
        expect(r.pos).toBe(w.pos);
        expect(back).toEqual(expectedDecoded(f));
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('several frames in one payload', () => {
    fc.assert(
      fc.property(payloadArb, (frames) => {
        const total = frames.reduce((n, f) => n + frameSize(f), 0);
        const w = new ByteWriter(new Uint8Array(total));
        for (const f of frames) encodeFrame(w, f);
        expect(w.pos).toBe(total);
        expect(decodeFrames(w.buf)).toEqual(frames.map(expectedDecoded));
      }),
      { seed: 43, numRuns: 1000 },
    );
  });
});

/** What the decoder yields for `f`: encoder hints made explicit. */
function expectedDecoded(f: Frame): Frame {
  if (f.type === 'stream' || f.type === 'datagram') return { ...f, implicitLength: f.implicitLength === true };
  if (f.type === 'connection_close' && f.application) return { ...f, frameType: 0 };
  return f;
}

describe('decodeFrame', () => {
  it('collapses a run of zero bytes into one PADDING and stops at the next frame', () => {
    expect(decodeFrames(b('00000001 0000 140a'))).toEqual([
      { type: 'padding', length: 3 },
      { type: 'ping' },
      { type: 'padding', length: 2 },
      { type: 'data_blocked', limit: 10 },
    ]);
  });

  it('never reads past r.end: implicit-length frames stop there', () => {
    const buf = b('0800686901ffff');
    const r = new ByteReader(buf, 0, 4);
    expect(decodeFrame(r)).toEqual({ type: 'stream', streamId: 0, offset: 0, data: b('6869'), fin: false, implicitLength: true });
    expect(r.pos).toBe(4);
    const r2 = new ByteReader(b('30aabbcc'), 0, 2);
    expect(decodeFrame(r2)).toEqual({ type: 'datagram', data: b('aa'), implicitLength: true });
    const r3 = new ByteReader(b('0a0405616263646566'), 0, 6);
    expect(wireError(() => decodeFrame(r3)).errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
  });

  it('leaves the reader at the frame start when it rejects', () => {
    const r = new ByteReader(b('01 06 00 05 0102'));
    expect(decodeFrame(r)).toEqual({ type: 'ping' });
    const err = wireError(() => decodeFrame(r));
    expect(err.frameType).toBe(0x06);
    expect(r.pos).toBe(1);
  });

  it('always reports FRAME_ENCODING_ERROR, whatever the reader’s own error code', () => {
    const r = new ByteReader(b('11 04'), 0, 2, TransportErrorCode.PACKET_ENCODING_ERROR);
    const err = wireError(() => decodeFrame(r));
    expect(err.errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    expect(err.frameType).toBe(0x11);
  });

  it('an empty reader is a truncation (frame type 0); an empty payload is no frames', () => {
    const err = wireError(() => decodeFrame(new ByteReader(new Uint8Array(0))));
    expect(err.errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
    expect(err.frameType).toBe(0);
    expect(decodeFrames(new Uint8Array(0))).toEqual([]);
  });

  it('ACK: ranges reaching exactly packet 0 are fine, one below is not', () => {
    // Largest 5, first range 1 (5..4), gap 0 -> 2, length 2 -> 2..0.
    expect(decodeFrames(b('02 05 00 01 01 00 02'))).toEqual([
      {
        type: 'ack',
        ackDelay: 0,
        ranges: [
          { smallest: 4, largest: 5 },
          { smallest: 0, largest: 2 },
        ],
      },
    ]);
    expect(wireError(() => decodeFrames(b('02 05 00 01 01 00 03'))).frameType).toBe(0x02);
  });

  it('ACK: a huge range count fails fast instead of looping', () => {
    const err = wireError(() => decodeFrames(b('02 05 00 c01fffffffffffff 00 00 00')));
    expect(err.errorCode).toBe(TransportErrorCode.FRAME_ENCODING_ERROR);
  });

  it('STREAM: offset + length may reach exactly 2^53 - 1', () => {
    const f = decodeFrames(b('0e 00 c01ffffffffffffe 01 aa'))[0]!;
    expect(f).toMatchObject({ type: 'stream', offset: MAX - 1 });
  });

  it('NEW_CONNECTION_ID: retire prior to equal to sequence is allowed, CID of 20 accepted', () => {
    const f = decodeFrames(b('18 07 07 14' + '11'.repeat(20) + '22'.repeat(16)))[0]!;
    expect(f).toMatchObject({ type: 'new_connection_id', sequence: 7, retirePriorTo: 7 });
  });
});

describe('size helpers', () => {
  it('streamFrameOverhead', () => {
    expect(streamFrameOverhead(0, 0, 10, true)).toBe(3);
    expect(streamFrameOverhead(0, 0, 10, false)).toBe(2);
    expect(streamFrameOverhead(64, 16384, 64, true)).toBe(1 + 2 + 4 + 2);
    expect(wireError(() => streamFrameOverhead(0, MAX, 1, false)).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
  });

  it('cryptoFrameOverhead and datagramFrameOverhead', () => {
    expect(cryptoFrameOverhead(0, 1200)).toBe(1 + 1 + 2);
    expect(cryptoFrameOverhead(2 ** 30, 1)).toBe(1 + 8 + 1);
    expect(datagramFrameOverhead(1200, true)).toBe(3);
    expect(datagramFrameOverhead(1200, false)).toBe(1);
    expect(datagramFrameOverhead(20, true)).toBe(2);
  });

  it('ackFrameSize matches hand counts and frameSize', () => {
    const ranges = [
      { smallest: 8, largest: 10 },
      { smallest: 2, largest: 5 },
    ];
    expect(ackFrameSize(5, ranges)).toBe(7);
    expect(ackFrameSize(5, ranges, { ect0: 1, ect1: 2, ce: 300 })).toBe(11);
    expect(ackFrameSize(1000, [{ smallest: 0, largest: 70000 }])).toBe(1 + 4 + 2 + 1 + 4);
  });

  it('maxStreamDataLength handles the Length field growing at 64 bytes', () => {
    // Type + id(0) = 2 bytes. With 66 bytes: 63 data + 1-byte length; 64 data would need 2 + 2 + 64 = 68.
    expect(maxStreamDataLength(0, 0, 66, true)).toBe(63);
    expect(maxStreamDataLength(0, 0, 67, true)).toBe(63);
    expect(maxStreamDataLength(0, 0, 68, true)).toBe(64);
    expect(maxStreamDataLength(0, 0, 66, false)).toBe(64);
    expect(maxStreamDataLength(0, 0, 3, true)).toBe(0);
    expect(maxStreamDataLength(0, 0, 2, true)).toBe(-1);
    expect(maxStreamDataLength(0, 0, 2, false)).toBe(0);
    expect(maxStreamDataLength(0, 0, 1, false)).toBe(-1);
    expect(maxStreamDataLength(0, MAX - 3, 100, false)).toBe(3);
    expect(maxCryptoDataLength(0, 1200)).toBe(1200 - 1 - 1 - 2);
    expect(maxCryptoDataLength(0, 2)).toBe(-1);
  });

  it('maxStreamDataLength is the largest length that fits (property)', () => {
    fc.assert(
      fc.property(field, field, fc.integer({ min: 0, max: 70000 }), fc.boolean(), (id, off, space, withLength) => {
        const offset = Math.min(off, MAX - 100000);
        const n = maxStreamDataLength(id, offset, space, withLength);
        const size = (len: number) => streamFrameOverhead(id, offset, len, withLength) + len;
        if (n < 0) {
          expect(size(0)).toBeGreaterThan(space);
        } else {
          expect(size(n)).toBeLessThanOrEqual(space);
          expect(size(n + 1)).toBeGreaterThan(space);
        }
      }),
      { seed: 5, numRuns: 3000 },
    );
  });

  it('maxCryptoDataLength is the largest length that fits (property)', () => {
    fc.assert(
      fc.property(field, fc.integer({ min: 0, max: 70000 }), (off, space) => {
        const offset = Math.min(off, MAX - 100000);
        const n = maxCryptoDataLength(offset, space);
        const size = (len: number) => cryptoFrameOverhead(offset, len) + len;
        if (n < 0) expect(size(0)).toBeGreaterThan(space);
        else {
          expect(size(n)).toBeLessThanOrEqual(space);
          expect(size(n + 1)).toBeGreaterThan(space);
        }
      }),
      { seed: 6, numRuns: 2000 },
    );
  });

  it('frameSize agrees with varint arithmetic for ACK_FREQUENCY', () => {
    const f: Frame = { type: 'ack_frequency', sequence: 2 ** 40, ackElicitingThreshold: 1, requestMaxAckDelay: 25000, reorderingThreshold: 3 };
    expect(frameSize(f)).toBe(2 + varintSize(2 ** 40) + 1 + 4 + 1);
  });
});

describe('classification', () => {
  const z8 = new Uint8Array(8);
  const samples: Record<FrameKind, Frame> = {
    padding: { type: 'padding', length: 1 },
    ping: { type: 'ping' },
    ack: { type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] },
    reset_stream: { type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 0 },
    stop_sending: { type: 'stop_sending', streamId: 0, errorCode: 0 },
    crypto: { type: 'crypto', offset: 0, data: z8 },
    new_token: { type: 'new_token', token: z8 },
    stream: { type: 'stream', streamId: 0, offset: 0, data: z8, fin: false },
    max_data: { type: 'max_data', maximum: 0 },
    max_stream_data: { type: 'max_stream_data', streamId: 0, maximum: 0 },
    max_streams: { type: 'max_streams', bidi: true, maximum: 0 },
    data_blocked: { type: 'data_blocked', limit: 0 },
    stream_data_blocked: { type: 'stream_data_blocked', streamId: 0, limit: 0 },
    streams_blocked: { type: 'streams_blocked', bidi: false, limit: 0 },
    new_connection_id: { type: 'new_connection_id', sequence: 0, retirePriorTo: 0, connectionId: z8, resetToken: new Uint8Array(16) },
    retire_connection_id: { type: 'retire_connection_id', sequence: 0 },
    path_challenge: { type: 'path_challenge', data: z8 },
    path_response: { type: 'path_response', data: z8 },
    connection_close: { type: 'connection_close', application: false, errorCode: 0, frameType: 0, reason: z8 },
    handshake_done: { type: 'handshake_done' },
    immediate_ack: { type: 'immediate_ack' },
    datagram: { type: 'datagram', data: z8 },
    ack_frequency: { type: 'ack_frequency', sequence: 0, ackElicitingThreshold: 1, requestMaxAckDelay: 0, reorderingThreshold: 0 },
  };
  const appClose: Frame = { type: 'connection_close', application: true, errorCode: 0, frameType: 0, reason: z8 };

  // Packet kinds per RFC 9000 Table 3 (I = Initial, H = Handshake, 0 = 0-RTT, 1 = 1-RTT), extensions 1-RTT (+0-RTT for DATAGRAM).
  const table: Record<FrameKind, string> = {
    padding: 'IH01',
    ping: 'IH01',
    ack: 'IH_1',
    reset_stream: '__01',
    stop_sending: '__01',
    crypto: 'IH_1',
    new_token: '___1',
    stream: '__01',
    max_data: '__01',
    max_stream_data: '__01',
    max_streams: '__01',
    data_blocked: '__01',
    stream_data_blocked: '__01',
    streams_blocked: '__01',
    new_connection_id: '__01',
    retire_connection_id: '___1',
    path_challenge: '__01',
    path_response: '___1',
    connection_close: 'IH01',
    handshake_done: '___1',
    immediate_ack: '___1',
    datagram: '__01',
    ack_frequency: '___1',
  };
  const spaces: FrameSpace[] = ['initial', 'handshake', '0rtt', '1rtt'];
  const row = (f: Frame) => spaces.map((s, i) => (frameAllowedIn(f, s) ? 'IH01'[i] : '_')).join('');

  it.each(Object.keys(samples) as FrameKind[])('frameAllowedIn: %s', (kind) => {
    expect(row(samples[kind])).toBe(table[kind]);
  });

  it('frameAllowedIn: application CONNECTION_CLOSE (0x1d) only in 0-RTT and 1-RTT', () => {
    expect(row(appClose)).toBe('__01');
  });

  it('isAckEliciting: all but ACK, PADDING, CONNECTION_CLOSE', () => {
    const non = (Object.keys(samples) as FrameKind[]).filter((k) => !isAckEliciting(samples[k]));
    expect(non.sort()).toEqual(['ack', 'connection_close', 'padding']);
    expect(isAckEliciting(appClose)).toBe(false);
  });

  it('isProbingFrame: PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID, PADDING', () => {
    const probing = (Object.keys(samples) as FrameKind[]).filter((k) => isProbingFrame(samples[k]));
    expect(probing.sort()).toEqual(['new_connection_id', 'padding', 'path_challenge', 'path_response']);
  });

  it('frameTypeOf gives the wire type', () => {
    expect(frameTypeOf(samples.stream)).toBe(0x0a);
    expect(frameTypeOf({ ...samples.stream, offset: 1, fin: true, implicitLength: true } as Frame)).toBe(0x0d);
    expect(frameTypeOf({ ...samples.ack, ecn: { ect0: 0, ect1: 0, ce: 0 } } as Frame)).toBe(0x03);
    expect(frameTypeOf(appClose)).toBe(0x1d);
    expect(frameTypeOf(samples.streams_blocked)).toBe(0x17);
    expect(frameTypeOf(samples.ack_frequency)).toBe(0xaf);
    expect(frameTypeOf(samples.datagram)).toBe(0x31);
  });
});
