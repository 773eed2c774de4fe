/**
 * The crypto provider: the only door through which the core reaches a cipher, a hash or randomness.
 * The Node driver injects the node:crypto provider (node-provider.ts); the browser client will inject a
 * pure-JS one. Every key is a raw Uint8Array, so secrets move between providers without format games.
 * Contract and suites: spec/handshake.md §Crypto provider.
 */

/** The two AEAD suites Petrel negotiates. Both hash with SHA-256. Default preference: CIPHER_SUITES order, or the provider's preferredSuites. */
export type CipherSuite = 'AES_128_GCM_SHA256' | 'CHACHA20_POLY1305_SHA256';

/** Suites in preference order. Initial packets always use the first. */
export const CIPHER_SUITES: readonly CipherSuite[] = ['AES_128_GCM_SHA256', 'CHACHA20_POLY1305_SHA256'];

/** AEAD key length (bytes) of a suite; the header-protection key has the same length. */
export function suiteKeyLength(suite: CipherSuite): number {
  return suite === 'AES_128_GCM_SHA256' ? 16 : 32;
}

/** Bytes of every AEAD tag (both suites). */
export const AEAD_TAG_LENGTH = 16;
/** Bytes of every AEAD nonce and packet IV (both suites). */
export const AEAD_NONCE_LENGTH = 12;
/** SHA-256 output length: the size of every secret in the key schedule. */
export const HASH_LENGTH = 32;
/** Bytes of ciphertext sampled for header protection. */
export const HP_SAMPLE_LENGTH = 16;
/** Bytes of header-protection mask used (1 for the first byte, up to 4 for the packet number). */
export const HP_MASK_LENGTH = 5;

/** A raw key pair: 32-byte public key and 32-byte private key (X25519 scalar or Ed25519 seed). */
export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/**
 * One AEAD key, ready for many packets. Works in place: the plaintext/ciphertext lives in
 * buf[start, end) and the tag follows it, so the packet buffer is the only buffer.
 */
export interface Aead {
  readonly tagLength: number;
  /**
   * Encrypts buf[start, end) in place and writes the tag at buf[end, end + tagLength).
   * Returns end + tagLength. Throws RangeError when buf has no room for the tag.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number;
  /**
   * Verifies and decrypts buf[start, end) (end includes the tag) in place. Returns the plaintext end
   * (end - tagLength), or -1 when authentication fails; then buf is left unchanged.
   */
  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, start: number, end: number): number;
}

/**
 * Header protection for one key (RFC 9001 §5.4): writes the 5-byte mask for a 16-byte ciphertext
 * sample into out[0..5). Writes into a caller buffer so the per-packet path allocates nothing of its own.
 */
export type HeaderProtection = (sample: Uint8Array, out: Uint8Array) => void;

export interface CryptoProvider {
  /** Which implementation this is ('node', 'sodium', ...), for stats and benchmarks. */
  readonly name?: string;
  /**
   * Suites in this provider's order of cost on the running machine, cheapest first (see suite-cost.ts).
   * Handshakes given no `suites` option use it; absent means CIPHER_SUITES.
   */
  readonly preferredSuites?: readonly CipherSuite[];
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-Extract with SHA-256 (RFC 5869 §2.2). An empty salt means HashLen zero bytes. */
  hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand with SHA-256 (RFC 5869 §2.3); length at most 255 * 32. */
  hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** Cryptographically secure random bytes: the only randomness the core ever uses for secrets. */
  randomBytes(n: number): Uint8Array;
  x25519Generate(): KeyPair;
  /** X25519(privateKey, peerPublic) (RFC 7748 §5). Throws on an all-zero result (small-order peer key). */
  x25519(privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array;
  ed25519Generate(): KeyPair;
  /** Ed25519 signature (64 bytes) of msg with a 32-byte private seed (RFC 8032 §5.1.6). */
  ed25519Sign(privateKey: Uint8Array, msg: Uint8Array): Uint8Array;
  /** True when sig is a valid Ed25519 signature; false (never a throw) for any malformed input. */
  ed25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  /** An AEAD for one raw key (16 bytes for AES-128-GCM, 32 for ChaCha20-Poly1305). */
  createAead(suite: CipherSuite, key: Uint8Array): Aead;
  /** Header protection for one raw hp key: AES-128-ECB for the AES suite, ChaCha20 for the ChaCha suite. */
  createHeaderProtection(suite: CipherSuite, hpKey: Uint8Array): HeaderProtection;
}
