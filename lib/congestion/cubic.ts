/**
 * CUBIC (RFC 9438) on QUIC's loss signals (RFC 9002 §7): the window follows
 * W_cubic(t) = C·(t − K)³ + W_max after a reduction, with a Reno-friendly floor W_est, a
 * multiplicative decrease of β = 0.7, fast convergence, and HyStart++ (RFC 9406) in the initial
 * slow start. Windows are bytes here; the cubic curve is evaluated in datagrams (mds) and seconds,
 * the units C is defined in.
 */
import type { RttEstimator } from '../recovery/rtt.js';
import { HyStart } from './hystart.js';
import type { HyStartPhase } from './hystart.js';
import { initialWindowBytes } from './new-reno.js';
import { pacingRateFor } from './pacer.js';
import type { AckedPacketInfo, CongestionConfig, CongestionController } from './types.js';

/** RFC 9438 §5.1: scaling constant of the cubic curve, datagrams / s³. */
export const CUBIC_C = 0.4;
/** RFC 9438 §4.6: multiplicative decrease factor. */
export const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: additive increase of the Reno-friendly estimate, 3(1 − β)/(1 + β) = 9/17 datagrams per RTT. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 Figure 2: seconds for the curve to climb from cwnd_epoch back to W_max (0 if already there). */
export function cubicK(wMaxSegments: number, cwndEpochSegments: number): number {
  const d = wMaxSegments - cwndEpochSegments;
  return d > 0 ? Math.cbrt(d / CUBIC_C) : 0;
}

/** RFC 9438 Figure 1: W_cubic(t) in datagrams, t and k in seconds. */
export function cubicWindow(tSeconds: number, k: number, wMaxSegments: number): number {
  const d = tSeconds - k;
  return CUBIC_C * d * d * d + wMaxSegments;
}

export interface CubicOptions {
  /** HyStart++ in the initial slow start (default true). */
  hystart?: boolean;
  /** RFC 9438 §4.7 fast convergence (default true). */
  fastConvergence?: boolean;
}

export type CubicConfig = CongestionConfig & CubicOptions;

/** Everything a reduction changes: kept twice, live and as the undo snapshot, so undo copies numbers only. */
class WindowState {
  /** bytes, fractional: congestion-avoidance steps are sub-byte */
  cwnd = 0;
  ssthresh = Infinity;
  /** bytes; NaN while undefined (before the first reduction, after persistent congestion) */
  wMax = NaN;
  /** window just before the last reduction, bytes (W_est switches to α = 1 once it gets there) */
  cwndPrior = NaN;
  /** seconds */
  k = 0;
  /** start of the congestion-avoidance epoch, ms (shifted forward by idle and app-limited time); NaN = none */
  epochStart = NaN;
  /** Reno-friendly estimate, bytes */
  wEst = 0;
  recoveryStart = -Infinity;
  hystartPhase: HyStartPhase = 'slow-start';

  copyFrom(o: WindowState): void {
    this.cwnd = o.cwnd;
    this.ssthresh = o.ssthresh;
    this.wMax = o.wMax;
    this.cwndPrior = o.cwndPrior;
    this.k = o.k;
    this.epochStart = o.epochStart;
    this.wEst = o.wEst;
    this.recoveryStart = o.recoveryStart;
    this.hystartPhase = o.hystartPhase;
  }
}

export class Cubic implements CongestionController {
  readonly name = 'cubic';
  private mds: number;
  private readonly initialPackets: number;
  private readonly minimumPackets: number;
  private readonly useHystart: boolean;
  private readonly fastConvergence: boolean;
  private readonly hystart = new HyStart();
  private readonly s = new WindowState();
  private readonly saved = new WindowState();
  private hasSaved = false;
  /** app-limited since this ack time (ms); NaN while not app-limited */
  private pausedSince = NaN;
  private lastSendTime = NaN;
  private lastAckTime = NaN;
  private lastSrtt = NaN;

  constructor(cfg: CubicConfig) {
    this.mds = cfg.maxDatagramSize;
    this.initialPackets = cfg.initialWindowPackets ?? 10;
    this.minimumPackets = cfg.minimumWindowPackets ?? 2;
    this.useHystart = cfg.hystart ?? true;
    this.fastConvergence = cfg.fastConvergence ?? true;
    this.reset();
  }

  get window(): number {
    return Math.floor(this.s.cwnd);
  }
  get ssthresh(): number {
    return this.s.ssthresh;
  }
  get inSlowStart(): boolean {
    return this.s.cwnd < this.s.ssthresh;
  }
  get recoveryStartTime(): number {
    return this.s.recoveryStart;
  }
  get maxDatagramSize(): number {
    return this.mds;
  }
  get minimumWindow(): number {
    return this.minimumPackets * this.mds;
  }
  get initialWindow(): number {
    return initialWindowBytes(this.mds, this.initialPackets);
  }
  /** W_max in bytes (NaN while undefined). */
  get wMax(): number {
    return this.s.wMax;
  }
  /** K of the current epoch, seconds. */
  get k(): number {
    return this.s.k;
  }
  /** Start of the current congestion-avoidance epoch (ms, shifted by idle time); NaN outside one. */
  get epochStart(): number {
    return this.s.epochStart;
  }
  /** The Reno-friendly estimate W_est, bytes. */
  get renoWindow(): number {
    return this.s.wEst;
  }
  get hystartPhase(): HyStartPhase {
    return this.hystart.phase;
  }

  onPacketSent(_bytes: number, now: number): void {
    const s = this.s;
    // RFC 9438 §5.8: idle time must not count in t. A pause with no send and no ack for more than an RTT
    // is idle; while app-limited, the pause is measured from the acks instead (onPacketsAcked).
    if (s.epochStart === s.epochStart && this.pausedSince !== this.pausedSince) {
      const lastActivity = Math.max(this.lastSendTime, this.lastAckTime, s.epochStart);
      const idle = now - lastActivity;
      if (idle > this.lastSrtt) s.epochStart += idle;
    }
    this.lastSendTime = now;
    this.hystart.onPacketSent(now);
  }

  onPacketsAcked(acked: readonly AckedPacketInfo[], now: number, rtt: RttEstimator, appLimited: boolean): void {
    const s = this.s;
    this.lastAckTime = now;
    if (rtt.hasSample) this.lastSrtt = rtt.smoothed;
    if (appLimited) {
      // No growth (RFC 9002 §7.8) and the curve's clock stops until the sender is window-limited again.
      if (this.pausedSince !== this.pausedSince) this.pausedSince = now;
      return;
    }
    if (this.pausedSince === this.pausedSince) {
      s.epochStart += now - this.pausedSince;
      this.pausedSince = NaN;
    }

    let largestSent = -Infinity;
    for (let i = 0; i < acked.length; i++) {
      const t = acked[i]!.timeSent;
      if (t > s.recoveryStart && t > largestSent) largestSent = t;
    }
    // Everything acknowledged was sent before the current recovery period: the old window's business.
    if (largestSent === -Infinity) return;

    if (s.cwnd < s.ssthresh && this.hystart.phase !== 'done') {
      if (this.hystart.onAck(largestSent, rtt.hasSample ? rtt.latest : NaN)) {
        s.cwnd = Math.floor(s.cwnd);
        s.ssthresh = s.cwnd;
      }
    }

    const mds = this.mds;
    let wCubicNow = NaN;
    let wCubicAhead = NaN;
    for (let i = 0; i < acked.length; i++) {
      const p = acked[i]!;
      if (p.timeSent <= s.recoveryStart) continue;
      if (s.cwnd < s.ssthresh) {
        s.cwnd += p.size / this.hystart.growthDivisor;
        continue;
      }
      if (wCubicNow !== wCubicNow) {
        if (s.epochStart !== s.epochStart) this.startEpoch(now);
        const t = (now - s.epochStart) / 1000;
        const wMaxSeg = s.wMax / mds;
        wCubicNow = cubicWindow(t, s.k, wMaxSeg) * mds;
        wCubicAhead = cubicWindow(t + rtt.smoothed / 1000, s.k, wMaxSeg) * mds;
      }
      // RFC 9438 §4.3: W_est grows by α per window of acknowledged data (α = 1 once back at cwnd_prior).
      const alpha = s.wEst >= s.cwndPrior ? 1 : CUBIC_ALPHA;
      s.wEst += (alpha * p.size * mds) / s.cwnd;
      if (wCubicNow < s.wEst) {
        if (s.wEst > s.cwnd) s.cwnd = s.wEst;
      } else {
        // §4.4/§4.5: close (target − cwnd)/cwnd of the gap per datagram acknowledged, target one RTT ahead.
        const upper = 1.5 * s.cwnd;
        const target = wCubicAhead < s.cwnd ? s.cwnd : wCubicAhead > upper ? upper : wCubicAhead;
        s.cwnd += ((target - s.cwnd) * p.size) / s.cwnd;
      }
    }
  }

  onCongestionEvent(largestLostTimeSent: number, now: number): void {
    const s = this.s;
    if (largestLostTimeSent <= s.recoveryStart) return;
    this.saved.copyFrom(s);
    this.saved.hystartPhase = this.hystart.phase;
    this.hasSaved = true;
    this.hystart.disable();
    s.recoveryStart = now;
    const cwnd = s.cwnd;
    // §4.7: a window that peaked below the previous W_max signals a new competitor: release some bandwidth.
    s.wMax = this.fastConvergence && cwnd < s.wMax ? (cwnd * (1 + CUBIC_BETA)) / 2 : cwnd;
    s.cwndPrior = cwnd;
    s.ssthresh = Math.max(Math.floor(cwnd * CUBIC_BETA), this.minimumWindow);
    s.cwnd = s.ssthresh;
    s.epochStart = NaN;
  }

  onPersistentCongestion(_now: number): void {
    const s = this.s;
    s.cwnd = this.minimumWindow;
    s.recoveryStart = -Infinity;
    s.epochStart = NaN;
    // §4.8: the first epoch after a collapse starts with K = 0 and W_max = the window it starts at.
    s.wMax = NaN;
    s.cwndPrior = NaN;
    this.hasSaved = false;
    this.hystart.disable();
  }

  onSpuriousCongestionEvent(): boolean {
    if (!this.hasSaved) return false;
    this.hasSaved = false;
    this.s.copyFrom(this.saved);
    this.hystart.restorePhase(this.saved.hystartPhase);
    if (this.s.cwnd < this.minimumWindow) this.s.cwnd = this.minimumWindow;
    return true;
  }

  pacingRate(rtt: RttEstimator): number {
    return pacingRateFor(this.window, rtt.smoothed, this.inSlowStart);
  }

  setMaxDatagramSize(bytes: number): void {
    this.mds = bytes;
    if (this.s.cwnd < this.minimumWindow) this.s.cwnd = this.minimumWindow;
  }

  reset(): void {
    const s = this.s;
    s.cwnd = this.initialWindow;
    s.ssthresh = Infinity;
    s.wMax = NaN;
    s.cwndPrior = NaN;
    s.k = 0;
    s.epochStart = NaN;
    s.wEst = 0;
    s.recoveryStart = -Infinity;
    this.hasSaved = false;
    this.pausedSince = NaN;
    this.lastSendTime = NaN;
    this.lastAckTime = NaN;
    this.lastSrtt = NaN;
    this.hystart.reset();
    if (!this.useHystart) this.hystart.disable();
  }

  /** §4.2: a congestion-avoidance epoch starts with the first ack that grows the window in it. */
  private startEpoch(now: number): void {
    const s = this.s;
    s.epochStart = now;
    s.wEst = s.cwnd;
    // No reduction behind this epoch (HyStart++ exit, or after a collapse): the curve starts flat at cwnd.
    if (s.wMax !== s.wMax) {
      s.wMax = s.cwnd;
      s.cwndPrior = s.cwnd;
    }
    s.k = cubicK(s.wMax / this.mds, s.cwnd / this.mds);
  }
}
