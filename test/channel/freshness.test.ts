/** Sender-side freshness and maxAge of unreliable channels (issue 12). */
import { describe, expect, it } from 'vitest';
import { LayerPair } from './layer-pair.js';

function connectedPair(opts: ConstructorParameters<typeof LayerPair>[0] = {}): LayerPair {
  const p = new LayerPair(opts);
  expect(p.run(() => p.connected())).toBe(true);
  return p;
}

describe('unreliable channels: held messages before the DECLARE is acknowledged', () => {
  it('sequenced: only the newest held message survives; older ones are counted as superseded', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('state', 'unreliable-sequenced');
    for (let i = 1; i <= 5; i++) p.clientLayer.send(ch, new Uint8Array([i]), { now: p.now });
    expect(p.clientLayer.stats().heldMessages).toBe(1);
    expect(p.clientLayer.stats().messagesDropped.superseded).toBe(4);
    expect(p.run(() => p.messages('server', 'state').length === 1)).toBe(true);
    p.run(() => false, p.now + 200);
    expect(p.messages('server', 'state').map((m) => m[0])).toEqual([5]);
  });

  it('plain unreliable keeps every held message (no newest-wins rule there)', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('events', 'unreliable');
    for (let i = 1; i <= 5; i++) p.clientLayer.send(ch, new Uint8Array([i]), { now: p.now });
    expect(p.clientLayer.stats().heldMessages).toBe(5);
    expect(p.run(() => p.messages('server', 'events').length === 5)).toBe(true);
    expect(p.clientLayer.stats().messagesDropped.superseded).toBeUndefined();
  });

  it('a held message older than its maxAge when the DECLARE is acknowledged is dropped as expired', () => {
    // 30 ms each way: the DECLARE is acknowledged about 60 ms after it was sent.
    const p = connectedPair({ latency: 30 });
    const ch = p.clientLayer.channel('events', 'unreliable', 3, 40);
    p.clientLayer.send(ch, new Uint8Array([1]), { now: p.now }); // channel maxAge 40 ms: too old by then
    p.clientLayer.send(ch, new Uint8Array([2]), { now: p.now, maxAge: 1000 }); // per-message override
    expect(p.run(() => p.messages('server', 'events').length === 1)).toBe(true);
    p.run(() => false, p.now + 200);
    expect(p.messages('server', 'events').map((m) => m[0])).toEqual([2]);
    expect(p.clientLayer.stats().messagesDropped.expired).toBe(1);
    expect(p.clientLayer.stats().heldMessages).toBe(0);
  });
});
