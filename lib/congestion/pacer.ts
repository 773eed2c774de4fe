/**
 * Token-bucket pacer: spreads a window's worth of datagrams over the RTT instead of sending them
 * back to back. Tokens (bytes) accrue at `rate` up to `burst`; a send spends its size. A full bucket
 * lets a whole burst out after idle; after that, sends are spaced at the rate.
 *
 * Timer quantum: the driver's timers have a resolution (`quantum`, ms), and it sends everything that is
 * due before its next wake-up. So a send is released when the bucket will hold enough within the next
 * quantum (the bucket may go up to rate·quantum into debt). Bound: over any interval of length w the
 * pacer releases at most burst + rate·(w + quantum) bytes (burst + rate·w with quantum 0), for datagrams
 * no larger than the burst, up to a 1 µs float slack (PACER_TIME_SLACK). A datagram larger than the burst
 * waits for a full bucket.
 *
 * Sans-IO and allocation-free: `now` is passed in (ms), all state is numbers.
 */
import { PetrelError } from '../errors.js';

/** Pacing rate = gain · cwnd / smoothed RTT. Slow start doubles the window each RTT, so it paces at 2×. */
export const PACING_GAIN_SLOW_START = 2;
/** In congestion avoidance 1.25× leaves headroom for ack-clock jitter (as quinn and quiche do). */
export const PACING_GAIN_CONGESTION_AVOIDANCE = 1.25;
/** Default burst allowance, in datagrams. */
export const DEFAULT_PACER_BURST_PACKETS = 10;
/** Default driver timer quantum, ms. */
export const DEFAULT_PACER_QUANTUM = 1;
/** Float slack (bytes) so that waking exactly at the returned time always passes the check. */
const EPSILON = 1e-6;
/**
 * Waits shorter than this (ms, 1 µs) are 0: with absolute clocks (~1.7e12 ms) a smaller step may not even
 * change `now`, and a driver that re-asks at the same instant would spin.
 */
export const PACER_TIME_SLACK = 1e-3;

/** Bytes per ms for a window in bytes and a smoothed RTT in ms; Infinity (unpaced) for an RTT of 0. */
export function pacingRateFor(window: number, smoothedRtt: number, inSlowStart: boolean): number {
  if (!(smoothedRtt > 0)) return Infinity;
  const gain = inSlowStart ? PACING_GAIN_SLOW_START : PACING_GAIN_CONGESTION_AVOIDANCE;
  return (gain * window) / smoothedRtt;
}

/** Burst allowance in bytes for a datagram size. */
export function pacerBurstBytes(maxDatagramSize: number, packets = DEFAULT_PACER_BURST_PACKETS): number {
  return packets * maxDatagramSize;
}

export interface PacerConfig {
  /** bytes; the most the pacer lets out back to back (default 10 × 1200) */
  burstBytes?: number;
  /** bytes per ms; Infinity (default) = unpaced */
  rate?: number;
  /** the driver's timer resolution, ms (default 1); 0 = exact timers */
  quantum?: number;
}

export class Pacer {
  private _rate: number;
  private _burst: number;
  private _quantum: number;
  private tokens: number;
  /** time the token count was last brought up to date; -Infinity = never (bucket full) */
  private last = -Infinity;

  constructor(cfg: PacerConfig = {}) {
    this._rate = normaliseRate(cfg.rate ?? Infinity);
    this._burst = normaliseBurst(cfg.burstBytes ?? pacerBurstBytes(1200));
    this._quantum = cfg.quantum === undefined ? DEFAULT_PACER_QUANTUM : cfg.quantum > 0 ? cfg.quantum : 0;
    this.tokens = this._burst;
  }

  /** bytes per ms (Infinity when unpaced) */
  get rate(): number {
    return this._rate;
  }
  get burst(): number {
    return this._burst;
  }
  get quantum(): number {
    return this._quantum;
  }

  /** Bytes the bucket holds at `now` (negative = debt). */
  available(now: number): number {
    if (this._rate === Infinity) return this._burst;
    const elapsed = now > this.last ? now - this.last : 0;
    if (elapsed === Infinity) return this._burst;
    const t = this.tokens + elapsed * this._rate;
    return t < this._burst ? t : this._burst;
  }

  /**
   * New rate (bytes/ms; non-positive or non-finite = unpaced) and burst (bytes). With `now`, the time
   * since the last update is credited at the old rate first; without it, at the new rate.
   */
  setRate(bytesPerMs: number, burstBytes: number, now?: number): void {
    if (now !== undefined) this.settle(now);
    this._rate = normaliseRate(bytesPerMs);
    this._burst = normaliseBurst(burstBytes);
    if (this.tokens > this._burst) this.tokens = this._burst;
  }

  setQuantum(ms: number): void {
    this._quantum = ms > 0 ? ms : 0;
  }

  /** 0 if a datagram of `bytes` may go now, else the ms until it may (the caller rounds up to its timer). */
  timeUntilSend(now: number, bytes: number): number {
    if (this._rate === Infinity) return 0;
    const need = bytes < this._burst ? bytes : this._burst;
    const lookahead = this._rate * this._quantum;
    const missing = need - this.available(now) - lookahead;
    if (missing <= EPSILON) return 0;
    const wait = missing / this._rate;
    return wait < PACER_TIME_SLACK ? 0 : wait;
  }

  /** A datagram of `bytes` left at `now` (whether or not the pacer allowed it: probes may bypass it). */
  onSend(now: number, bytes: number): void {
    this.settle(now);
    if (this._rate !== Infinity) this.tokens -= bytes;
  }

  /** Full bucket, as after a long idle (path change). */
  reset(): void {
    this.tokens = this._burst;
    this.last = -Infinity;
  }

  private settle(now: number): void {
    this.tokens = this.available(now);
    if (now > this.last) this.last = now;
  }
}

function normaliseRate(r: number): number {
  return r > 0 && r < Infinity ? r : Infinity;
}

function normaliseBurst(b: number): number {
  if (b > 0 && b < Infinity) return b;
  throw new PetrelError('INVALID_ARGUMENT', `pacer burst must be a positive number of bytes, got ${b}`);
}
