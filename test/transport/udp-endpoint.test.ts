import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { UdpEndpoint, type EndpointHandler } from '../../lib/transport/udp-endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { EndpointEvent } from '../../lib/endpoint/endpoint.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { connect, listen } from '../../lib/api/index.js';
import { expectNoLeaks, resources, waitFor } from '../api/helpers.js';

/** A handler that records events and answers nothing. */
function recorder(): EndpointHandler & { events: EndpointEvent[]; refused: number; errors: Error[] } {
  const h = {
    events: [] as EndpointEvent[],
    refused: 0,
    errors: [] as Error[],
    onEvent(ev: EndpointEvent) {
      h.events.push(ev);
    },
    onRefused() {
      h.refused++;
    },
    onSocketError(err: Error) {
      h.errors.push(err);
    },
  };
  return h;
}

const connectedCount = (h: { events: EndpointEvent[] }) => h.events.filter((e) => e.kind === 'connection' && e.event.type === 'connected').length;

describe('UdpEndpoint', () => {
  it('drives many connections with exactly one timer per endpoint', async () => {
    const base = resources();
    const sh = recorder();
    const server = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, server: { crypto: insecureCrypto } }, sh);
    const ch = recorder();
    const client = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0 }, ch);
    const remote = { host: '127.0.0.1', port: server.address().port };
    const conns: Connection[] = [];
    for (let i = 0; i < 30; i++) conns.push(client.connect({ remote, crypto: insecureCrypto, options: { keepAlive: 50 } }));
    await waitFor(() => connectedCount(ch) === 30 && connectedCount(sh) === 30, 10_000, '30 handshakes');
    // 60 connections, each with idle, ack and keep-alive deadlines: still one Timeout per endpoint at most.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 30));
      const timers = (resources().Timeout ?? 0) - (base.Timeout ?? 0);
      expect(timers).toBeLessThanOrEqual(2);
    }
    expect(client.stats().timerFires).toBeGreaterThan(0);
    expect(server.stats().connectionsActive).toBe(30);
    await Promise.all([client.close(), server.close()]);
    await expectNoLeaks(base);
  });

  it('reports the kernel-granted buffer sizes', async () => {
    const ep = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, recvBufferSize: 256 * 1024, sendBufferSize: 128 * 1024 }, recorder());
    const st = ep.stats();
    expect(st.recvBufferSize).toBe(ep.socket.getRecvBufferSize());
    expect(st.sendBufferSize).toBe(ep.socket.getSendBufferSize());
    // Linux doubles the request (for bookkeeping); other kernels may clamp, but never grant 0.
    expect(st.recvBufferSize).toBeGreaterThan(0);
    expect(st.sendBufferSize).toBeGreaterThan(0);
    await ep.close();
  });

  it('keeps queued sends intact: 3,000 datagrams in bursts arrive with valid CRCs and payloads', async () => {
    const base = resources();
    const sh = recorder();
    const server = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, server: { crypto: insecureCrypto } }, sh);
    const ch = recorder();
    const client = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0 }, ch);
    const conn = client.connect({
      remote: { host: '127.0.0.1', port: server.address().port },
      crypto: insecureCrypto,
      options: { datagramQueueLength: 4096 },
    });
    await waitFor(() => connectedCount(ch) === 1 && connectedCount(sh) === 1, 5000, 'handshake');
    const total = 3000;
    for (let burst = 0; burst < total / 500; burst++) {
      for (let i = 0; i < 500; i++) {
        const n = burst * 500 + i;
        const d = new Uint8Array(900).fill(n & 0xff);
        d[0] = n >> 8;
        d[1] = n & 0xff;
        conn.sendDatagram(d);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const got = () => sh.events.filter((e) => e.kind === 'connection' && e.event.type === 'datagram');
    await waitFor(() => got().length === total, 10_000, 'all datagrams');
    for (const e of got()) {
      if (e.kind !== 'connection' || e.event.type !== 'datagram') continue;
      const d = e.event.data;
      const n = (d[0]! << 8) | d[1]!;
      expect(d.length).toBe(900);
      expect(d[899]).toBe(n & 0xff);
    }
    expect(server.stats().drops).toEqual({});
    await Promise.all([client.close(), server.close()]);
    await expectNoLeaks(base);
  });

  it('turns ECONNREFUSED on a connected socket into onRefused, and other socket errors into counts', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const h = recorder();
    const ep = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0, connectTo: { host: '127.0.0.1', port } }, h);
    ep.connect({ remote: { host: '127.0.0.1', port }, crypto: insecureCrypto });
    await waitFor(() => h.refused > 0, 5000, 'ICMP refusal');
    ep.socket.emit('error', Object.assign(new Error('synthetic'), { code: 'EIO' }));
    expect(h.errors.map((e) => e.message)).toEqual(['synthetic']);
    expect(ep.stats().socketErrors).toBe(1);
    await ep.close();
  });

  it('serves IPv4 clients on a dual-stack udp6 socket, and IPv6 clients', async () => {
    const base = resources();
    const server = await listen({ host: '::', port: 0, ipv6Only: false, insecure: true });
    expect(server.address().family).toBe('IPv6');
    const port = server.address().port;
    const v4 = await connect({ host: '127.0.0.1', port, insecure: true });
    const v6 = await connect({ host: '::1', port, insecure: true });
    await waitFor(() => server.connections.size === 2, 5000, 'two connections');
    const remotes = [...server.connections].map((c) => c.remoteAddress).sort();
    expect(remotes).toEqual(['::1', '::ffff:127.0.0.1']);
    await Promise.all([v4.close(), v6.close()]);
    await server.close();
    await expectNoLeaks(base);
  });

  it('rejects binding a busy port with a typed error', async () => {
    const a = await UdpEndpoint.bind({ host: '127.0.0.1', port: 0 }, recorder());
    await expect(UdpEndpoint.bind({ host: '127.0.0.1', port: a.address().port }, recorder())).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });
    await a.close();
  });
});
