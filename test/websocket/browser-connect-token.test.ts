import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect as browserConnect } from '../../lib/browser/index.js';
import { generateIdentity, listen, mintConnectToken, PetrelError, type PetrelConnection } from '../../lib/api/index.js';

describe('the browser client presents a connect token', () => {
  it('a Node server requiring tokens admits it (clientId reaches the server) and refuses a reused one', async () => {
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket = had ?? WebSocket;
    const identity = generateIdentity();
    const backend = generateIdentity();
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      identity,
      websocket: { port: 0 },
      requireConnectToken: { trustedBackendKeys: [backend.publicKey], serverAddresses: ['game-1.example:443'] },
    });
    try {
      const seen: PetrelConnection[] = [];
      server.on('connection', (c) => seen.push(c));
      const url = `ws://127.0.0.1:${server.websocketAddress()!.port}/`;
      const token = mintConnectToken({
        backendKey: backend,
        clientId: 'web-player',
        serverAddresses: ['game-1.example:443'],
        expiresAt: Date.now() + 60_000,
      });
      const conn = await browserConnect({ url, serverKey: identity.fingerprint, connectToken: token });
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.map((c) => c.connectToken?.clientId)).toEqual(['web-player']);
      let err: unknown = null;
      await browserConnect({ url, serverKey: identity.fingerprint, connectToken: token, timeout: 5000 }).then(
        (c) => c.close(),
        (e: unknown) => void (err = e),
      );
      expect(err).toBeInstanceOf(PetrelError);
      expect((err as PetrelError).code).toBe('CONNECT_TOKEN_REUSED');
      await conn.close();
    } finally {
      await server.close();
      g.WebSocket = had;
    }
  });
});
