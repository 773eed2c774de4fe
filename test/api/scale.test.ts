import { describe, expect, it } from 'vitest';
import { connect, listen, TRANSPORT } from './transport.js';
import type { PetrelConnection, PetrelStream } from '../../lib/api/index.js';
import { expectNoLeaks, hashStream, pattern, readAll, resources, sha, waitFor, within } from './helpers.js';

// Over WebSocket every connection is also a TCP socket and an HTTP upgrade: fewer, to keep the run modest.
const CONNECTIONS = TRANSPORT === 'websocket' ? 300 : 1000;
const WAVE = 100; // handshakes in flight at once; every connection stays open until the end

describe('many connections on one server', () => {
  it(`${CONNECTIONS} concurrent connections each exchange on 2 streams and 1 channel, then close without leaks`, async () => {
    const base = resources();
    const t0 = Date.now();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    let serverMessages = 0;
    server.on('connection', (conn) => {
      conn.on('stream', (s: PetrelStream) => {
        void hashStream(s).then((h) => s.end(h.hash)); // answer with the hash of what came in
      });
      const ch = conn.channel<{ n: number }>('ping', { mode: 'reliable-ordered' });
      ch.on('message', (m) => {
        serverMessages++;
        ch.send({ n: m.n + 1 });
      });
    });
    const port = server.address().port;
    const clients: PetrelConnection[] = [];
    for (let i = 0; i < CONNECTIONS; i += WAVE) {
      const wave = await within(
        Promise.all(
          Array.from({ length: Math.min(WAVE, CONNECTIONS - i) }, () => connect({ host: '127.0.0.1', port, insecure: true, timeout: 20_000 })),
        ),
        30_000,
        `connect wave ${i / WAVE}`,
      );
      clients.push(...wave);
    }
    const tConnected = Date.now();
    await waitFor(() => server.connections.size === CONNECTIONS, 10_000, 'server-side connections');
    expect(clients.every((c) => c.isOpen)).toBe(true);

    const exchange = async (c: PetrelConnection, i: number): Promise<boolean> => {
      const ch = c.channel<{ n: number }>('ping', { mode: 'reliable-ordered' });
      const reply = new Promise<{ n: number }>((r) => ch.once('message', r));
      ch.send({ n: i });
      const results = await Promise.all(
        [0, 1].map(async (k) => {
          const data = pattern(1000 + k, i * 2 + k);
          const s = await c.openStream();
          s.end(data);
          return (await readAll(s)).toString() === sha(data);
        }),
      );
      return results.every(Boolean) && (await reply).n === i + 1;
    };
    const ok = await within(Promise.all(clients.map(exchange)), 40_000, 'exchanges');
    expect(ok.filter(Boolean).length).toBe(CONNECTIONS);
    expect(serverMessages).toBe(CONNECTIONS);
    const tExchanged = Date.now();
    const rtts = clients.map((c) => c.stats().smoothedRtt).sort((a, b) => a - b);
    console.log(`rtt median ${rtts[CONNECTIONS >> 1]} max ${rtts[CONNECTIONS - 1]} pto-ish ${clients[0]!.stats().rttVariance}`);

    await within(Promise.all(clients.map((c) => c.close())), 60_000, 'client closes');
    console.log('clients closed after', Date.now() - tExchanged);
    await within(server.close(), 60_000, 'server close');
    expect(clients.every((c) => c.closeResult?.initiator === 'local')).toBe(true);
    await expectNoLeaks(base, 10_000);
    console.log(
      `scale: ${CONNECTIONS} connections — connect ${tConnected - t0} ms, exchange ${tExchanged - tConnected} ms, close ${Date.now() - tExchanged} ms`,
    );
  }, 180_000);
});
