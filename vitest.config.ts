import { defineConfig } from 'vitest/config';

// The real-socket API tests that also run over the WebSocket carrier (test/api/transport.ts), and the crypto
// tests that also run against the browser provider (test/crypto/provider-under-test.ts; the primitive,
// packet-protection and handshake tests loop over every provider themselves, test/crypto/providers.ts).
const OVER_WEBSOCKET = ['bulk', 'channels', 'lifecycle', 'scale', 'secure', 'streams'].map((n) => `test/api/${n}.test.ts`);
const WITH_BROWSER_PROVIDER = ['key-schedule', 'handshake-vectors'].map((n) => `test/crypto/${n}.test.ts`);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'default', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'websocket', include: OVER_WEBSOCKET, env: { PETREL_TEST_TRANSPORT: 'websocket' } } },
      { extends: true, test: { name: 'browser-provider', include: WITH_BROWSER_PROVIDER, env: { PETREL_TEST_PROVIDER: 'browser' } } },
    ],
  },
});
