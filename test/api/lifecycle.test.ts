import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/api/index.js';
import { connect, listen, TRANSPORT } from './transport.js';
import type { PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import { TransportErrorCode } from '../../lib/errors.js';
import { expectNoLeaks, resources, waitFor, within } from './helpers.js';

async function silentSocket(): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', () => n++);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, received: () => n, close: () => new Promise<void>((r) => s.close(() => r())) };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function rejection(p: Promise<unknown>): Promise<PetrelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelError);
    return e as PetrelError;
  }
  throw new Error('expected a rejection');
}

async function serverWithClients(
  n: number,
  opts: Parameters<typeof listen>[0] = {},
): Promise<{ server: PetrelServer; clients: PetrelConnection[]; accepted: PetrelConnection[] }> {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, ...opts });
  const accepted: PetrelConnection[] = [];
  server.on('connection', (c) => accepted.push(c));
  const clients: PetrelConnection[] = [];
  for (let i = 0; i < n; i++) clients.push(await connect({ host: '127.0.0.1', port: server.address().port, insecure: true }));
  await waitFor(() => accepted.length === n, 5000, 'server-side connections');
  return { server, clients, accepted };
}

describe('connect() failures are typed and leave nothing behind', () => {
  it('rejects bad options with INVALID_OPTION', async () => {
    expect((await rejection(connect({ host: '127.0.0.1', port: 0, insecure: true }))).code).toBe('INVALID_OPTION');
    expect((await rejection(connect({ host: '127.0.0.1', port: 9, insecure: true, idleTimeout: -1 }))).code).toBe('INVALID_OPTION');
  });

  it('times out against a port where nothing answers', async () => {
    const base = resources();
    const silent = await silentSocket();
    const err = await rejection(within(connect({ host: '127.0.0.1', port: silent.port, insecure: true, timeout: 400 }), 10_000, 'connect'));
    expect(err.code).toBe('CONNECT_TIMEOUT');
    expect(silent.received()).toBeGreaterThan(0); // the Initial did go out
    await silent.close();
    await expectNoLeaks(base);
  });

  it('reports a refused port (ICMP port unreachable) as CONNECTION_REFUSED, long before the timeout', async () => {
    const base = resources();
    const port = await freePort();
    const err = await rejection(within(connect({ host: '127.0.0.1', port, insecure: true, timeout: 30_000 }), 10_000, 'connect'));
    expect(err.code).toBe('CONNECTION_REFUSED');
    await expectNoLeaks(base);
  });

  it('honours an AbortSignal before and during the handshake', async () => {
    const base = resources();
    const silent = await silentSocket();
    const pre = new AbortController();
    pre.abort(new Error('not needed'));
    expect((await rejection(connect({ host: '127.0.0.1', port: silent.port, insecure: true, signal: pre.signal }))).code).toBe('ABORTED');
    expect(silent.received()).toBe(0);
    const ac = new AbortController();
    const p = connect({ host: '127.0.0.1', port: silent.port, insecure: true, signal: ac.signal, timeout: 30_000 });
    await waitFor(() => silent.received() > 0, 5000, 'the first Initial');
    ac.abort();
    const err = await rejection(within(p, 5000, 'aborted connect'));
    expect(err.code).toBe('ABORTED');
    await silent.close();
    await expectNoLeaks(base);
  });

  it('honours an AbortSignal during name lookup', async () => {
    const base = resources();
    const ac = new AbortController();
    const p = connect({ host: 'localhost', port: 9, insecure: true, signal: ac.signal });
    ac.abort(); // the lookup is in flight: it cannot have completed synchronously
    expect((await rejection(p)).code).toBe('ABORTED');
    await expectNoLeaks(base);
  });

  it('ends an established connection with initiator reset when the server port disappears', async () => {
    const base = resources();
    const { server, clients } = await serverWithClients(1);
    const [client] = clients;
    // The server process "dies": its socket goes away without a word (over WebSocket: its sockets close).
    await (TRANSPORT === 'websocket' ? server['ws']!.close() : server['udp'].close());
    // Anything the client sends now draws the ICMP refusal — our write, or a packet the connection
    // sends on its own first (a PMTU probe, an ACK): opening the stream may already find it closed.
    try {
      const s = await client!.openStream();
      s.on('error', () => {});
      s.write('anyone there?');
    } catch (e) {
      expect((e as { code?: string }).code).toBe('CONNECTION_CLOSED');
    }
    const r = await within(client!.closed, 5000, 'refusal');
    expect(r).toMatchObject({ initiator: 'reset', code: TransportErrorCode.CONNECTION_REFUSED, application: false });
    await within(client!.close(), 5000, 'client released');
    await within(server.close(), 5000, 'server close without its socket');
    await expectNoLeaks(base);
  });

  it('ignores an abort after the connection is established', async () => {
    const base = resources();
    const { server, clients } = await serverWithClients(0);
    const ac = new AbortController();
    const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, signal: ac.signal });
    ac.abort();
    await new Promise((r) => setTimeout(r, 20));
    expect(conn.isOpen).toBe(true);
    expect(clients).toEqual([]);
    await conn.close();
    await server.close();
    await expectNoLeaks(base);
  });

  it('rejects with the handshake reason when ALPN does not match', async () => {
    const base = resources();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, alpn: ['game/1'], initialRtt: 20 });
    const err = await rejection(connect({ host: '127.0.0.1', port: server.address().port, insecure: true, alpn: 'game/2', timeout: 5000 }));
    expect(err.code).toBe('NO_COMMON_ALPN');
    const ok = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, alpn: ['game/2', 'game/1'] });
    expect(ok.alpn).toBe('game/1');
    await ok.close();
    await server.close();
    await expectNoLeaks(base);
  });

  it('refuses handshakes above maxConnections (counted): the extra client gets SERVER_BUSY, not a timeout', async () => {
    const base = resources();
    const { server, clients } = await serverWithClients(1, { maxConnections: 1 });
    const err = await rejection(connect({ host: '127.0.0.1', port: server.address().port, insecure: true, timeout: 500 }));
    if (TRANSPORT === 'websocket') {
      // Over WebSocket the upgrade itself is refused (HTTP 503), before any Petrel state exists.
      expect(err.code).toBe('SERVER_BUSY');
      expect(server.stats().websocketRefused?.capacity).toBe(1);
    } else {
      expect(err.code).toBe('SERVER_BUSY');
      expect(server.stats().drops.refused).toBeGreaterThan(0);
    }
    await clients[0]!.close();
    await server.close();
    await expectNoLeaks(base);
  });
});

describe('idle timeout and keep-alive', () => {
  it('closes an idle connection on both sides with initiator idle', async () => {
    const base = resources();
    const { server, clients, accepted } = await serverWithClients(1, { idleTimeout: 300 });
    const [client] = clients;
    const r = await within(client!.closed, 10_000, 'client idle close');
    expect(r.initiator).toBe('idle');
    expect(r.code).toBe(TransportErrorCode.IDLE_TIMEOUT);
    expect((await within(accepted[0]!.closed, 10_000, 'server idle close')).initiator).toBe('idle');
    await expect(client!.openStream()).rejects.toMatchObject({ code: 'IDLE_TIMEOUT' });
    expect(client!.sendDatagram(new Uint8Array(1))).toBe(false);
    await client!.close(); // resolves: already ended
    await server.close();
    await expectNoLeaks(base);
  });

  it('keep-alive holds a quiet connection open past the idle timeout', async () => {
    const base = resources();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, idleTimeout: 500 });
    const client = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, idleTimeout: 500, keepAlive: 100 });
    await new Promise((r) => setTimeout(r, 1500)); // three idle timeouts' worth of quiet
    expect(client.stats().packetsSent).toBeGreaterThan(5); // the PINGs
    expect(client.isOpen).toBe(true);
    await client.close();
    await server.close();
    await expectNoLeaks(base);
  });
});

describe('server close with clients attached', () => {
  it('graceful: every client gets the code and reason, close() waits for the connections to end', async () => {
    const base = resources();
    const { server, clients, accepted } = await serverWithClients(3);
    expect(server.connections.size).toBe(3);
    await within(server.close({ code: 42, reason: 'maintenance' }), 10_000, 'server close');
    for (const a of accepted) expect(a.closeResult).toMatchObject({ initiator: 'local', code: 42 });
    for (const c of clients) {
      const r = await within(c.closed, 5000, 'client close');
      expect(r).toEqual({ code: 42, reason: 'maintenance', initiator: 'peer', application: true });
      await within(c.close(), 5000, 'client ended');
    }
    expect(server.connections.size).toBe(0);
    await expectNoLeaks(base);
  });

  it('forced: close() returns without waiting, clients are still told', async () => {
    const base = resources();
    const { server, clients } = await serverWithClients(2);
    await within(server.close({ force: true, code: 7, reason: 'now' }), 2000, 'forced close');
    for (const c of clients) {
      const r = await within(c.closed, 5000, 'client close');
      // The CONNECTION_CLOSE is on its way before the socket goes; but a packet the client sends in that
      // instant (an ACK, a PMTU probe) draws an ICMP refusal that Node may deliver first. Either way the
      // client ends promptly and knows why.
      if (r.initiator === 'reset') expect(r).toMatchObject({ code: TransportErrorCode.CONNECTION_REFUSED });
      else expect(r).toMatchObject({ code: 7, reason: 'now', initiator: 'peer' });
      await within(c.close(), 5000, 'client ended');
    }
    // Closing again is a no-op that resolves.
    await server.close();
    await expectNoLeaks(base);
  });

  it('ends async iteration when the server closes', async () => {
    const base = resources();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const seen: PetrelConnection[] = [];
    const loop = (async () => {
      for await (const c of server) seen.push(c);
    })();
    const a = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    const b = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    await waitFor(() => seen.length === 2, 5000, 'two iterated connections');
    await server.close();
    await within(loop, 5000, 'iteration end');
    await Promise.all([a.closed, b.closed]);
    await Promise.all([a.close(), b.close()]);
    await expectNoLeaks(base);
  });
});
