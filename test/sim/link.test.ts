import { describe, expect, it } from 'vitest';
import type { LinkConfig } from '../../lib/sim/link.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { A, B, Receiver, ScriptedSender, Sender, numbered } from './toy-nodes.js';
import type { Arrival } from './toy-nodes.js';

/** A → B over one direction configured with `ab`; runs until idle. */
function pipe(ab: LinkConfig, count: number, interval: number, size: number, seed = 1) {
  const sim = new Simulator({ seed });
  const sender = new Sender(B, count, interval, size);
  const receiver = new Receiver();
  sim.addNode(A, sender);
  sim.addNode(B, receiver);
  sim.link(A, B, { ab });
  const result = sim.run({ maxTime: 1e9 });
  return { sim, sender, arrivals: receiver.arrivals, stats: sim.direction(A, B).stats, result };
}

function scripted(ab: LinkConfig, times: number[], sizes: number[], setup?: (sim: Simulator) => void) {
  const sim = new Simulator({ seed: 3 });
  const receiver = new Receiver();
  sim.addNode(A, new ScriptedSender(B, times, sizes));
  sim.addNode(B, receiver);
  sim.link(A, B, { ab });
  setup?.(sim);
  const result = sim.run({ maxTime: 1e9 });
  return { sim, arrivals: receiver.arrivals, stats: sim.direction(A, B).stats, result };
}

/** Arrivals whose sequence number is lower than one already seen. */
function countReordered(arrivals: Arrival[]): number {
  let max = -1;
  let n = 0;
  for (const a of arrivals) {
    if (a.seq < max) n++;
    else max = a.seq;
  }
  return n;
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

const N = 20_000;

describe('loss', () => {
  it('Bernoulli loss drops the configured fraction', () => {
    const { stats, arrivals } = pipe({ loss: 0.1 }, N, 1, 100);
    expect(stats.sent).toBe(N);
    expect(Math.abs(stats.dropped.loss / N - 0.1)).toBeLessThan(0.01);
    expect(arrivals.length).toBe(N - stats.dropped.loss);
    expect(stats.delivered).toBe(arrivals.length);
    expect(stats.dropped.burst + stats.dropped.queue + stats.dropped.mtu + stats.dropped.down).toBe(0);
  });

  it('Gilbert–Elliott mean loss is π_good·lossGood + π_bad·lossBad, and losses cluster', () => {
    // π_bad = 0.05 / (0.05 + 0.25) = 1/6; mean = 5/6·0.01 + 1/6·0.6 = 0.108333…
    const { stats, arrivals } = pipe({ burst: { p: 0.05, r: 0.25, lossGood: 0.01, lossBad: 0.6 } }, N, 1, 100);
    const rate = stats.dropped.burst / N;
    expect(Math.abs(rate - 0.108333)).toBeLessThan(0.02);
    expect(stats.dropped.loss).toBe(0);
    const got = new Set(arrivals.map((a) => a.seq));
    let lost = 0;
    let lostAfterLost = 0;
    for (let i = 1; i < N; i++) {
      if (!got.has(i - 1)) {
        lost++;
        if (!got.has(i)) lostAfterLost++;
      }
    }
    // independent losses would give P(lost | previous lost) = mean; bursts make it several times larger
    expect(lostAfterLost / lost).toBeGreaterThan(2 * rate);
  });

  it('pure Gilbert–Elliott bursts last 1/r datagrams on average', () => {
    // lossGood 0, lossBad 1: mean loss = p / (p + r) = 0.01 / 0.11; mean burst = 1 / 0.1 = 10 datagrams
    const { stats, arrivals } = pipe({ burst: { p: 0.01, r: 0.1 } }, N, 1, 100, 9);
    expect(Math.abs(stats.dropped.burst / N - 0.0909)).toBeLessThan(0.025);
    const got = new Set(arrivals.map((a) => a.seq));
    const runs: number[] = [];
    let run = 0;
    for (let i = 0; i < N; i++) {
      if (!got.has(i)) run++;
      else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
    const meanRun = runs.reduce((s, r) => s + r, 0) / runs.length;
    expect(meanRun).toBeGreaterThan(7.5);
    expect(meanRun).toBeLessThan(12.5);
  });
});

describe('delay, jitter and reordering', () => {
  it('uniform jitter keeps every delay in [delay, delay + jitter] and spreads over it', () => {
    const { arrivals } = pipe({ delay: 20, jitter: 10 }, 2000, 1, 50);
    const delays = arrivals.map((a) => a.time - a.seq);
    expect(arrivals.length).toBe(2000);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30);
    expect(Math.min(...delays)).toBeLessThan(20.1);
    expect(Math.max(...delays)).toBeGreaterThan(29.9);
    const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
    expect(Math.abs(mean - 25)).toBeLessThan(0.5);
    const sd = Math.sqrt(delays.reduce((s, d) => s + (d - mean) ** 2, 0) / delays.length);
    expect(Math.abs(sd - 10 / Math.sqrt(12))).toBeLessThan(0.2); // 2.887
  });

  it('normal-ish jitter is bounded and bell-shaped (sd = jitter/√48)', () => {
    const { arrivals } = pipe({ delay: 20, jitter: 10, jitterDistribution: 'normal' }, 2000, 1, 50);
    const delays = arrivals.map((a) => a.time - a.seq);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30);
    const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
    const sd = Math.sqrt(delays.reduce((s, d) => s + (d - mean) ** 2, 0) / delays.length);
    expect(Math.abs(mean - 25)).toBeLessThan(0.3);
    expect(Math.abs(sd - 10 / Math.sqrt(48))).toBeLessThan(0.15); // 1.443
  });

  it('jitter larger than the send interval reorders, and the stat counts exactly the late arrivals', () => {
    const { arrivals, stats } = pipe({ delay: 5, jitter: 10 }, 2000, 1, 50);
    expect(stats.reordered).toBeGreaterThan(100);
    expect(stats.reordered).toBe(countReordered(arrivals));
  });

  it('preserveOrder keeps jittered datagrams in sending order', () => {
    const { arrivals, stats } = pipe({ delay: 5, jitter: 10, preserveOrder: true }, 2000, 1, 50);
    expect(arrivals.map((a) => a.seq)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(stats.reordered).toBe(0);
    for (const a of arrivals) expect(a.time - a.seq).toBeGreaterThanOrEqual(5);
  });

  it('explicit reorder holds back the chosen fraction by reorderDelay', () => {
    const n = 5000;
    const { arrivals, stats } = pipe({ delay: 2, reorder: 0.1, reorderDelay: 5 }, n, 1, 50);
    expect(arrivals.length).toBe(n);
    let held = 0;
    for (const a of arrivals) {
      const d = a.time - a.seq;
      expect(d === 2 || d === 7).toBe(true);
      if (d === 7) held++;
    }
    expect(Math.abs(held / n - 0.1)).toBeLessThan(0.015);
    expect(stats.reordered).toBe(countReordered(arrivals));
    expect(stats.reordered).toBeGreaterThan(0.95 * held);
  });
});

describe('duplication and corruption', () => {
  it('duplicates are exact extra copies, counted once each', () => {
    const n = 5000;
    const { arrivals, stats } = pipe({ delay: 1, duplicate: 0.2 }, n, 1, 64);
    expect(Math.abs(stats.duplicated / n - 0.2)).toBeLessThan(0.02);
    expect(stats.delivered).toBe(n + stats.duplicated);
    expect(arrivals.length).toBe(n + stats.duplicated);
    const perSeq = new Map<number, number>();
    for (const a of arrivals) {
      perSeq.set(a.seq, (perSeq.get(a.seq) ?? 0) + 1);
      if (!sameBytes(a.data, numbered(a.seq, 64))) throw new Error(`datagram ${a.seq} altered`);
    }
    expect(perSeq.size).toBe(n);
    expect([...perSeq.values()].filter((c) => c === 2).length).toBe(stats.duplicated);
    expect(stats.bytesDelivered).toBe(64 * (n + stats.duplicated));
    expect(stats.bytesSent).toBe(64 * n);
  });

  it('corruption flips between 1 and corruptBits bits of the delivered copy', () => {
    const n = 3000;
    // no jitter or loss: arrival i is datagram i even if its sequence field was hit
    const { arrivals, stats } = pipe({ delay: 1, corrupt: 0.3, corruptBits: 3 }, n, 1, 32);
    expect(arrivals.length).toBe(n);
    let changed = 0;
    arrivals.forEach((a, i) => {
      const want = numbered(i, 32);
      let bits = 0;
      for (let k = 0; k < 32; k++) {
        let x = a.data[k]! ^ want[k]!;
        for (; x; x &= x - 1) bits++;
      }
      expect(bits).toBeLessThanOrEqual(3);
      if (bits > 0) changed++;
    });
    expect(changed).toBe(stats.corrupted);
    expect(Math.abs(changed / n - 0.3)).toBeLessThan(0.03);
  });

  it('enabling other impairments does not change which datagrams are lost', () => {
    const base = pipe({ loss: 0.2 }, 3000, 1, 40, 11);
    const busy = pipe({ loss: 0.2, duplicate: 0.3, jitter: 4, reorder: 0.2, burst: { p: 0, r: 1 } }, 3000, 1, 40, 11);
    const seqs = (arr: Arrival[]) => [...new Set(arr.map((a) => a.seq))].sort((x, y) => x - y);
    expect(seqs(busy.arrivals)).toEqual(seqs(base.arrivals));
    expect(busy.stats.dropped.loss).toBe(base.stats.dropped.loss);
  });
});

describe('bandwidth and queue', () => {
  it('N datagrams through a 1 Mbit/s link take N·size·8/1e6 s', () => {
    // 100 × 1250 B = 1,000,000 bits = 1 s; each datagram occupies the link for 10 ms
    const { arrivals, stats } = pipe({ rate: 1_000_000, delay: 50 }, 100, 0, 1250);
    expect(arrivals.map((a) => a.time)).toEqual(Array.from({ length: 100 }, (_, i) => 50 + 10 * (i + 1)));
    expect(stats.dropped.queue).toBe(0);
  });

  it('traffic paced below the rate is only delayed by serialization', () => {
    const { arrivals } = pipe({ rate: 1_000_000 }, 20, 20, 1250);
    expect(arrivals.map((a) => a.time - 20 * a.seq)).toEqual(new Array(20).fill(10));
  });

  it('a drop-tail queue drops exactly what exceeds it, then drains', () => {
    // 1000 B at 1 Mbit/s = 8 ms each. At t=0: #0 starts serializing, 5 fit the 5500 B queue, 14 are dropped.
    // At t=100 the queue is empty again: the same split repeats.
    const times = [...new Array(20).fill(0), ...new Array(20).fill(100)];
    const { arrivals, stats } = scripted({ rate: 1_000_000, queueBytes: 5500 }, times, new Array(40).fill(1000));
    expect(stats.dropped.queue).toBe(28);
    expect(arrivals.map((a) => a.seq)).toEqual([0, 1, 2, 3, 4, 5, 20, 21, 22, 23, 24, 25]);
    expect(arrivals.map((a) => a.time)).toEqual([8, 16, 24, 32, 40, 48, 108, 116, 124, 132, 140, 148]);
  });

  it('queue occupancy frees up as datagrams start serializing', () => {
    // queue of 2000 B: at t=0 #0 serializes, #1 #2 queue, #3 dropped; at t=9 #1 is on the wire so #4 fits.
    const { arrivals, stats } = scripted({ rate: 1_000_000, queueBytes: 2000 }, [0, 0, 0, 0, 9], new Array(5).fill(1000));
    expect(stats.dropped.queue).toBe(1);
    expect(arrivals.map((a) => [a.seq, a.time])).toEqual([
      [0, 8],
      [1, 16],
      [2, 24],
      [4, 32],
    ]);
  });
});

describe('MTU and outages', () => {
  it('drops datagrams above the MTU, and the MTU can change mid-run', () => {
    const times = Array.from({ length: 20 }, (_, i) => i * 10);
    const sizes = times.map((_, i) => (i % 2 === 0 ? 1200 : 1201));
    const { arrivals, stats } = scripted({ mtu: 1200 }, times, sizes, (sim) => sim.at(100, () => sim.direction(A, B).set({ mtu: 1500 })));
    // before t=100 the five odd (1201 B) datagrams are dropped; from t=100 everything passes
    expect(stats.dropped.mtu).toBe(5);
    expect(arrivals.map((a) => a.seq)).toEqual([0, 2, 4, 6, 8, ...Array.from({ length: 10 }, (_, i) => 10 + i)]);
  });

  it('a down interval drops everything sent inside it and nothing outside', () => {
    const sim = new Simulator({ seed: 2 });
    const receiver = new Receiver();
    sim.addNode(A, new Sender(B, 200, 1, 100));
    sim.addNode(B, receiver);
    sim.link(A, B, { delay: 10 });
    sim.outage(A, B, 50, 100);
    sim.run({ maxTime: 1e9 });
    const stats = sim.direction(A, B).stats;
    expect(stats.dropped.down).toBe(50);
    // sent at 0..49 (even those still in flight at 50) and 100..199 arrive
    expect(receiver.arrivals.map((a) => a.seq)).toEqual([
      ...Array.from({ length: 50 }, (_, i) => i),
      ...Array.from({ length: 100 }, (_, i) => 100 + i),
    ]);
    expect(sim.direction(A, B).config.down).toBe(false);
  });

  it('going down empties the bottleneck queue but lets the datagram on the wire finish', () => {
    // 1000 B at 1 Mbit/s = 8 ms. At t=20 #2 is serializing (16..24) and #3..#9 are queued: those 7 are lost.
    const { arrivals, stats } = scripted({ rate: 1_000_000 }, [...new Array(10).fill(0), 40], new Array(11).fill(1000), (sim) =>
      sim.outage(A, B, 20, 30),
    );
    expect(stats.dropped.down).toBe(7);
    expect(arrivals.map((a) => [a.seq, a.time])).toEqual([
      [0, 8],
      [1, 16],
      [2, 24],
      [10, 48],
    ]);
  });
});

describe('config validation', () => {
  it('rejects impossible values', () => {
    const sim = new Simulator();
    expect(() => sim.link(A, B, { loss: 1.5 })).toThrow(RangeError);
    expect(() => sim.direction(A, B).set({ delay: -1 })).toThrow(RangeError);
    expect(() => sim.direction(A, B).set({ burst: { p: 0.1, r: 2 } })).toThrow(RangeError);
    expect(() => sim.direction(A, B).set({ corruptBits: 0 })).toThrow(RangeError);
  });
});
