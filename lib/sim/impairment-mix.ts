/**
 * Random link configurations for soak tests: one seed → one plausible-but-hostile path, and a report of how well a
 * batch of seeds covered the extremes of each range (an impairment never drawn near its worst is not tested).
 */
import type { LinkConfig } from './link.js';
import type { SimRandom } from './random.js';

export type MixDimension = 'loss' | 'burstLength' | 'rtt' | 'rate' | 'queue' | 'jitter' | 'reorder' | 'duplicate' | 'corrupt';

export interface DimensionRange {
  min: number;
  max: number;
  /** sample (and place deciles) on a log scale */
  log?: boolean;
  /** probability the impairment is on at all (default 1) */
  chance?: number;
}

/**
 * loss: total mean loss fraction (Bernoulli and bursts combined); burstLength: mean bad-state length in datagrams;
 * rtt: ms (each direction gets rtt/2 of delay); rate: bottleneck bits/s; queue: drop-tail queue in bandwidth-delay
 * products; jitter: fraction of the one-way delay; reorder, duplicate, corrupt: per-datagram probabilities.
 */
export type ImpairmentRanges = Record<MixDimension, DimensionRange>;

export const DEFAULT_MIX_RANGES: Readonly<ImpairmentRanges> = {
  loss: { min: 0, max: 0.3 },
  burstLength: { min: 2, max: 20, chance: 0.3 },
  rtt: { min: 1, max: 400, log: true },
  rate: { min: 64_000, max: 1_000_000_000, log: true },
  queue: { min: 0.5, max: 2 },
  jitter: { min: 0, max: 0.5, chance: 0.5 },
  reorder: { min: 0, max: 0.1, chance: 0.3 },
  duplicate: { min: 0, max: 0.05, chance: 0.2 },
  corrupt: { min: 0, max: 0.05, chance: 0.2 },
};

export const MIX_DIMENSIONS: readonly MixDimension[] = ['loss', 'burstLength', 'rtt', 'rate', 'queue', 'jitter', 'reorder', 'duplicate', 'corrupt'];

/** Share of the total loss carried by bursts when they are on. */
const BURST_SHARE = { min: 0.5, max: 1 };
/** Longest a loss burst lasts in time, ms (drawn per mix): bursts are fades, not outages (those are separate). */
const BURST_MS = { min: 50, max: 1000 };
/** Extra delay of a reordered datagram, ms. */
const REORDER_DELAY_MS = { min: 1, max: 50 };
/** Most bits flipped in a corrupted datagram. */
const CORRUPT_BITS_MAX = 8;
/** The queue never holds less than two full-size datagrams, however small the BDP. */
const MIN_QUEUE_BYTES = 3000;

export interface ImpairmentMix {
  /** the drawn value of each dimension, null when that impairment is off */
  readonly values: Readonly<Record<MixDimension, number | null>>;
  /** the config of one direction (use it for both, or draw two mixes for an asymmetric path) */
  readonly link: LinkConfig;
}

function sample(r: SimRandom, d: DimensionRange): number {
  const u = r.next();
  if (d.log) return d.min * Math.pow(d.max / d.min, u);
  return d.min + (d.max - d.min) * u;
}

/** Where v sits in its range, 0..1 (log scale for log ranges). */
function position(v: number, d: DimensionRange): number {
  if (d.max === d.min) return 0;
  if (d.log) return Math.log(v / d.min) / Math.log(d.max / d.min);
  return (v - d.min) / (d.max - d.min);
}

function mergeRanges(ranges: Partial<ImpairmentRanges> | undefined): ImpairmentRanges {
  const out = { ...DEFAULT_MIX_RANGES, ...ranges };
  for (const dim of MIX_DIMENSIONS) {
    const d = out[dim];
    if (!(d.max >= d.min) || (d.log && !(d.min > 0))) throw new RangeError(`bad range for ${dim}: [${d.min}, ${d.max}]`);
  }
  return out;
}

/**
 * Draw one link config. Each dimension uses its own forked stream, so widening one range does not change what the
 * others draw; the parent stream advances by one draw per call, so successive calls give different mixes.
 */
export function randomImpairmentMix(rng: SimRandom, ranges?: Partial<ImpairmentRanges>): ImpairmentMix {
  const rs = mergeRanges(ranges);
  const base = rng.fork(`mix:${rng.int(0, 0xffffffff)}`);
  const values = {} as Record<MixDimension, number | null>;
  const streams = {} as Record<MixDimension, SimRandom>;
  for (const dim of MIX_DIMENSIONS) {
    const r = base.fork(dim);
    streams[dim] = r;
    const d = rs[dim];
    values[dim] = r.next() < (d.chance ?? 1) ? sample(r, d) : null;
  }

  const rtt = values.rtt ?? rs.rtt.min;
  const rate = values.rate ?? Infinity;
  const oneWay = rtt / 2;
  const link: LinkConfig = { delay: oneWay };

  // Split the total loss T between bursts (share f, lossBad 1) and Bernoulli so 1-(1-b)(1-fT) = T.
  const total = values.loss ?? 0;
  if (values.burstLength !== null && total > 0) {
    const f = streams.burstLength.uniform(BURST_SHARE.min, BURST_SHARE.max);
    const piBad = f * total;
    const r = 1 / values.burstLength;
    link.burst = { p: (r * piBad) / (1 - piBad), r, lossGood: 0, lossBad: 1, maxDuration: streams.burstLength.uniform(BURST_MS.min, BURST_MS.max) };
    link.loss = (total - piBad) / (1 - piBad);
  } else link.loss = total;

  if (rate !== Infinity) {
    link.rate = rate;
    const bdpBytes = (rate * rtt) / 8000;
    link.queueBytes = Math.max(MIN_QUEUE_BYTES, Math.round((values.queue ?? 1) * bdpBytes));
  }
  if (values.jitter !== null) link.jitter = values.jitter * oneWay;
  if (values.reorder !== null) {
    link.reorder = values.reorder;
    link.reorderDelay = streams.reorder.uniform(REORDER_DELAY_MS.min, REORDER_DELAY_MS.max);
  }
  if (values.duplicate !== null) link.duplicate = values.duplicate;
  if (values.corrupt !== null) {
    link.corrupt = values.corrupt;
    link.corruptBits = streams.corrupt.int(1, CORRUPT_BITS_MAX);
  }
  return { values, link };
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

function bitrate(bps: number): string {
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)}Gbit/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)}Mbit/s`;
  return `${(bps / 1e3).toFixed(1)}kbit/s`;
}

/** One line summarising a mix, e.g. for the CLI. */
export function describeMix(mix: ImpairmentMix): string {
  const v = mix.values;
  const parts: string[] = [];
  parts.push(`loss ${pct(v.loss ?? 0)}${v.burstLength !== null ? ` (bursts ~${v.burstLength.toFixed(1)})` : ''}`);
  if (v.rtt !== null) parts.push(`rtt ${v.rtt.toFixed(1)}ms`);
  if (v.rate !== null) parts.push(`rate ${bitrate(v.rate)}`);
  if (mix.link.queueBytes !== undefined) parts.push(`queue ${mix.link.queueBytes}B`);
  if (v.jitter !== null) parts.push(`jitter ${(mix.link.jitter ?? 0).toFixed(1)}ms`);
  if (v.reorder !== null) parts.push(`reorder ${pct(v.reorder)}`);
  if (v.duplicate !== null) parts.push(`dup ${pct(v.duplicate)}`);
  if (v.corrupt !== null) parts.push(`corrupt ${pct(v.corrupt)}`);
  return parts.join(' ');
}

export interface ExtremeCounts {
  /** mixes where the impairment was on */
  on: number;
  /** ... and its value fell in the lowest decile of the range */
  low: number;
  /** ... and in the highest decile */
  high: number;
}

/** Across many seeds: how often each impairment was on, and how often it reached each extreme decile. */
export class ExtremesReport {
  private readonly ranges: ImpairmentRanges;
  private readonly tally = new Map<MixDimension, ExtremeCounts>();
  private total = 0;

  /** Pass the same ranges given to randomImpairmentMix. */
  constructor(ranges?: Partial<ImpairmentRanges>) {
    this.ranges = mergeRanges(ranges);
    for (const dim of MIX_DIMENSIONS) this.tally.set(dim, { on: 0, low: 0, high: 0 });
  }

  get samples(): number {
    return this.total;
  }

  add(mix: ImpairmentMix): void {
    this.total++;
    for (const dim of MIX_DIMENSIONS) {
      const v = mix.values[dim];
      if (v === null) continue;
      const c = this.tally.get(dim)!;
      c.on++;
      const p = position(v, this.ranges[dim]);
      if (p < 0.1) c.low++;
      else if (p >= 0.9) c.high++;
    }
  }

  counts(dim: MixDimension): ExtremeCounts {
    return { ...this.tally.get(dim)! };
  }

  /** A fixed-width table, one row per dimension. */
  format(): string {
    const rows: string[][] = [['impairment', 'range', 'on', 'low 10%', 'high 10%']];
    const share = (n: number, of: number): string => (of === 0 ? '0' : `${n} (${((n / of) * 100).toFixed(0)}%)`);
    for (const dim of MIX_DIMENSIONS) {
      const d = this.ranges[dim];
      const c = this.tally.get(dim)!;
      rows.push([dim, `${d.min}..${d.max}${d.log ? ' log' : ''}`, `${c.on}/${this.total}`, share(c.low, c.on), share(c.high, c.on)]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    const lines = rows.map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
    return [`impairment extremes over ${this.total} seeds`, ...lines].join('\n') + '\n';
  }
}
