import { describe, expect, it } from 'vitest';
import { DatagramQueue, type QueuedDatagram } from '../../lib/connection/datagram-queue.js';

const d = (id: number, size: number, queuedAt = 0, expiresAt = Infinity): QueuedDatagram => ({
  id,
  data: new Uint8Array(size).fill(id & 0xff),
  queuedAt,
  expiresAt,
});

describe('DatagramQueue', () => {
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
