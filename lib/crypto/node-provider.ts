/**
 * The node:crypto CryptoProvider: the only file that imports node:crypto.
 *
 * Packet path notes: a GCM/ChaCha Cipheriv object is single-use in Node, so one is created per packet;
 * what can be kept is kept (the KeyObject, the AES-ECB header-protection cipher). Inputs are handed to
 * OpenSSL as views of the packet buffer; the one copy left is OpenSSL's output back into the packet.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { hkdfExpandWithHmac } from './hkdf.js';
import {
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  HP_MASK_LENGTH,
  HP_SAMPLE_LENGTH,
  suiteKeyLength,
  type Aead,
  type CipherSuite,
  type CryptoProvider,
  type HeaderProtection,
  type KeyPair,
} from './provider.js';

/** A plain Uint8Array view of a Buffer (same memory), so callers never see Buffer. */
function u8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// DER wrappers for raw 32-byte curve keys (RFC 8410): PKCS#8 private and SPKI public, per algorithm OID.
const X25519_PKCS8 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20);
const X25519_SPKI = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00);
const ED25519_PKCS8 = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);
const ED25519_SPKI = Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00);

function withPrefix(prefix: Uint8Array, raw: Uint8Array, what: string): Buffer {
  if (raw.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${raw.length}`);
  const der = Buffer.allocUnsafe(prefix.length + 32);
  der.set(prefix, 0);
  der.set(raw, prefix.length);
  return der;
}

// Raw keys go in and out as JWK: OpenSSL 3's DER decoder costs ~460 µs per PKCS#8 import, the JWK path
// ~45 µs (measured by tools/bench/handshake.ts), which dominated a server's handshake CPU.
const CURVE = new Map<Uint8Array, 'X25519' | 'Ed25519'>([
  [X25519_PKCS8, 'X25519'],
  [X25519_SPKI, 'X25519'],
  [ED25519_PKCS8, 'Ed25519'],
  [ED25519_SPKI, 'Ed25519'],
]);

const b64u = (raw: Uint8Array) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');

/** A server signs with one identity key for every handshake: keep its KeyObject (a few keys at most). */
const privateKeyCache = new Map<string, KeyObject>();
const PRIVATE_KEY_CACHE = 8;

function importPrivate(prefix: Uint8Array, raw: Uint8Array, what: string, cache = false): KeyObject {
  if (raw.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${raw.length}`);
  const d = b64u(raw);
  const crv = CURVE.get(prefix)!;
  const id = cache ? crv + d : '';
  if (cache) {
    const hit = privateKeyCache.get(id);
    if (hit) return hit;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv, d, x: '' }, format: 'jwk' });
  } catch {
    key = createPrivateKey({ key: withPrefix(prefix, raw, what), format: 'der', type: 'pkcs8' });
  }
  if (cache) {
    if (privateKeyCache.size >= PRIVATE_KEY_CACHE) privateKeyCache.delete(privateKeyCache.keys().next().value!);
    privateKeyCache.set(id, key);
  }
  return key;
}

function importPublic(prefix: Uint8Array, raw: Uint8Array, what: string): KeyObject {
  if (raw.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: CURVE.get(prefix)!, x: b64u(raw) }, format: 'jwk' });
}

/** The X25519 base point u = 9 (RFC 7748 §4.1), as a public KeyObject: X25519(k, 9) is k's public key. */
let basePoint: KeyObject | undefined;
function x25519BasePoint(): KeyObject {
  if (!basePoint) {
    const u = new Uint8Array(32);
    u[0] = 9;
    basePoint = importPublic(X25519_SPKI, u, 'X25519 base point');
  }
  return basePoint;
}

/**
 * KeyObjects of the X25519 private keys x25519Generate made, keyed by the returned array, so the
 * handshake's one x25519() call with that key imports nothing. Weak: a finished handshake frees both.
 */
const ephemeralKeys = new WeakMap<Uint8Array, KeyObject>();

/**
 * New key pairs come from randomBytes and a raw import, never from generateKeyPairSync plus an export:
 * on Node 20, exporting a freshly generated key (JWK) can deadlock against the GC finaliser of the
 * key-generation job (issue 11; tools/bench/keygen-stress.ts), and import + derive is also cheaper.
 */
function x25519Generate(): KeyPair {
  const privateKey = u8(randomBytes(32));
  const key = importPrivate(X25519_PKCS8, privateKey, 'X25519 private key');
  const publicKey = u8(diffieHellman({ privateKey: key, publicKey: x25519BasePoint() }));
  ephemeralKeys.set(privateKey, key);
  return { publicKey, privateKey };
}

function ed25519Generate(): KeyPair {
  const privateKey = u8(randomBytes(32));
  const key = importPrivate(ED25519_PKCS8, privateKey, 'Ed25519 private key');
  // The SPKI DER of an Ed25519 public key is the fixed 12-byte prefix then the 32 raw bytes.
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { publicKey: u8(spki.subarray(spki.length - 32)), privateKey };
}

class NodeAead implements Aead {
  readonly tagLength = AEAD_TAG_LENGTH;
  private readonly key: KeyObject;
  private readonly gcm: boolean;

  constructor(suite: CipherSuite, key: Uint8Array) {
    const want = suiteKeyLength(suite);
    if (key.length !== want) throw new RangeError(`${suite} key must be ${want} bytes, got ${key.length}`);
    this.gcm = suite === 'AES_128_GCM_SHA256';
    this.key = createSecretKey(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    if (end + AEAD_TAG_LENGTH > buf.length) throw new RangeError('no room for the AEAD tag');
    const cipher = this.gcm
      ? createCipheriv('aes-128-gcm', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH })
      : createCipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    cipher.setAAD(aad, { plaintextLength: end - start });
    const out = cipher.update(buf.subarray(start, end));
    cipher.final();
    buf.set(out, start);
    buf.set(cipher.getAuthTag(), end);
    return end + AEAD_TAG_LENGTH;
  }

  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    const ctEnd = end - AEAD_TAG_LENGTH;
    if (ctEnd < start || nonce.length !== AEAD_NONCE_LENGTH) return -1;
    const decipher = this.gcm
      ? createDecipheriv('aes-128-gcm', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH })
      : createDecipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: AEAD_TAG_LENGTH });
    decipher.setAAD(aad, { plaintextLength: ctEnd - start });
    decipher.setAuthTag(buf.subarray(ctEnd, end));
    const out = decipher.update(buf.subarray(start, ctEnd));
    try {
      decipher.final();
    } catch {
      return -1;
    }
    // Only authenticated plaintext ever reaches the packet buffer.
    buf.set(out, start);
    return ctEnd;
  }
}

function checkSample(sample: Uint8Array): void {
  if (sample.length !== HP_SAMPLE_LENGTH) throw new RangeError(`header-protection sample must be 16 bytes, got ${sample.length}`);
}

function aesHeaderProtection(hpKey: Uint8Array): HeaderProtection {
  // ECB over exactly one block per call holds no state between calls, so one cipher object serves every
  // packet of this key (final() is never called).
  const ecb = createCipheriv('aes-128-ecb', createSecretKey(hpKey), null);
  ecb.setAutoPadding(false);
  return (sample, out) => {
    checkSample(sample);
    const block = ecb.update(sample);
    for (let i = 0; i < HP_MASK_LENGTH; i++) out[i] = block[i]!;
  };
}

const ZERO_MASK_INPUT = new Uint8Array(HP_MASK_LENGTH);

function chachaHeaderProtection(hpKey: Uint8Array): HeaderProtection {
  const key = createSecretKey(hpKey);
  // OpenSSL's 16-byte ChaCha20 IV is the 32-bit little-endian block counter then the 96-bit nonce,
  // which is exactly how RFC 9001 §5.4.4 splits the sample: counter = sample[0..4], nonce = sample[4..16].
  return (sample, out) => {
    checkSample(sample);
    const stream = createCipheriv('chacha20', key, sample).update(ZERO_MASK_INPUT);
    for (let i = 0; i < HP_MASK_LENGTH; i++) out[i] = stream[i]!;
  };
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return u8(createHmac('sha256', key).update(data).digest());
}

export const nodeCryptoProvider: CryptoProvider = {
  name: 'node',

  sha256: (data) => u8(createHash('sha256').update(data).digest()),

  hmacSha256,

  // HMAC zero-pads a short key, so an empty salt already acts as HashLen zero bytes (RFC 5869 §2.2).
  hkdfExtract: (salt, ikm) => hmacSha256(salt, ikm),

  hkdfExpand: (prk, info, length) => hkdfExpandWithHmac(hmacSha256, prk, info, length),

  randomBytes: (n) => u8(randomBytes(n)),

  x25519Generate,

  x25519: (privateKey, peerPublic) => {
    const shared = u8(
      diffieHellman({
        privateKey: ephemeralKeys.get(privateKey) ?? importPrivate(X25519_PKCS8, privateKey, 'X25519 private key'),
        publicKey: importPublic(X25519_SPKI, peerPublic, 'X25519 public key'),
      }),
    );
    if (isAllZero(shared)) throw new RangeError('X25519 produced the all-zero secret (small-order peer key)');
    return shared;
  },

  ed25519Generate,

  ed25519Sign: (privateKey, msg) => u8(sign(null, msg, importPrivate(ED25519_PKCS8, privateKey, 'Ed25519 private key', true))),

  ed25519Verify: (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    try {
      return verify(null, msg, importPublic(ED25519_SPKI, publicKey, 'Ed25519 public key'), sig);
    } catch {
      return false; // not a point on the curve
    }
  },

  createAead: (suite, key) => new NodeAead(suite, key),

  createHeaderProtection: (suite, hpKey) => {
    const want = suiteKeyLength(suite);
    if (hpKey.length !== want) throw new RangeError(`${suite} hp key must be ${want} bytes, got ${hpKey.length}`);
    return suite === 'AES_128_GCM_SHA256' ? aesHeaderProtection(hpKey) : chachaHeaderProtection(hpKey);
  },
};
