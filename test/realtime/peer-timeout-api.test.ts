/**
 * peerTimeout through the public API on real sockets: the server "dies" (the impairment proxy drops
 * everything), the client gets 'unresponsive', then its connection closes with initiator 'peer_timeout'
 * and calls fail with PEER_TIMEOUT — long before the 30 s idle timeout.
 */
import { describe, expect, it } from 'vitest';
import { connect, listen, PetrelError } from '../../lib/api/index.js';
import { ImpairProxy } from '../../tools/impair/proxy.js';
import { within } from '../api/helpers.js';

describe('peerTimeout (loopback, through the impairment proxy)', () => {
  it('a vanished server is noticed as unresponsive, then PEER_TIMEOUT', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const proxy = new ImpairProxy({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: server.address().port } });
    const at = await proxy.start();
    try {
      const conn = await connect({ host: at.host, port: at.port, insecure: true, peerTimeout: 800 });
      const unresponsive = new Promise<{ silentFor: number }>((r) => conn.once('unresponsive', r));
      await new Promise((r) => setTimeout(r, 300));
      const downAt = performance.now();
      proxy.set('both', { down: true });
      const u = await within(unresponsive, 5000, 'unresponsive');
      expect(u.silentFor).toBeGreaterThanOrEqual(400);
      const result = await within(conn.closed, 5000, 'close');
      const took = performance.now() - downAt;
      expect(result.initiator).toBe('peer_timeout');
      expect(result.reason).toMatch(/^PEER_TIMEOUT: /);
      expect(took).toBeLessThan(3000); // a bound; the 30 s idle timeout would be far beyond it
      let err: unknown = null;
      try {
        conn.channel('y');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PetrelError);
      expect((err as PetrelError).code).toBe('PEER_TIMEOUT');
    } finally {
      await proxy.stop();
      await server.close({ force: true });
    }
  }, 15_000);
});
