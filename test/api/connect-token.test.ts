import { describe, expect, it } from 'vitest';
import { generateIdentity, mintConnectToken, PetrelError, type PetrelConnection } from '../../lib/api/index.js';
import { connect, listen } from './transport.js';
import { expectNoLeaks, resources } from './helpers.js';

async function rejection(p: Promise<unknown>): Promise<PetrelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelError);
    return e as PetrelError;
  }
  throw new Error('expected a rejection');
}

describe('connect tokens through the public API', () => {
  it('admits a client with a token; clientId and userData reach the server; each bad token is refused with its own code', async () => {
    const base = resources();
    const id = generateIdentity();
    const backend = generateIdentity();
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      identity: id,
      requireConnectToken: { trustedBackendKeys: [backend.fingerprint] },
    });
    const port = server.address().port;
    const addr = `127.0.0.1:${port}`; // the default: the bound host:port
    const seen: PetrelConnection[] = [];
    server.on('connection', (c) => seen.push(c));
    const userData = new TextEncoder().encode(JSON.stringify({ team: 'red', elo: 1234 }));
    const good = mintConnectToken({ backendKey: backend, clientId: 'player-7', serverAddresses: [addr], expiresAt: Date.now() + 60_000, userData });
    const conn = await connect({ host: '127.0.0.1', port, serverKey: id.fingerprint, connectToken: good });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.length).toBe(1);
    expect(seen[0]!.connectToken?.clientId).toBe('player-7');
    expect(JSON.parse(new TextDecoder().decode(seen[0]!.connectToken!.userData))).toEqual({ team: 'red', elo: 1234 });
    expect(conn.connectToken).toBeNull(); // client side: nothing to report

    const opts = { host: '127.0.0.1', port, serverKey: id.fingerprint, timeout: 5000 };
    const other = generateIdentity();
    const cases: Array<[Uint8Array | undefined, string]> = [
      [good, 'CONNECT_TOKEN_REUSED'],
      [undefined, 'CONNECT_TOKEN_MISSING'],
      [mintConnectToken({ backendKey: other, clientId: 'p', serverAddresses: [addr], expiresAt: Date.now() + 60_000 }), 'CONNECT_TOKEN_UNTRUSTED'],
      [mintConnectToken({ backendKey: backend, clientId: 'p', serverAddresses: [addr], expiresAt: Date.now() - 1 }), 'CONNECT_TOKEN_EXPIRED'],
      [
        mintConnectToken({ backendKey: backend, clientId: 'p', serverAddresses: ['127.0.0.1:1'], expiresAt: Date.now() + 60_000 }),
        'CONNECT_TOKEN_WRONG_SERVER',
      ],
      [new Uint8Array([1, 2, 3, 4]), 'CONNECT_TOKEN_MALFORMED'],
    ];
    for (const [connectToken, code] of cases) {
      const err = await rejection(connect({ ...opts, connectToken }));
      expect(err.code).toBe(code);
    }
    expect(seen.length).toBe(1);
    await conn.close();
    await server.close();
    await expectNoLeaks(base);
  });

  it('refuses tokens with the insecure mode, and bad server options', async () => {
    const backend = generateIdentity();
    expect(
      (await rejection(listen({ host: '127.0.0.1', port: 0, insecure: true, requireConnectToken: { trustedBackendKeys: [backend.publicKey] } })))
        .code,
    ).toBe('INVALID_OPTION');
    expect((await rejection(connect({ host: '127.0.0.1', port: 9, insecure: true, connectToken: new Uint8Array(10) }))).code).toBe('INVALID_OPTION');
    expect(
      (await rejection(listen({ host: '127.0.0.1', port: 0, identity: generateIdentity(), requireConnectToken: { trustedBackendKeys: [] } }))).code,
    ).toBe('INVALID_OPTION');
  });
});
