/** Refusal within one round trip: server full (SERVER_BUSY), the accept hook (REFUSED), `insecure` mismatch. */
import { describe, expect, it } from 'vitest';
import { connect, generateIdentity, listen, PetrelError, type AcceptInfo } from '../../lib/api/index.js';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import type { PeerAddress } from '../../lib/connection/types.js';
import { seededEnv } from '../helpers/pair.js';

async function rejection(p: Promise<unknown>): Promise<{ err: PetrelError; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelError);
    return { err: e as PetrelError, ms: performance.now() - t0 };
  }
  throw new Error('expected a rejection');
}

describe('refusal over loopback (typed errors, not timeouts)', () => {
  it('maxConnections reached: the next client gets SERVER_BUSY long before its connect timeout', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, maxConnections: 1 });
    const port = server.address().port;
    const first = await connect({ host: '127.0.0.1', port, insecure: true });
    const { err, ms } = await rejection(connect({ host: '127.0.0.1', port, insecure: true, timeout: 8000 }));
    expect(err.code).toBe('SERVER_BUSY');
    expect(err.message).toMatch(/server is full/);
    expect(ms).toBeLessThan(4000); // a bound far below the 8 s timeout; loopback takes about a millisecond
    expect(server.stats().drops.refused).toBeGreaterThanOrEqual(1);
    await first.close();
    await server.close({ force: true });
  });

  it('the accept hook sees address, ALPN and server name, and its reason reaches the client as REFUSED', async () => {
    const identity = generateIdentity();
    const seen: AcceptInfo[] = [];
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      identity,
      alpn: ['game/1'],
      accept: (info) => {
        seen.push(info);
        return info.serverName === 'eu.example' ? true : `region ${info.serverName} is closed`;
      },
    });
    const port = server.address().port;
    const { err, ms } = await rejection(
      connect({ host: '127.0.0.1', port, serverKey: identity.fingerprint, serverName: 'us.example', alpn: 'game/1', timeout: 8000 }),
    );
    expect(err.code).toBe('REFUSED');
    expect(err.message).toContain('region us.example is closed');
    expect(ms).toBeLessThan(4000);
    expect(seen[0]).toMatchObject({ alpn: 'game/1', serverName: 'us.example', address: { host: '127.0.0.1' } });
    const ok = await connect({ host: '127.0.0.1', port, serverKey: identity.fingerprint, serverName: 'eu.example', alpn: 'game/1' });
    expect(ok.isOpen).toBe(true);
    expect(server.stats().drops.refused_by_accept).toBe(1);
    await ok.close();
    await server.close({ force: true });
  });

  it('a throwing accept hook refuses instead of crashing', async () => {
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      insecure: true,
      accept: () => {
        throw new Error('db down');
      },
    });
    const { err } = await rejection(connect({ host: '127.0.0.1', port: server.address().port, insecure: true, timeout: 8000 }));
    expect(err.code).toBe('REFUSED');
    expect(err.message).toContain('db down');
    await server.close({ force: true });
  });

  it('insecure client, secure server: INSECURE_MISMATCH at once', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, identity: generateIdentity() });
    const { err, ms } = await rejection(connect({ host: '127.0.0.1', port: server.address().port, insecure: true, timeout: 8000 }));
    expect(err.code).toBe('INSECURE_MISMATCH');
    expect(ms).toBeLessThan(4000);
    expect(server.stats().drops.insecure_mismatch).toBeGreaterThanOrEqual(1);
    await server.close({ force: true });
  });

  it('secure client, insecure server: INSECURE_MISMATCH at once', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const key = generateIdentity().fingerprint;
    const { err, ms } = await rejection(connect({ host: '127.0.0.1', port: server.address().port, serverKey: key, timeout: 8000 }));
    expect(err.code).toBe('INSECURE_MISMATCH');
    expect(ms).toBeLessThan(4000);
    await server.close({ force: true });
  });
});

describe('refusal in virtual time', () => {
  it('a full server closes the client within one round trip (100 ms RTT), with the typed reason', () => {
    const server = new Endpoint({ env: seededEnv(1), server: { crypto: insecureCrypto, maxConnections: 0 } });
    const client = new Endpoint({ env: seededEnv(2) });
    const S: PeerAddress = { host: '10.0.0.2', port: 4433 };
    const C: PeerAddress = { host: '10.0.0.1', port: 5000 };
    const conn = client.connect({ remote: S, crypto: insecureCrypto, now: 0 });
    const buf = new Uint8Array(2048);
    const wire: Array<{ at: number; to: 'c' | 's'; data: Uint8Array }> = [];
    let now = 0;
    let closedAt = -1;
    let reason = '';
    for (let step = 0; step < 1000 && closedAt < 0; step++) {
      for (let t = client.pollTransmit(now, buf); t; t = client.pollTransmit(now, buf)) {
        wire.push({ at: now + 50, to: 's', data: buf.slice(0, t.length) });
      }
      for (let t = server.pollTransmit(now, buf); t; t = server.pollTransmit(now, buf)) {
        wire.push({ at: now + 50, to: 'c', data: buf.slice(0, t.length) });
      }
      for (let e = client.pollEvent(); e; e = client.pollEvent()) {
        if (e.kind === 'connection' && e.event.type === 'closed') {
          closedAt = now;
          reason = e.event.info.reason;
        }
      }
      wire.sort((a, b) => a.at - b.at);
      const next = Math.min(wire[0]?.at ?? Infinity, client.pollTimeout() ?? Infinity);
      if (next === Infinity) break;
      now = Math.max(now, next);
      while (wire.length && wire[0]!.at <= now) {
        const d = wire.shift()!;
        if (d.to === 's') server.handleDatagram(d.data, C, now);
        else client.handleDatagram(d.data, S, now);
      }
      client.handleTimeout(now);
    }
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt).toBeLessThanOrEqual(100);
    expect(reason).toMatch(/^SERVER_BUSY: /);
    expect(conn.state === 'draining' || conn.state === 'closed').toBe(true);
    expect(server.connectionCount).toBe(0);
  });
});

describe('initialOpens', () => {
  it('never modifies the datagram it inspects, even when given a Node Buffer (whose slice() is a view)', async () => {
    const { secureCrypto } = await import('../../lib/crypto/secure.js');
    const { nodeCryptoProvider } = await import('../../lib/crypto/node-provider.js');
    const { initialOpens } = await import('../../lib/endpoint/refusal.js');
    const { parsePacketHeader } = await import('../../lib/wire/packet.js');
    const c = new Endpoint({ env: seededEnv(3) });
    c.connect({ remote: { host: '10.0.0.2', port: 1 }, crypto: insecureCrypto, now: 0 });
    const out = new Uint8Array(2048);
    const t = c.pollTransmit(0, out)!;
    const body = Buffer.from(out.subarray(0, t.length - 4));
    const before = Buffer.from(body);
    const h = parsePacketHeader(body, 0, body.length, 8);
    if (h.form !== 'long') throw new Error('expected a long header');
    const secure = secureCrypto({ provider: nodeCryptoProvider }).initialProtectors(h.dcid, false).read;
    expect(initialOpens(body, h, secure, null)).toBe(false);
    expect(body.equals(before)).toBe(true);
    expect(initialOpens(body, h, insecureCrypto.initialProtectors().read, 1)).toBe(true);
  });
});
