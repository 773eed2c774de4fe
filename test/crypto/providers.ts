/**
 * The crypto providers every provider-level test runs against: node:crypto, libsodium and the browser
 * provider (no Node built-ins). sodium-native is an optional dependency but installed in this repository,
 * so a failed load is a test failure (providers.test.ts), not a skip.
 */
import { browserCryptoProvider } from '../../lib/crypto/browser-provider.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';

const sodium = sodiumCryptoProvider();

export const PROVIDERS: [string, CryptoProvider][] = [
  ['node', nodeCryptoProvider],
  ...(sodium ? ([['sodium', sodium]] as [string, CryptoProvider][]) : []),
  ['browser', browserCryptoProvider],
];
