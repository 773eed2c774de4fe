import { describe, expect, it } from 'vitest';
import { Reassembly } from '../../lib/channel/reassembly.js';

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('Reassembly', () => {
  it('holds nothing before its first fragment (its tables come with it) and works when first used late', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 4, timeout: 100 });
    expect(r.messages).toBe(0);
    expect(r.nextDeadline()).toBeNull();
    expect(r.expire(1e9)).toBe(0);
    r.clear();
    expect((r as unknown as { partialsLazy: unknown }).partialsLazy).toBeNull();
    expect(r.add(0, { messageId: 1, index: 0, count: 2 }, undefined, bytes(2, 1), 5000).kind).toBe('pending');
    expect(r.nextDeadline()).toBe(5100);
    const done = r.add(0, { messageId: 1, index: 1, count: 2 }, undefined, bytes(1, 2), 5001);
    expect(done.kind === 'complete' && Array.from(done.data)).toEqual([1, 1, 2]);
  });

  it('joins fragments in index order whatever their arrival order and sizes', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 4, timeout: 100 });
    expect(r.add(0, { messageId: 7, index: 2, count: 3 }, undefined, bytes(1, 3), 0).kind).toBe('pending');
    expect(r.add(0, { messageId: 7, index: 0, count: 3 }, undefined, bytes(4, 1), 1).kind).toBe('pending');
    expect(r.bytes).toBe(5);
    const done = r.add(0, { messageId: 7, index: 1, count: 3 }, undefined, bytes(2, 2), 2);
    expect(done.kind).toBe('complete');
    expect(done.kind === 'complete' && Array.from(done.data)).toEqual([1, 1, 1, 1, 2, 2, 3]);
    expect(r.bytes).toBe(0);
    expect(r.messages).toBe(0);
    expect(r.completed).toBe(1);
  });

  it('keeps messages of different channels apart even with equal message ids', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 4, timeout: 100 });
    r.add(1, { messageId: 0, index: 0, count: 2 }, undefined, bytes(1, 1), 0);
    r.add(2, { messageId: 0, index: 0, count: 2 }, undefined, bytes(1, 2), 0);
    const a = r.add(2, { messageId: 0, index: 1, count: 2 }, undefined, bytes(1, 22), 0);
    expect(a.kind === 'complete' && Array.from(a.data)).toEqual([2, 22]);
    expect(r.messages).toBe(1);
  });

  it('rejects a fragment that disagrees with the earlier ones', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 4, timeout: 100 });
    r.add(0, { messageId: 1, index: 0, count: 3 }, 5, bytes(10, 0), 0);
    expect(r.add(0, { messageId: 1, index: 1, count: 4 }, 5, bytes(10, 0), 0).kind).toBe('inconsistent'); // count
    expect(r.add(0, { messageId: 1, index: 1, count: 3 }, 6, bytes(10, 0), 0).kind).toBe('inconsistent'); // sequence
    expect(r.add(0, { messageId: 1, index: 0, count: 3 }, 5, bytes(10, 0), 0).kind).toBe('inconsistent'); // repeat
    expect(r.bytes).toBe(10);
  });

  it('evicts the oldest partial message above the message bound', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 2, timeout: 100 });
    for (const id of [1, 2, 3]) r.add(0, { messageId: id, index: 0, count: 2 }, undefined, bytes(10, id), id);
    expect(r.messages).toBe(2);
    expect(r.bytes).toBe(20);
    expect(r.dropped.reassembly_evicted).toBe(1);
    // Message 1 was evicted: its late fragment is refused, not buffered again.
    expect(r.add(0, { messageId: 1, index: 1, count: 2 }, undefined, bytes(10, 1), 5).kind).toBe('dropped');
    expect(r.messages).toBe(2);
    const c = r.add(0, { messageId: 3, index: 1, count: 2 }, undefined, bytes(1, 9), 5);
    expect(c.kind).toBe('complete');
  });

  it('evicts older partial messages above the byte bound, and drops a message larger than the bound', () => {
    const r = new Reassembly({ maxBytes: 100, maxMessages: 10, timeout: 100 });
    r.add(0, { messageId: 1, index: 0, count: 3 }, undefined, bytes(60, 1), 0);
    r.add(0, { messageId: 2, index: 0, count: 3 }, undefined, bytes(30, 2), 0);
    expect(r.bytes).toBe(90);
    r.add(0, { messageId: 2, index: 1, count: 3 }, undefined, bytes(30, 2), 0); // 120 > 100: message 1 goes
    expect(r.bytes).toBe(60);
    expect(r.messages).toBe(1);
    expect(r.dropped.reassembly_evicted).toBe(1);
    r.add(0, { messageId: 3, index: 0, count: 3 }, undefined, bytes(70, 3), 0); // 130: message 2 goes
    expect(r.bytes).toBe(70);
    expect(r.dropped.reassembly_evicted).toBe(2);
    expect(r.add(0, { messageId: 3, index: 1, count: 3 }, undefined, bytes(40, 3), 0).kind).toBe('dropped'); // 110 alone
    expect(r.dropped.oversize).toBe(1);
    expect(r.bytes).toBe(0);
    expect(r.add(0, { messageId: 3, index: 2, count: 3 }, undefined, bytes(1, 3), 0).kind).toBe('dropped');
    expect(r.dropped.oversize).toBe(1);
  });

  it('expires partial messages at first-fragment time + timeout, oldest first', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 10, timeout: 100 });
    expect(r.nextDeadline()).toBeNull();
    r.add(0, { messageId: 1, index: 0, count: 2 }, undefined, bytes(5, 1), 10);
    r.add(0, { messageId: 2, index: 0, count: 2 }, undefined, bytes(5, 2), 40);
    r.add(0, { messageId: 1, index: 0, count: 2 }, undefined, bytes(5, 1), 90); // a repeat does not extend the deadline
    expect(r.nextDeadline()).toBe(110);
    expect(r.expire(109)).toBe(0);
    expect(r.expire(110)).toBe(1);
    expect(r.nextDeadline()).toBe(140);
    expect(r.expire(1000)).toBe(1);
    expect(r.dropped.reassembly_timeout).toBe(2);
    expect(r.bytes).toBe(0);
    expect(r.nextDeadline()).toBeNull();
  });

  it('discards partial sequenced messages at or below a delivered sequence', () => {
    const r = new Reassembly({ maxBytes: 1000, maxMessages: 10, timeout: 100 });
    r.add(4, { messageId: 1, index: 0, count: 2 }, 10, bytes(5, 1), 0);
    r.add(4, { messageId: 2, index: 0, count: 2 }, 12, bytes(5, 1), 0);
    r.add(5, { messageId: 1, index: 0, count: 2 }, 3, bytes(5, 1), 0);
    r.discardStale(4, 11);
    expect(r.messages).toBe(2);
    expect(r.dropped.stale).toBe(1);
    expect(r.add(4, { messageId: 1, index: 1, count: 2 }, 10, bytes(5, 1), 0).kind).toBe('dropped');
  });
});
