/**
 * The crypto provider the Node runtime uses when none is given: libsodium (sodium-native) when it loads,
 * else node:crypto; suites ordered by a ~ms calibration of seal + open on this machine (suite-cost.ts).
 * PETREL_CRYPTO_PROVIDER=node|sodium forces one (benchmarks A/B them; 'sodium' without the binary falls
 * back to node); PETREL_CRYPTO_SUITES=CHACHA20_POLY1305_SHA256,AES_128_GCM_SHA256 replaces the measured order
 * (a server picks its first suite the client offers). Driver-side: reads the environment and the clock once.
 */
import { performance } from 'node:perf_hooks';
import { nodeCryptoProvider } from './node-provider.js';
import { CIPHER_SUITES, type CipherSuite, type CryptoProvider } from './provider.js';
import { sodiumCryptoProvider } from './sodium-provider.js';
import { withMeasuredSuitePreference } from './suite-cost.js';

let chosen: CryptoProvider | undefined;

export function runtimeCryptoProvider(): CryptoProvider {
  if (!chosen) {
    const want = process.env.PETREL_CRYPTO_PROVIDER;
    const base = want === 'node' ? nodeCryptoProvider : (sodiumCryptoProvider() ?? nodeCryptoProvider);
    const forced = (process.env.PETREL_CRYPTO_SUITES ?? '')
      .split(',')
      .filter((s): s is CipherSuite => (CIPHER_SUITES as readonly string[]).includes(s));
    chosen = forced.length > 0 ? { ...base, preferredSuites: forced } : withMeasuredSuitePreference(base, () => performance.now());
  }
  return chosen;
}
