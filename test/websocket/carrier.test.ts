/**
 * The WebSocket carrier's own behaviour: garbage and abuse limits on the server side, typed client errors,
 * and happy-eyeballs fallback with the server's UDP port black-holed.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, PetrelError } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import type { ListenOptions } from '../../lib/api/options.js';
import { forgetTransports, rememberedTransport } from '../../lib/api/happy-eyeballs.js';
import { expectNoLeaks, pattern, readAll, resources, sha, waitFor, within } from '../api/helpers.js';

async function rejection(p: Promise<unknown>): Promise<PetrelError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelError);
    return e as PetrelError;
  }
  throw new Error('expected a rejection');
}

async function wsServer(ws: ListenOptions['websocket'] = {}, opts: ListenOptions = {}): Promise<{ server: PetrelServer; url: string }> {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, ...opts, websocket: { port: 0, host: '127.0.0.1', ...ws } });
  const url = `ws://127.0.0.1:${server.websocketAddress()!.port}${ws.path ?? '/'}`;
  // Every connection answers a stream with the SHA-256 of what it got.
  server.on('connection', (c) => c.on('stream', (s) => void readAll(s).then((b) => s.end(sha(b)))));
  return { server, url };
}

async function exchange(c: PetrelConnection, n: number, salt: number): Promise<boolean> {
  const data = pattern(n, salt);
  const s = await c.openStream();
  s.end(data);
  return (await readAll(s)).toString() === sha(data);
}

/** A raw WebSocket (not Petrel) to the server; resolves with its close code. */
function rawSocket(url: string, headers?: Record<string, string>): { ws: WebSocket; opened: Promise<void>; closed: Promise<number> } {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  return { ws, opened, closed };
}

afterEach(() => forgetTransports());

describe('WebSocket carrier: the server under garbage and abuse', () => {
  it('drops random and truncated binary messages (counted), closes text (1003) and oversize (1009) sockets, keeps serving', async () => {
    const base = resources();
    const { server, url } = await wsServer({ maxMessageSize: 2048 });
    const good = await connect({ transport: 'websocket', url, insecure: true });
    // Random binary messages on their own sockets: each a datagram the core drops and counts.
    const junk = rawSocket(url);
    await junk.opened;
    for (let i = 0; i < 50; i++) junk.ws.send(randomBytes(1 + ((i * 37) % 1400)));
    junk.ws.send(Buffer.alloc(0));
    // A text message, and an oversize binary one: both end their socket.
    const text = rawSocket(url);
    await text.opened;
    text.ws.send('hello');
    const big = rawSocket(url);
    await big.opened;
    big.ws.send(randomBytes(4096));
    expect(await within(text.closed, 5000, 'text socket closed')).toBe(1003);
    expect(await within(big.closed, 5000, 'oversize socket closed')).toBe(1009);
    // 51 datagrams, each dropped by the core before any connection state: bad CRC, or too short (1 and 0 bytes).
    const dropped = (): number => Object.values(server.stats().websocketDrops ?? {}).reduce((a, b) => a + b, 0);
    await waitFor(() => dropped() === 51, 5000, 'junk datagrams counted');
    expect(server.stats().websocketDrops).toEqual({ checksum: 49, too_short: 2 });
    expect(server.stats().websocketUpgrades).toBe(4);
    // The well-behaved connection is unharmed and new ones still work.
    expect(await exchange(good, 100_000, 1)).toBe(true);
    const again = await connect({ transport: 'websocket', url, insecure: true });
    expect(await exchange(again, 10_000, 2)).toBe(true);
    junk.ws.close();
    await Promise.all([good.close(), again.close()]);
    await server.close();
    await expectNoLeaks(base);
  });

  it('one socket carries one connection: a second Initial on the same socket is dropped (counted)', async () => {
    const { server, url } = await wsServer();
    const sock = rawSocket(url);
    await sock.opened;
    const { Endpoint } = await import('../../lib/endpoint/endpoint.js');
    const { insecureCrypto } = await import('../../lib/crypto/insecure.js');
    const { crc32 } = await import('node:zlib');
    const env = { randomFill: (b: Uint8Array) => b.set(randomBytes(b.length)), crc32: (d: Uint8Array) => crc32(d) };
    const buf = new Uint8Array(2048);
    for (let i = 0; i < 2; i++) {
      const ep = new Endpoint({ env });
      ep.connect({ remote: { host: 's', port: 1 }, crypto: insecureCrypto, now: 0 });
      for (let t = ep.pollTransmit(0, buf); t; t = ep.pollTransmit(0, buf)) sock.ws.send(buf.slice(0, t.length));
    }
    await waitFor(() => (server.stats().websocketDrops?.refused ?? 0) >= 1, 5000, 'second Initial refused');
    expect(server.stats().websocketOpen).toBe(1);
    sock.ws.close();
    await server.close({ force: true });
  });

  it('closes a socket that does not complete the Petrel handshake in time (1008), counted', async () => {
    const { server, url } = await wsServer({ handshakeTimeout: 200 });
    const idle = rawSocket(url);
    await idle.opened;
    expect(await within(idle.closed, 5000, 'idle socket closed')).toBe(1008);
    expect(server.stats().websocketHandshakeTimeouts).toBe(1);
    await server.close();
  });

  it('refuses other paths (404), foreign origins (403) and upgrades above the per-IP rate (429) before any Petrel state', async () => {
    const { server, url } = await wsServer({ path: '/petrel', origins: ['https://game.example'], upgradesPerSecond: 2 });
    const base = url.replace('/petrel', '');
    await expect(rawSocket(`${base}/other`).opened).rejects.toThrow('HTTP 404');
    await expect(rawSocket(url, { Origin: 'https://evil.example' }).opened).rejects.toThrow('HTTP 403');
    const err = await rejection(connect({ transport: 'websocket', url, insecure: true }));
    expect(err.code).toBe('CONNECTION_REFUSED'); // no Origin header at all: refused too
    // Burst of twice the rate, then 429.
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => rawSocket(url, { Origin: 'https://game.example' }).opened));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(4);
    expect(refused).toEqual(['Error: HTTP 429', 'Error: HTTP 429']);
    expect(server.stats().websocketRefused).toEqual({ path: 1, origin: 2, rate: 2 });
    await server.close({ force: true });
  });

  it('rejects bad websocket options with INVALID_OPTION', async () => {
    await expect(listen({ insecure: true, websocket: { maxMessageSize: 100 } })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(listen({ insecure: true, websocket: { path: 'x' } })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(connect({ transport: 'websocket', insecure: true })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(connect({ transport: 'websocket', url: 'http://x/', insecure: true })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(connect({ transport: 'auto', host: '127.0.0.1', port: 1, insecure: true })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(connect({ transport: 'auto', url: 'ws://127.0.0.1:1/', insecure: true })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(
      connect({ transport: 'auto', host: '127.0.0.1', port: 1, url: 'ws://127.0.0.1:1/', happyEyeballsDelay: -1, insecure: true }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    // @ts-expect-error a transport that does not exist
    await expect(connect({ transport: 'carrier-pigeon', host: '127.0.0.1', port: 1, insecure: true })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
  });
});

describe('WebSocket carrier: client errors', () => {
  it('a closed port is CONNECTION_REFUSED; a wrong pinned key fails the handshake as over UDP', async () => {
    const base = resources();
    const probe = await wsServer();
    const dead = probe.url;
    await probe.server.close();
    expect((await rejection(connect({ transport: 'websocket', url: dead, insecure: true }))).code).toBe('CONNECTION_REFUSED');
    const { generateIdentity } = await import('../../lib/api/index.js');
    const id = generateIdentity();
    const other = generateIdentity();
    const { server, url } = await wsServer({}, { insecure: false, identity: id });
    expect((await rejection(connect({ transport: 'websocket', url, serverKey: other.fingerprint }))).code).toBe('UNKNOWN_SERVER_KEY');
    const ok = await connect({ transport: 'websocket', url, serverKey: id.fingerprint });
    expect(ok.transport).toBe('websocket');
    expect(await exchange(ok, 50_000, 3)).toBe(true);
    await ok.close();
    await server.close();
    await expectNoLeaks(base);
  });
});

describe('happy eyeballs (transport auto)', () => {
  it('with the UDP port black-holed, connects over WebSocket, carries data, and starts with WebSocket next time', async () => {
    const base = resources();
    const { server, url } = await wsServer();
    // The black hole: a bound UDP port (so no ICMP refusal) that never answers.
    const hole = dgram.createSocket('udp4');
    let swallowed = 0;
    hole.on('message', () => swallowed++);
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', r));
    const port = hole.address().port;
    const conn = await within(connect({ transport: 'auto', host: '127.0.0.1', port, url, insecure: true }), 5000, 'auto connect');
    expect(conn.transport).toBe('websocket');
    expect(swallowed).toBeGreaterThan(0); // UDP was tried first
    expect(await exchange(conn, 200_000, 4)).toBe(true);
    expect(rememberedTransport({ host: '127.0.0.1', port, url })).toBe('websocket');
    // Next time the remembered carrier goes first and wins before UDP is even tried.
    const before = swallowed;
    const second = await connect({ transport: 'auto', host: '127.0.0.1', port, url, insecure: true });
    expect(second.transport).toBe('websocket');
    await new Promise((r) => setTimeout(r, 50));
    expect(swallowed).toBe(before);
    await Promise.all([conn.close(), second.close()]);
    await server.close();
    await new Promise<void>((r) => hole.close(() => r()));
    await expectNoLeaks(base);
  });

  it('prefers UDP when it answers, and closes nothing it did not use', async () => {
    const base = resources();
    const { server, url } = await wsServer();
    const conn = await connect({ transport: 'auto', host: '127.0.0.1', port: server.address().port, url, insecure: true });
    expect(conn.transport).toBe('udp');
    expect(await exchange(conn, 50_000, 5)).toBe(true);
    await new Promise((r) => setTimeout(r, 400)); // past the happy-eyeballs delay: no WebSocket was opened
    expect(server.stats().websocketUpgrades ?? 0).toBe(0);
    await conn.close();
    await server.close();
    await expectNoLeaks(base);
  });

  it('falls over at once when UDP is refused (ICMP), and fails with the better error when both fail', async () => {
    const { server, url } = await wsServer();
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
    const port = closed.address().port;
    await new Promise<void>((r) => closed.close(() => r()));
    const conn = await connect({ transport: 'auto', host: '127.0.0.1', port, url, insecure: true, happyEyeballsDelay: 10_000 });
    expect(conn.transport).toBe('websocket'); // did not wait 10 s for the delay
    await conn.close();
    await server.close();
    forgetTransports();
    const err = await rejection(connect({ transport: 'auto', host: '127.0.0.1', port, url, insecure: true }));
    expect(err.code).toBe('CONNECTION_REFUSED');
  });
});
