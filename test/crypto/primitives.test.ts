import { describe, expect, it } from 'vitest';
import { hkdfExpandWithHmac } from '../../lib/crypto/hkdf.js';
import { providerUnderTest as p } from './provider-under-test.js';
import { CIPHER_SUITES, suiteKeyLength } from '../../lib/crypto/provider.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { inHex, inNum, outHex, vector, vectorNames } from './vectors.js';

const ascii = new TextEncoder();

describe('HKDF (RFC 5869 test cases 1-3)', () => {
  const names = vectorNames('rfc5869-');
  it('has the three SHA-256 cases', () => {
    expect(names).toEqual(['rfc5869-test-case-1', 'rfc5869-test-case-2', 'rfc5869-test-case-3']);
  });

  for (const name of names) {
    it(name, () => {
      const v = vector(name);
      const prk = p.hkdfExtract(inHex(v, 'salt'), inHex(v, 'ikm'));
      expect(toHex(prk)).toBe(outHex(v, 'prk'));
      const okm = p.hkdfExpand(prk, inHex(v, 'info'), inNum(v, 'length'));
      expect(toHex(okm)).toBe(outHex(v, 'okm'));
      // The shared expand helper over the provider's HMAC gives the same bytes.
      expect(toHex(hkdfExpandWithHmac(p.hmacSha256, prk, inHex(v, 'info'), inNum(v, 'length')))).toBe(outHex(v, 'okm'));
    });
  }

  it('test case 1 values, asserted directly', () => {
    const prk = p.hkdfExtract(fromHex('000102030405060708090a0b0c'), new Uint8Array(22).fill(0x0b));
    expect(toHex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(toHex(p.hkdfExpand(prk, fromHex('f0f1f2f3f4f5f6f7f8f9'), 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('expand output is a prefix of any longer expand with the same info', () => {
    const prk = p.hkdfExtract(new Uint8Array(0), ascii.encode('ikm'));
    const long = p.hkdfExpand(prk, ascii.encode('info'), 100);
    expect(toHex(p.hkdfExpand(prk, ascii.encode('info'), 33))).toBe(toHex(long.subarray(0, 33)));
    expect(p.hkdfExpand(prk, ascii.encode('info'), 0).length).toBe(0);
  });

  it('rejects an expand length above 255 * 32', () => {
    const prk = new Uint8Array(32);
    expect(p.hkdfExpand(prk, new Uint8Array(0), 255 * 32).length).toBe(8160);
    expect(() => p.hkdfExpand(prk, new Uint8Array(0), 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe('SHA-256 and HMAC', () => {
  it('sha256 of "abc" (FIPS 180-2 example)', () => {
    expect(toHex(p.sha256(ascii.encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
  it('hmacSha256 (RFC 4231 test case 2)', () => {
    expect(toHex(p.hmacSha256(ascii.encode('Jefe'), ascii.encode('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('X25519 (RFC 7748 §6.1)', () => {
  const v = vector('rfc7748-x25519-6.1');
  const alicePriv = inHex(v, 'alicePrivate');
  const bobPriv = inHex(v, 'bobPrivate');

  it('both sides compute the RFC shared secret from the other public key', () => {
    expect(toHex(p.x25519(alicePriv, fromHex(outHex(v, 'bobPublic'))))).toBe(outHex(v, 'sharedSecret'));
    expect(toHex(p.x25519(bobPriv, fromHex(outHex(v, 'alicePublic'))))).toBe(outHex(v, 'sharedSecret'));
    expect(toHex(p.x25519(alicePriv, fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')))).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('public keys are X25519(private, 9): the shared secret with the base point is the public key', () => {
    const basePoint = new Uint8Array(32);
    basePoint[0] = 9;
    expect(toHex(p.x25519(alicePriv, basePoint))).toBe(outHex(v, 'alicePublic'));
    expect(toHex(p.x25519(bobPriv, basePoint))).toBe(outHex(v, 'bobPublic'));
  });

  it('generated pairs are 32-byte raw keys that agree', () => {
    const a = p.x25519Generate();
    const b = p.x25519Generate();
    expect(a.publicKey.length).toBe(32);
    expect(a.privateKey.length).toBe(32);
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
    expect(toHex(p.x25519(a.privateKey, b.publicKey))).toBe(toHex(p.x25519(b.privateKey, a.publicKey)));
  });

  it('rejects wrong-length keys and a small-order peer key', () => {
    expect(() => p.x25519(alicePriv, new Uint8Array(31))).toThrow();
    expect(() => p.x25519(new Uint8Array(33), fromHex(outHex(v, 'bobPublic')))).toThrow();
    // The point of order 1 (u = 1 encodes a low-order point): the result is all zeros, which must not pass.
    const low = new Uint8Array(32);
    low[0] = 1;
    expect(() => p.x25519(alicePriv, low)).toThrow();
  });
});

describe('Ed25519 (RFC 8032 §7.1 test 1)', () => {
  const v = vector('rfc8032-ed25519-test-1');
  const secret = inHex(v, 'secretKey');
  const pub = fromHex(outHex(v, 'publicKey'));

  it('signs the empty message to the RFC signature', () => {
    expect(toHex(p.ed25519Sign(secret, new Uint8Array(0)))).toBe(outHex(v, 'signature'));
    expect(toHex(p.ed25519Sign(fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'), new Uint8Array(0)))).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('verifies the RFC signature under the RFC public key', () => {
    expect(p.ed25519Verify(pub, new Uint8Array(0), fromHex(outHex(v, 'signature')))).toBe(true);
  });

  it('sign/verify round trip with a generated key; any flipped bit in signature or message fails', () => {
    const kp = p.ed25519Generate();
    expect(kp.publicKey.length).toBe(32);
    expect(kp.privateKey.length).toBe(32);
    const msg = ascii.encode('petrel handshake transcript');
    const sig = p.ed25519Sign(kp.privateKey, msg);
    expect(sig.length).toBe(64);
    expect(p.ed25519Verify(kp.publicKey, msg, sig)).toBe(true);
    for (let bit = 0; bit < sig.length * 8; bit++) {
      const bad = sig.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(p.ed25519Verify(kp.publicKey, msg, bad)).toBe(false);
    }
    const badMsg = msg.slice();
    badMsg[3]! ^= 0x20;
    expect(p.ed25519Verify(kp.publicKey, badMsg, sig)).toBe(false);
    expect(p.ed25519Verify(p.ed25519Generate().publicKey, msg, sig)).toBe(false);
  });

  it('verify returns false, never throws, for malformed keys and signatures', () => {
    const sig = fromHex(outHex(v, 'signature'));
    expect(p.ed25519Verify(pub.subarray(0, 31), new Uint8Array(0), sig)).toBe(false);
    expect(p.ed25519Verify(pub, new Uint8Array(0), sig.subarray(0, 63))).toBe(false);
    expect(p.ed25519Verify(new Uint8Array(32).fill(0xff), new Uint8Array(0), sig)).toBe(false);
  });
});

describe('randomBytes', () => {
  it('returns fresh bytes of the asked length', () => {
    const a = p.randomBytes(32);
    const b = p.randomBytes(32);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(32);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(p.randomBytes(0).length).toBe(0);
  });
});

describe('AEAD (provider level)', () => {
  for (const suite of CIPHER_SUITES) {
    it(`${suite}: seal then open in place; a failed open leaves the buffer unchanged`, () => {
      const key = new Uint8Array(suiteKeyLength(suite)).fill(7);
      const aead = p.createAead(suite, key);
      const nonce = new Uint8Array(12).fill(1);
      const aad = ascii.encode('header');
      const plain = ascii.encode('hello, petrel');
      const buf = new Uint8Array(4 + plain.length + 16 + 3);
      buf.set(plain, 4);
      const end = aead.seal(nonce, aad, buf, 4, 4 + plain.length);
      expect(end).toBe(4 + plain.length + 16);
      expect(toHex(buf.subarray(4, 4 + plain.length))).not.toBe(toHex(plain));
      const sealed = buf.slice();
      const wrongAad = ascii.encode('headeR');
      expect(aead.open(nonce, wrongAad, buf, 4, end)).toBe(-1);
      expect(toHex(buf)).toBe(toHex(sealed));
      expect(aead.open(nonce, aad, buf, 4, end)).toBe(4 + plain.length);
      expect(toHex(buf.subarray(4, 4 + plain.length))).toBe(toHex(plain));
    });

    it(`${suite}: rejects wrong key sizes, a missing tag room, and input shorter than a tag`, () => {
      expect(() => p.createAead(suite, new Uint8Array(suiteKeyLength(suite) + 1))).toThrow(RangeError);
      const aead = p.createAead(suite, new Uint8Array(suiteKeyLength(suite)));
      expect(() => aead.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(20), 0, 10)).toThrow(RangeError);
      expect(aead.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15), 0, 15)).toBe(-1);
    });
  }

  it('the empty plaintext still carries a verifiable tag', () => {
    const aead = p.createAead('AES_128_GCM_SHA256', new Uint8Array(16));
    const buf = new Uint8Array(16);
    expect(aead.seal(new Uint8Array(12), ascii.encode('x'), buf, 0, 0)).toBe(16);
    expect(aead.open(new Uint8Array(12), ascii.encode('x'), buf, 0, 16)).toBe(0);
    expect(aead.open(new Uint8Array(12), ascii.encode('y'), buf, 0, 16)).toBe(-1);
  });
});
