/**
 * The Retry integrity tag (spec/wire.md §Retry): AES-128-GCM over an empty plaintext with the Retry
 * pseudo-packet as associated data, under a fixed key and nonce. The tag only proves that the sender saw the
 * client's Initial (it knew the original DCID); anyone can compute it, as in RFC 9001 §5.8.
 *
 * key   = first 16 bytes of SHA-256("petrel v1 retry integrity key")
 * nonce = first 12 bytes of SHA-256("petrel v1 retry integrity nonce")
 */
import type { Aead, CryptoProvider } from './provider.js';

export const RETRY_INTEGRITY_KEY = hex('c240b8df36fd94f31b2cbcb5cce6b4b3');
export const RETRY_INTEGRITY_NONCE = hex('38c237dcef293afe4e7546b3');
export const RETRY_TAG_LENGTH = 16;

/** Computes Retry integrity tags; one AEAD object for every Retry of a provider. */
export class RetryIntegrity {
  private readonly aead: Aead;
  private readonly out = new Uint8Array(RETRY_TAG_LENGTH);

  constructor(provider: CryptoProvider) {
    this.aead = provider.createAead('AES_128_GCM_SHA256', RETRY_INTEGRITY_KEY);
  }

  /** The 16-byte tag over a Retry pseudo-packet (retryPseudoPacket() in lib/wire/packet.ts). */
  tag(pseudoPacket: Uint8Array): Uint8Array {
    this.aead.seal(RETRY_INTEGRITY_NONCE, pseudoPacket, this.out, 0, 0);
    return this.out.slice();
  }

  /** Constant-time check of a received tag. */
  verify(pseudoPacket: Uint8Array, tag: Uint8Array): boolean {
    if (tag.length !== RETRY_TAG_LENGTH) return false;
    const want = this.tag(pseudoPacket);
    let diff = 0;
    for (let i = 0; i < RETRY_TAG_LENGTH; i++) diff |= want[i]! ^ tag[i]!;
    return diff === 0;
  }
}

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
