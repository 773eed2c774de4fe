import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { decodePacketNumber, encodePacketNumber, MAX_PACKET_NUMBER } from '../../lib/wire/packet-number.js';

describe('encodePacketNumber', () => {
  it('RFC 9000 A.2: 0xac5c02 after 0xabe8b3 uses 2 bytes, 0xace8fe uses 3', () => {
    expect(encodePacketNumber(0xac5c02, 0xabe8b3)).toEqual({ truncated: 0x5c02, length: 2 });
    expect(encodePacketNumber(0xace8fe, 0xabe8b3)).toEqual({ truncated: 0xace8fe, length: 3 });
  });

  it('switches length where the unacknowledged range reaches half the window', () => {
    expect(encodePacketNumber(126, -1).length).toBe(1); // 127 unacked
    expect(encodePacketNumber(127, -1).length).toBe(2); // 128 unacked
    expect(encodePacketNumber(10 + 0x7fff, 10).length).toBe(2);
    expect(encodePacketNumber(10 + 0x8000, 10).length).toBe(3);
    expect(encodePacketNumber(0x7fffff, 0).length).toBe(3);
    expect(encodePacketNumber(0x800000, 0).length).toBe(4);
  });

  it('truncates numbers above 2^32 without 32-bit arithmetic', () => {
    expect(encodePacketNumber(2 ** 40 + 0x1234, 2 ** 40 + 0x1200)).toEqual({ truncated: 0x34, length: 1 });
    expect(encodePacketNumber(2 ** 52 + 0xabcdef, 2 ** 52)).toEqual({ truncated: 0xabcdef, length: 4 });
  });

  it('rejects a number not above the largest acknowledged, too far ahead, or out of range', () => {
    for (const [pn, acked] of [
      [5, 5],
      [5, 6],
      [2 ** 31, 0],
      [-1, -1],
      [1.5, -1],
      [MAX_PACKET_NUMBER + 1, MAX_PACKET_NUMBER - 1],
      [3, -2],
    ] as const) {
      try {
        encodePacketNumber(pn, acked);
        expect.unreachable(`${pn}/${acked}`);
      } catch (e) {
        expect(e).toBeInstanceOf(PetrelWireError);
        expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
      }
    }
  });
});

describe('decodePacketNumber', () => {
  it('RFC 9000 A.3: 0x9b32 after 0xa82f30ea is 0xa82f9b32', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32);
  });

  it('moves across window boundaries both ways', () => {
    expect(decodePacketNumber(0xff, 0x01, 8)).toBe(0x101);
    expect(decodePacketNumber(0x1f0, 0x05, 8)).toBe(0x205);
    expect(decodePacketNumber(0x205, 0xf0, 8)).toBe(0x1f0);
    // Never below zero: early in a space a large truncated value is taken as is.
    expect(decodePacketNumber(1, 0xff, 8)).toBe(0xff);
    expect(decodePacketNumber(-1, 0, 8)).toBe(0);
  });

  it('does not go above 2^53 - 1', () => {
    expect(decodePacketNumber(MAX_PACKET_NUMBER - 1, 0x00, 8)).toBe(MAX_PACKET_NUMBER - 0xff);
  });
});

describe('packet number round trip (property)', () => {
  it('decoding what was encoded, with the receiver anywhere in the unacknowledged range, gives the original', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: 2 ** 50 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (largestAcked, distance, where) => {
          const fullPn = largestAcked + distance;
          const { truncated, length } = encodePacketNumber(fullPn, largestAcked);
          expect(truncated).toBeLessThan(2 ** (8 * length));
          // The receiver's largest may be anything from the largest acked up to just below this packet,
          // or even past it (reordering); all must decode correctly within half a window.
          const largestReceived = largestAcked + Math.floor(where * (distance - 1));
          expect(decodePacketNumber(largestReceived, truncated, 8 * length)).toBe(fullPn);
        },
      ),
      { numRuns: 2000, seed: 0x5054 },
    );
  });

  it('a packet arriving late decodes while it is within half a window of the next expected number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(1, 2, 3, 4), fc.nat(), (pn, len, back) => {
        const win = 2 ** (8 * len);
        const largestReceived = pn + (back % (win / 2 - 1));
        expect(decodePacketNumber(largestReceived, pn % win, 8 * len)).toBe(pn);
      }),
      { numRuns: 2000, seed: 0x5055 },
    );
  });
});
