/**
 * The endpoint asks a connection for its deadline lazily (once per pollTimeout/handleTimeout, for the
 * connections touched since) and keeps connections with pending output in an activation-order queue. These
 * check what must not change: pollTimeout is always the earliest deadline of all connections, and the
 * connections' output goes out in the order they became active.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { seededEnv } from '../helpers/pair.js';

const serverAddr: PeerAddress = { host: '10.0.0.2', port: 4433 };
const ALPN = { alpn: ['t'] };

/** One server endpoint and `n` client endpoints, 5 ms one way, on a virtual clock. */
function world(n: number) {
  const server = new Endpoint({ env: seededEnv(99), server: { crypto: insecureCrypto, options: { ...ALPN, keepAlive: 40 } } });
  const clients = Array.from({ length: n }, (_, i) => new Endpoint({ env: seededEnv(i + 1) }));
  const addrs = clients.map((_, i): PeerAddress => ({ host: `10.0.1.${i + 1}`, port: 5000 }));
  const conns = clients.map((c) => c.connect({ remote: serverAddr, crypto: insecureCrypto, options: { ...ALPN, keepAlive: 40 }, now: 0 }));
  const serverConns: Connection[] = [];
  const queue: Array<{ at: number; data: Uint8Array; to: number; from: PeerAddress }> = [];
  const buf = new Uint8Array(2048);
  let now = 0;
  const flush = (): void => {
    for (let t = server.pollTransmit(now, buf); t; t = server.pollTransmit(now, buf)) {
      queue.push({ at: now + 5, data: buf.slice(0, t.length), to: addrs.findIndex((a) => a.host === t.to.host), from: serverAddr });
    }
    clients.forEach((c, i) => {
      for (let t = c.pollTransmit(now, buf); t; t = c.pollTransmit(now, buf)) {
        queue.push({ at: now + 5, data: buf.slice(0, t.length), to: -1, from: addrs[i]! });
      }
    });
    for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.kind === 'accept') serverConns.push(e.connection);
    for (const c of clients) while (c.pollEvent());
  };
  /** The invariant: the endpoint's deadline is the earliest of its connections' own. */
  const check = (ep: Endpoint, cs: Connection[]): void => {
    const t = ep.pollTimeout();
    let want: number | null = null;
    for (const c of cs) {
      const d = c.pollTimeout();
      if (d !== null && (want === null || d < want)) want = d;
    }
    expect(t).toBe(want);
  };
  const step = (): void => {
    flush();
    check(server, serverConns);
    clients.forEach((c, i) => check(c, [conns[i]!]));
    let next = Infinity;
    for (const q of queue) next = Math.min(next, q.at);
    for (const ep of [server, ...clients]) {
      const t = ep.pollTimeout();
      if (t !== null) next = Math.min(next, t);
    }
    now = Math.max(now, next);
    for (let i = 0; i < queue.length;) {
      const q = queue[i]!;
      if (q.at > now) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      (q.to < 0 ? server : clients[q.to]!).handleDatagram(q.data, q.from, now);
    }
    server.handleTimeout(now);
    for (const c of clients) c.handleTimeout(now);
  };
  return {
    server,
    conns,
    serverConns,
    step,
    buf,
    get now() {
      return now;
    },
  };
}

describe('Endpoint deadlines and output order', () => {
  it('pollTimeout is the earliest connection deadline after every input, output, application call and timer', () => {
    const w = world(3);
    for (let i = 0; i < 40; i++) w.step();
    expect(w.serverConns.length).toBe(3);
    // Application calls move deadlines without any datagram: writes on some connections, a close on one.
    for (let round = 0; round < 30; round++) {
      const c = w.serverConns[round % 3]!;
      if (round === 20) c.close(0, 'bye', true);
      else if (c.state === 'established') c.sendDatagram(new Uint8Array(32).fill(round));
      w.step();
    }
    // Idle periods: only keep-alive and ACK timers fire.
    for (let i = 0; i < 60; i++) w.step();
    expect(w.now).toBeGreaterThan(200);
  });

  it('drains connections in the order they became active', () => {
    const w = world(3);
    for (let i = 0; i < 40; i++) w.step();
    const [a, b, c] = w.serverConns as [Connection, Connection, Connection];
    const host = (x: Connection): string => x.remote.host;
    for (const conn of [c, a, b]) for (let k = 0; k < 3; k++) conn.sendDatagram(new Uint8Array(900).fill(k));
    const order: string[] = [];
    for (let t = w.server.pollTransmit(w.now, w.buf); t; t = w.server.pollTransmit(w.now, w.buf)) order.push(t.to.host);
    const firsts = order.filter((h, i) => i === 0 || order[i - 1] !== h);
    expect(firsts).toEqual([host(c), host(a), host(b)]);
  });
});
