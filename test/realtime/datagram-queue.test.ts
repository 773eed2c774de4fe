import { describe, expect, it } from 'vitest';
import { DatagramQueue, type QueuedDatagram } from '../../lib/connection/datagram-queue.js';
import { PriorityScheduler, type Schedulable } from '../../lib/connection/scheduler.js';

const d = (id: number, size: number, queuedAt = 0, expiresAt = Infinity): QueuedDatagram => ({
  id,
  data: new Uint8Array(size).fill(id & 0xff),
  queuedAt,
  expiresAt,
});

describe('DatagramQueue', () => {
  it('answers every read before its first datagram (its levels come with it), then works', () => {
    const q = new DatagramQueue(4);
    expect(q.head(3)).toBeUndefined();
    expect(q.shift(3)).toBeUndefined();
    expect(q.cancel(1)).toBe(false);
    expect(q.has(1)).toBe(false);
    expect(q.expire(1e9)).toEqual([]);
    expect(q.state(5)).toEqual({ messages: 0, bytes: 0, oldestAge: 0 });
    expect((q as unknown as { levelsLazy: unknown }).levelsLazy).toBeNull();
    q.push(3, d(1, 10, 2));
    expect(q.head(3)?.id).toBe(1);
    expect(q.state(5)).toEqual({ messages: 1, bytes: 10, oldestAge: 3 });
    expect(q.shift(3)?.id).toBe(1);
    expect(q.head(3)).toBeUndefined();
  });

  it('is bounded in entries: a full queue evicts the oldest of the least urgent level, bytes follow', () => {
    const q = new DatagramQueue(3);
    expect(q.push(1, d(1, 10))).toBe(null);
    expect(q.push(6, d(2, 20))).toBe(null);
    expect(q.push(6, d(3, 30))).toBe(null);
    expect(q.state(0)).toEqual({ messages: 3, bytes: 60, oldestAge: 0 });
    expect(q.push(0, d(4, 40))?.id).toBe(2); // least urgent level (6), oldest there
    expect(q.push(0, d(5, 50))?.id).toBe(3);
    expect(q.push(0, d(6, 60))?.id).toBe(1);
    expect(q.size).toBe(3);
    expect(q.bytes).toBe(150);
    expect([q.shift(0)!.id, q.shift(0)!.id, q.shift(0)!.id]).toEqual([4, 5, 6]);
    expect(q.state(0)).toEqual({ messages: 0, bytes: 0, oldestAge: 0 });
  });

  it('cancels a queued entry by id, once', () => {
    const q = new DatagramQueue(10);
    q.push(3, d(1, 5));
    q.push(3, d(2, 6));
    expect(q.has(1)).toBe(true);
    expect(q.cancel(1)).toBe(true);
    expect(q.cancel(1)).toBe(false);
    expect(q.has(1)).toBe(false);
    expect(q.state(0)).toMatchObject({ messages: 1, bytes: 6 });
    expect(q.head(3)!.id).toBe(2);
  });

  it('expires entries strictly after their deadline and reports the oldest age', () => {
    const q = new DatagramQueue(10);
    q.push(3, d(1, 5, 0, 100));
    q.push(3, d(2, 5, 10, Infinity));
    q.push(2, d(3, 5, 20, 50));
    expect(q.state(70).oldestAge).toBe(70);
    expect(q.expire(50).map((x) => x.id)).toEqual([]);
    expect(q.expire(51).map((x) => x.id)).toEqual([3]);
    expect(q.expire(100)).toEqual([]);
    expect(q.expire(101).map((x) => x.id)).toEqual([1]);
    expect(q.state(110)).toEqual({ messages: 1, bytes: 5, oldestAge: 100 });
    expect(q.expire(1e9)).toEqual([]);
  });
});

describe('PriorityScheduler', () => {
  it('reads as empty before its first enqueue (its lists come with it), then orders by urgency and id', () => {
    const s = new PriorityScheduler<Schedulable>();
    expect(s.sequentialAt(3)).toEqual([]);
    expect(s.roundRobinAt(3)).toEqual([]);
    expect(s.some(() => true)).toBe(false);
    const item = (id: number, urgency: number, incremental = false): Schedulable => ({ id, urgency, incremental, queued: false });
    const a = item(8, 3);
    const b = item(4, 3);
    const c = item(1, 5, true);
    s.remove(a); // never queued: nothing happens
    for (const x of [a, b, c]) s.enqueue(x);
    expect(s.sequentialAt(3).map((x) => x.id)).toEqual([4, 8]);
    expect(s.roundRobinAt(5)).toEqual([c]);
    expect(s.some((x) => x.id === 1)).toBe(true);
    s.remove(b);
    expect(s.sequentialAt(3).map((x) => x.id)).toEqual([8]);
  });
});
