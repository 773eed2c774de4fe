// A datagram answered from an event listener costs the driver one pump: the listener's write wakes the pump
// that is running (it goes round again) instead of queueing a second pump for the same turn.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connect, listen } from '../../lib/index.js';

describe('UdpEndpoint wake during a pump', () => {
  it('an echo server pumps once per echoed DATAGRAM, and every echo comes back intact', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    server.on('connection', (c) => c.on('datagram', (d: Uint8Array) => c.sendDatagram(d)));
    const client = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    const trip = async (i: number): Promise<void> => {
      const msg = new Uint8Array(64).fill(i & 0xff);
      msg[0] = i >>> 8;
      client.sendDatagram(msg);
      const [echo] = (await once(client, 'datagram')) as [Uint8Array];
      expect(Buffer.from(echo).equals(Buffer.from(msg))).toBe(true);
    };
    for (let i = 0; i < 50; i++) await trip(i);
    const before = server.stats();
    const N = 300;
    for (let i = 0; i < N; i++) await trip(i);
    const after = server.stats();
    // Pumps not started by a timer: one per received datagram (a second one per echo was the old behaviour).
    const pumps = after.pumps - before.pumps - (after.timerFires - before.timerFires);
    expect(after.datagramsReceived - before.datagramsReceived).toBeGreaterThanOrEqual(N);
    expect(pumps).toBeLessThanOrEqual(Math.ceil(N * 1.2));
    await client.close();
    await server.close({ force: true });
  }, 60_000);
});
