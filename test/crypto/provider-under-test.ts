/**
 * The crypto provider the crypto tests run against. The suite runs twice (vitest.config.ts projects): once
 * with node:crypto, once with PETREL_TEST_PROVIDER=browser (lib/crypto/browser-provider.ts, no Node built-ins),
 * so both providers pass the same primitive, key-schedule, packet-protection and handshake tests.
 */
import { browserCryptoProvider } from '../../lib/crypto/browser-provider.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';

export const providerName: 'node' | 'browser' = process.env.PETREL_TEST_PROVIDER === 'browser' ? 'browser' : 'node';
export const providerUnderTest: CryptoProvider = providerName === 'browser' ? browserCryptoProvider : nodeCryptoProvider;
