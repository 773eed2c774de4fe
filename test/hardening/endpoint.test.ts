/**
 * Attacks on a server endpoint before any handshake completes (issue 11), rebuilt with real crypto under
 * virtual time: junk Initials allocate nothing, spoofed ClientHellos hold at most the half-open caps and are
 * answered with Retry past the threshold, every unvalidated address gets at most 3× what it sent, half-open
 * connections time out, and an honest client still connects meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { randomFillSync } from 'node:crypto';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { PeerAddress } from '../../lib/connection/types.js';
import { addressKey } from '../../lib/connection/types.js';
import { TransportErrorCode } from '../../lib/errors.js';
import { addressPrefix } from '../../lib/endpoint/retry-token.js';
import { junkInitial } from '../../tools/attack/craft.js';
import { Net, SERVER, env, serverConfig } from './harness.js';

/** The first datagram (a real ClientHello Initial) a fresh client at `addr` would send. */
function clientHello(addr: PeerAddress): Uint8Array {
  const net = new Net();
  const { ep } = net.client(addr);
  const buf = new Uint8Array(2048);
  const t = ep.pollTransmit(0, buf)!;
  return buf.slice(0, t.length);
}

function spoofed(i: number): PeerAddress {
  return { host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1024 + (i % 50000) };
}

/** Every address that sent something got back at most 3× what it sent. */
function expectAmplificationBound(net: Net): number {
  let worst = 0;
  for (const [k, received] of net.receivedFrom) {
    const sent = net.sentTo.get(k) ?? 0;
    expect(sent, `reply bytes to ${k}`).toBeLessThanOrEqual(3 * received);
    worst = Math.max(worst, sent / received);
  }
  return worst;
}

describe('server endpoint under pre-handshake attack', () => {
  it('junk Initials with a valid CRC allocate nothing and get no reply; an honest client connects meanwhile', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig() }));
    const honest = net.client({ host: '198.51.100.7', port: 5000 });
    for (let i = 0; i < 5000; i++) {
      net.inject(
        junkInitial((b) => void randomFillSync(b), crc32),
        spoofed(i),
      );
      if (i === 2500) net.run();
    }
    net.run();
    expect(server.stats().drops.initial_auth_failed).toBe(5000);
    expect(server.stats().connectionsAccepted).toBe(1);
    expect(net.connected(honest.ep, honest.conn)).toBe(true);
    for (let i = 0; i < 5000; i++) expect(net.sentTo.get(addressKey(spoofed(i)))).toBeUndefined();
  });

  it('spoofed ClientHellos: half-open state stops at the Retry threshold, the rest get Retry within 3×, and all expire', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig({ retryThreshold: 32, handshakeTimeout: 10_000 }) }));
    for (let i = 0; i < 300; i++) net.inject(clientHello(spoofed(i)), spoofed(i));
    net.run();
    const st = server.stats();
    expect(st.connectionsHalfOpen).toBe(32);
    expect(st.connectionsAccepted).toBe(32);
    // Retries are rate-limited per /24 (burst 2 × 20): the 268 others from 10.0.0/24 and 10.0.1/24 get 80.
    expect(st.retriesSent).toBe(80);
    expect(st.drops.retry_withheld).toBe(300 - 32 - 80);
    expectAmplificationBound(net);
    // Half-open connections end at the handshake timeout (an honest client past the threshold gets a Retry
    // and comes back with a token: connection.test.ts).
    net.advance(10_500, 50);
    expect(server.halfOpenCount).toBe(0);
    expect(server.stats().drops.handshake_timeout).toBe(32);
    expectAmplificationBound(net);
  });

  it('without Retry the half-open caps hold per endpoint and per /24, and the budget is ≤ 3× per address', () => {
    const net = new Net();
    const server = net.add(
      SERVER,
      new Endpoint({ env: env(), server: serverConfig({ retry: 'never', maxHalfOpen: 200, maxHalfOpenPerPrefix: 20 }) }),
    );
    // 100 hellos from one /24, then 1000 from many prefixes.
    for (let i = 0; i < 100; i++) {
      const a = { host: `203.0.113.${i}`, port: 4000 + i };
      net.inject(clientHello(a), a);
    }
    for (let i = 0; i < 1000; i++) net.inject(clientHello(spoofed(i * 256)), spoofed(i * 256));
    net.run();
    const st = server.stats();
    expect(st.connectionsHalfOpen).toBe(200);
    expect(st.drops.half_open_prefix_limit).toBe(80);
    expect(st.drops.half_open_limit).toBe(1100 - 200 - 80);
    let fromOnePrefix = 0;
    for (const c of server.connections()) if (addressPrefix(c.remote.host) === '203.0.113') fromOnePrefix++;
    expect(fromOnePrefix).toBe(20);
    expectAmplificationBound(net);
  });

  it('a Retry token is bound to the address and the DCID it was issued for, and expires', () => {
    const cfg = serverConfig();
    const tokens = cfg.tokens!;
    const odcid = new Uint8Array(8).fill(1);
    const scid = new Uint8Array(8).fill(2);
    const a = { host: '198.51.100.1', port: 1000 };
    const t = tokens.retryToken(odcid, scid, a);
    expect(tokens.check(t, a, scid)).toEqual({ kind: 'retry', originalDcid: odcid });
    expect(tokens.check(t, { ...a, port: 1001 }, scid)).toMatchObject({ kind: 'invalid', reason: 'tag' });
    expect(tokens.check(t, a, odcid)).toMatchObject({ kind: 'invalid', reason: 'tag' });
    const flipped = t.slice();
    flipped[3]! ^= 1;
    expect(tokens.check(flipped, a, scid)).toMatchObject({ kind: 'invalid', reason: 'tag' });
    let now = 0;
    const timed = serverConfig({}, () => now).tokens!;
    const t2 = timed.retryToken(odcid, scid, a);
    now = 10_001;
    expect(timed.check(t2, a, scid)).toMatchObject({ kind: 'invalid', reason: 'expired' });
    const nt = timed.newToken(a);
    expect(timed.check(nt, { ...a, port: 9 }, scid)).toEqual({ kind: 'new_token' });
    expect(timed.check(nt, { host: '198.51.100.2', port: 9 }, scid)).toMatchObject({ kind: 'invalid', retry: false });
    expect(addressPrefix('2001:db8:1:2:3:4:5:6')).toBe(addressPrefix('2001:db8:1:2::9'));
    expect(addressPrefix('::ffff:10.1.2.3')).toBe('10.1.2');
  });

  it('a first Initial in a Node Buffer is answered at once (the pre-check must not unmask it in place)', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig() }));
    const a = { host: '198.51.100.9', port: 777 };
    server.handleDatagram(Buffer.from(clientHello(a)), a, 0);
    net.run();
    expect(server.stats().connectionsAccepted).toBe(1);
    expect(net.sentTo.get(addressKey(a)) ?? 0).toBeGreaterThanOrEqual(1200);
  });

  it('a spoofed Initial echoing a forged Retry token is dropped, holding nothing', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig({ retry: 'always' }) }));
    const a = spoofed(5);
    net.inject(clientHello(a), a);
    net.run();
    expect(server.stats().retriesSent).toBe(1);
    expect(server.connectionCount).toBe(0);
    expect(TransportErrorCode.INVALID_TOKEN).toBe(0x0b);
  });
});
