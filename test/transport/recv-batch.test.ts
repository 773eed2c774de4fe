import dgram from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { UdpEndpoint, type EndpointHandler } from '../../lib/transport/udp-endpoint.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { waitFor } from '../api/helpers.js';

const quiet: EndpointHandler = { onEvent() {} };

describe('UdpEndpoint batched receive', () => {
  it('a burst of back-to-back datagrams is pumped in batches, every datagram still reaches the core', async () => {
    const ep = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, server: { crypto: insecureCrypto } }, quiet);
    const tx = dgram.createSocket('udp4');
    tx.bind(0, '127.0.0.1');
    await once(tx, 'listening');
    const junk = Buffer.alloc(1200, 0xab); // not a Petrel packet: dropped and counted by the core
    const before = ep.stats();
    const N = 256;
    for (let i = 0; i < N; i++) tx.send(junk, ep.address().port, '127.0.0.1');
    await waitFor(() => ep.stats().datagramsReceived - before.datagramsReceived === N, 5000);
    await new Promise((r) => setImmediate(r));
    const pumps = ep.stats().pumps - before.pumps;
    // A pump per datagram would be N; one at the first datagram of a poll phase plus one at its end (or
    // every 32) is far fewer.
    expect(pumps).toBeLessThan(N / 2);
    expect(pumps).toBeGreaterThanOrEqual(Math.ceil(N / 32));
    tx.close();
    await ep.close();
  });

  it('a lone datagram is pumped at once, inside its own message callback (no added latency)', async () => {
    const ep = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, server: { crypto: insecureCrypto } }, quiet);
    const tx = dgram.createSocket('udp4');
    tx.bind(0, '127.0.0.1');
    await once(tx, 'listening');
    const before = ep.stats().pumps;
    let pumpsSeenInCallback = -1;
    // Our listener runs right after the endpoint's own 'message' listener, in the same callback.
    ep.socket.on('message', () => (pumpsSeenInCallback = ep.stats().pumps - before));
    tx.send(Buffer.alloc(100, 1), ep.address().port, '127.0.0.1');
    await waitFor(() => pumpsSeenInCallback >= 0, 5000);
    expect(pumpsSeenInCallback).toBe(1);
    tx.close();
    await ep.close();
  });
});
