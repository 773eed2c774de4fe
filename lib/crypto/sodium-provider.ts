/**
 * A CryptoProvider backed by libsodium through `sodium-native` (an optional dependency), falling back to
 * node:crypto for what libsodium lacks: AES-128-GCM and AES header protection (libsodium has AES-256-GCM
 * only) and Ed25519 verification (OpenSSL's acceptance rules stay the reference; only clients verify).
 *
 * Why: node:crypto cannot re-key or re-IV a GCM/ChaCha20-Poly1305 cipher, so every packet costs a new
 * Cipheriv, a Buffer for its output and a finaliser at GC; libsodium seals in place in one call (~1.8 µs
 * per 1441-byte payload against ~5 µs plus GC on this machine, tools/bench/protection.ts). X25519,
 * Ed25519 signing and HMAC-SHA-256 are also several times cheaper and involve no key-generation job.
 *
 * The binding is loaded lazily inside a try: a missing or broken binary gives `null`, and callers use
 * node:crypto. Like node-provider.ts this file is driver-side (it loads a native module); the core only
 * sees the CryptoProvider interface.
 */
import { createRequire } from 'node:module';
import { hkdfExpandWithHmac } from './hkdf.js';
import { nodeCryptoProvider } from './node-provider.js';
import {
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  HASH_LENGTH,
  HP_MASK_LENGTH,
  HP_SAMPLE_LENGTH,
  suiteKeyLength,
  type Aead,
  type CipherSuite,
  type CryptoProvider,
  type HeaderProtection,
  type KeyPair,
} from './provider.js';

/** The part of sodium-native this provider calls (typed here: the package ships no declarations). */
interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): void;
  crypto_stream_chacha20_ietf_xor_ic(c: Uint8Array, m: Uint8Array, n: Uint8Array, ic: number, k: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  crypto_hash_sha256_init(state: Uint8Array): void;
  crypto_hash_sha256_update(state: Uint8Array, input: Uint8Array): void;
  crypto_hash_sha256_final(state: Uint8Array, out: Uint8Array): void;
  randombytes_buf(buf: Uint8Array): void;
  crypto_hash_sha256_STATEBYTES: number;
}

/** Loads sodium-native, or returns null (not installed, no prebuilt binary for this platform, ...). */
function loadSodium(): Sodium | null {
  try {
    // The ESM build (and the TypeScript source) makes a require from its own URL; the CJS build, where
    // import.meta is empty, has its own. Never test `typeof require` in ESM: a bundler's require shim
    // (esbuild's __require, in the published ESM build) exists there and throws on this dynamic require,
    // which silently fell back to node:crypto.
    const url = (import.meta as { url?: string }).url;
    const req = typeof url === 'string' ? createRequire(url) : require;
    const s = req('sodium-native') as Sodium;
    return typeof s.crypto_aead_chacha20poly1305_ietf_encrypt_detached === 'function' ? s : null;
  } catch {
    return null;
  }
}

/**
 * Scratch for open(): libsodium zeroes the output on a failed tag, so decrypting in place would break the
 * contract that a failed open leaves the packet untouched (trial decryption across key phases relies on
 * it). Plaintext lands here and is copied back only once authenticated. Synchronous, never re-entered.
 */
let openScratch = new Uint8Array(2048);

class SodiumChaChaAead implements Aead {
  readonly tagLength = AEAD_TAG_LENGTH;
  private readonly key: Uint8Array;

  constructor(
    private readonly s: Sodium,
    key: Uint8Array,
  ) {
    if (key.length !== 32) throw new RangeError(`CHACHA20_POLY1305_SHA256 key must be 32 bytes, got ${key.length}`);
    this.key = key.slice();
  }

  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    if (end + AEAD_TAG_LENGTH > buf.length) throw new RangeError('no room for the AEAD tag');
    const m = buf.subarray(start, end);
    this.s.crypto_aead_chacha20poly1305_ietf_encrypt_detached(m, buf.subarray(end, end + AEAD_TAG_LENGTH), m, aad, null, nonce, this.key);
    return end + AEAD_TAG_LENGTH;
  }

  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number {
    const ctEnd = end - AEAD_TAG_LENGTH;
    if (ctEnd < start || nonce.length !== AEAD_NONCE_LENGTH) return -1;
    const len = ctEnd - start;
    if (openScratch.length < len) openScratch = new Uint8Array(Math.max(len, openScratch.length * 2));
    const out = openScratch.subarray(0, len);
    try {
      this.s.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
        out,
        null,
        buf.subarray(start, ctEnd),
        buf.subarray(ctEnd, end),
        aad,
        nonce,
        this.key,
      );
    } catch {
      return -1;
    }
    buf.set(out, start);
    return ctEnd;
  }
}

const ZERO_MASK_INPUT = new Uint8Array(HP_MASK_LENGTH);

function chachaHeaderProtection(s: Sodium, hpKey: Uint8Array): HeaderProtection {
  const key = hpKey.slice();
  // RFC 9001 §5.4.4: counter = sample[0..4) little-endian, nonce = sample[4..16).
  return (sample, out) => {
    if (sample.length !== HP_SAMPLE_LENGTH) throw new RangeError(`header-protection sample must be 16 bytes, got ${sample.length}`);
    const counter = (sample[0]! | (sample[1]! << 8) | (sample[2]! << 16) | (sample[3]! << 24)) >>> 0;
    s.crypto_stream_chacha20_ietf_xor_ic(
      out.length === HP_MASK_LENGTH ? out : out.subarray(0, HP_MASK_LENGTH),
      ZERO_MASK_INPUT,
      sample.subarray(4),
      counter,
      key,
    );
  };
}

const BLOCK = 64;

/** HMAC-SHA-256 (RFC 2104) over libsodium's streaming SHA-256 (sodium-native exposes no HMAC-SHA-256). */
function makeHmac(s: Sodium): (key: Uint8Array, data: Uint8Array) => Uint8Array {
  const state = new Uint8Array(s.crypto_hash_sha256_STATEBYTES);
  const pad = new Uint8Array(BLOCK);
  const k0 = new Uint8Array(BLOCK);
  const inner = new Uint8Array(HASH_LENGTH);
  return (key, data) => {
    k0.fill(0);
    if (key.length > BLOCK) s.crypto_hash_sha256(k0.subarray(0, HASH_LENGTH), key);
    else k0.set(key);
    for (let i = 0; i < BLOCK; i++) pad[i] = k0[i]! ^ 0x36;
    s.crypto_hash_sha256_init(state);
    s.crypto_hash_sha256_update(state, pad);
    s.crypto_hash_sha256_update(state, data);
    s.crypto_hash_sha256_final(state, inner);
    for (let i = 0; i < BLOCK; i++) pad[i] = k0[i]! ^ 0x5c;
    const out = new Uint8Array(HASH_LENGTH);
    s.crypto_hash_sha256_init(state);
    s.crypto_hash_sha256_update(state, pad);
    s.crypto_hash_sha256_update(state, inner);
    s.crypto_hash_sha256_final(state, out);
    return out;
  };
}

function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

function check32(raw: Uint8Array, what: string): void {
  if (raw.length !== 32) throw new RangeError(`${what} must be 32 bytes, got ${raw.length}`);
}

function buildSodiumProvider(s: Sodium): CryptoProvider {
  const hmacSha256 = makeHmac(s);
  const randomBytes = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    s.randombytes_buf(out);
    return out;
  };
  /** Expanded Ed25519 secret keys (seed || public) by seed: a server signs with one identity. */
  const signKeys = new Map<string, Uint8Array>();
  const signKey = (seed: Uint8Array): Uint8Array => {
    check32(seed, 'Ed25519 private key');
    const id = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('latin1');
    let sk = signKeys.get(id);
    if (!sk) {
      sk = new Uint8Array(64);
      s.crypto_sign_seed_keypair(new Uint8Array(32), sk, seed);
      if (signKeys.size >= 8) signKeys.delete(signKeys.keys().next().value!);
      signKeys.set(id, sk);
    }
    return sk;
  };
  return {
    ...nodeCryptoProvider,
    name: 'sodium',
    sha256: (data) => {
      const out = new Uint8Array(HASH_LENGTH);
      s.crypto_hash_sha256(out, data);
      return out;
    },
    hmacSha256,
    hkdfExtract: (salt, ikm) => hmacSha256(salt, ikm),
    hkdfExpand: (prk, info, length) => hkdfExpandWithHmac(hmacSha256, prk, info, length),
    randomBytes,
    x25519Generate: (): KeyPair => {
      const privateKey = randomBytes(32);
      const publicKey = new Uint8Array(32);
      s.crypto_scalarmult_base(publicKey, privateKey);
      return { publicKey, privateKey };
    },
    x25519: (privateKey, peerPublic) => {
      check32(privateKey, 'X25519 private key');
      check32(peerPublic, 'X25519 public key');
      const shared = new Uint8Array(32);
      try {
        s.crypto_scalarmult(shared, privateKey, peerPublic); // libsodium refuses an all-zero result
      } catch {
        shared.fill(0);
      }
      if (isAllZero(shared)) throw new RangeError('X25519 produced the all-zero secret (small-order peer key)');
      return shared;
    },
    ed25519Generate: (): KeyPair => {
      const privateKey = randomBytes(32);
      const publicKey = new Uint8Array(32);
      s.crypto_sign_seed_keypair(publicKey, new Uint8Array(64), privateKey);
      return { publicKey, privateKey };
    },
    ed25519Sign: (privateKey, msg) => {
      const sig = new Uint8Array(64);
      s.crypto_sign_detached(sig, msg, signKey(privateKey));
      return sig;
    },
    createAead: (suite: CipherSuite, key: Uint8Array): Aead =>
      suite === 'CHACHA20_POLY1305_SHA256' ? new SodiumChaChaAead(s, key) : nodeCryptoProvider.createAead(suite, key),
    createHeaderProtection: (suite: CipherSuite, hpKey: Uint8Array): HeaderProtection => {
      if (suite !== 'CHACHA20_POLY1305_SHA256') return nodeCryptoProvider.createHeaderProtection(suite, hpKey);
      const want = suiteKeyLength(suite);
      if (hpKey.length !== want) throw new RangeError(`${suite} hp key must be ${want} bytes, got ${hpKey.length}`);
      return chachaHeaderProtection(s, hpKey);
    },
  };
}

let cached: CryptoProvider | null | undefined;

/** The libsodium-backed provider, or null when sodium-native cannot be loaded here. Loaded once. */
export function sodiumCryptoProvider(): CryptoProvider | null {
  if (cached === undefined) {
    const s = loadSodium();
    cached = s ? buildSodiumProvider(s) : null;
  }
  return cached;
}
