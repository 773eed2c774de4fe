/**
 * BBR's network path model (draft-ietf-ccwg-bbr §5.5): packet-timed rounds, the max-bandwidth and
 * min-RTT estimates, the aggregation estimate, the loss-driven bounds (long-term inflight_hi, short-term
 * bw_lo / inflight_lo; the draft's -04 names are inflight_longterm, bw_shortterm, inflight_shortterm) and
 * the full-pipe estimator. The state machine (bbr.ts) decides when each part is updated.
 */
import type { RateSample } from '../types.js';
import {
  BBR_BETA,
  BBR_EXTRA_ACKED_FILTER_LEN,
  BBR_FULL_BW_COUNT,
  BBR_FULL_BW_THRESH,
  BBR_MIN_RTT_FILTER_LEN,
  BBR_PROBE_RTT_INTERVAL,
} from './constants.js';
import { MaxBwFilter, WindowedMaxFilter } from './filters.js';

export class BbrModel {
  // §5.5.1 rounds
  roundCount = 0;
  roundStart = false;
  nextRoundDelivered = 0;
  roundsSinceBwProbe = 0;

  // §5.5.2-6 bandwidth, bytes/ms
  readonly maxBwFilter = new MaxBwFilter();
  cycleCount = 0;
  /** min(max_bw, bw_lo) */
  bw = 0;
  /** BBR.bw_lo (bw_shortterm), Infinity when unset */
  bwLo = Infinity;
  /** BBR.inflight_hi (inflight_longterm), bytes, Infinity when unset */
  inflightHi = Infinity;
  /** BBR.inflight_lo (inflight_shortterm), bytes, Infinity when unset */
  inflightLo = Infinity;

  // §5.5.7 min RTT, ms
  minRtt = Infinity;
  minRttStamp = 0;
  probeRttMinDelay = Infinity;
  probeRttMinStamp = 0;
  probeRttExpired = false;

  // §5.5.9 aggregation
  private readonly extraAckedFilter = new WindowedMaxFilter();
  extraAckedIntervalStart = 0;
  private extraAckedDelivered = 0;

  // §5.5.10.3 latest delivery signals
  bwLatest = 0;
  inflightLatest = 0;
  lossRoundDelivered = 0;
  lossRoundStart = false;
  lossInRound = false;
  /** loss events (discontiguous ranges, approximated by separate packets) and bytes lost this loss round */
  lossEventsInRound = 0;
  lostBytesInRound = 0;

  // §5.3.1.2 full pipe
  fullBw = 0;
  fullBwCount = 0;
  fullBwNow = false;
  fullBwReached = false;

  get maxBw(): number {
    return this.maxBwFilter.value;
  }

  get extraAcked(): number {
    return this.extraAckedFilter.value;
  }

  /** Everything back to the initial model (a new path), with the clocks started at `now`. */
  init(now: number): void {
    this.roundCount = 0;
    this.roundStart = false;
    this.nextRoundDelivered = 0;
    this.roundsSinceBwProbe = 0;
    this.maxBwFilter.reset();
    this.cycleCount = 0;
    this.bw = 0;
    this.minRtt = Infinity;
    this.minRttStamp = now;
    this.probeRttMinDelay = Infinity;
    this.probeRttMinStamp = now;
    this.probeRttExpired = false;
    this.extraAckedFilter.reset();
    this.extraAckedIntervalStart = now;
    this.extraAckedDelivered = 0;
    this.fullBwReached = false;
    this.resetCongestionSignals();
    this.resetShortTermModel();
    this.inflightHi = Infinity;
    this.lossRoundDelivered = 0;
    this.lossRoundStart = false;
    this.resetFullBw();
  }

  startRound(delivered: number): void {
    this.nextRoundDelivered = delivered;
  }

  /** BBRUpdateRound (§5.5.1). */
  updateRound(rs: RateSample, delivered: number): void {
    if (rs.priorDelivered >= this.nextRoundDelivered) {
      this.startRound(delivered);
      this.roundCount++;
      this.roundsSinceBwProbe++;
      this.roundStart = true;
    } else {
      this.roundStart = false;
    }
  }

  /** BBRUpdateMaxBw (§5.5.5): app-limited samples only count when they beat the estimate. */
  updateMaxBw(rs: RateSample, delivered: number): void {
    this.updateRound(rs, delivered);
    if (rs.deliveryRate > 0 && (rs.deliveryRate >= this.maxBw || !rs.isAppLimited)) this.maxBwFilter.update(rs.deliveryRate);
  }

  /** BBRAdvanceMaxBwFilter (§5.5.6). */
  advanceMaxBwFilter(): void {
    this.cycleCount++;
    this.maxBwFilter.advance();
  }

  /** BBRUpdateLatestDeliverySignals (§5.5.10.3), near the start of ACK processing. */
  updateLatestDeliverySignals(rs: RateSample, delivered: number): void {
    this.lossRoundStart = false;
    if (rs.deliveryRate > this.bwLatest) this.bwLatest = rs.deliveryRate;
    if (rs.delivered > this.inflightLatest) this.inflightLatest = rs.delivered;
    if (rs.priorDelivered >= this.lossRoundDelivered) {
      this.lossRoundDelivered = delivered;
      this.lossRoundStart = true;
    }
  }

  /** BBRAdvanceLatestDeliverySignals, near the end of ACK processing. */
  advanceLatestDeliverySignals(rs: RateSample): void {
    if (this.lossRoundStart) {
      this.bwLatest = rs.deliveryRate;
      this.inflightLatest = rs.delivered;
    }
  }

  resetCongestionSignals(): void {
    this.lossInRound = false;
    this.lossEventsInRound = 0;
    this.lostBytesInRound = 0;
    this.bwLatest = 0;
    this.inflightLatest = 0;
  }

  resetShortTermModel(): void {
    this.bwLo = Infinity;
    this.inflightLo = Infinity;
  }

  /** BBRNoteLoss (§5.5.10.2): the first loss of a round starts the loss round. */
  noteLoss(delivered: number, bytes: number, newEvent: boolean): void {
    if (!this.lossInRound) this.lossRoundDelivered = delivered;
    this.lossInRound = true;
    this.lostBytesInRound += bytes;
    if (newEvent) this.lossEventsInRound++;
  }

  /** BBRInitLowerBounds + BBRLossLowerBounds (§5.5.10.3), once per lossy round when not probing. */
  lossLowerBounds(cwnd: number): void {
    if (this.bwLo === Infinity) this.bwLo = this.maxBw;
    if (this.inflightLo === Infinity) this.inflightLo = cwnd;
    this.bwLo = Math.max(this.bwLatest, BBR_BETA * this.bwLo);
    this.inflightLo = Math.max(this.inflightLatest, BBR_BETA * this.inflightLo);
  }

  /** BBRBoundBWForModel. */
  boundBwForModel(): void {
    const m = this.maxBw;
    this.bw = m < this.bwLo ? m : this.bwLo;
  }

  /** BBRUpdateACKAggregation (§5.5.9); `cwnd` caps a sample. */
  updateAckAggregation(rs: RateSample, now: number, cwnd: number): void {
    const interval = now - this.extraAckedIntervalStart;
    let expected = this.bw * interval;
    if (this.extraAckedDelivered <= expected) {
      this.extraAckedDelivered = 0;
      this.extraAckedIntervalStart = now;
      expected = 0;
    }
    this.extraAckedDelivered += rs.newlyAcked;
    let extra = this.extraAckedDelivered - expected;
    if (extra > cwnd) extra = cwnd;
    const len = this.fullBwReached ? BBR_EXTRA_ACKED_FILTER_LEN : 1;
    this.extraAckedFilter.update(extra, this.roundCount, len);
  }

  resetFullBw(): void {
    this.fullBw = 0;
    this.fullBwCount = 0;
    this.fullBwNow = false;
  }

  /** BBRCheckFullBWReached (§5.3.1.2): three rounds without 25 % growth mean the pipe is full. */
  checkFullBwReached(rs: RateSample): void {
    if (this.fullBwNow || !this.roundStart || rs.isAppLimited) return;
    if (rs.deliveryRate >= this.fullBw * BBR_FULL_BW_THRESH) {
      this.resetFullBw();
      this.fullBw = rs.deliveryRate;
      return;
    }
    this.fullBwCount++;
    this.fullBwNow = this.fullBwCount >= BBR_FULL_BW_COUNT;
    if (this.fullBwNow) this.fullBwReached = true;
  }

  /** BBRUpdateMinRTT (§5.3.4.3): the ProbeRTT min filter feeds min_rtt. */
  updateMinRtt(rs: RateSample, now: number): void {
    this.probeRttExpired = now > this.probeRttMinStamp + BBR_PROBE_RTT_INTERVAL;
    if (rs.rtt >= 0 && (rs.rtt < this.probeRttMinDelay || this.probeRttExpired)) {
      this.probeRttMinDelay = rs.rtt;
      this.probeRttMinStamp = now;
    }
    const minRttExpired = now > this.minRttStamp + BBR_MIN_RTT_FILTER_LEN;
    if (this.probeRttMinDelay < this.minRtt || minRttExpired) {
      this.minRtt = this.probeRttMinDelay;
      this.minRttStamp = this.probeRttMinStamp;
    }
  }
}
