/**
 * The crypto provider the Node runtime uses when none is given: libsodium (sodium-native) when it loads,
 * else node:crypto; suites ordered by a ~ms calibration of seal + open on this machine (suite-cost.ts).
 * PETREL_CRYPTO_PROVIDER=node|sodium forces one (benchmarks A/B them; 'sodium' without the binary falls
 * back to node). Driver-side: reads the environment and the clock once, at first use.
 */
import { performance } from 'node:perf_hooks';
import { nodeCryptoProvider } from './node-provider.js';
import type { CryptoProvider } from './provider.js';
import { sodiumCryptoProvider } from './sodium-provider.js';
import { withMeasuredSuitePreference } from './suite-cost.js';

let chosen: CryptoProvider | undefined;

export function runtimeCryptoProvider(): CryptoProvider {
  if (!chosen) {
    const want = process.env.PETREL_CRYPTO_PROVIDER;
    const base = want === 'node' ? nodeCryptoProvider : (sodiumCryptoProvider() ?? nodeCryptoProvider);
    chosen = withMeasuredSuitePreference(base, () => performance.now());
  }
  return chosen;
}
