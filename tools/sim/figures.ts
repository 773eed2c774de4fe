/**
 * Congestion-control figures measured in the deterministic simulator (`npm run sim:figures`, i.e.
 * `node --import tsx tools/sim/figures.ts [--quick] [--seed N] [--only NAME] [--trace FILE]`).
 *
 * Every scenario runs over a 10 Mbit/s link whose direction client→server has a drop-tail queue of one
 * bandwidth-delay product (BDP = rate · base RTT). Random loss, when there is any, is applied to both
 * directions (data and ACKs). The scenarios and what they report are described in spec/simulator.md
 * §Figures; the output ends with exactly one line:
 *
 *   goodput@0%=<f> goodput@0.1%=<f> mathis@1%=<f> p99@5%=<RTTs> fairness=<f> bbr@1%=<f> bbr@5%=<f> bbr_delay_p95=<f>
 *
 * The controller runs (`controllers`) repeat the same loss, burst, queue and RTT-change runs for CUBIC, NewReno
 * and BBR; `bbr-vs-cubic` puts one flow of each on one bottleneck and reports each one's share and Jain's index.
 *
 * Two flows share one bottleneck by coming from ONE client endpoint: both connections send from the same
 * address to the same server address, so their datagrams enter the same simulator link direction and
 * compete for its rate and queue (no router node needed).
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { ConnectionOptions } from '../../lib/connection/types.js';
import {
  BURST_LOSS,
  CONTROLLERS,
  LINK_RATE,
  bdpBytes,
  jainIndex,
  mathisBound,
  runFairness,
  runLatency,
  runSteady,
  runTransfer,
  type ControllerRow,
  type FairnessResult,
  type LatencyResult,
  type SteadyResult,
  type TransferResult,
} from './figure-runs.js';

export * from './figure-runs.js';

// ───────────────────────────── the whole set ─────────────────────────────

export interface FiguresOptions {
  seed?: number;
  /** small sizes and durations (the test uses this) */
  quick?: boolean;
  /** run only the scenario whose name starts with this (the summary line then has NaN for the rest) */
  only?: string;
  /** trace records of the (single) selected scenario go here */
  trace?: string[];
  log?: (line: string) => void;
}

export interface FiguresSummary {
  goodput0: number;
  goodput01: number;
  mathis1: number;
  p99at5: number;
  fairness: number;
  /** BBR goodput / link at 1 % and 5 % random loss */
  bbr1: number;
  bbr5: number;
  /** BBR p95 one-way delay / base delay over a 4-BDP queue */
  bbrDelayP95: number;
}

export interface FiguresResult {
  transfers: TransferResult[];
  latency: LatencyResult[];
  fairness: FairnessResult[];
  /** one row per controller, same runs */
  controllers: ControllerRow[];
  /** BBR against CUBIC on one bottleneck (1-BDP and 4-BDP queues) */
  bbrVsCubic: FairnessResult[];
  summary: FiguresSummary;
  /** the last line of the output */
  line: string;
  wallMs: number;
}

/** Scenario names, in run order (`--only` takes a prefix of one or more). */
export const SCENARIOS = [
  'transfer@0%',
  'transfer@0.1%',
  'transfer@1%',
  'transfer@5%',
  'latency@5%',
  'latency+bulk',
  'fairness',
  'cubic-vs-newreno',
  'controllers',
  'bbr-vs-cubic',
] as const;

export const AIMS = { goodput0: 0.9, goodput01: 0.75, mathis1: 0.8, p99at5: 2.5, fairness: 0.8, bbr1: 0.8, bbr5: 0.6, bbrDelayP95: 1.25 } as const;
/** Keys whose aim is a ceiling, not a floor. */
const AIM_IS_MAX = new Set<keyof FiguresSummary>(['p99at5', 'bbrDelayP95']);

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

export function summaryLine(s: FiguresSummary): string {
  return `goodput@0%=${fmt(s.goodput0)} goodput@0.1%=${fmt(s.goodput01)} mathis@1%=${fmt(s.mathis1)} p99@5%=${fmt(s.p99at5)} fairness=${fmt(s.fairness)} bbr@1%=${fmt(s.bbr1)} bbr@5%=${fmt(s.bbr5)} bbr_delay_p95=${fmt(s.bbrDelayP95)}`;
}

/** Runs every scenario, logs the tables, and returns the figures with the summary line (also logged last). */
export function runFigures(o: FiguresOptions = {}): FiguresResult {
  const t0 = performance.now();
  const seed = o.seed ?? 1;
  const quick = o.quick ?? false;
  const log = o.log ?? (() => {});
  const want = (name: string) => o.only === undefined || name.startsWith(o.only);
  const trace = o.trace;

  const transfers: TransferResult[] = [];
  const bytes = quick ? 300_000 : 20_000_000;
  for (const loss of [0, 0.001, 0.01, 0.05]) {
    const name = `transfer@${loss * 100}%`;
    if (want(name)) transfers.push(runTransfer({ seed, bytes, rttMs: 50, loss, trace }));
  }
  if (transfers.length) {
    log(`Bulk transfer: ${bytes / 1e6} MB, CUBIC, 10 Mbit/s, 50 ms base RTT, 1-BDP queue (${bdpBytes(50)} B), Bernoulli loss both ways`);
    log('loss    time(s)  Mbit/s  goodput  MSS   Mathis(Mbit/s)  /Mathis  lost  retx  cong.ev  queue-drops  srtt(ms)  cwnd(B)  wall(s)');
    for (const t of transfers) {
      const m = t.loss > 0 ? (mathisBound(t.mss, 50, t.loss) * 8) / 1e6 : NaN;
      log(
        [
          `${(t.loss * 100).toString().padEnd(5)}%`,
          fmt(t.durationMs / 1000, 2).padStart(7),
          fmt(t.goodputMbps, 2).padStart(7),
          fmt(t.goodput).padStart(8),
          String(t.mss).padStart(5),
          fmt(m, 2).padStart(15),
          fmt(t.mathis).padStart(8),
          String(t.stats.packetsLost).padStart(5),
          String(t.stats.packetsRetransmitted).padStart(5),
          String(t.stats.congestionEvents).padStart(8),
          String(t.link.dropped.queue).padStart(12),
          fmt(t.stats.smoothedRtt, 1).padStart(9),
          String(Math.round(t.stats.cwnd)).padStart(8),
          fmt(t.wallMs / 1000, 1).padStart(8),
        ].join(' '),
      );
    }
    log('');
  }

  const latency: LatencyResult[] = [];
  const latencyMs = quick ? 4_000 : 60_000;
  for (const withBulk of [false, true]) {
    const name = withBulk ? 'latency+bulk' : 'latency@5%';
    if (want(name)) latency.push(runLatency({ seed, rttMs: 100, loss: 0.05, durationMs: latencyMs, withBulk, trace }));
  }
  if (latency.length) {
    log(
      `Small messages: 100 B at 20 Hz on one stream for ${latencyMs / 1000} s, 100 ms base RTT, 5 % loss both ways; latency send → app, in base RTTs`,
    );
    log('setup              msgs    p50    p95    p99    max  bulk(Mbit/s)  lost  srtt(ms)  wall(s)');
    for (const l of latency) {
      log(
        [
          (l.withBulk ? 'beside bulk' : 'alone').padEnd(13),
          `${l.delivered}/${l.messages}`.padStart(9),
          fmt(l.p50).padStart(6),
          fmt(l.p95).padStart(6),
          fmt(l.p99).padStart(6),
          fmt(l.max).padStart(6),
          fmt(l.bulkMbps, 2).padStart(13),
          String(l.stats.packetsLost).padStart(5),
          fmt(l.stats.smoothedRtt, 1).padStart(9),
          fmt(l.wallMs / 1000, 1).padStart(8),
        ].join(' ') + (l.outOfOrder ? `  (${l.outOfOrder} out of order!)` : ''),
      );
    }
    log('');
  }

  const fairness: FairnessResult[] = [];
  const stagger = quick ? 1_000 : 10_000;
  const runAfter = quick ? 4_000 : 40_000;
  const windowMs = quick ? 3_000 : 30_000;
  if (want('fairness')) fairness.push(runFairness({ seed, rttMs: 50, staggerMs: stagger, runAfterMs: runAfter, windowMs, trace }));
  if (want('cubic-vs-newreno')) {
    fairness.push(
      runFairness({
        seed,
        rttMs: 50,
        staggerMs: stagger,
        runAfterMs: runAfter,
        windowMs,
        second: { congestionControl: 'newreno' },
        labels: ['cubic', 'newreno'],
        trace,
      }),
    );
  }
  if (fairness.length) {
    log(
      `Fairness: two flows, one bottleneck (10 Mbit/s, 50 ms, 1-BDP queue, no random loss), second starts at ${stagger / 1000} s, goodput over the last ${windowMs / 1000} s of ${(stagger + runAfter) / 1000} s`,
    );
    log('flows              Mbit/s (1st / 2nd)   min/max  queue-drops  wall(s)');
    for (const r of fairness) {
      log(
        [
          r.labels.join(' vs ').padEnd(18),
          `${fmt(r.mbps[0], 2)} / ${fmt(r.mbps[1], 2)}`.padStart(19),
          fmt(r.ratio).padStart(9),
          String(r.link.dropped.queue).padStart(12),
          fmt(r.wallMs / 1000, 1).padStart(8),
        ].join(' '),
      );
    }
    log('');
  }

  const controllers: ControllerRow[] = [];
  const steadyMs = quick ? 4_000 : 30_000;
  const steadyFrom = quick ? 1_000 : 10_000;
  if (want('controllers')) {
    for (const cc of CONTROLLERS) {
      const c0 = performance.now();
      const options: ConnectionOptions = { congestionControl: cc };
      // CUBIC's loss transfers are the ones above when they ran (same seed, size and link).
      const lossRun = (loss: number): number =>
        (cc === 'cubic' ? transfers.find((t) => t.loss === loss)?.goodput : undefined) ??
        runTransfer({ seed, bytes, rttMs: 50, loss, options }).goodput;
      const steady = (queueBdp: number, rttChange?: { at: number; rttMs: number }): SteadyResult =>
        runSteady({
          seed,
          rttMs: 50,
          queueBdp,
          durationMs: steadyMs,
          fromMs: rttChange ? rttChange.at + steadyFrom / 5 : steadyFrom,
          rttChange,
          options,
        });
      controllers.push({
        cc,
        loss01: lossRun(0.001),
        loss1: lossRun(0.01),
        loss5: lossRun(0.05),
        burst: runTransfer({ seed, bytes, rttMs: 50, loss: 0, burst: BURST_LOSS, options }).goodput,
        shallow: steady(0.25),
        deep: steady(4),
        rttChange: steady(1, { at: steadyMs / 3, rttMs: 100 }),
        messages: runLatency({ seed, rttMs: 100, loss: 0.05, durationMs: latencyMs, withBulk: true, options }),
        wallMs: performance.now() - c0,
      });
    }
    const burstMean = BURST_LOSS.p / (BURST_LOSS.p + BURST_LOSS.r);
    log(
      `Controllers, same runs: goodput / link of ${bytes / 1e6} MB at 0.1/1/5 % random loss and with bursty loss (Gilbert–Elliott, ${(100 * burstMean).toFixed(1)} % mean, bursts of ${1 / BURST_LOSS.r} datagrams), 50 ms; ` +
        `endless bulk for ${steadyMs / 1000} s, measured from ${steadyFrom / 1000} s, over a 0.25-BDP and a 4-BDP queue (goodput, p95 one-way delay / base delay); base RTT 50 → 100 ms at ${fmt(steadyMs / 3000, 1)} s (goodput and p95 delay after it)`,
    );
    log(
      `Messages beside bulk: 100 B at 20 Hz for ${latencyMs / 1000} s with a bulk stream on the same connection, 100 ms, 5 % loss; latency in base RTTs`,
    );
    log('cc       @0.1%   @1%    @5%   burst  shallow(g / p95)  deep(g / p95)   rtt-change(g / p95)  msgs p50 / p95 / p99   bulk(Mbit/s)  wall(s)');
    for (const c of controllers) {
      log(
        [
          c.cc.padEnd(7),
          fmt(c.loss01).padStart(6),
          fmt(c.loss1).padStart(6),
          fmt(c.loss5).padStart(6),
          fmt(c.burst).padStart(6),
          `${fmt(c.shallow.goodput)} / ${fmt(c.shallow.delayP95, 2)}`.padStart(17),
          `${fmt(c.deep.goodput)} / ${fmt(c.deep.delayP95, 2)}`.padStart(15),
          `${fmt(c.rttChange.goodput)} / ${fmt(c.rttChange.delayP95, 2)}`.padStart(20),
          `${fmt(c.messages.p50, 2)} / ${fmt(c.messages.p95, 2)} / ${fmt(c.messages.p99, 2)}`.padStart(21),
          fmt(c.messages.bulkMbps, 2).padStart(13),
          fmt(c.wallMs / 1000, 1).padStart(8),
        ].join(' '),
      );
    }
    log('');
  }

  const bbrVsCubic: FairnessResult[] = [];
  if (want('bbr-vs-cubic')) {
    for (const queueBdp of [1, 4]) {
      bbrVsCubic.push(
        runFairness({
          seed,
          rttMs: 50,
          staggerMs: stagger,
          runAfterMs: runAfter,
          windowMs,
          first: { congestionControl: 'bbr' },
          second: { congestionControl: 'cubic' },
          labels: ['bbr', 'cubic'],
          queueBdp,
          trace,
        }),
      );
    }
    log(
      `BBR vs CUBIC: one bottleneck (10 Mbit/s, 50 ms, no random loss), CUBIC starts at ${stagger / 1000} s, goodput over the last ${windowMs / 1000} s of ${(stagger + runAfter) / 1000} s`,
    );
    log('queue   BBR share  CUBIC share  Jain   queue-drops  wall(s)');
    bbrVsCubic.forEach((r, i) => {
      log(
        [
          `${i === 0 ? 1 : 4} BDP`.padEnd(6),
          fmt((r.mbps[0] * 1e6) / LINK_RATE).padStart(10),
          fmt((r.mbps[1] * 1e6) / LINK_RATE).padStart(12),
          fmt(jainIndex(r.mbps[0], r.mbps[1])).padStart(6),
          String(r.link.dropped.queue).padStart(12),
          fmt(r.wallMs / 1000, 1).padStart(8),
        ].join(' '),
      );
    });
    log('');
  }

  const byLoss = (p: number) => transfers.find((t) => t.loss === p);
  const bbrRow = controllers.find((c) => c.cc === 'bbr');
  const summary: FiguresSummary = {
    goodput0: byLoss(0)?.goodput ?? NaN,
    goodput01: byLoss(0.001)?.goodput ?? NaN,
    mathis1: byLoss(0.01)?.mathis ?? NaN,
    p99at5: latency.find((l) => !l.withBulk)?.p99 ?? NaN,
    fairness: fairness.find((f) => f.labels[1] === 'cubic#2')?.ratio ?? NaN,
    bbr1: bbrRow?.loss1 ?? NaN,
    bbr5: bbrRow?.loss5 ?? NaN,
    bbrDelayP95: bbrRow?.deep.delayP95 ?? NaN,
  };
  const keys = Object.keys(AIMS) as (keyof FiguresSummary)[];
  const missed = keys.filter((k) => Number.isFinite(summary[k]) && (AIM_IS_MAX.has(k) ? summary[k] > AIMS[k] : summary[k] < AIMS[k]));
  const notRun = keys.filter((k) => !Number.isFinite(summary[k]));
  const wallMs = performance.now() - t0;
  log(
    `aims: goodput@0% ≥ ${AIMS.goodput0}, goodput@0.1% ≥ ${AIMS.goodput01}, mathis@1% ≥ ${AIMS.mathis1}, p99@5% ≤ ${AIMS.p99at5} RTT, fairness ≥ ${AIMS.fairness}, bbr@1% ≥ ${AIMS.bbr1}, bbr@5% ≥ ${AIMS.bbr5}, bbr_delay_p95 ≤ ${AIMS.bbrDelayP95}; missed: ${missed.length ? missed.join(', ') : 'none'}${notRun.length ? `; not measured: ${notRun.join(', ')}` : ''}${quick ? ' (quick mode: sizes too small to judge)' : ''}`,
  );
  log(`seed ${seed}, ${fmt(wallMs / 1000, 1)} s wall`);
  const line = summaryLine(summary);
  log(line);
  return { transfers, latency, fairness, controllers, bbrVsCubic, summary, line, wallMs };
}

// ───────────────────────────── command line ─────────────────────────────

function main(argv: string[]): void {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help')) {
    console.log('usage: npm run sim:figures -- [--quick] [--seed N] [--only NAME] [--trace FILE]');
    console.log(`  NAME: a prefix of ${SCENARIOS.join(' ')}`);
    console.log('  --trace needs --only naming one scenario; writes its qlog-shaped JSON-SEQ trace (with figures:metrics samples)');
    return;
  }
  const seed = Number(arg('seed') ?? '1');
  const tracePath = arg('trace');
  const only = arg('only');
  if (tracePath && (only === undefined || SCENARIOS.filter((n) => n.startsWith(only)).length !== 1)) {
    console.error(`--trace needs --only naming exactly one of: ${SCENARIOS.join(' ')}`);
    process.exitCode = 2;
    return;
  }
  if (!Number.isSafeInteger(seed)) {
    console.error('--seed takes an integer');
    process.exitCode = 2;
    return;
  }
  const trace: string[] | undefined = tracePath ? [] : undefined;
  runFigures({ seed, quick: argv.includes('--quick'), only, trace, log: (l) => console.log(l) });
  if (tracePath && trace) writeFileSync(tracePath, trace.join(''));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
