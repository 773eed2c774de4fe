/**
 * Resumption and 0-RTT over the sans-IO endpoints (test/helpers/pair.ts): the first connection earns a
 * ticket, the next one resumes with it and sends stream data and a datagram in its first flight. Every
 * delivered stream byte is hashed against what was written, whether 0-RTT was accepted or rejected.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../lib/crypto/handshake/index.js';
import { newTicketStats, SingleUseStore, TicketKeyRing, type SessionTicket, type TicketPolicy } from '../../lib/crypto/handshake/tickets.js';
import { nodeCryptoProvider as p } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ClientHandshake } from '../../lib/crypto/handshake/session.js';
import { Pair, seededEnv } from '../helpers/pair.js';

const identity = generateIdentity(p);
const clock = { t: 1_800_000_000_000 };

function ticketPolicy(o: { maxEarlyData?: number; keys?: TicketKeyRing; singleUse?: SingleUseStore } = {}): TicketPolicy {
  return {
    keys: o.keys ?? new TicketKeyRing({ provider: p, now: () => clock.t, lifetime: 3_600_000 }),
    perConnection: 2,
    maxEarlyData: o.maxEarlyData ?? 65536,
    freshnessWindow: 10_000,
    singleUse: o.singleUse ?? new SingleUseStore({ maxEntries: 1000 }),
    now: () => clock.t,
    stats: newTicketStats(),
  };
}

function pair(
  policy: TicketPolicy,
  client: { ticket?: SessionTicket; earlyData?: boolean; onTicket?: (t: SessionTicket) => void },
  seed: number,
): Pair {
  const crypto = secureCrypto({
    provider: p,
    client: { serverKey: identity.publicKey, now: () => clock.t, serverName: 'game.example', ...client },
    server: { identity, tickets: policy },
  });
  return new Pair({ seed, latency: 50, crypto, client: { alpn: ['game'] }, server: { alpn: ['game'], maxDatagramFrameSize: 1200 } });
}

function firstTicket(policy: TicketPolicy, seed = 1): SessionTicket {
  const got: SessionTicket[] = [];
  const a = pair(policy, { onTicket: (t) => got.push(t) }, seed);
  expect(a.run(() => got.length >= 1, 10_000)).toBe(true);
  return got[0]!;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Everything the server connection received on its streams, with whether each stream was opened by 0-RTT. */
function serverReader(
  pr: Pair,
): () => { streams: Map<number, { early: boolean; chunks: Uint8Array[]; fin: boolean }>; datagrams: { early: boolean }[] } {
  const streams = new Map<number, { early: boolean; chunks: Uint8Array[]; fin: boolean }>();
  const datagrams: { early: boolean }[] = [];
  let seen = 0;
  return () => {
    for (; seen < pr.serverEvents.length; seen++) {
      const e = pr.serverEvents[seen]!;
      if (e.kind !== 'connection') continue;
      const ev = e.event;
      if (ev.type === 'stream_opened') streams.set(ev.streamId, { early: ev.early === true, chunks: [], fin: false });
      if (ev.type === 'datagram') datagrams.push({ early: ev.early === true });
      if (ev.type === 'stream_readable') {
        const s = streams.get(ev.streamId) ?? { early: false, chunks: [], fin: false };
        streams.set(ev.streamId, s);
        for (let c = e.connection.streamRead(ev.streamId); c; c = e.connection.streamRead(ev.streamId)) s.chunks.push(c);
        s.fin = e.connection.streamFinished(ev.streamId);
      }
    }
    return { streams, datagrams };
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const session = (c: Connection): ClientHandshake => (c as unknown as { handshake: { session: ClientHandshake } }).handshake.session;

/** Resumes with `ticket`, writes `payload` on a stream (+ a datagram) before any packet leaves, runs to delivery. */
function resume(policy: TicketPolicy, ticket: SessionTicket, payload: Uint8Array, seed: number, earlyData = true) {
  const b = pair(policy, { ticket, earlyData }, seed);
  const firstFlight: Uint8Array[] = [];
  const drop = b.drop;
  b.drop = (dir, i, d) => {
    if (dir === 'c2s' && b.now === 0) firstFlight.push(d.slice());
    return drop(dir, i, d);
  };
  const sid = b.clientConn.openStream(true);
  expect(sid).not.toBeNull();
  b.clientConn.streamWrite(sid!, payload, true);
  b.clientConn.sendDatagram(new Uint8Array(100).fill(7));
  const read = serverReader(b);
  let firstByteAt = -1;
  const done = b.run(() => {
    const s = read().streams.get(sid!);
    if (s && s.chunks.length > 0 && firstByteAt < 0) firstByteAt = b.now;
    return !!s?.fin;
  }, 20_000);
  expect(done).toBe(true);
  expect(b.run(() => b.connected(), 20_000)).toBe(true);
  const got = read();
  const s = got.streams.get(sid!)!;
  expect(sha(concat(s.chunks))).toBe(sha(payload));
  return { b, stream: s, datagrams: got.datagrams, firstFlight, firstByteAt, client: session(b.clientConn) };
}

describe('resumption and 0-RTT over the endpoints', () => {
  it('0-RTT accepted: the first flight carries the stream, the server marks it early, every byte arrives', () => {
    const policy = ticketPolicy();
    const t = firstTicket(policy);
    const payload = p.randomBytes(3000);
    const r = resume(policy, t, payload, 2);
    expect(r.client.earlyData).toBe('accepted');
    expect(r.client.resumedSession).toBe(true);
    expect(r.stream.early).toBe(true);
    expect(r.datagrams).toEqual([{ early: true }]);
    // One RTT is 100 ms: with 0-RTT the first byte lands after half of one.
    expect(r.firstByteAt).toBe(50);
    expect(policy.stats.earlyAccepted).toBe(1);
  });

  it('resumption without 0-RTT: no early data, bytes after the handshake', () => {
    const policy = ticketPolicy();
    const t = firstTicket(policy);
    const payload = p.randomBytes(2000);
    const b = pair(policy, { ticket: t, earlyData: false }, 3);
    const read = serverReader(b);
    expect(b.run(() => b.connected(), 5000)).toBe(true);
    expect(session(b.clientConn).resumedSession).toBe(true);
    const sid = b.clientConn.openStream(true)!;
    b.clientConn.streamWrite(sid, payload, true);
    expect(b.run(() => !!read().streams.get(sid)?.fin, 5000)).toBe(true);
    expect(read().streams.get(sid)!.early).toBe(false);
    expect(sha(concat(read().streams.get(sid)!.chunks))).toBe(sha(payload));
  });

  for (const [name, make] of [
    ['the server opts out', (policy: TicketPolicy) => ({ ...policy, maxEarlyData: 0 })],
    ['the ticket is unknown (other ticket keys)', () => ticketPolicy()],
    ['the ticket expired', (policy: TicketPolicy) => ({ ...policy, now: () => clock.t + 3_600_001 })],
  ] as const) {
    it(`0-RTT rejected when ${name}: the data is sent again in 1-RTT, byte for byte`, () => {
      const policy = ticketPolicy();
      const t = firstTicket(policy, 4);
      const payload = p.randomBytes(5000);
      const r = resume(make(policy), t, payload, 5);
      expect(r.client.earlyData).toBe('rejected');
      expect(r.stream.early).toBe(false);
      expect(r.datagrams.every((d) => !d.early)).toBe(true);
      expect(r.firstByteAt).toBeGreaterThan(100);
    });
  }

  it('a replayed first flight delivers its 0-RTT data at most once (same server and another sharing the policy)', () => {
    const policy = ticketPolicy();
    const t = firstTicket(policy, 6);
    const payload = p.randomBytes(1500);
    const r = resume(policy, t, payload, 7);
    expect(r.stream.early).toBe(true);
    expect(r.firstFlight.length).toBeGreaterThan(0);
    // The attacker replays the captured first flight: to the same server, and to a second server of the fleet.
    const same = r.b.server;
    const other = new Endpoint({
      env: seededEnv(99),
      server: { crypto: secureCrypto({ provider: p, server: { identity, tickets: policy } }), options: { alpn: ['game'] } },
    });
    const from = { host: '10.0.0.9', port: 6000 };
    let earlyStreams = 0;
    for (const ep of [same, other]) {
      for (const d of r.firstFlight) ep.handleDatagram(d.slice(), from, r.b.now + 10); // opened in place: a copy each
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
        if (e.kind === 'connection' && e.event.type === 'stream_opened') earlyStreams++;
      }
    }
    expect(earlyStreams).toBe(0);
    expect(policy.stats.earlyAccepted).toBe(1);
    expect(policy.stats.earlyRejected).toBeGreaterThanOrEqual(1);
  });

  it('bounds: 0-RTT beyond maxEarlyData is dropped (counted) and arrives in 1-RTT; 0-RTT to a server without the key is dropped', () => {
    const policy = ticketPolicy({ maxEarlyData: 1500 });
    const t = firstTicket(policy, 8);
    const payload = p.randomBytes(6000);
    const r = resume(policy, t, payload, 9);
    expect(r.client.earlyData).toBe('accepted');
    expect(r.stream.early).toBe(true); // opened by the first 0-RTT packet; the rest came later
    const server = r.b.serverConn!;
    expect(server.drops['0rtt_budget']).toBeGreaterThan(0);
    // The captured 0-RTT datagrams (after the first, which opens with the Initial) sent to a server that never
    // saw the ClientHello: no connection, no crash.
    const lone = new Endpoint({
      env: seededEnv(5),
      server: { crypto: secureCrypto({ provider: p, server: { identity, tickets: policy } }), options: { alpn: ['game'] } },
    });
    for (const d of r.firstFlight.slice(1)) lone.handleDatagram(d.slice(), { host: '10.0.0.7', port: 7 }, 0);
    expect(lone.pollEvent()).toBeNull();
  });
});
