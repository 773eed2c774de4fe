/**
 * Timers.pollTimeout is the table's minimum written out row by row (no closure per row); it must equal the
 * minimum over the table (`tableTimeout`) in every state a connection goes through: handshake, data with
 * loss, keep-alive and liveness, pacing, closing.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/connection/connection.js';
import type { Timers } from '../../lib/connection/timers.js';
import { Pair } from '../helpers/pair.js';

const timersOf = (c: Connection): Timers => (c as unknown as { timers: Timers }).timers;

describe('Timers.pollTimeout', () => {
  it('equals the minimum over the timer table at every step of a lossy transfer, keep-alive, close', () => {
    const opts = { keepAlive: 50, peerTimeout: 400, idleTimeout: 2000 };
    const p = new Pair({ latency: 15, client: opts, server: opts });
    p.drop = (_dir, index) => index % 7 === 3;
    let checks = 0;
    const check = (): void => {
      for (const c of [p.clientConn, p.serverConn]) {
        if (!c) continue;
        const t = timersOf(c);
        expect(t.pollTimeout()).toBe(t.tableTimeout());
        checks++;
      }
    };
    expect(p.run(() => p.connected(), 10_000, check)).toBe(true);
    const id = p.clientConn.openStream()!;
    p.clientConn.streamWrite(id, new Uint8Array(300_000).fill(7));
    p.clientConn.streamFinish(id);
    p.run(() => false, p.now + 3000, check);
    p.drop = () => false;
    p.clientConn.close(0, 'done', true);
    p.run(() => false, p.now + 2000, check);
    expect(checks).toBeGreaterThan(200);
  });

  it('equals the minimum over the timer table while pacing a fast transfer and while the peer goes silent', () => {
    const opts = { peerTimeout: 400, idleTimeout: 5000 };
    const p = new Pair({ latency: 2, client: opts, server: opts });
    const check = (): void => {
      for (const c of [p.clientConn, p.serverConn]) {
        if (!c) continue;
        const t = timersOf(c);
        expect(t.pollTimeout()).toBe(t.tableTimeout());
      }
    };
    expect(p.run(() => p.connected(), 10_000, check)).toBe(true);
    p.stepMs = 0.25;
    const id = p.clientConn.openStream()!;
    p.clientConn.streamWrite(id, new Uint8Array(4_000_000).fill(7));
    p.run(() => false, p.now + 300, check);
    // The server stops answering: liveness ('unresponsive', then dead) decides.
    p.drop = (dir) => dir === 's2c';
    p.run(() => false, p.now + 1000, check);
    expect(p.clientConn.state).toBe('closed');
  });
});
