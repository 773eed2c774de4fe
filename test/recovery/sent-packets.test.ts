import { describe, expect, it } from 'vitest';
import { SentPacketLog } from '../../lib/recovery/sent-packets.js';
import { pkt } from './helpers.js';

describe('SentPacketLog', () => {
  it('indexes by pn, records skipped pns and tracks in-flight counters', () => {
    const log = new SentPacketLog<string>();
    expect(log.anyNeverSent(0, 0)).toBe(true);
    log.add(pkt(2, 0));
    log.add(pkt(3, 0, { ackEliciting: false, inFlight: false, size: 30 }));
    log.add(pkt(6, 0, { ackEliciting: false, size: 500 })); // 4, 5 skipped
    expect(log.firstSent).toBe(2);
    expect(log.largestSent).toBe(6);
    expect(log.size).toBe(3);
    expect(log.bytesInFlight).toBe(1500);
    expect(log.ackElicitingInFlight).toBe(1);
    expect(log.anyNeverSent(2, 3)).toBe(false);
    expect(log.anyNeverSent(6, 6)).toBe(false);
    expect(log.anyNeverSent(1, 2)).toBe(true); // below the first sent
    expect(log.anyNeverSent(3, 4)).toBe(true); // 4 skipped
    expect(log.anyNeverSent(5, 6)).toBe(true);
    expect(log.anyNeverSent(7, 7)).toBe(true); // above the largest sent
    expect(log.isSkipped(5)).toBe(true);
    expect(log.get(4)).toBeUndefined();
    expect(log.take(2)?.pn).toBe(2);
    expect(log.take(2)).toBeUndefined();
    expect(log.headPn).toBe(3);
    expect(log.bytesInFlight).toBe(500);
    expect(log.ackElicitingInFlight).toBe(0);
    expect([...log.packets()].map((p) => p.pn)).toEqual([3, 6]);
    expect(() => log.add(pkt(6, 0))).toThrow(RangeError);
  });

  it('stays correct across head advance and compaction over many packets', () => {
    const log = new SentPacketLog<string>();
    for (let pn = 0; pn < 5000; pn++) log.add(pkt(pn, 0, { size: 1 }));
    for (let pn = 0; pn < 4000; pn++) expect(log.take(pn)?.pn).toBe(pn);
    expect(log.headPn).toBe(4000);
    expect(log.get(3999)).toBeUndefined();
    expect(log.get(4500)?.pn).toBe(4500);
    for (let pn = 5000; pn < 6000; pn++) log.add(pkt(pn, 0, { size: 1 }));
    expect(log.size).toBe(2000);
    expect(log.bytesInFlight).toBe(2000);
    expect(log.take(5999)?.pn).toBe(5999);
    const all = log.clear();
    expect(all).toHaveLength(1999);
    expect(all[0]!.pn).toBe(4000);
    expect(log.size).toBe(0);
    expect(log.headPn).toBe(6000);
    log.add(pkt(6000, 0));
    expect(log.get(6000)?.pn).toBe(6000);
  });

  it('matches a map of packets through empty/refill cycles, skipped pns and compactions (random operations)', () => {
    const log = new SentPacketLog<string>();
    const ref = new Map<number, number>();
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      // Phases: one packet in flight at a time (the log empties on each ack), then bursts of hundreds.
      const burst = Math.floor(step / 2000) % 2 === 1;
      if (ref.size === 0 || rnd(burst ? 3 : 2) !== 0) {
        next += 1 + (rnd(10) === 0 ? rnd(3) : 0); // sometimes skip pns
        log.add(pkt(next, 0, { size: 1 }));
        ref.set(next, next);
      } else {
        const keys = [...ref.keys()];
        const pn = burst ? keys[rnd(keys.length)]! : keys[0]!;
        expect(log.take(pn)?.pn).toBe(pn);
        ref.delete(pn);
      }
      if (step % 97 === 0) {
        expect(log.size).toBe(ref.size);
        expect(log.bytesInFlight).toBe(ref.size);
        expect([...log.packets()].map((p) => p.pn)).toEqual([...ref.keys()].sort((a, b) => a - b));
        expect(log.headPn).toBe(ref.size ? Math.min(...ref.keys()) : next + 1);
      }
    }
  });

  it('forgets ACK-only packets more than 1024 pns behind the newest', () => {
    const log = new SentPacketLog<string>();
    for (let pn = 0; pn < 3000; pn++) log.add(pkt(pn, 0, { ackEliciting: false, inFlight: false, size: 40 }));
    expect(log.size).toBe(1024);
    expect(log.headPn).toBe(3000 - 1024);
    // an in-flight packet at the head stops the pruning
    const log2 = new SentPacketLog<string>();
    log2.add(pkt(0, 0));
    for (let pn = 1; pn < 3000; pn++) log2.add(pkt(pn, 0, { ackEliciting: false, inFlight: false, size: 40 }));
    expect(log2.size).toBe(3000);
    log2.take(0);
    log2.add(pkt(3000, 0, { ackEliciting: false, inFlight: false, size: 40 }));
    expect(log2.headPn).toBe(3001 - 1024);
  });

  it('counts declared-lost pns inside an acknowledged range once', () => {
    const log = new SentPacketLog<string>();
    for (const pn of [1, 2, 5, 9]) log.markLost(pn);
    expect(log.wasDeclaredLost(5)).toBe(true);
    expect(log.takeDeclaredLost(2, 6)).toBe(2); // 2 and 5
    expect(log.takeDeclaredLost(2, 6)).toBe(0);
    expect(log.wasDeclaredLost(5)).toBe(false);
    expect(log.takeDeclaredLost(0, 100)).toBe(2); // 1 and 9
  });
});
