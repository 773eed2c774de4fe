import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pacer, PACER_TIME_SLACK, pacerBurstBytes, pacingRateFor } from '../../lib/congestion/pacer.js';

/**
 * Largest number of bytes released in any window [t_i, t_j] minus what the bound burst + rate·(w + quantum)
 * allows, with the pacer's 1 µs float slack (≤ 0 when the bound holds).
 */
function worstExcess(times: readonly number[], sizes: readonly number[], burst: number, rate: number, quantum: number): number {
  quantum += PACER_TIME_SLACK;
  let worst = -Infinity;
  for (let i = 0; i < times.length; i++) {
    let sum = 0;
    for (let j = i; j < times.length; j++) {
      sum += sizes[j]!;
      const w = times[j]! - times[i]!;
      const excess = sum - (burst + rate * (w + quantum));
      if (excess > worst) worst = excess;
    }
  }
  return worst;
}

/**
 * A greedy sender: sends whenever the pacer allows, otherwise sleeps for the wait it is told, rounded
 * up to its timer tick (tick 0 = exact timers).
 */
function greedy(p: Pacer, sizes: readonly number[], tick: number, start = 0): number[] {
  const times: number[] = [];
  let now = start;
  for (const size of sizes) {
    for (;;) {
      const wait = p.timeUntilSend(now, size);
      if (wait === 0) break;
      now = tick > 0 ? Math.ceil((now + wait) / tick) * tick : now + wait;
    }
    p.onSend(now, size);
    times.push(now);
  }
  return times;
}

describe('pacing rate', () => {
  it('gain · cwnd / srtt: 2 in slow start, 1.25 after; unpaced for a zero RTT', () => {
    expect(pacingRateFor(12000, 100, true)).toBe(240); // 2·12000/100 bytes per ms
    expect(pacingRateFor(12000, 100, false)).toBe(150); // 1.25·12000/100
    expect(pacingRateFor(12000, 0, false)).toBe(Infinity);
    expect(pacerBurstBytes(1200)).toBe(12000);
    expect(pacerBurstBytes(1500, 4)).toBe(6000);
  });
});

describe('Pacer', () => {
  it('lets a full burst out at once, then spaces sends at the rate', () => {
    const p = new Pacer({ burstBytes: 12000, rate: 12, quantum: 0 }); // 12 B/ms = one 1200-byte datagram per 100 ms
    for (let i = 0; i < 10; i++) {
      expect(p.timeUntilSend(0, 1200)).toBe(0);
      p.onSend(0, 1200);
    }
    expect(p.timeUntilSend(0, 1200)).toBe(100); // empty bucket: 1200 / 12
    expect(p.timeUntilSend(40, 1200)).toBe(60); // 480 bytes accrued
    expect(p.timeUntilSend(100, 1200)).toBe(0);
    p.onSend(100, 1200);
    expect(p.timeUntilSend(100, 600)).toBe(50); // smaller datagrams need fewer tokens
    expect(p.available(100)).toBe(0);
  });

  it('refills to the burst after idle, and no further', () => {
    const p = new Pacer({ burstBytes: 12000, rate: 12, quantum: 0 });
    greedy(p, Array(10).fill(1200), 0); // drain at t = 0
    expect(p.available(500)).toBe(6000);
    expect(p.available(1000)).toBe(12000); // burst / rate = 1000 ms
    expect(p.available(50_000)).toBe(12000);
    const times = greedy(p, Array(12).fill(1200), 0, 50_000);
    expect(times.slice(0, 10)).toEqual(Array(10).fill(50_000)); // a whole burst again
    expect(times.slice(10)).toEqual([50_100, 50_200]);
  });

  it('over a long greedy run never exceeds burst + rate·w in any window, and reaches the rate', () => {
    const burst = 6000;
    const rate = 7.3; // bytes per ms
    const sizes = Array.from({ length: 600 }, (_, i) => 400 + ((i * 379) % 1100)); // 400 … 1499 bytes
    const p = new Pacer({ burstBytes: burst, rate, quantum: 0 });
    const times = greedy(p, sizes, 0);
    expect(worstExcess(times, sizes, burst, rate, 0)).toBeLessThanOrEqual(1e-6);
    // greedy and never idle: the last send is exactly when the burst plus accrued tokens cover the total
    const total = sizes.reduce((a, b) => a + b, 0);
    const span = times[times.length - 1]! - times[0]!;
    expect(span).toBeCloseTo((total - burst) / rate, 3);
  });

  it('with a 1 ms quantum it releases what is due within the next ms, bounded by burst + rate·(w + quantum)', () => {
    // 2400 B/ms: two 1200-byte datagrams per ms, i.e. one every 0.5 ms — finer than a 1 ms timer
    const p = new Pacer({ burstBytes: 1200, rate: 2400, quantum: 1 });
    expect(p.quantum).toBe(1);
    p.onSend(0, 1200); // bucket 0
    expect(p.timeUntilSend(0, 1200)).toBe(0); // 0 + 2400·1 ≥ 1200: due within this ms
    p.onSend(0, 1200); // −1200
    expect(p.timeUntilSend(0, 1200)).toBe(0); // −1200 + 2400 ≥ 1200
    p.onSend(0, 1200); // −2400: the debt limit
    expect(p.timeUntilSend(0, 1200)).toBe(0.5); // (1200 − (−2400) − 2400) / 2400
    const times = greedy(p, Array(400).fill(1200), 1, 1);
    // a 1 ms driver keeps the full rate: 2 datagrams per ms
    expect(times[399]! - times[0]!).toBeLessThanOrEqual(200);
    expect(worstExcess(times, Array(400).fill(1200), 1200, 2400, 1)).toBeLessThanOrEqual(1e-6);

    // without the quantum, the same driver rounds every 0.5 ms wait up to 1 ms and gets half the rate
    const exact = new Pacer({ burstBytes: 1200, rate: 2400, quantum: 0 });
    const slow = greedy(exact, Array(400).fill(1200), 1);
    expect(slow[399]! - slow[0]!).toBe(399);
  });

  it('rate changes: settled at the old rate up to the change, paced at the new one after', () => {
    const p = new Pacer({ burstBytes: 12000, rate: 12, quantum: 0 });
    greedy(p, Array(10).fill(1200), 0); // empty at t = 0
    p.setRate(24, 12000, 50); // 50 ms at 12 B/ms = 600 bytes banked
    expect(p.available(50)).toBe(600);
    expect(p.timeUntilSend(50, 1200)).toBe(25); // (1200 − 600) / 24
    // a smaller burst trims the bucket at once
    const q = new Pacer({ burstBytes: 12000, rate: 12, quantum: 0 });
    q.setRate(12, 2400);
    expect(q.burst).toBe(2400);
    expect(greedy(q, Array(4).fill(1200), 0)).toEqual([0, 0, 100, 200]);
    // non-positive or non-finite rate = unpaced
    q.setRate(0, 2400);
    expect(q.rate).toBe(Infinity);
    expect(greedy(q, Array(50).fill(1200), 0, 300)).toEqual(Array(50).fill(300));
    expect(() => q.setRate(12, 0)).toThrow();
  });

  it('a datagram larger than the burst waits for a full bucket', () => {
    const p = new Pacer({ burstBytes: 2000, rate: 10, quantum: 0 });
    p.onSend(0, 1000); // 1000 left
    expect(p.timeUntilSend(0, 3000)).toBe(100); // needs min(3000, 2000) = 2000: 1000 more at 10 B/ms
    p.onSend(100, 3000); // debt −1000
    expect(p.timeUntilSend(100, 1000)).toBe(200); // (1000 − (−1000)) / 10
  });

  it('is unpaced by default and after reset has a full bucket', () => {
    const p = new Pacer();
    expect(p.rate).toBe(Infinity);
    expect(p.burst).toBe(12000);
    expect(p.quantum).toBe(1);
    expect(p.timeUntilSend(0, 1200)).toBe(0);
    p.setRate(12, 12000, 0);
    greedy(p, Array(10).fill(1200), 0);
    expect(p.timeUntilSend(0, 1200)).toBe(99); // (1200 − 0 − 12·1 ms of lookahead) / 12
    p.reset();
    expect(p.timeUntilSend(0, 1200)).toBe(0);
  });

  it('property: any rate, burst, sizes and timer tick stay within burst + rate·(w + quantum)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 5000, noNaN: true }),
        fc.integer({ min: 1500, max: 40000 }),
        fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 150 }),
        fc.constantFrom(0, 0.25, 1, 2),
        fc.constantFrom(0, 1, 5),
        (rate, burst, sizes, quantum, tick) => {
          const p = new Pacer({ burstBytes: burst, rate, quantum });
          const times = greedy(p, sizes, tick);
          expect(worstExcess(times, sizes, burst, rate, quantum)).toBeLessThanOrEqual(1e-6);
          for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
        },
      ),
      { numRuns: 200 },
    );
  });
});
