/**
 * A crypto provider whose randomness comes from a caller-supplied source: the deterministic simulator
 * uses it so a seeded run is byte-identical every time (randoms, key shares, connection ids), while
 * every primitive (AEAD, X25519, Ed25519, HKDF) is still the real one from the base provider.
 * Never use it with a predictable source outside tests and simulation.
 */
import type { CryptoProvider, KeyPair } from './provider.js';

/** The X25519 base point u = 9 (RFC 7748 §4.1). */
const BASE_POINT = new Uint8Array(32);
BASE_POINT[0] = 9;

export function seededProvider(base: CryptoProvider, random: (n: number) => Uint8Array): CryptoProvider {
  return {
    ...base,
    randomBytes: (n: number) => random(n),
    x25519Generate(): KeyPair {
      const privateKey = random(32);
      return { privateKey, publicKey: base.x25519(privateKey, BASE_POINT) };
    },
  };
}
