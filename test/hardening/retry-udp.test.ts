/**
 * Retry over real sockets (127.0.0.1): a server that demands address validation from every client still
 * accepts the public-API client, and a restarted server with the same statelessResetKey resets its old
 * clients at once.
 */
import { describe, expect, it } from 'vitest';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';

describe('Retry and restart over UDP', () => {
  it("listen({ retry: 'always' }): connect() succeeds after one Retry", async () => {
    const identity = generateIdentity();
    const server = await listen({ host: '127.0.0.1', port: 0, identity, retry: 'always' });
    try {
      const conn = await connect({ host: '127.0.0.1', port: server.address().port, serverKey: identity.fingerprint, timeout: 5000 });
      const s = await conn.openStream();
      s.end('ping');
      await conn.close();
      expect(server.stats().retriesSent).toBe(1);
      expect(server.stats().connectionsAccepted).toBe(1);
    } finally {
      await server.close({ force: true });
    }
  });

  it('a server restarted with the same statelessResetKey resets a client of the old one', async () => {
    const identity = generateIdentity();
    const key = new Uint8Array(32).fill(42);
    const a = await listen({ host: '127.0.0.1', port: 0, identity, statelessResetKey: key });
    const port = a.address().port;
    const conn = await connect({ host: '127.0.0.1', port, serverKey: identity.fingerprint, idleTimeout: 20_000, timeout: 5000 });
    const stream = await conn.openStream();
    // The old server vanishes without a word (its socket simply closes), a new one takes the port.
    await (a as unknown as { udp: { close(): Promise<void> } }).udp.close();
    await new Promise((r) => setTimeout(r, 50));
    const b = await listen({ host: '127.0.0.1', port, identity, statelessResetKey: key });
    try {
      stream.write('are you there?');
      const closed = await conn.closed;
      expect(closed.initiator).toBe('reset');
    } finally {
      await b.close({ force: true });
    }
  });
});
