import { describe, expect, it } from 'vitest';
import { generateIdentity, identityFromPrivateKey, parseFingerprint, PetrelError } from '../../lib/api/index.js';
import { connect, listen } from './transport.js';
import { issueCertificate } from '../../lib/crypto/handshake/index.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { expectNoLeaks, pattern, readAll, resources, sha } from './helpers.js';

async function rejection(p: Promise<unknown>): Promise<PetrelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelError);
    return e as PetrelError;
  }
  throw new Error('expected a rejection');
}

describe('secure handshake through the public API', () => {
  it('is the default: a server needs an identity, a client a key to trust', async () => {
    expect((await rejection(listen({ host: '127.0.0.1', port: 0 }))).code).toBe('IDENTITY_REQUIRED');
    expect((await rejection(connect({ host: '127.0.0.1', port: 9 }))).code).toBe('SERVER_KEY_REQUIRED');
    expect((await rejection(connect({ host: '127.0.0.1', port: 9, serverKey: 'sha256:nope' }))).code).toBe('INVALID_FINGERPRINT');
    expect((await rejection(connect({ host: '127.0.0.1', port: 9, serverKey: new Uint8Array(5) }))).code).toBe('INVALID_OPTION');
  });

  it('identities: fingerprints parse back to the key, and a stored private key rebuilds the identity', () => {
    const id = generateIdentity();
    expect(id.publicKey.length).toBe(32);
    expect(id.privateKey.length).toBe(32);
    expect(id.fingerprint.startsWith('ed25519:')).toBe(true);
    expect(Array.from(parseFingerprint(id.fingerprint))).toEqual(Array.from(id.publicKey));
    expect(identityFromPrivateKey(id.privateKey)).toEqual(id);
  });

  it('connects with a pinned key and moves 2 MiB intact; a different pinned key is refused', async () => {
    const base = resources();
    const id = generateIdentity();
    const server = await listen({ host: '127.0.0.1', port: 0, identity: id, alpn: 'game/1' });
    server.on('connection', (c) => c.on('stream', (s) => void readAll(s).then((b) => s.end(sha(b)))));
    const port = server.address().port;
    const conn = await connect({ host: '127.0.0.1', port, serverKey: id.fingerprint, alpn: 'game/1' });
    expect(conn.alpn).toBe('game/1');
    const data = pattern(2 * 1024 * 1024, 42);
    const s = await conn.openStream();
    s.end(data);
    expect((await readAll(s)).toString()).toBe(sha(data));
    const other = generateIdentity();
    expect((await rejection(connect({ host: '127.0.0.1', port, serverKey: other.publicKey, alpn: 'game/1', timeout: 5000 }))).code).toBe(
      'UNKNOWN_SERVER_KEY',
    );
    await conn.close();
    await server.close();
    await expectNoLeaks(base);
  });

  it('accepts a server certified by a trusted CA for the right name only', async () => {
    const base = resources();
    const ca = generateIdentity();
    const id = generateIdentity();
    const now = Date.now();
    const cert = issueCertificate(nodeCryptoProvider, ca, {
      serverName: 'game.example',
      publicKey: id.publicKey,
      notBefore: now - 60_000,
      notAfter: now + 3_600_000,
    });
    const server = await listen({ host: '127.0.0.1', port: 0, identity: id, certificateChain: [cert], initialRtt: 20 });
    server.on('connection', (c) => c.on('stream', (s) => void readAll(s).then((b) => s.end(b))));
    const port = server.address().port;
    const ok = await connect({ host: '127.0.0.1', port, serverName: 'game.example', trustedCAs: [ca.fingerprint] });
    const s = await ok.openStream();
    s.end('through the CA');
    expect((await readAll(s)).toString()).toBe('through the CA');
    expect(
      (await rejection(connect({ host: '127.0.0.1', port, serverName: 'evil.example', trustedCAs: [ca.fingerprint], timeout: 5000 }))).code,
    ).toBe('WRONG_SERVER_NAME');
    await ok.close();
    await server.close();
    await expectNoLeaks(base);
  });
});
