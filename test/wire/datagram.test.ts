import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  appendChecksum,
  CRC_LENGTH,
  STATELESS_RESET_MIN,
  statelessResetToken,
  verifyChecksum,
  writeStatelessReset,
  type Crc32,
} from '../../lib/wire/datagram.js';
import { parsePacketHeader } from '../../lib/wire/packet.js';

const crc: Crc32 = (d) => crc32(d);

describe('CRC trailer', () => {
  it('appends the big-endian CRC-32 of the preceding bytes', () => {
    const buf = new Uint8Array(20);
    buf.set(new TextEncoder().encode('123456789'));
    expect(appendChecksum(buf, 9, crc)).toBe(13);
    expect(toHex(buf.subarray(9, 13))).toBe('cbf43926');
    expect(verifyChecksum(buf, 13, crc)).toBe(true);
  });

  it('computes over buf[0, len) only, whatever follows', () => {
    const buf = new Uint8Array(20).fill(0x55);
    buf.set(new TextEncoder().encode('123456789'));
    appendChecksum(buf, 9, crc);
    expect(verifyChecksum(buf, 13, crc)).toBe(true);
    expect(verifyChecksum(buf, 14, crc)).toBe(false);
  });

  it('throws BUFFER_TOO_SMALL when there is no room for the CRC', () => {
    try {
      appendChecksum(new Uint8Array(12), 9, crc);
      expect.unreachable();
    } catch (e) {
      expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
    }
  });

  it('rejects datagrams shorter than the CRC or longer than the buffer', () => {
    expect(verifyChecksum(new Uint8Array(3), 3, crc)).toBe(false);
    expect(verifyChecksum(new Uint8Array(4), 4, crc)).toBe(true); // CRC of nothing is 0
    expect(verifyChecksum(new Uint8Array(4), 5, crc)).toBe(false);
  });

  it('detects every single-bit flip anywhere in a datagram (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), fc.nat(), (body, flip) => {
        const buf = new Uint8Array(body.length + CRC_LENGTH);
        buf.set(body);
        const len = appendChecksum(buf, body.length, crc);
        expect(verifyChecksum(buf, len, crc)).toBe(true);
        const bit = flip % (len * 8);
        buf[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyChecksum(buf, len, crc)).toBe(false);
      }),
      { numRuns: 500, seed: 0x5059 },
    );
  });
});

describe('stateless reset', () => {
  const token = fromHex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf');

  it('is short-header-shaped random bytes, the token, then a valid CRC', () => {
    const random = new Uint8Array(30).fill(0xff);
    const buf = new Uint8Array(100);
    const len = writeStatelessReset(buf, random, token, crc);
    expect(len).toBe(30 + 16 + 4);
    expect(buf[0]).toBe(0x7f); // 0xff forced to 01xxxxxx
    expect(toHex(buf.subarray(1, 30))).toBe('ff'.repeat(29));
    expect(toHex(buf.subarray(30, 46))).toBe(toHex(token));
    expect(verifyChecksum(buf, len, crc)).toBe(true);
    expect(statelessResetToken(buf, len)).toEqual(token);
    // It also parses as a short-header packet, which is the point: it cannot be told apart on the wire.
    expect(parsePacketHeader(buf, 0, len - CRC_LENGTH).form).toBe('short');
  });

  it('has a minimum size of 41 bytes', () => {
    expect(STATELESS_RESET_MIN).toBe(41);
    const buf = new Uint8Array(100);
    const len = writeStatelessReset(buf, new Uint8Array(21), token, crc);
    expect(len).toBe(41);
    expect(statelessResetToken(buf, len)).toEqual(token);
    expect(statelessResetToken(buf, len - 1)).toBeNull();
    expect(() => writeStatelessReset(buf, new Uint8Array(20), token, crc)).toThrow(PetrelWireError);
    expect(() => writeStatelessReset(buf, new Uint8Array(21), token.subarray(1), crc)).toThrow(PetrelWireError);
    expect(() => writeStatelessReset(new Uint8Array(40), new Uint8Array(21), token, crc)).toThrow(PetrelWireError);
  });

  it('long-header datagrams are never resets', () => {
    const buf = new Uint8Array(60).fill(0xc0);
    expect(statelessResetToken(buf, 60)).toBeNull();
    buf[0] = 0x40;
    expect(toHex(statelessResetToken(buf, 60)!)).toBe('c0'.repeat(16));
    expect(statelessResetToken(buf, 60)!.byteOffset).toBe(40);
  });
});
