// The driver's send buffers: taken from a pool, held while their send is pending, returned when no send is.
// A buffer handed out twice, or reused while the socket still holds it, corrupts datagrams (their CRC fails
// and they are dropped), so bursts of large datagrams must all arrive intact and the pool stay consistent.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connect, listen } from '../../lib/index.js';

interface DriverBuffers {
  pool: Buffer[];
  poolSize: number;
  sentCount: number;
  inflight: number;
}
const driverOf = (server: unknown): DriverBuffers => (server as { udp: DriverBuffers }).udp;

describe('UdpEndpoint send buffer pool', () => {
  it('bursts of datagrams arrive intact, and afterwards every buffer is back in the pool once', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const got: string[] = [];
    server.on('connection', (c) =>
      c.on('datagram', (d: Uint8Array) => {
        got.push(createHash('sha256').update(d).digest('hex'));
        // Answer every datagram with a burst of three, so the server sends many datagrams per pump.
        for (let k = 0; k < 3; k++) c.sendDatagram(new Uint8Array(1000).fill(d[0]! ^ k));
      }),
    );
    const client = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    let answers = 0;
    let bad = 0;
    client.on('datagram', (d: Uint8Array) => {
      answers++;
      if (!d.every((b) => b === d[0])) bad++;
    });
    const sent: string[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 20; i++) {
        const msg = new Uint8Array(1000).fill((round * 20 + i) & 0xff);
        sent.push(createHash('sha256').update(msg).digest('hex'));
        client.sendDatagram(msg);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 5000;
    while (answers < 3 * got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Loopback may drop under load; what arrived must be intact and nothing may arrive twice or altered.
    expect(got.length).toBeGreaterThan(300);
    for (const h of got) expect(sent).toContain(h);
    expect(bad).toBe(0);
    const d = driverOf(server);
    expect(d.inflight).toBe(0);
    expect(d.sentCount).toBe(0);
    const free = d.pool.slice(0, d.poolSize);
    expect(free.length).toBeGreaterThan(0);
    expect(new Set(free).size).toBe(free.length);
    await client.close();
    await server.close({ force: true });
  }, 30_000);
});
