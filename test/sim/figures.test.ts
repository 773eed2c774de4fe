/**
 * Structure of `npm run sim:figures` in its quick mode: the tables and the exact last line. No goodput,
 * latency or fairness aim is asserted here (those are measurements, reported by the tool).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bdpBytes, figureLink, jainIndex, mathisBound, percentile, runFigures, summaryLine } from '../../tools/sim/figures.js';

const NUM = '(-?\\d+\\.\\d{3})';
const LAST_LINE = new RegExp(
  `^goodput@0%=${NUM} goodput@0\\.1%=${NUM} mathis@1%=${NUM} p99@5%=${NUM} fairness=${NUM} bbr@1%=${NUM} bbr@5%=${NUM} bbr_delay_p95=${NUM}$`,
);

describe('figures helpers', () => {
  it('percentile is nearest-rank', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 0.5)).toBe(5);
    expect(percentile(xs, 0.95)).toBe(10);
    expect(percentile(xs, 0.99)).toBe(10);
    expect(percentile(xs, 0.1)).toBe(1);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('Mathis bound and BDP, by hand', () => {
    // 1472 B / 0.05 s · 1.22 / √0.01 = 29440 · 12.2 = 359168 B/s
    expect(mathisBound(1472, 50, 0.01)).toBeCloseTo(359_168, 6);
    // 10 Mbit/s · 50 ms = 500 kbit = 62500 B
    expect(bdpBytes(50)).toBe(62_500);
    expect(figureLink(100, 0.05)).toEqual({ delay: 50, rate: 10_000_000, queueBytes: 125_000, loss: 0.05 });
  });

  it('summaryLine prints every key with three decimals, in order', () => {
    expect(
      summaryLine({ goodput0: 0.97812, goodput01: 0.8, mathis1: 1, p99at5: 2.5021, fairness: 0.9284, bbr1: 0.9, bbr5: 0.71234, bbrDelayP95: 1.0456 }),
    ).toBe('goodput@0%=0.978 goodput@0.1%=0.800 mathis@1%=1.000 p99@5%=2.502 fairness=0.928 bbr@1%=0.900 bbr@5%=0.712 bbr_delay_p95=1.046');
  });
});

describe('figures --quick', () => {
  const lines: string[] = [];
  const r = runFigures({ quick: true, seed: 1, log: (l) => lines.push(l) });

  it('ends with exactly the summary line, all values numeric', () => {
    const last = lines[lines.length - 1]!;
    expect(last).toBe(r.line);
    const m = LAST_LINE.exec(last);
    expect(m).not.toBeNull();
    const values = m!.slice(1).map(Number);
    for (const v of values) expect(Number.isFinite(v)).toBe(true);
    expect(values).toEqual(
      [
        r.summary.goodput0,
        r.summary.goodput01,
        r.summary.mathis1,
        r.summary.p99at5,
        r.summary.fairness,
        r.summary.bbr1,
        r.summary.bbr5,
        r.summary.bbrDelayP95,
      ].map((x) => Number(x.toFixed(3))),
    );
    expect(lines.filter((l) => LAST_LINE.test(l))).toHaveLength(1);
  });

  it('runs every scenario to completion with consistent measurements', () => {
    expect(r.transfers.map((t) => t.loss)).toEqual([0, 0.001, 0.01, 0.05]);
    for (const t of r.transfers) {
      expect(Number.isFinite(t.durationMs)).toBe(true);
      // app bytes over a 10 Mbit/s link of UDP payload can never beat the link
      expect(t.goodput).toBeGreaterThan(0);
      expect(t.goodput).toBeLessThanOrEqual(1);
      expect(t.mss).toBeGreaterThanOrEqual(1200);
      // (300 kB is ~220 datagrams: at 0.1 % seed 1 happens to lose none)
      if (t.loss >= 0.01) expect(t.link.dropped.loss).toBeGreaterThan(0);
    }
    expect(r.transfers[0]!.link.dropped.loss).toBe(0);
    expect(r.latency.map((l) => l.withBulk)).toEqual([false, true]);
    for (const l of r.latency) {
      expect(l.delivered).toBe(l.messages);
      expect(l.outOfOrder).toBe(0);
      // nothing arrives faster than the one-way delay (half the base RTT)
      expect(l.latencies[0]).toBeGreaterThanOrEqual(0.5);
      expect(l.p50).toBeLessThanOrEqual(l.p95);
      expect(l.p95).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.max);
    }
    expect(r.fairness.map((f) => f.labels)).toEqual([
      ['cubic#1', 'cubic#2'],
      ['cubic', 'newreno'],
    ]);
    for (const f of r.fairness) {
      expect(f.mbps[0]).toBeGreaterThan(0);
      expect(f.mbps[1]).toBeGreaterThan(0);
      expect(f.mbps[0] + f.mbps[1]).toBeLessThanOrEqual(10);
      expect(f.ratio).toBeCloseTo(Math.min(...f.mbps) / Math.max(...f.mbps), 12);
      // both flows share one bottleneck: the queue overflowed
      expect(f.link.dropped.queue).toBeGreaterThan(0);
    }
    expect(r.controllers.map((c) => c.cc)).toEqual(['cubic', 'newreno', 'bbr']);
    for (const c of r.controllers) {
      for (const g of [c.loss01, c.loss1, c.loss5, c.burst, c.shallow.goodput, c.deep.goodput, c.rttChange.goodput]) {
        expect(g).toBeGreaterThan(0);
        expect(g).toBeLessThanOrEqual(1);
      }
      // the base delay is the idle path's: nothing is faster
      for (const d of [c.shallow, c.deep, c.rttChange]) expect(d.delayP50).toBeGreaterThanOrEqual(0.999);
      expect(c.messages.delivered).toBe(c.messages.messages);
    }
    expect(r.controllers[0]!.loss1).toBe(r.transfers.find((t) => t.loss === 0.01)!.goodput); // CUBIC's runs are shared
    expect(r.summary.bbr1).toBe(r.controllers[2]!.loss1);
    expect(r.summary.bbrDelayP95).toBe(r.controllers[2]!.deep.delayP95);
    expect(r.bbrVsCubic.map((f) => f.labels)).toEqual([
      ['bbr', 'cubic'],
      ['bbr', 'cubic'],
    ]);
    for (const f of r.bbrVsCubic) expect(f.mbps[0] + f.mbps[1]).toBeLessThanOrEqual(10);
    expect(jainIndex(1, 1)).toBe(1);
    expect(jainIndex(1, 0)).toBe(0.5);
    expect(lines.some((l) => l.startsWith('Bulk transfer:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Small messages:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('Fairness:'))).toBe(true);
  });

  it('is deterministic per seed', () => {
    expect(runFigures({ quick: true, seed: 1 }).line).toBe(r.line);
  });

  it('the command line takes --quick and --seed and prints the summary line last', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'tools/sim/figures.ts', '--quick', '--seed', '1'], { encoding: 'utf8' });
    const outLines = out.trimEnd().split('\n');
    expect(outLines[outLines.length - 1]).toBe(r.line);
    expect(out).toContain('seed 1,');
  });
});
