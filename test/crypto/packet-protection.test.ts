import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextTrafficSecret, PETREL_PROFILE, QUIC_V1_PROFILE } from '../../lib/crypto/key-schedule.js';
import { AeadPacketProtector, initialProtectors, protectHeader, protectorsFromSecret, unprotectHeader } from '../../lib/crypto/packet-protection.js';
import { CIPHER_SUITES, type Aead, type CipherSuite } from '../../lib/crypto/provider.js';
import { PLAINTEXT_PROTECTOR } from '../../lib/crypto/types.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { inHex, inNum, outHex, vector } from './vectors.js';
import { PROVIDERS } from './providers.js';

describe.each(PROVIDERS)('%s provider', (_name, p) => {
  const dcid = inHex(vector('rfc9001-a1-initial-keys'), 'dcid');

  /** Seals a packet laid out as header | payload | tag room, then applies header protection. */
  function protect(prot: AeadPacketProtector, header: Uint8Array, payload: Uint8Array, pn: number, pnOffset: number, pnLength: number): Uint8Array {
    const buf = new Uint8Array(header.length + payload.length + prot.tagLength);
    buf.set(header, 0);
    buf.set(payload, header.length);
    const end = prot.seal(pn, buf, 0, header.length, header.length + payload.length);
    expect(end).toBe(buf.length);
    protectHeader(buf, 0, pnOffset, pnLength, prot);
    return buf;
  }

  describe('RFC 9001 A.2: client Initial', () => {
    const v = vector('rfc9001-a2-client-initial');
    const { write: client } = initialProtectors(p, dcid, true, QUIC_V1_PROFILE);
    const header = inHex(v, 'header');
    const payload = new Uint8Array(inNum(v, 'payloadLength'));
    payload.set(inHex(v, 'cryptoFrame'));
    const pnOffset = inNum(v, 'pnOffset');
    const expected = outHex(v, 'packet');

    it('sample and mask', () => {
      const buf = new Uint8Array(header.length + payload.length + 16);
      buf.set(header);
      buf.set(payload, header.length);
      client.seal(inNum(v, 'packetNumber'), buf, 0, header.length, header.length + payload.length);
      const sample = buf.subarray(pnOffset + 4, pnOffset + 20);
      expect(toHex(sample)).toBe(outHex(v, 'sample'));
      const mask = new Uint8Array(5);
      client.headerMask(sample, mask);
      expect(toHex(mask)).toBe(outHex(v, 'mask'));
    });

    it('the whole 1200-byte protected packet matches the RFC', () => {
      const packet = protect(client, header, payload, inNum(v, 'packetNumber'), pnOffset, inNum(v, 'pnLength'));
      expect(packet.length).toBe(1200);
      expect(toHex(packet.subarray(0, header.length))).toBe(outHex(v, 'protectedHeader'));
      expect(packet[0]).toBe(0xc0);
      expect(packet[1199]).toBe(0x34);
      expect(toHex(packet)).toBe(expected);
    });

    it('the server removes protection from the RFC bytes and recovers header and payload', () => {
      const { read } = initialProtectors(p, dcid, false, QUIC_V1_PROFILE);
      const buf = fromHex(expected);
      expect(unprotectHeader(buf, 0, pnOffset, read)).toBe(4);
      expect(toHex(buf.subarray(0, header.length))).toBe(toHex(header));
      expect(read.open(2, buf, 0, header.length, buf.length)).toBe(header.length + payload.length);
      expect(toHex(buf.subarray(header.length, header.length + payload.length))).toBe(toHex(payload));
    });
  });

  describe('RFC 9001 A.3: server Initial', () => {
    const v = vector('rfc9001-a3-server-initial');
    const { write: server } = initialProtectors(p, dcid, false, QUIC_V1_PROFILE);
    const header = inHex(v, 'header');
    const payload = inHex(v, 'payload');
    const pnOffset = inNum(v, 'pnOffset');

    it('sample, mask, protected header and the whole packet match the RFC', () => {
      const packet = protect(server, header, payload, inNum(v, 'packetNumber'), pnOffset, inNum(v, 'pnLength'));
      // A 2-byte packet number: the sample starts at the third protected payload byte.
      expect(toHex(packet.subarray(pnOffset + 4, pnOffset + 20))).toBe(outHex(v, 'sample'));
      const mask = new Uint8Array(5);
      server.headerMask(packet.subarray(pnOffset + 4, pnOffset + 20), mask);
      expect(toHex(mask)).toBe(outHex(v, 'mask'));
      expect(toHex(packet.subarray(0, header.length))).toBe(outHex(v, 'protectedHeader'));
      expect(toHex(packet)).toBe(outHex(v, 'packet'));
    });

    it('the client opens it', () => {
      const { read } = initialProtectors(p, dcid, true, QUIC_V1_PROFILE);
      const buf = fromHex(outHex(v, 'packet'));
      expect(unprotectHeader(buf, 0, pnOffset, read)).toBe(2);
      expect(toHex(buf.subarray(0, header.length))).toBe(toHex(header));
      expect(read.open(1, buf, 0, header.length, buf.length)).toBe(header.length + payload.length);
      expect(toHex(buf.subarray(header.length, header.length + payload.length))).toBe(toHex(payload));
    });
  });

  describe('RFC 9001 A.5: ChaCha20-Poly1305 short header packet', () => {
    const v = vector('rfc9001-a5-chacha20-short-header');
    const prot = protectorsFromSecret(p, 'CHACHA20_POLY1305_SHA256', inHex(v, 'secret'), QUIC_V1_PROFILE);
    const pn = inNum(v, 'packetNumber');

    it('protects to the exact 21 RFC bytes (nonce from a pn above 2^16, ChaCha20 header mask)', () => {
      const header = inHex(v, 'header');
      const packet = protect(prot, header, inHex(v, 'payload'), pn, inNum(v, 'pnOffset'), inNum(v, 'pnLength'));
      expect(toHex(packet)).toBe(outHex(v, 'packet'));
      expect(toHex(packet)).toBe('4cfe4189655e5cd55c41f69080575d7999c25a5bfb');
      expect(toHex(packet.subarray(4))).toBe(outHex(v, 'payloadCiphertext'));
      const mask = new Uint8Array(5);
      prot.headerMask(fromHex(outHex(v, 'sample')), mask);
      expect(toHex(mask)).toBe(outHex(v, 'mask'));
    });

    it('opens the RFC bytes back to a PING', () => {
      const buf = fromHex(outHex(v, 'packet'));
      expect(unprotectHeader(buf, 0, 1, prot)).toBe(3);
      expect(toHex(buf.subarray(0, 4))).toBe('4200bff4');
      expect(prot.open(pn, buf, 0, 4, buf.length)).toBe(5);
      expect(buf[4]).toBe(0x01);
    });
  });

  describe('AeadPacketProtector', () => {
    function randomProtector(suite: CipherSuite): AeadPacketProtector {
      return protectorsFromSecret(p, suite, p.randomBytes(32), PETREL_PROFILE);
    }

    it('has a 16-byte tag and header protection', () => {
      const prot = randomProtector('AES_128_GCM_SHA256');
      expect(prot.tagLength).toBe(16);
      expect(prot.headerProtection).toBe(true);
    });

    for (const suite of CIPHER_SUITES) {
      it(`${suite}: seal/open round trip at a buffer offset, for random payloads and packet numbers`, () => {
        const secret = p.randomBytes(32);
        const sender = protectorsFromSecret(p, suite, secret);
        const receiver = protectorsFromSecret(p, suite, secret);
        fc.assert(
          fc.property(
            fc.uint8Array({ minLength: 1, maxLength: 40 }),
            fc.uint8Array({ minLength: 0, maxLength: 300 }),
            fc.nat({ max: 2 ** 40 }),
            fc.nat({ max: 8 }),
            (header, payload, pn, lead) => {
              const buf = new Uint8Array(lead + header.length + payload.length + 16 + 5);
              buf.set(header, lead);
              buf.set(payload, lead + header.length);
              const pOff = lead + header.length;
              const end = sender.seal(pn, buf, lead, pOff, pOff + payload.length);
              expect(end).toBe(pOff + payload.length + 16);
              expect(receiver.open(pn, buf, lead, pOff, end)).toBe(pOff + payload.length);
              expect(toHex(buf.subarray(pOff, pOff + payload.length))).toBe(toHex(payload));
            },
          ),
          { numRuns: 150 },
        );
      });

      it(`${suite}: every single flipped bit in header, ciphertext or tag makes open return -1`, () => {
        const secret = p.randomBytes(32);
        const sender = protectorsFromSecret(p, suite, secret);
        const receiver = protectorsFromSecret(p, suite, secret);
        const header = fromHex('41aabbccdd0007');
        const payload = new TextEncoder().encode('stream 4: hello, flipped bits');
        const sealed = new Uint8Array(header.length + payload.length + 16);
        sealed.set(header);
        sealed.set(payload, header.length);
        const end = sender.seal(77, sealed, 0, header.length, header.length + payload.length);
        for (let bit = 0; bit < end * 8; bit++) {
          const buf = sealed.slice();
          buf[bit >> 3]! ^= 1 << (bit & 7);
          expect(receiver.open(77, buf, 0, header.length, end)).toBe(-1);
        }
        // The unflipped packet still opens, so the -1s above are the flips' doing.
        expect(receiver.open(77, sealed.slice(), 0, header.length, end)).toBe(header.length + payload.length);
      });

      it(`${suite}: wrong key, wrong packet number or truncated tag → -1`, () => {
        const sender = randomProtector(suite);
        const other = randomProtector(suite);
        const buf = new Uint8Array(4 + 10 + 16);
        buf.set([0x40, 1, 2, 3]);
        const end = sender.seal(5, buf, 0, 4, 14);
        expect(other.open(5, buf.slice(), 0, 4, end)).toBe(-1);
        expect(sender.open(6, buf.slice(), 0, 4, end)).toBe(-1);
        expect(sender.open(5, buf.slice(), 0, 4, end - 1)).toBe(-1);
        expect(sender.open(5, buf.slice(), 0, 4, end)).toBe(14);
      });
    }

    it('nonce = IV XOR packet number, including bits above 2^32', () => {
      // A recording AEAD shows the exact nonce the protector derives.
      const nonces: string[] = [];
      const recorder: Aead = {
        tagLength: 16,
        seal: (nonce, _aad, _buf, _s, end) => {
          nonces.push(toHex(nonce));
          return end + 16;
        },
        open: () => -1,
      };
      const prot = new AeadPacketProtector(recorder, fromHex('000102030405060708090a0b'), () => {});
      const buf = new Uint8Array(64);
      prot.seal(0, buf, 0, 4, 8);
      prot.seal(0x1_2345_6789, buf, 0, 4, 8);
      prot.seal(Number.MAX_SAFE_INTEGER, buf, 0, 4, 8);
      expect(nonces).toEqual(['000102030405060708090a0b', '00010203040506062b4c6d82', '00010203041af9f8f7f6f5f4']);
      expect(() => prot.seal(-1, buf, 0, 4, 8)).toThrow(RangeError);
      expect(() => prot.seal(1.5, buf, 0, 4, 8)).toThrow(RangeError);
    });

    it('RFC 9001 A.5 nonce for packet number 654360564', () => {
      const v = vector('rfc9001-a5-chacha20-short-header');
      let seen = '';
      const recorder: Aead = { tagLength: 16, seal: (n, _a, _b, _s, e) => ((seen = toHex(n)), e + 16), open: () => -1 };
      new AeadPacketProtector(recorder, fromHex(outHex(v, 'iv')), () => {}).seal(654360564, new Uint8Array(32), 0, 4, 5);
      expect(seen).toBe(outHex(v, 'nonce'));
    });

    it('key update: new AEAD key and IV from the ku secret, same header protection', () => {
      const secret = p.randomBytes(32);
      const gen0 = protectorsFromSecret(p, 'AES_128_GCM_SHA256', secret);
      const next = nextTrafficSecret(p, secret, PETREL_PROFILE);
      const gen1 = protectorsFromSecret(p, 'AES_128_GCM_SHA256', next, PETREL_PROFILE, gen0.hp);
      expect(gen1.hp).toBe(gen0.hp);
      const buf = new Uint8Array(4 + 8 + 16);
      buf.set([0x40, 0, 0, 9]);
      const end = gen1.seal(9, buf, 0, 4, 12);
      expect(gen0.open(9, buf.slice(), 0, 4, end)).toBe(-1);
      expect(protectorsFromSecret(p, 'AES_128_GCM_SHA256', next).open(9, buf.slice(), 0, 4, end)).toBe(12);
    });
  });

  describe('header protection helpers', () => {
    for (const suite of CIPHER_SUITES) {
      it(`${suite}: protect then unprotect recovers the first byte and packet number (long and short headers)`, () => {
        const secret = p.randomBytes(32);
        const prot = protectorsFromSecret(p, suite, secret);
        fc.assert(
          fc.property(
            fc.boolean(),
            fc.integer({ min: 1, max: 4 }),
            fc.nat({ max: 0xffffffff }),
            fc.integer({ min: 0, max: 0x7f }),
            fc.uint8Array({ minLength: 20, maxLength: 60 }),
            fc.integer({ min: 0, max: 20 }),
            (long, pnLength, pnValue, otherBits, rest, pnOffsetInHeader) => {
              // First byte: form bit, then free bits; the low 2 bits encode pnLength - 1.
              const first = (long ? 0x80 : 0x00) | (otherBits & 0x7c) | (pnLength - 1);
              const pnOffset = 1 + pnOffsetInHeader;
              const buf = new Uint8Array(pnOffset + pnLength + rest.length);
              buf[0] = first;
              for (let i = 1; i < pnOffset; i++) buf[i] = i * 7;
              for (let i = 0; i < pnLength; i++) buf[pnOffset + i] = (pnValue >>> (8 * (pnLength - 1 - i))) & 0xff;
              buf.set(rest, pnOffset + pnLength);
              const clear = buf.slice();
              protectHeader(buf, 0, pnOffset, pnLength, prot);
              // Untouched: the form bit (and the fixed bit on long headers), the bytes between, and the sample area.
              expect(buf[0]! & (long ? 0xf0 : 0xe0)).toBe(first & (long ? 0xf0 : 0xe0));
              expect(toHex(buf.subarray(1, pnOffset))).toBe(toHex(clear.subarray(1, pnOffset)));
              expect(toHex(buf.subarray(pnOffset + pnLength))).toBe(toHex(clear.subarray(pnOffset + pnLength)));
              expect(unprotectHeader(buf, 0, pnOffset, prot)).toBe(pnLength);
              expect(toHex(buf)).toBe(toHex(clear));
            },
          ),
          { numRuns: 200 },
        );
      });
    }

    it('masks exactly 4 first-byte bits on long headers, 5 on short, and pnLength bytes', () => {
      const allOnes = { ...PLAINTEXT_PROTECTOR, headerProtection: true, headerMask: (_s: Uint8Array, out: Uint8Array) => out.fill(0xff, 0, 5) };
      const long = new Uint8Array(40);
      long[0] = 0xc1;
      protectHeader(long, 0, 10, 2, allOnes);
      expect(long[0]).toBe(0xce);
      expect(toHex(long.subarray(9, 13))).toBe('00ffff00');
      const short = new Uint8Array(40);
      short[0] = 0x43;
      protectHeader(short, 0, 5, 4, allOnes);
      expect(short[0]).toBe(0x5c);
      expect(toHex(short.subarray(4, 10))).toBe('00ffffffff00');
      expect(unprotectHeader(short, 0, 5, allOnes)).toBe(4);
      expect(short[0]).toBe(0x43);
    });

    it('works at a header offset inside a larger datagram', () => {
      const prot = protectorsFromSecret(p, 'AES_128_GCM_SHA256', p.randomBytes(32));
      const buf = new Uint8Array(100).map((_, i) => i);
      buf[30] = 0x41; // short header, 2-byte packet number, at offset 30
      const clear = buf.slice();
      protectHeader(buf, 30, 35, 2, prot);
      expect(toHex(buf.subarray(0, 30))).toBe(toHex(clear.subarray(0, 30)));
      expect(toHex(buf)).not.toBe(toHex(clear));
      expect(unprotectHeader(buf, 30, 35, prot, 100)).toBe(2);
      expect(toHex(buf)).toBe(toHex(clear));
    });

    it('unprotect returns -1 and leaves the packet alone when it is too short to sample', () => {
      const prot = protectorsFromSecret(p, 'AES_128_GCM_SHA256', p.randomBytes(32));
      const buf = new Uint8Array(30).fill(0x55);
      expect(unprotectHeader(buf, 0, 11, prot)).toBe(-1); // needs 11 + 20 = 31 bytes
      expect(unprotectHeader(buf, 0, 5, prot, 24)).toBe(-1); // the packet ends at 24, datagram continues
      expect(buf.every((b) => b === 0x55)).toBe(true);
      expect(unprotectHeader(buf, 0, 10, prot)).toBeGreaterThan(0);
    });

    it('protect refuses a packet too short to sample and a bad packet-number length', () => {
      const prot = protectorsFromSecret(p, 'AES_128_GCM_SHA256', p.randomBytes(32));
      expect(() => protectHeader(new Uint8Array(20), 0, 1, 1, prot)).toThrow(RangeError);
      expect(() => protectHeader(new Uint8Array(40), 0, 1, 5, prot)).toThrow(RangeError);
      expect(() => protectHeader(new Uint8Array(40), 0, 1, 0, prot)).toThrow(RangeError);
    });

    it('the header-protection sample must be exactly 16 bytes', () => {
      for (const suite of CIPHER_SUITES) {
        const prot = protectorsFromSecret(p, suite, p.randomBytes(32));
        expect(() => prot.headerMask(new Uint8Array(15), new Uint8Array(5))).toThrow(RangeError);
      }
    });

    it('the plaintext protector: helpers leave the bytes alone and read the length from the first byte', () => {
      const buf = fromHex('c3aabbccdd01020304');
      protectHeader(buf, 0, 5, 4, PLAINTEXT_PROTECTOR);
      expect(toHex(buf)).toBe('c3aabbccdd01020304');
      expect(unprotectHeader(buf, 0, 5, PLAINTEXT_PROTECTOR)).toBe(4);
      expect(toHex(buf)).toBe('c3aabbccdd01020304');
    });
  });

  describe('initialProtectors', () => {
    it('client write pairs with server read and vice versa; directions do not cross', () => {
      const c = initialProtectors(p, dcid, true);
      const s = initialProtectors(p, dcid, false);
      const buf = new Uint8Array(4 + 20 + 16);
      buf.set([0xc0, 0, 0, 0]);
      const end = c.write.seal(0, buf, 0, 4, 24);
      expect(c.read.open(0, buf.slice(), 0, 4, end)).toBe(-1);
      expect(s.read.open(0, buf.slice(), 0, 4, end)).toBe(24);
      // Petrel's Initial keys differ from QUIC v1's for the same DCID.
      const q = initialProtectors(p, dcid, false, QUIC_V1_PROFILE);
      expect(q.read.open(0, buf.slice(), 0, 4, end)).toBe(-1);
    });
  });
});
