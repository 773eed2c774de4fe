import { describe, expect, it } from 'vitest';
import { DEFAULT_MIX_RANGES, ExtremesReport, describeMix, randomImpairmentMix } from '../../lib/sim/impairment-mix.js';
import type { ImpairmentMix, MixDimension } from '../../lib/sim/impairment-mix.js';
import { gilbertElliottLossRate } from '../../lib/sim/link.js';
import { SimRandom } from '../../lib/sim/random.js';

function values(v: Partial<Record<MixDimension, number | null>>): ImpairmentMix {
  const all: Record<MixDimension, number | null> = {
    loss: null,
    burstLength: null,
    rtt: null,
    rate: null,
    queue: null,
    jitter: null,
    reorder: null,
    duplicate: null,
    corrupt: null,
    ...v,
  };
  return { values: all, link: {} };
}

describe('randomImpairmentMix', () => {
  it('is determined by the seed, and successive draws differ', () => {
    const a = randomImpairmentMix(new SimRandom(3));
    const b = randomImpairmentMix(new SimRandom(3));
    expect(a).toEqual(b);
    const r = new SimRandom(3);
    randomImpairmentMix(r);
    expect(randomImpairmentMix(r)).not.toEqual(a);
  });

  it('stays within the documented ranges and builds a consistent link config', () => {
    const rng = new SimRandom(99);
    for (let i = 0; i < 2000; i++) {
      const { values: v, link } = randomImpairmentMix(rng);
      expect(v.loss).toBeGreaterThanOrEqual(0);
      expect(v.loss).toBeLessThanOrEqual(0.3);
      expect(v.rtt).toBeGreaterThanOrEqual(1);
      expect(v.rtt).toBeLessThanOrEqual(400);
      expect(v.rate).toBeGreaterThanOrEqual(64_000);
      expect(v.rate).toBeLessThanOrEqual(1e9);
      expect(link.delay).toBeCloseTo(v.rtt! / 2, 12);
      // Bernoulli and burst loss combine to the drawn total: 1 - (1 - b)(1 - g) = T
      const burstLoss = link.burst ? gilbertElliottLossRate(link.burst) : 0;
      expect(1 - (1 - link.loss!) * (1 - burstLoss)).toBeCloseTo(v.loss!, 9);
      if (link.burst) expect(1 / link.burst.r).toBeCloseTo(v.burstLength!, 9);
      // the queue is queue × BDP, never below two full datagrams
      const bdp = (v.rate! * v.rtt!) / 8000;
      expect(link.queueBytes).toBe(Math.max(3000, Math.round(v.queue! * bdp)));
      for (const d of ['reorder', 'duplicate', 'corrupt'] as const) {
        const x = v[d];
        if (x !== null) {
          expect(x).toBeGreaterThanOrEqual(DEFAULT_MIX_RANGES[d].min);
          expect(x).toBeLessThanOrEqual(DEFAULT_MIX_RANGES[d].max);
          expect(link[d]).toBe(x);
        } else expect(link[d]).toBeUndefined();
      }
      if (v.jitter !== null) expect(link.jitter).toBeLessThanOrEqual(0.5 * link.delay!);
      if (link.corruptBits !== undefined) expect(link.corruptBits).toBeGreaterThanOrEqual(1);
    }
  });

  it('turns optional impairments on at their documented chance and covers both ends of each range', () => {
    const rng = new SimRandom(1234);
    const report = new ExtremesReport();
    for (let i = 0; i < 3000; i++) report.add(randomImpairmentMix(rng));
    expect(report.samples).toBe(3000);
    for (const dim of Object.keys(DEFAULT_MIX_RANGES) as MixDimension[]) {
      const c = report.counts(dim);
      const chance = DEFAULT_MIX_RANGES[dim].chance ?? 1;
      expect(Math.abs(c.on / 3000 - chance)).toBeLessThan(0.04);
      // uniform in (log-)range: each extreme decile gets ~10 % of the draws
      expect(Math.abs(c.low / c.on - 0.1)).toBeLessThan(0.04);
      expect(Math.abs(c.high / c.on - 0.1)).toBeLessThan(0.04);
    }
  });

  it('honours custom ranges', () => {
    const rng = new SimRandom(5);
    for (let i = 0; i < 200; i++) {
      const m = randomImpairmentMix(rng, {
        loss: { min: 0, max: 0 },
        corrupt: { min: 0, max: 0.05, chance: 0 },
        rtt: { min: 50, max: 50, log: true },
      });
      expect(m.values.loss).toBe(0);
      expect(m.link.loss).toBe(0);
      expect(m.link.burst).toBeUndefined();
      expect(m.values.corrupt).toBeNull();
      expect(m.link.delay).toBe(25);
    }
    expect(() => randomImpairmentMix(rng, { rtt: { min: 0, max: 10, log: true } })).toThrow(RangeError);
  });

  it('describes a mix on one line', () => {
    const line = describeMix({ values: { ...values({ loss: 0.123, rtt: 80, rate: 2_000_000 }).values }, link: { queueBytes: 20000, jitter: 4 } });
    expect(line).toBe('loss 12.3% rtt 80.0ms rate 2.00Mbit/s queue 20000B');
  });
});

describe('ExtremesReport', () => {
  it('counts extreme deciles, on a log scale for log ranges', () => {
    const report = new ExtremesReport();
    // loss range 0..0.3: 0.01 low, 0.29 high, 0.15 middle. rtt 1..400 log: 1.5 → 0.068 low, 300 → 0.952 high, 20 → 0.5
    report.add(values({ loss: 0.01, rtt: 1.5 }));
    report.add(values({ loss: 0.29, rtt: 300 }));
    report.add(values({ loss: 0.15, rtt: 20, reorder: 0.1 }));
    expect(report.counts('loss')).toEqual({ on: 3, low: 1, high: 1 });
    expect(report.counts('rtt')).toEqual({ on: 3, low: 1, high: 1 });
    expect(report.counts('reorder')).toEqual({ on: 1, low: 0, high: 1 });
    expect(report.counts('duplicate')).toEqual({ on: 0, low: 0, high: 0 });
    const text = report.format();
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('impairment extremes over 3 seeds');
    expect(lines[1]).toMatch(/^impairment\s+range\s+on\s+low 10%\s+high 10%$/);
    expect(lines[2]).toMatch(/^loss\s+0\.\.0\.3\s+3\/3\s+1 \(33%\)\s+1 \(33%\)$/);
    expect(lines[4]).toMatch(/^rtt\s+1\.\.400 log\s+3\/3\s+1 \(33%\)\s+1 \(33%\)$/);
    expect(lines).toHaveLength(2 + 9);
  });
});
