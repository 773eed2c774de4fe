/** peerTimeout end to end (virtual time): a dead peer is noticed within peerTimeout + 1 RTT, a pause is recoverable. */
import { describe, expect, it } from 'vitest';
import { LayerPair } from '../channel/layer-pair.js';

const RTT = 100;

function pair(peerTimeout: number): LayerPair {
  const p = new LayerPair({ latency: RTT / 2, client: { peerTimeout, idleTimeout: 30_000 }, server: { idleTimeout: 30_000 } });
  expect(p.run(() => p.connected())).toBe(true);
  return p;
}

const events = (p: LayerPair, type: string) => p.clientEvents.filter((e) => e.type === type);

describe('peerTimeout', () => {
  it('an idle but live peer is never declared unresponsive (keep-alives get answered)', () => {
    const p = pair(1000);
    p.run(() => false, p.now + 20_000);
    expect(events(p, 'unresponsive')).toEqual([]);
    expect(events(p, 'closed')).toEqual([]);
    expect(p.clientConn.state).toBe('established');
    expect(p.clientConn.stats().peerSilence).toBeLessThan(1000);
  });

  it('a peer that dies is reported unresponsive, then closed with PEER_TIMEOUT within peerTimeout + 1 RTT', () => {
    const p = pair(1500);
    p.run(() => false, p.now + 2000);
    // kill -9: from now on the server sends nothing at all.
    const killedAt = p.now;
    p.drop = (dir) => dir === 's2c';
    let unresponsiveAt = -1;
    let closedAt = -1;
    p.run(() => {
      if (unresponsiveAt < 0 && events(p, 'unresponsive').length > 0) unresponsiveAt = p.now;
      if (closedAt < 0 && events(p, 'closed').length > 0) closedAt = p.now;
      return closedAt >= 0;
    }, killedAt + 60_000);
    expect(unresponsiveAt).toBeGreaterThan(killedAt);
    expect(closedAt - killedAt).toBeLessThanOrEqual(1500 + RTT);
    expect(closedAt - killedAt).toBeGreaterThanOrEqual(1500 - RTT);
    const closed = events(p, 'closed')[0]!;
    if (closed.type !== 'closed') throw new Error('unreachable');
    expect(closed.info.initiator).toBe('peer_timeout');
    expect(closed.info.reason).toMatch(/^PEER_TIMEOUT: /);
  });

  it('a pause shorter than peerTimeout gives unresponsive then responsive, and the connection lives on', () => {
    const p = pair(2000);
    p.run(() => false, p.now + 1000);
    const t0 = p.now;
    p.drop = (dir) => dir === 's2c' && p.now < t0 + 1400;
    p.run(() => false, t0 + 5000);
    const kinds = p.clientEvents.filter((e) => e.type === 'unresponsive' || e.type === 'responsive').map((e) => e.type);
    expect(kinds).toEqual(['unresponsive', 'responsive']);
    expect(p.clientConn.state).toBe('established');
    expect(p.clientConn.stats().unresponsive).toBe(false);
  });

  it('is separate from idleTimeout: off by default, nothing changes', () => {
    const p = new LayerPair({ latency: RTT / 2 });
    expect(p.run(() => p.connected())).toBe(true);
    p.drop = (dir) => dir === 's2c';
    p.run(() => false, p.now + 5000);
    expect(events(p, 'unresponsive')).toEqual([]);
    expect(p.clientConn.state).toBe('established');
  });
});
