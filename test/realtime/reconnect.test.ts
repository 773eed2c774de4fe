/** The reconnecting client: backoff with jitter and a cap, an event per attempt, the re-join hook, outage length. */
import { describe, expect, it } from 'vitest';
import { listen, type PetrelServer } from '../../lib/api/index.js';
import { backoffDelay, reconnecting, type ConnectedInfo } from '../../lib/api/reconnect.js';
import { waitFor, within } from '../api/helpers.js';

describe('backoffDelay', () => {
  const o = { initialDelay: 100, maxDelay: 1000, factor: 2, jitter: 0.5 };
  it('grows by the factor, is capped, and jitter only shortens it by up to the jitter fraction', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, o, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, o, () => 0.999999)).toBeCloseTo(200, 0);
    expect(backoffDelay(10, o, () => 0.5)).toBe(750);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(1 + (i % 8), o, Math.random);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

async function roomServer(port: number, joins: string[]): Promise<PetrelServer> {
  const server = await listen({ host: '127.0.0.1', port, insecure: true });
  server.on('connection', (c) => {
    c.channel<string>('rooms').on('message', (m) => joins.push(m));
  });
  return server;
}

describe('reconnecting client (loopback)', () => {
  it('re-joins through the hook after the server goes away and comes back on the same port, reporting the outage', async () => {
    const joins: string[] = [];
    let server = await roomServer(0, joins);
    const port = server.address().port;
    const infos: ConnectedInfo[] = [];
    const attempts: number[] = [];
    const failed: string[] = [];
    const rc = reconnecting(
      { host: '127.0.0.1', port, insecure: true, timeout: 2000 },
      {
        initialDelay: 50,
        maxDelay: 200,
        random: () => 0.5,
        onConnect: (conn, info) => {
          infos.push(info);
          conn.channel<string>('rooms').send(`join lobby #${info.reconnects}`);
        },
      },
    );
    rc.on('attempt', (a) => attempts.push(a.attempt));
    rc.on('attempt_failed', (e) => failed.push(e.code));
    const first = await within(rc.start(), 5000, 'first connection');
    expect(first.isOpen).toBe(true);
    await waitFor(() => joins.length === 1, 5000, 'first join');
    expect(infos[0]).toEqual({ reconnects: 0, attempts: 1, outage: 0 });

    const lost = new Promise((r) => rc.once('disconnected', r));
    await server.close({ code: 1, reason: 'restart' });
    await within(lost, 5000, 'disconnect');
    // Down for 400 ms.
    await new Promise((r) => setTimeout(r, 400));
    server = await roomServer(port, joins);
    const back = await within(new Promise<ConnectedInfo>((r) => rc.once('connected', (_c, i) => r(i))), 5000, 'reconnect');
    expect(back.reconnects).toBe(1);
    // Either attempts failed while it was down (port unreachable) or the one in flight completed on its return.
    expect(back.attempts).toBeGreaterThanOrEqual(1);
    expect(back.outage).toBeGreaterThanOrEqual(390);
    // Resumed within the capped backoff (200 ms) plus a loopback handshake of the server's return, with slack for CI.
    expect(back.outage).toBeLessThan(400 + 200 + 1500);
    expect(failed.length).toBe(back.attempts - 1);
    // SERVER_BUSY: an attempt that reached the old server while it was closing (retryable).
    expect(failed.every((c) => c === 'CONNECTION_REFUSED' || c === 'CONNECT_TIMEOUT' || c === 'SERVER_BUSY')).toBe(true);
    await waitFor(() => joins.length === 2, 5000, 'second join');
    expect(joins).toEqual(['join lobby #0', 'join lobby #1']);
    expect(rc.connection?.isOpen).toBe(true);
    await rc.close();
    expect(rc.connection).toBe(null);
    await server.close();
  }, 20_000);

  it('gives up at once on an error a retry cannot fix', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, alpn: ['game/2'] });
    const rc = reconnecting(
      { host: '127.0.0.1', port: server.address().port, insecure: true, alpn: ['game/1'], timeout: 2000 },
      { initialDelay: 10 },
    );
    let n = 0;
    rc.on('attempt', () => n++);
    const err = await rc.start().then(
      () => null,
      (e: { code: string }) => e,
    );
    expect(err?.code).toBe('NO_COMMON_ALPN');
    expect(n).toBe(1);
    await rc.close();
    await server.close();
  }, 10_000);
});
