/**
 * Connection lifecycle (issue: core part 2): closing and draining, lost CONNECTION_CLOSE, idle timeout and
 * keep-alive, NAT rebinding with path validation, connection-id rotation and stateless reset.
 */
import { createHash, createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { inspectDatagram } from '../helpers/inspect.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { SimRandom } from '../../lib/sim/random.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import type { CoreEnv } from '../../lib/connection/types.js';
import type { Connection } from '../../lib/connection/connection.js';

const RESET_KEY = Buffer.from('petrel-test-reset-key');

function env(seed: number, withReset = true): CoreEnv {
  const rng = new SimRandom(seed);
  return {
    randomFill: (out) => out.set(rng.bytes(out.length)),
    crc32: (d) => crc32(d),
    resetToken: withReset ? (cid) => new Uint8Array(createHmac('sha256', RESET_KEY).update(cid).digest().subarray(0, 16)) : undefined,
  };
}

const closedEvent = (evs: EndpointEvent[]) => evs.flatMap((e) => (e.kind === 'connection' && e.event.type === 'closed' ? [e.event.info] : []));

describe('closing', () => {
  it('a CONNECTION_CLOSE lost at 30 % loss: both sides still end and report the reason', () => {
    let endedByClose = 0;
    let endedByIdle = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const p = new Pair({ seed, latency: 20, client: { idleTimeout: 5000 }, server: { idleTimeout: 5000 } });
      const rng = new SimRandom(seed);
      expect(p.run(() => p.connected())).toBe(true);
      p.drop = () => rng.chance(0.3);
      p.clientConn.close(42, 'bye');
      const ok = p.run(() => p.clientConn.isTerminated && p.serverConn!.isTerminated, 60_000);
      expect(ok).toBe(true);
      const c = closedEvent(p.clientEvents);
      const s = closedEvent(p.serverEvents);
      expect(c).toEqual([{ errorCode: 42, reason: 'bye', application: true, initiator: 'local' }]);
      expect(s.length).toBe(1);
      if (s[0]!.initiator === 'peer') {
        expect(s[0]).toEqual({ errorCode: 42, reason: 'bye', application: true, initiator: 'peer' });
        endedByClose++;
      } else {
        expect(s[0]!.initiator).toBe('idle');
        endedByIdle++;
      }
    }
    expect(endedByClose + endedByIdle).toBe(20);
    expect(endedByClose).toBeGreaterThan(0);
  });

  it('a server closing before it heard a Handshake packet closes in Initial and Handshake, so a client without the ServerHello reads it', () => {
    const p = new Pair({ latency: 10 });
    // The server's whole first flight is lost: the client never gets Handshake keys.
    p.drop = (dir) => dir === 's2c';
    expect(p.run(() => p.serverConn !== null, 1000)).toBe(true);
    const seen: string[][] = [];
    p.drop = (dir, _i, data) => {
      if (dir === 's2c') {
        seen.push(
          inspectDatagram(data).map(
            (k) => `${k.kind}:${k.frames.map((f) => (f.type === 'connection_close' ? `close 0x${f.errorCode.toString(16)}` : f.type)).join(',')}`,
          ),
        );
      }
      return false;
    };
    p.serverConn!.close(7, 'go away');
    expect(p.run(() => closedEvent(p.clientEvents).length > 0, 5000)).toBe(true);
    // One datagram, both spaces; the application's code stays hidden before the handshake (APPLICATION_ERROR 0x0c).
    expect(seen[0]).toEqual(['initial:close 0xc', 'handshake:close 0xc']);
    expect(closedEvent(p.clientEvents)).toEqual([{ errorCode: 0x0c, reason: '', application: false, initiator: 'peer' }]);
  });

  it('draining absorbs late packets: a replayed Initial during draining opens no new connection', () => {
    const p = new Pair({ latency: 10 });
    let firstInitial: Uint8Array | null = null;
    p.drop = (dir, i, data) => {
      if (dir === 'c2s' && i === 0) firstInitial = data.slice();
      return false;
    };
    expect(p.run(() => p.connected())).toBe(true);
    p.serverConn!.close(0, 'done');
    expect(p.run(() => p.clientConn.state === 'draining')).toBe(true);
    const accepts = p.serverEvents.filter((e) => e.kind === 'accept').length;
    // Replay the client's very first datagram at the server while it is closing.
    p.server.handleDatagram(firstInitial!, p.clientAddr, p.now);
    p.run(() => false, p.now + 50);
    expect(p.serverEvents.filter((e) => e.kind === 'accept').length).toBe(accepts);
    expect(p.server.stats().connectionsAccepted).toBe(1);
    // Both end after their close/drain periods.
    expect(p.run(() => p.clientConn.isTerminated && p.serverConn!.isTerminated, 30_000)).toBe(true);
  });
});

describe('onTerminated (the driver hook for a connection that has ended)', () => {
  it('fires once per connection, when isTerminated turns true: after the close and drain periods, and at an idle timeout', () => {
    for (const how of ['close', 'idle'] as const) {
      const p = new Pair({ latency: 10, client: { idleTimeout: 3000 }, server: { idleTimeout: 3000 } });
      expect(p.run(() => p.connected())).toBe(true);
      const seen: Array<{ side: string; terminated: boolean }> = [];
      p.clientConn.onTerminated = () => seen.push({ side: 'client', terminated: p.clientConn.isTerminated });
      p.serverConn!.onTerminated = () => seen.push({ side: 'server', terminated: p.serverConn!.isTerminated });
      if (how === 'close') p.clientConn.close(7, 'bye');
      expect(p.run(() => p.clientConn.isTerminated && p.serverConn!.isTerminated, 60_000)).toBe(true);
      p.run(() => false, p.now + 100);
      expect(seen.map((e) => e.side).sort()).toEqual(['client', 'server']);
      expect(seen.every((e) => e.terminated)).toBe(true);
      expect(p.clientConn.onTerminated).toBeNull();
    }
  });
});

describe('idle timeout and keep-alive', () => {
  it('without keep-alive a quiet connection closes at the negotiated idle timeout (the minimum)', () => {
    const p = new Pair({ latency: 10, client: { idleTimeout: 3000 }, server: { idleTimeout: 8000 } });
    expect(p.run(() => p.connected())).toBe(true);
    const t0 = p.now;
    expect(p.run(() => p.clientConn.isTerminated && p.serverConn!.isTerminated, 60_000)).toBe(true);
    const c = closedEvent(p.clientEvents)[0]!;
    expect(c.initiator).toBe('idle');
    // Idle for 3 s (the minimum of 3 s and 8 s), measured from the last activity, not 8 s.
    expect(p.now - t0).toBeLessThan(3500);
    expect(p.now - t0).toBeGreaterThanOrEqual(2900);
  });

  it('keep-alive PINGs keep a quiet connection open well past the idle timeout', () => {
    const p = new Pair({ latency: 10, client: { idleTimeout: 3000, keepAlive: 1000 }, server: { idleTimeout: 3000 } });
    expect(p.run(() => p.connected())).toBe(true);
    p.run(() => false, p.now + 20_000);
    expect(p.clientConn.state).toBe('established');
    expect(p.serverConn!.state).toBe('established');
    expect(closedEvent(p.clientEvents)).toEqual([]);
  });
});

/** Two endpoints in the simulator (which routes by address, so rebinding is real). */
function simPair(seed: number, link: { delay: number; rate?: number; queueBytes?: number } = { delay: 15 }) {
  const sim = new Simulator({ seed });
  const CLIENT = { host: '10.0.0.1', port: 5000 };
  const SERVER = { host: '10.0.0.2', port: 4433 };
  const cep = new Endpoint({ env: env(seed) });
  const sep = new Endpoint({ env: env(seed + 100), server: { crypto: insecureCrypto } });
  const cn = new EndpointNode(cep);
  const sn = new EndpointNode(sep);
  const cevents: EndpointEvent[] = [];
  const sevents: EndpointEvent[] = [];
  let server: Connection | null = null;
  cn.app = (e) => e && cevents.push(e);
  sn.app = (e) => {
    if (!e) return;
    if (e.kind === 'accept') server = e.connection;
    sevents.push(e);
  };
  sim.addNode(CLIENT, cn);
  sim.addNode(SERVER, sn);
  sim.link(CLIENT, SERVER, link);
  const client = cep.connect({ remote: SERVER, crypto: insecureCrypto, now: 0 });
  return { sim, CLIENT, SERVER, cep, sep, cn, sn, client, server: () => server, cevents, sevents };
}

describe('NAT rebinding and connection ids', () => {
  it('a rebinding mid-transfer: the server validates the new path, moves to it, and the transfer completes intact', () => {
    // 10 Mbit/s: the 2 MB transfer takes ~1.7 s, so the rebinding at 0.8 s lands in the middle of it.
    const t = simPair(3, { delay: 15, rate: 10e6, queueBytes: 40_000 });
    const data = new Uint8Array(2_000_000).map((_, i) => (i * 13 + 7) & 0xff);
    const rx = createHash('sha256');
    let got = 0;
    let firstAfterRebind = -1;
    let lastByteAt = -1;
    const rebindAt = 800;
    t.sn.app = ((orig) => (e: EndpointEvent | null, now: number) => {
      orig!(e, now);
      const s = t.server();
      if (!s) return;
      for (let d = s.streamRead(0); d; d = s.streamRead(0)) {
        rx.update(d);
        got += d.length;
        if (now > rebindAt && firstAfterRebind < 0) firstAfterRebind = now;
        lastByteAt = now;
      }
    })(t.sn.app);
    t.sim.run({ until: () => t.client.state === 'established' && t.client.peerTransportParameters !== null, maxTime: 5000 });
    const id = t.client.openStream(true)!;
    t.client.streamWrite(id, data, true);
    t.sim.flush(t.cn);
    t.sim.rebind(t.CLIENT, { host: '10.0.0.1', port: 6000 }, rebindAt);
    t.sim.run({ until: () => got === data.length, maxTime: 60_000 });
    expect(got).toBe(data.length);
    expect(rx.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    const s = t.server()!;
    expect(s.remote).toEqual({ host: '10.0.0.1', port: 6000 });
    expect(s.stats().migrations).toBe(1);
    const kinds = t.sevents.flatMap((e) => (e.kind === 'connection' ? [e.event.type] : []));
    expect(kinds).toContain('path_changed');
    expect(kinds).toContain('path_validated');
    // Data flowed again soon after the rebinding (recovery within a few RTTs), and the transfer was still
    // under way when it happened.
    expect(firstAfterRebind).toBeGreaterThan(rebindAt);
    expect(firstAfterRebind - rebindAt).toBeLessThan(500);
    expect(lastByteAt).toBeGreaterThan(rebindAt + 300);
  });

  it('each side issues extra connection ids after the handshake, and the endpoint routes them', () => {
    const t = simPair(4);
    t.sim.run({ until: () => false, maxTime: 1000 });
    const s = t.server()!;
    expect(t.client.localConnectionIds().length).toBe(4);
    expect(s.localConnectionIds().length).toBe(4);
    // The client holds the server's reset tokens: seq 0 from the transport parameter, the rest from frames.
    expect(t.client.peerResetTokens().length).toBe(4);
  });

  it('a server that lost its state answers with a stateless reset, and the client ends with initiator "reset"', () => {
    const t = simPair(5);
    t.sim.run({ until: () => false, maxTime: 1000 });
    expect(t.client.state).toBe('established');
    // Replace the server endpoint with a fresh one with the same reset key (a restart).
    const fresh = new Endpoint({ env: env(999), server: { crypto: insecureCrypto } });
    // Route the client's next datagram straight to the fresh endpoint by hand.
    const buf = new Uint8Array(2048);
    const id = t.client.openStream(true)!;
    t.client.streamWrite(id, new Uint8Array(500));
    const tx = t.cep.pollTransmit(1000, buf)!;
    fresh.handleDatagram(buf.slice(0, tx.length), t.CLIENT, 1000);
    const reset = fresh.pollTransmit(1000, buf);
    expect(reset).not.toBeNull();
    expect(reset!.length).toBeLessThan(tx.length);
    expect(fresh.stats().drops.unknown_connection).toBe(1);
    let hooked = 0;
    t.client.onTerminated = () => hooked++;
    t.cep.handleDatagram(buf.slice(0, reset!.length), t.SERVER, 1001);
    expect(t.client.isTerminated).toBe(true);
    expect(hooked).toBe(1);
    expect(t.client.closeReason!.initiator).toBe('reset');
    expect(t.cep.stats().drops.stateless_reset).toBe(1);
  });
});
