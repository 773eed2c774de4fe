/**
 * Orders the cipher suites by what they cost through one provider on the running machine: the 1-RTT
 * suite is negotiated once per connection but paid on every packet, and which suite is cheaper depends on
 * the provider (a native in-place ChaCha20-Poly1305 against node:crypto's per-packet AES-GCM object) and
 * the CPU (AES instructions or not). The clock is injected, so the core stays free of one.
 */
import { CIPHER_SUITES, suiteKeyLength, type CipherSuite, type CryptoProvider } from './provider.js';

/** A full-size 1-RTT payload: 1472-byte datagram less an 11-byte short header, the tag and the CRC. */
const PAYLOAD = 1441;
const HEADER = 11;

export interface SuiteCost {
  suite: CipherSuite;
  /** Seal + open of one full-size packet, µs (the lowest of the rounds: least disturbed by load). */
  us: number;
}

/**
 * Times seal + open of `packets` full-size packets per suite in `rounds` interleaved rounds (a few ms in
 * all with the defaults) and returns the suites cheapest first. A suite must be at least `margin` cheaper
 * than the one before it in CIPHER_SUITES order to overtake it, so noise cannot flip the choice.
 */
export function measureSuiteCosts(
  provider: CryptoProvider,
  clockMs: () => number,
  { packets = 40, rounds = 3, margin = 0.2 }: { packets?: number; rounds?: number; margin?: number } = {},
): SuiteCost[] {
  const buf = new Uint8Array(HEADER + PAYLOAD + 16);
  const nonce = new Uint8Array(12);
  const aad = buf.subarray(0, HEADER);
  const best = new Map<CipherSuite, number>();
  const aeads = CIPHER_SUITES.map((suite) => ({ suite, aead: provider.createAead(suite, provider.randomBytes(suiteKeyLength(suite))) }));
  for (let r = 0; r < rounds; r++) {
    for (const { suite, aead } of aeads) {
      const t0 = clockMs();
      for (let i = 0; i < packets; i++) {
        nonce[11] = i;
        aead.seal(nonce, aad, buf, HEADER, HEADER + PAYLOAD);
        if (aead.open(nonce, aad, buf, HEADER, HEADER + PAYLOAD + 16) < 0) throw new Error(`${suite} failed its own round trip`);
      }
      const us = ((clockMs() - t0) * 1000) / packets;
      best.set(suite, Math.min(best.get(suite) ?? Infinity, us));
    }
  }
  const costs = CIPHER_SUITES.map((suite) => ({ suite, us: best.get(suite)! }));
  // Stable insertion by cost with a margin: ties and near-ties keep the CIPHER_SUITES order.
  const ordered: SuiteCost[] = [];
  for (const c of costs) {
    let at = ordered.length;
    while (at > 0 && c.us < ordered[at - 1]!.us * (1 - margin)) at--;
    ordered.splice(at, 0, c);
  }
  return ordered;
}

/** The provider with `preferredSuites` set from measureSuiteCosts. */
export function withMeasuredSuitePreference(provider: CryptoProvider, clockMs: () => number): CryptoProvider & { suiteCosts: SuiteCost[] } {
  const suiteCosts = measureSuiteCosts(provider, clockMs);
  return { ...provider, preferredSuites: suiteCosts.map((c) => c.suite), suiteCosts };
}
