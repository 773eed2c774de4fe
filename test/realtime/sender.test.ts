/**
 * Sender-side freshness, maxAge, the send budget and queue state, end to end through two sans-IO
 * connections with channel layers (virtual time, deterministic).
 */
import { describe, expect, it } from 'vitest';
import { LayerPair, pattern } from '../channel/layer-pair.js';
import { sha } from '../api/helpers.js';

function connectedPair(opts: ConstructorParameters<typeof LayerPair>[0] = {}): LayerPair {
  const p = new LayerPair(opts);
  expect(p.run(() => p.connected())).toBe(true);
  return p;
}

/** Declares a channel and waits until its DECLARE is acknowledged (so sends go straight to the core). */
function declared(p: LayerPair, name: string, mode: 'unreliable' | 'unreliable-sequenced', urgency = 3, maxAge = Infinity): number {
  const ch = p.clientLayer.channel(name, mode, urgency, maxAge);
  expect(p.run(() => p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
  return ch;
}

describe('sender-side freshness (unreliable-sequenced)', () => {
  it('a queued, unsent message is replaced by a newer one: only the newest leaves, whole (fragmented too)', () => {
    const p = connectedPair();
    const ch = declared(p, 'state', 'unreliable-sequenced');
    const msgs = Array.from({ length: 10 }, (_, i) => pattern(i % 2 === 0 ? 5000 : 300, 100 + i));
    // Ten sends with no chance to transmit in between: the core queue would hold all of them.
    for (const m of msgs) p.clientLayer.send(ch, m, { now: p.now });
    const q = p.clientLayer.stats().sendQueues.find((s) => s.name === 'state')!;
    expect(q.messages).toBe(1);
    expect(q.bytes).toBeGreaterThan(300);
    expect(p.clientConn.stats().datagramQueue.messages).toBe(1); // the last one is 300 bytes: one datagram
    expect(p.clientLayer.stats().messagesDropped.superseded).toBe(9);
    expect(p.clientConn.stats().drops.datagram_cancelled).toBeGreaterThanOrEqual(9);
    expect(p.run(() => p.messages('server', 'state').length === 1)).toBe(true);
    p.run(() => false, p.now + 300);
    const got = p.messages('server', 'state');
    expect(got.length).toBe(1);
    expect(sha(got[0]!)).toBe(sha(msgs[9]!));
    expect(p.clientConn.stats().datagramQueue).toEqual({ messages: 0, bytes: 0, oldestAge: 0 });
  });

  it('replacement is per channel: two sequenced channels each keep their newest', () => {
    const p = connectedPair();
    const a = declared(p, 'a', 'unreliable-sequenced');
    const b = declared(p, 'b', 'unreliable-sequenced');
    for (let i = 0; i < 5; i++) {
      p.clientLayer.send(a, new Uint8Array([0xa0 + i]), { now: p.now });
      p.clientLayer.send(b, new Uint8Array([0xb0 + i]), { now: p.now });
    }
    p.run(() => false, p.now + 300);
    expect(p.messages('server', 'a').map((m) => m[0])).toEqual([0xa4]);
    expect(p.messages('server', 'b').map((m) => m[0])).toEqual([0xb4]);
  });

  it('plain unreliable messages are never replaced', () => {
    const p = connectedPair();
    const ch = declared(p, 'ev', 'unreliable');
    for (let i = 0; i < 10; i++) p.clientLayer.send(ch, new Uint8Array([i]), { now: p.now });
    expect(p.run(() => p.messages('server', 'ev').length === 10)).toBe(true);
    expect(p.clientLayer.stats().messagesDropped.superseded).toBeUndefined();
  });
});

describe('maxAge', () => {
  it('unreliable data never waits behind reliable data beyond its age: stale messages are dropped unsent, counted', () => {
    // 20 ms each way, a 64 KB/s budget: 256 KB of urgent reliable data holds the path for about 4 s.
    const p = connectedPair({ latency: 20, client: { maxSendRate: 64_000 } });
    const ch = declared(p, 'pos', 'unreliable', 7, 100);
    const bulk = p.clientLayer.openStream(false)!;
    p.clientConn.setStreamPriority(bulk, { urgency: 0 });
    p.clientConn.streamWrite(bulk, pattern(256 * 1024, 9));
    p.clientConn.streamFinish(bulk);
    const t0 = p.now;
    for (let i = 0; i < 20; i++) {
      p.run(() => false, t0 + i * 50);
      p.clientLayer.send(ch, new Uint8Array([i, 1, 2, 3]), { now: p.now });
    }
    const qs = p.clientLayer.stats().sendQueues.find((s) => s.name === 'pos')!;
    // Nothing older than maxAge (+ one tick of slack for the check happening at send time) sits in the queue.
    expect(qs.oldestAge).toBeLessThanOrEqual(150);
    p.run(() => false, t0 + 8000);
    const expired = p.clientConn.stats().drops.datagram_expired ?? 0;
    const got = p.messages('server', 'pos').length;
    expect(expired).toBeGreaterThan(0);
    expect(got + expired).toBe(20);
    // Whatever arrived was at most maxAge old when it left.
    expect(p.clientConn.stats().datagramQueue.messages).toBe(0);
  });

  it('a per-message maxAge overrides the channel default', () => {
    const p = connectedPair({ latency: 20, client: { maxSendRate: 64_000 } });
    const ch = declared(p, 'pos', 'unreliable', 7, 10_000);
    const bulk = p.clientLayer.openStream(false)!;
    p.clientConn.setStreamPriority(bulk, { urgency: 0 });
    p.clientConn.streamWrite(bulk, pattern(128 * 1024, 9));
    p.clientLayer.send(ch, new Uint8Array([1]), { now: p.now, maxAge: 50 });
    p.clientLayer.send(ch, new Uint8Array([2]), { now: p.now });
    p.run(() => false, p.now + 6000);
    expect(p.messages('server', 'pos').map((m) => m[0])).toEqual([2]);
    expect(p.clientConn.stats().drops.datagram_expired).toBe(1);
  });
});

describe('maxSendRate', () => {
  it('paces a connection at its budget whatever the congestion window allows, and reports it in stats', () => {
    const budget = 100_000; // bytes per second
    const p = connectedPair({ latency: 5, client: { maxSendRate: budget } });
    const id = p.clientLayer.openStream(false)!;
    const data = pattern(300_000, 4);
    const t0 = p.now;
    let doneAt = -1;
    let received = 0;
    p.clientConn.streamWrite(id, data);
    p.clientConn.streamFinish(id);
    expect(
      p.run(() => {
        for (const e of p.serverEvents.splice(0)) {
          if (e.type === 'stream_readable') {
            for (let d = p.serverConn!.streamRead(e.streamId); d; d = p.serverConn!.streamRead(e.streamId)) received += d.length;
          }
        }
        if (received >= data.length && doneAt < 0) doneAt = p.now;
        return doneAt >= 0;
      }, t0 + 60_000),
    ).toBe(true);
    const seconds = (doneAt - t0) / 1000;
    const rate = p.clientConn.stats().bytesSent / ((p.now - 0) / 1000);
    // 300 KB at 100 KB/s: about 3 s (headers, ACK-less retransmits none on a clean path); never much faster.
    expect(seconds).toBeGreaterThan(2.7);
    expect(seconds).toBeLessThan(4);
    expect(rate).toBeLessThan(budget * 1.15);
    expect(p.clientConn.stats().pacingRate).toBeLessThanOrEqual(budget / 1000);
  });
});

describe('sender-side freshness: a fragment set is replaced whole or not at all', () => {
  it('a message already partly on the wire is left to finish; a wholly queued one is replaced', () => {
    const p = connectedPair();
    const ch = declared(p, 'state', 'unreliable-sequenced');
    const big = pattern(5000, 1);
    p.clientLayer.send(ch, big, { now: p.now });
    const fragments = p.clientConn.stats().datagramQueue.messages;
    expect(fragments).toBeGreaterThan(2);
    // One packet leaves (carrying the first fragment); the rest of the set is still queued.
    const buf = new Uint8Array(2048);
    expect(p.clientConn.pollTransmit(p.now, buf)).not.toBe(null);
    expect(p.clientConn.stats().datagramQueue.messages).toBe(fragments - 1);
    p.clientLayer.send(ch, new Uint8Array([7]), { now: p.now });
    // Not withdrawn: its remaining fragments plus the new message.
    expect(p.clientConn.stats().datagramQueue.messages).toBe(fragments);
    expect(p.clientLayer.stats().messagesDropped.superseded).toBeUndefined();
    // A third message replaces the second (wholly queued) but still not the partly sent one.
    p.clientLayer.send(ch, new Uint8Array([8]), { now: p.now });
    expect(p.clientConn.stats().datagramQueue.messages).toBe(fragments);
    expect(p.clientLayer.stats().messagesDropped.superseded).toBe(1);
  });
});
