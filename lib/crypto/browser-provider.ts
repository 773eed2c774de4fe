/**
 * A CryptoProvider with no Node built-ins, for the browser client (and any other JS runtime).
 *
 * The provider interface is synchronous by design: the core seals and opens packets inside pollTransmit /
 * handleDatagram, with no await in the packet path. WebCrypto's SubtleCrypto is promise-only, so it cannot
 * serve that interface; the one WebCrypto call that is synchronous, `crypto.getRandomValues`, is the
 * randomness here. Everything else is audited pure JS:
 *   - SHA-256, HMAC, HKDF: @noble/hashes
 *   - AES-128-GCM, ChaCha20-Poly1305, AES-ECB and ChaCha20 for header protection: @noble/ciphers
 *   - X25519 and Ed25519: tweetnacl (no @noble/curves in the dependencies)
 * The measured cost of this choice against node:crypto is in docs/websocket.md (tools/bench/ws.ts).
 */
import { gcm, ecb } from '@noble/ciphers/aes.js';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import nacl from 'tweetnacl';
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

/** getRandomValues fills at most 65536 bytes per call. */
const RANDOM_CHUNK = 65536;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const c = (globalThis as { crypto?: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto;
  if (!c) throw new Error('no crypto.getRandomValues in this runtime');
  for (let i = 0; i < n; i += RANDOM_CHUNK) c.getRandomValues(out.subarray(i, Math.min(n, i + RANDOM_CHUNK)));
  return out;
}

const hmacSha256 = (key: Uint8Array, data: Uint8Array): Uint8Array => hmac(sha256, key, data);

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

function need32(b: Uint8Array, what: string): void {
  if (b.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${b.length}`);
}

/** A server signs every handshake with one identity: keep its expanded secret key (a few at most). */
const signingKeys = new Map<string, Uint8Array>();
const SIGNING_KEY_CACHE = 8;

function signingKey(seed: Uint8Array): Uint8Array {
  need32(seed, 'Ed25519 private key');
  let id = '';
  for (let i = 0; i < 32; i++) id += String.fromCharCode(seed[i]!);
  const hit = signingKeys.get(id);
  if (hit) return hit;
  const sk = nacl.sign.keyPair.fromSeed(seed).secretKey;
  if (signingKeys.size >= SIGNING_KEY_CACHE) signingKeys.delete(signingKeys.keys().next().value!);
  signingKeys.set(id, sk);
  return sk;
}

class JsAead implements Aead {
  readonly tagLength = AEAD_TAG_LENGTH;
  private readonly key: Uint8Array;
  private readonly gcm: boolean;

  constructor(suite: CipherSuite, key: Uint8Array) {
    const want = suiteKeyLength(suite);
    if (key.length !== want) throw new RangeError(`${suite} key must be ${want} bytes, got ${key.length}`);
    this.gcm = suite === 'AES_128_GCM_SHA256';
    this.key = key.slice();
  }

  private cipher(nonce: Uint8Array, aad: Uint8Array) {
    return this.gcm ? gcm(this.key, nonce, aad) : chacha20poly1305(this.key, nonce, aad);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    if (end + AEAD_TAG_LENGTH > buf.length) throw new RangeError('no room for the AEAD tag');
    // noble returns ciphertext || tag in a new array; the packet buffer stays the only long-lived one.
    const out = this.cipher(nonce, aad).encrypt(buf.subarray(start, end));
    buf.set(out, start);
    return end + AEAD_TAG_LENGTH;
  }

  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    const ctEnd = end - AEAD_TAG_LENGTH;
    if (ctEnd < start || nonce.length !== AEAD_NONCE_LENGTH) return -1;
    let out: Uint8Array;
    try {
      out = this.cipher(nonce, aad).decrypt(buf.subarray(start, end));
    } catch {
      return -1; // authentication failed: buf untouched
    }
    buf.set(out, start);
    return ctEnd;
  }
}

function checkSample(sample: Uint8Array): void {
  if (sample.length !== HP_SAMPLE_LENGTH) throw new RangeError(`header-protection sample must be 16 bytes, got ${sample.length}`);
}

function aesHeaderProtection(hpKey: Uint8Array): HeaderProtection {
  const key = hpKey.slice();
  return (sample, out) => {
    checkSample(sample);
    const block = ecb(key, { disablePadding: true }).encrypt(sample);
    for (let i = 0; i < HP_MASK_LENGTH; i++) out[i] = block[i]!;
  };
}

const ZERO_MASK_INPUT = new Uint8Array(HP_MASK_LENGTH);

function chachaHeaderProtection(hpKey: Uint8Array): HeaderProtection {
  const key = hpKey.slice();
  // RFC 9001 §5.4.4: counter = sample[0..4] little-endian, nonce = sample[4..16].
  return (sample, out) => {
    checkSample(sample);
    const counter = (sample[0]! | (sample[1]! << 8) | (sample[2]! << 16) | (sample[3]! << 24)) >>> 0;
    const mask = chacha20(key, sample.subarray(4, 16), ZERO_MASK_INPUT, undefined, counter);
    for (let i = 0; i < HP_MASK_LENGTH; i++) out[i] = mask[i]!;
  };
}

export const browserCryptoProvider: CryptoProvider = {
  sha256: (data) => sha256(data),
  hmacSha256,
  hkdfExtract: (salt, ikm) => hmacSha256(salt, ikm),
  hkdfExpand: (prk, info, length) => hkdfExpandWithHmac(hmacSha256, prk, info, length),
  randomBytes,

  x25519Generate: (): KeyPair => {
    const privateKey = randomBytes(32);
    return { publicKey: nacl.scalarMult.base(privateKey), privateKey };
  },

  x25519: (privateKey, peerPublic) => {
    need32(privateKey, 'X25519 private key');
    need32(peerPublic, 'X25519 public key');
    const shared = nacl.scalarMult(privateKey, peerPublic);
    if (isAllZero(shared)) throw new RangeError('X25519 produced the all-zero secret (small-order peer key)');
    return shared;
  },

  ed25519Generate: (): KeyPair => {
    const seed = randomBytes(32);
    return { publicKey: nacl.sign.keyPair.fromSeed(seed).publicKey, privateKey: seed };
  },

  ed25519Sign: (privateKey, msg) => nacl.sign.detached(msg, signingKey(privateKey)),

  ed25519Verify: (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    try {
      return nacl.sign.detached.verify(msg, sig, publicKey);
    } catch {
      return false;
    }
  },

  createAead: (suite, key) => new JsAead(suite, key),

  createHeaderProtection: (suite, hpKey) => {
    const want = suiteKeyLength(suite);
    if (hpKey.length !== want) throw new RangeError(`${suite} hp key must be ${want} bytes, got ${hpKey.length}`);
    return suite === 'AES_128_GCM_SHA256' ? aesHeaderProtection(hpKey) : chachaHeaderProtection(hpKey);
  },
};
