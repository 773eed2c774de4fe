import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  CID_LENGTH,
  keyPhase,
  MIN_PN_AND_PAYLOAD,
  packetNumberLength,
  parsePacketHeader,
  patchLongHeaderLength,
  PETREL_VERSION,
  protectedFirstByteBits,
  readPacketNumber,
  reservedBitsClear,
  retryPseudoPacket,
  writeLongHeader,
  writeRetry,
  writeShortHeader,
  writeVersionNegotiation,
  type LongHeaderFields,
  type PacketNumberLength,
} from '../../lib/wire/packet.js';

function codeOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof PetrelWireError) return e.errorCode;
    throw e;
  }
  return undefined;
}

const DCID = fromHex('0001020304050607');
const SCID = fromHex('a0a1a2a3a4a5a6a7');

describe('long header', () => {
  it('lays out an Initial byte by byte', () => {
    const buf = new Uint8Array(64);
    const r = writeLongHeader(buf, 0, {
      type: 'initial',
      version: PETREL_VERSION,
      dcid: DCID,
      scid: SCID,
      token: fromHex('deadbeef'),
      pnLength: 2,
      truncatedPn: 0x1234,
    });
    // c1 = long | fixed | type 00 | reserved 00 | pn length 2 - 1
    expect(toHex(buf.subarray(0, r.payloadOffset))).toBe(
      'c1' + '50540001' + '08' + toHex(DCID) + '08' + toHex(SCID) + '04deadbeef' + '4000' + '1234',
    );
    expect(r).toEqual({ lengthOffset: 28, pnOffset: 30, payloadOffset: 32 });
    patchLongHeaderLength(buf, r.lengthOffset, 0x1234 & 0x3fff);
    expect(toHex(buf.subarray(28, 30))).toBe('5234');
  });

  it('encodes the type in bits 4-5 and the pn length in bits 0-1', () => {
    const buf = new Uint8Array(40);
    const first = (type: LongHeaderFields['type'], pnLength: PacketNumberLength) => {
      writeLongHeader(buf, 0, { type, version: PETREL_VERSION, dcid: DCID, scid: SCID, pnLength, truncatedPn: 0 });
      return buf[0];
    };
    expect(first('initial', 1)).toBe(0xc0);
    expect(first('0rtt', 4)).toBe(0xd3);
    expect(first('handshake', 3)).toBe(0xe2);
  });

  it('writes at an offset (coalescing) and parses back with end = pnOffset + Length', () => {
    const buf = new Uint8Array(200);
    const a = writeLongHeader(buf, 0, { type: 'initial', version: PETREL_VERSION, dcid: DCID, scid: SCID, pnLength: 1, truncatedPn: 9 });
    patchLongHeaderLength(buf, a.lengthOffset, 1 + 30);
    const secondStart = a.pnOffset + 31;
    const b = writeLongHeader(buf, secondStart, {
      type: 'handshake',
      version: PETREL_VERSION,
      dcid: DCID,
      scid: SCID,
      pnLength: 4,
      truncatedPn: 0xfffffffe,
    });
    patchLongHeaderLength(buf, b.lengthOffset, 4 + 20);
    const s = writeShortHeader(buf, b.pnOffset + 24, { dcid: DCID, keyPhase: false, spin: false, pnLength: 1, truncatedPn: 3 });
    const end = s.payloadOffset + 10;

    const h1 = parsePacketHeader(buf, 0, end);
    expect(h1.form === 'long' && h1.type).toBe('initial');
    expect(h1.end).toBe(secondStart);
    const h2 = parsePacketHeader(buf, h1.end, end);
    expect(h2.form === 'long' && h2.type).toBe('handshake');
    expect(h2.form === 'long' && readPacketNumber(buf, h2.pnOffset, packetNumberLength(h2.firstByte))).toBe(0xfffffffe);
    const h3 = parsePacketHeader(buf, h2.end, end);
    expect(h3.form).toBe('short');
    expect(h3.end).toBe(end);
  });

  it('rejects bad writer inputs', () => {
    const buf = new Uint8Array(100);
    const base: LongHeaderFields = { type: 'handshake', version: PETREL_VERSION, dcid: DCID, scid: SCID, pnLength: 1, truncatedPn: 0 };
    expect(codeOf(() => writeLongHeader(buf, 0, { ...base, dcid: new Uint8Array(21) }))).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(codeOf(() => writeLongHeader(buf, 0, { ...base, token: fromHex('01') }))).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(codeOf(() => writeLongHeader(buf, 0, { ...base, truncatedPn: 256 }))).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    expect(codeOf(() => writeLongHeader(buf, 0, { ...base, pnLength: 5 as PacketNumberLength }))).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
    // 1 + 4 + 1 + 8 + 1 + 8 + 2 (Length) + 1 (pn) = 26 bytes
    expect(codeOf(() => writeLongHeader(new Uint8Array(25), 0, base))).toBe(TransportErrorCode.BUFFER_TOO_SMALL);
    expect(codeOf(() => writeLongHeader(new Uint8Array(26), 0, base))).toBeUndefined();
    expect(codeOf(() => patchLongHeaderLength(buf, 0, 0x4000))).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
  });
});

describe('short header', () => {
  it('lays out 0 | 1 | S | RR | K | PP', () => {
    const buf = new Uint8Array(20);
    const r = writeShortHeader(buf, 0, { dcid: DCID, keyPhase: true, spin: true, pnLength: 2, truncatedPn: 0xbeef });
    expect(toHex(buf.subarray(0, r.payloadOffset))).toBe('65' + toHex(DCID) + 'beef');
    expect(r).toEqual({ pnOffset: 9, payloadOffset: 11 });
    writeShortHeader(buf, 0, { dcid: DCID, keyPhase: false, spin: true, pnLength: 1, truncatedPn: 0 });
    expect(buf[0]).toBe(0x60);
    writeShortHeader(buf, 0, { dcid: DCID, keyPhase: true, spin: false, pnLength: 4, truncatedPn: 0 });
    expect(buf[0]).toBe(0x47);
    expect(keyPhase(0x47)).toBe(true);
    expect(keyPhase(0x43)).toBe(false);
  });

  it('needs MIN_PN_AND_PAYLOAD bytes after the dcid', () => {
    const buf = new Uint8Array(1 + CID_LENGTH + MIN_PN_AND_PAYLOAD);
    writeShortHeader(buf, 0, { dcid: DCID, keyPhase: false, spin: false, pnLength: 1, truncatedPn: 0 });
    expect(parsePacketHeader(buf, 0, buf.length).form).toBe('short');
    expect(codeOf(() => parsePacketHeader(buf, 0, buf.length - 1))).toBe(TransportErrorCode.PACKET_ENCODING_ERROR);
  });
});

describe('first-byte helpers', () => {
  it('reserved bits and protected bits differ by form', () => {
    expect(reservedBitsClear(0xc3)).toBe(true);
    expect(reservedBitsClear(0xc4)).toBe(false);
    expect(reservedBitsClear(0xc8)).toBe(false);
    expect(reservedBitsClear(0x67)).toBe(true);
    expect(reservedBitsClear(0x48)).toBe(false);
    expect(reservedBitsClear(0x50)).toBe(false);
    expect(protectedFirstByteBits(0xc0)).toBe(0x0f);
    expect(protectedFirstByteBits(0x40)).toBe(0x1f);
  });
});

describe('Retry and Version Negotiation', () => {
  it('writes a Retry and builds its pseudo-packet', () => {
    const buf = new Uint8Array(64);
    const tag = new Uint8Array(16).fill(0xab);
    const end = writeRetry(buf, 0, { version: PETREL_VERSION, dcid: SCID, scid: DCID, token: fromHex('746f6b'), integrityTag: tag });
    expect(toHex(buf.subarray(0, end))).toBe('f0' + '50540001' + '08' + toHex(SCID) + '08' + toHex(DCID) + '746f6b' + 'ab'.repeat(16));
    const h = parsePacketHeader(buf, 0, end);
    expect(h.form).toBe('retry');
    if (h.form !== 'retry') return;
    expect(toHex(h.token)).toBe('746f6b');
    expect(toHex(h.integrityTag)).toBe('ab'.repeat(16));
    const pseudo = retryPseudoPacket(fromHex('c0ffee'), buf.subarray(0, end - 16));
    expect(toHex(pseudo)).toBe('03c0ffee' + toHex(buf.subarray(0, end - 16)));
    expect(codeOf(() => writeRetry(buf, 0, { version: PETREL_VERSION, dcid: SCID, scid: DCID, token: new Uint8Array(0), integrityTag: tag }))).toBe(
      TransportErrorCode.VALUE_OUT_OF_RANGE,
    );
  });

  it('writes a Version Negotiation packet with 6 random bits and the fixed bit set', () => {
    const buf = new Uint8Array(64);
    const end = writeVersionNegotiation(buf, 0, { dcid: SCID, scid: DCID, versions: [PETREL_VERSION], unused: 0xff });
    expect(toHex(buf.subarray(0, end))).toBe('ff' + '00000000' + '08' + toHex(SCID) + '08' + toHex(DCID) + '50540001');
    const h = parsePacketHeader(buf, 0, end);
    expect(h).toEqual({ form: 'version_negotiation', dcid: SCID, scid: DCID, versions: [PETREL_VERSION], end });
    // The server echoes client connection ids of unknown versions, which may be up to 255 bytes.
    const longCid = new Uint8Array(200).fill(7);
    const big = new Uint8Array(500);
    const e2 = writeVersionNegotiation(big, 0, { dcid: longCid, scid: DCID, versions: [PETREL_VERSION, 0x0a0a0a0a], unused: 0 });
    const h2 = parsePacketHeader(big, 0, e2);
    expect(h2.form === 'version_negotiation' && h2.versions).toEqual([PETREL_VERSION, 0x0a0a0a0a]);
  });

  it('returns an unknown version as unsupported_version, reading only the invariants', () => {
    const bytes = fromHex('c3' + '00000001' + '15' + '11'.repeat(21) + '00' + 'ff');
    const h = parsePacketHeader(bytes, 0, bytes.length);
    expect(h.form).toBe('unsupported_version');
    if (h.form !== 'unsupported_version') return;
    expect(h.version).toBe(1);
    expect(h.dcid.length).toBe(21);
    expect(h.scid.length).toBe(0);
    expect(h.end).toBe(bytes.length);
  });
});

describe('header round trips (property)', () => {
  const cid = fc.uint8Array({ minLength: 0, maxLength: 20 });
  const pnLen = fc.constantFrom<PacketNumberLength>(1, 2, 3, 4);

  it('long headers', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<LongHeaderFields['type']>('initial', '0rtt', 'handshake'),
        cid,
        cid,
        fc.uint8Array({ maxLength: 300 }),
        pnLen,
        fc.nat(),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 50 }),
        (type, dcid, scid, token, pnLength, pnSeed, payloadLen, trailing) => {
          const truncatedPn = pnSeed % 2 ** (8 * pnLength);
          const buf = new Uint8Array(600);
          const h: LongHeaderFields = { type, version: PETREL_VERSION, dcid, scid, pnLength, truncatedPn };
          if (type === 'initial') h.token = token;
          const r = writeLongHeader(buf, 3, h);
          const length = Math.max(MIN_PN_AND_PAYLOAD, pnLength + payloadLen);
          patchLongHeaderLength(buf, r.lengthOffset, length);
          const end = r.pnOffset + length + trailing;
          const p = parsePacketHeader(buf, 3, end);
          if (p.form !== 'long') throw new Error(`form ${p.form}`);
          expect(p.type).toBe(type);
          expect(p.version).toBe(PETREL_VERSION);
          expect(p.dcid).toEqual(dcid);
          expect(p.scid).toEqual(scid);
          expect(p.token).toEqual(type === 'initial' ? token : new Uint8Array(0));
          expect(p.pnOffset).toBe(r.pnOffset);
          expect(p.end).toBe(r.pnOffset + length);
          expect(packetNumberLength(p.firstByte)).toBe(pnLength);
          expect(readPacketNumber(buf, p.pnOffset, pnLength)).toBe(truncatedPn);
        },
      ),
      { numRuns: 1000, seed: 0x5056 },
    );
  });

  it('short headers', () => {
    fc.assert(
      fc.property(cid, fc.boolean(), fc.boolean(), pnLen, fc.nat(), fc.integer({ min: 0, max: 100 }), (dcid, kp, spin, pnLength, pnSeed, extra) => {
        const truncatedPn = pnSeed % 2 ** (8 * pnLength);
        const buf = new Uint8Array(200);
        const r = writeShortHeader(buf, 0, { dcid, keyPhase: kp, spin, pnLength, truncatedPn });
        const end = r.pnOffset + MIN_PN_AND_PAYLOAD + extra;
        const p = parsePacketHeader(buf, 0, end, dcid.length);
        if (p.form !== 'short') throw new Error(`form ${p.form}`);
        expect(p.dcid).toEqual(dcid);
        expect(p.pnOffset).toBe(r.pnOffset);
        expect(p.end).toBe(end);
        expect(keyPhase(p.firstByte)).toBe(kp);
        expect((p.firstByte & 0x20) !== 0).toBe(spin);
        expect(reservedBitsClear(p.firstByte)).toBe(true);
        expect(readPacketNumber(buf, p.pnOffset, packetNumberLength(p.firstByte))).toBe(truncatedPn);
      }),
      { numRuns: 1000, seed: 0x5057 },
    );
  });

  it('Retry and Version Negotiation', () => {
    fc.assert(
      fc.property(
        cid,
        cid,
        fc.uint8Array({ minLength: 1, maxLength: 100 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.array(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 10 }),
        (dcid, scid, token, integrityTag, versions) => {
          const buf = new Uint8Array(300);
          const e1 = writeRetry(buf, 0, { version: PETREL_VERSION, dcid, scid, token, integrityTag });
          expect(parsePacketHeader(buf, 0, e1)).toEqual({ form: 'retry', version: PETREL_VERSION, dcid, scid, token, integrityTag, end: e1 });
          const e2 = writeVersionNegotiation(buf, 0, { dcid, scid, versions, unused: 0 });
          expect(parsePacketHeader(buf, 0, e2)).toEqual({ form: 'version_negotiation', dcid, scid, versions, end: e2 });
        },
      ),
      { numRuns: 500, seed: 0x5058 },
    );
  });
});
