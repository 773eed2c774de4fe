/**
 * BBR congestion control, version 3, as draft-ietf-ccwg-bbr specifies it: a path model built from
 * delivery-rate samples (model.ts) drives a state machine — Startup, Drain, ProbeBW (DOWN, CRUISE,
 * REFILL, UP) and ProbeRTT — that sets a pacing rate (pacing_gain × bw, 1 % under) and a congestion
 * window (cwnd_gain × BDP + aggregation + quantum, capped by the loss bounds). Units: ms, bytes, bytes/ms.
 * Where Petrel departs from the draft is listed in spec/recovery.md §BBR.
 */
import type { RttEstimator } from '../../recovery/rtt.js';
import { initialWindowBytes } from '../new-reno.js';
import type { AckedPacketInfo, CongestionConfig, CongestionController, DeliveryState, LostPacketInfo, RateSample } from '../types.js';
import {
  BBR_BETA,
  BBR_CRUISE_PACING_GAIN,
  BBR_DEFAULT_CWND_GAIN,
  BBR_DRAIN_PACING_GAIN,
  BBR_HEADROOM,
  BBR_LOSS_THRESH,
  BBR_MAX_PROBE_UP_ROUNDS,
  BBR_MIN_PIPE_CWND_PACKETS,
  BBR_PACING_MARGIN,
  BBR_PROBE_DOWN_PACING_GAIN,
  BBR_PROBE_RTT_CWND_GAIN,
  BBR_PROBE_RTT_DURATION,
  BBR_PROBE_UP_CWND_GAIN,
  BBR_PROBE_UP_PACING_GAIN,
  BBR_PROBE_WAIT_BASE,
  BBR_PROBE_WAIT_RANDOM,
  BBR_QUEUE_DELAY_FRACTION,
  BBR_QUEUE_DELAY_MIN,
  BBR_RENO_ROUNDS_MAX,
  BBR_SEND_QUANTUM_MAX,
  BBR_STARTUP_FULL_LOSS_COUNT,
  BBR_STARTUP_PACING_GAIN,
} from './constants.js';
import { BbrModel } from './model.js';

export type BbrState = 'startup' | 'drain' | 'probe-bw-down' | 'probe-bw-cruise' | 'probe-bw-refill' | 'probe-bw-up' | 'probe-rtt';

/** §5.3.3.6 ack phases: which rate samples reflect a bandwidth probe. */
const enum AckPhase {
  Init,
  ProbeStarting,
  ProbeFeedback,
  ProbeStopping,
  Refilling,
}

export interface BbrOptions {
  /** Uniform [0, 1) source for the randomised probe timing; default a generator seeded from the first send time. */
  random?: () => number;
  /**
   * Petrel's random-loss filter (default true): losses while the RTT shows no queue are not congestion
   * signals. false = the draft's loss response exactly.
   */
  randomLossFilter?: boolean;
  /** Leave ProbeBW_UP once 1.25 BDP is in flight after a min_rtt (default true; false = the plateau exit only). */
  upQueueExit?: boolean;
}

export type BbrConfig = CongestionConfig & BbrOptions;

/** A small deterministic generator (mulberry32) for when no random source is injected. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stands in until Recovery binds the real delivery state (unit tests may drive the controller alone). */
const NO_DELIVERY: DeliveryState = { delivered: 0, lost: 0, bytesInFlight: 0, isAppLimited: false, markAppLimited() {} };

export class Bbr implements CongestionController {
  readonly name = 'bbr';
  readonly model = new BbrModel();
  private mds: number;
  private readonly initialPackets: number;
  private random: (() => number) | null;
  private c: DeliveryState = NO_DELIVERY;
  private readonly lossFilter: boolean;
  private readonly upQueueExit: boolean;
  private rtt: RttEstimator | null = null;

  private _state: BbrState = 'startup';
  private pacingGain = BBR_STARTUP_PACING_GAIN;
  private cwndGain = BBR_DEFAULT_CWND_GAIN;
  private cwnd = 0;
  private rate = 0;
  private hasSeenRtt = false;
  private started = false;

  // ProbeBW (§5.3.3)
  private ackPhase = AckPhase.Init;
  private cycleStamp = 0;
  private bwProbeWait = 0;
  private bwProbeSamples = false;
  private probeUpCnt = Infinity;
  private bwProbeUpAcks = 0;
  private bwProbeUpRounds = 0;

  // ProbeRTT and idle restart (§5.3.4, §5.4)
  private probeRttDoneStamp = NaN;
  private probeRttRoundDone = false;
  private priorCwnd = 0;
  private idleRestart = false;

  // loss recovery (§5.6.4.4)
  private recoveryStart = -Infinity;
  private inRecovery = false;
  private recoveryDelivered = 0;
  private recoveryAtAck = false;
  private lastLostPn = -2;

  // C.is_cwnd_limited over the last round
  private cwndLimitedThisRound = false;
  private cwndLimitedLastRound = false;

  constructor(cfg: BbrConfig) {
    this.mds = cfg.maxDatagramSize;
    this.initialPackets = cfg.initialWindowPackets ?? 10;
    this.random = cfg.random ?? null;
    this.lossFilter = cfg.randomLossFilter ?? true;
    this.upQueueExit = cfg.upQueueExit ?? true;
    this.reset();
  }

  // --- the controller contract ------------------------------------------------------------------

  get window(): number {
    return Math.floor(this.cwnd);
  }
  /** BBR has no slow-start threshold. */
  get ssthresh(): number {
    return Infinity;
  }
  get inSlowStart(): boolean {
    return this._state === 'startup';
  }
  get recoveryStartTime(): number {
    return this.recoveryStart;
  }
  get state(): BbrState {
    return this._state;
  }
  get pacingGainNow(): number {
    return this.pacingGain;
  }
  get cwndGainNow(): number {
    return this.cwndGain;
  }
  get maxDatagramSize(): number {
    return this.mds;
  }
  get initialWindow(): number {
    return initialWindowBytes(this.mds, this.initialPackets);
  }
  get minPipeCwnd(): number {
    return BBR_MIN_PIPE_CWND_PACKETS * this.mds;
  }
  get inLossRecovery(): boolean {
    return this.inRecovery;
  }
  /** C.is_cwnd_limited: the window was full at some point in the last round. */
  get isCwndLimited(): boolean {
    return this.cwndLimitedThisRound || this.cwndLimitedLastRound;
  }

  bindDeliveryState(state: DeliveryState): void {
    this.c = state;
  }

  reset(): void {
    this.model.init(0);
    this._state = 'startup';
    this.pacingGain = BBR_STARTUP_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
    this.cwnd = this.initialWindow;
    this.rate = 0;
    this.hasSeenRtt = false;
    this.started = false;
    this.ackPhase = AckPhase.Init;
    this.bwProbeSamples = false;
    this.probeUpCnt = Infinity;
    this.bwProbeUpAcks = 0;
    this.bwProbeUpRounds = 0;
    this.probeRttDoneStamp = NaN;
    this.probeRttRoundDone = false;
    this.priorCwnd = 0;
    this.idleRestart = false;
    this.recoveryStart = -Infinity;
    this.inRecovery = false;
    this.lastLostPn = -2;
    this.cwndLimitedThisRound = false;
    this.cwndLimitedLastRound = false;
  }

  setMaxDatagramSize(bytes: number): void {
    const wasInitial = !this.started && this.cwnd === this.initialWindow;
    this.mds = bytes;
    if (wasInitial) this.cwnd = this.initialWindow;
  }

  /** BBROnTransmit (§5.2.2): restart from idle; also notes whether the window is being used up. */
  onPacketSent(bytes: number, now: number, bytesInFlight?: number): void {
    const inFlight = bytesInFlight ?? this.c.bytesInFlight;
    if (!this.started) this.start(now);
    if (inFlight - bytes <= 0 && this.c.isAppLimited) {
      this.idleRestart = true;
      this.model.extraAckedIntervalStart = now;
      if (this.isInProbeBw()) this.setPacingRateWithGain(1);
      else if (this._state === 'probe-rtt') this.checkProbeRttDone(now);
    }
    if (inFlight + this.mds > this.cwnd) this.cwndLimitedThisRound = true;
  }

  /** Only picks up the first RTT sample for the initial pacing rate; the work happens in onRateSample. */
  onPacketsAcked(_acked: readonly AckedPacketInfo[], _now: number, rtt: RttEstimator): void {
    this.rtt = rtt;
    if (!this.hasSeenRtt && rtt.hasSample) {
      this.hasSeenRtt = true;
      this.initPacingRate(rtt.smoothed);
    }
  }

  /** A congestion event starts fast recovery: BBR keeps its window (the model reacts per loss) but saves it. */
  onCongestionEvent(largestLostTimeSent: number, now: number): void {
    if (largestLostTimeSent <= this.recoveryStart) return;
    this.recoveryStart = now;
    if (!this.inRecovery) {
      this.saveCwnd();
      this.inRecovery = true;
      this.recoveryDelivered = this.c.delivered;
    }
  }

  /** Persistent congestion is QUIC's RTO (§5.6.4.4 BBROnEnterRTO): window down to what is in flight plus one. */
  onPersistentCongestion(now: number): void {
    this.saveCwnd();
    this.cwnd = this.c.bytesInFlight + this.mds;
    if (!this.inRecovery) {
      this.inRecovery = true;
      this.recoveryDelivered = this.c.delivered;
    }
    this.recoveryStart = Math.max(this.recoveryStart, now);
  }

  /** BBRHandleLostPacket (§5.5.10.2). */
  onPacketLost(p: LostPacketInfo): void {
    if (!this.lossIsCongestion()) return;
    const m = this.model;
    // Adjacent packet numbers lost together form one loss range.
    const newEvent = p.pn !== this.lastLostPn + 1;
    this.lastLostPn = p.pn;
    m.noteLoss(this.c.delivered, p.size, newEvent);
    if (!this.bwProbeSamples) return;
    const lost = this.c.lost - p.lostAtSend;
    if (lost > p.txInFlight * BBR_LOSS_THRESH) {
      const inflightAtLoss = this.inflightAtLoss(p.size, p.txInFlight, lost);
      this.handleInflightTooHigh(p.isAppLimited, inflightAtLoss);
    }
  }

  /** BBRUpdateOnACK (§5.2.3). */
  onRateSample(rs: RateSample, now: number): void {
    if (!this.started) this.start(now);
    // Startup's high-loss test looks at the recovery this ACK found (it may end it, at the end of its round).
    this.recoveryAtAck = this.inRecovery;
    if (this.inRecovery && rs.priorDelivered >= this.recoveryDelivered) {
      // A packet sent after recovery began is acknowledged: recovery is over.
      this.inRecovery = false;
      this.restoreCwnd();
    }
    this.updateModelAndState(rs, now);
    this.updateControlParameters(rs);
  }

  /** C.pacing_rate, bytes per ms. */
  pacingRate(rtt: RttEstimator): number {
    if (this.rate > 0) return this.rate;
    // No ACK with an RTT sample yet (handshake): the initial rate from whatever RTT there is.
    return (BBR_STARTUP_PACING_GAIN * this.initialWindow) / (rtt.smoothed > 0 ? rtt.smoothed : 1);
  }

  /**
   * The random-loss filter: with a queue at the bottleneck (latest RTT above min_rtt by a margin) a loss is
   * congestion; on an empty queue it is the link's own loss, which no sending rate would avoid.
   */
  private lossIsCongestion(): boolean {
    if (!this.lossFilter || this.rtt === null) return true;
    const minRtt = this.model.minRtt;
    if (minRtt === Infinity) return true;
    const margin = Math.max(BBR_QUEUE_DELAY_FRACTION * minRtt, BBR_QUEUE_DELAY_MIN);
    return this.rtt.latest > minRtt + margin;
  }

  /** §5.6.3 C.send_quantum: pacing rate × 1 ms, within [2 datagrams, 64 KiB]; the pacer's burst. */
  sendQuantum(): number {
    return Math.min(Math.max(this.rate * 1, 2 * this.mds), BBR_SEND_QUANTUM_MAX);
  }

  // --- per-ACK steps --------------------------------------------------------------------------------

  private start(now: number): void {
    this.started = true;
    this.model.init(now);
    if (this.random === null) this.random = seededRandom(Math.floor(now * 1000) ^ 0x9e3779b9);
  }

  private updateModelAndState(rs: RateSample, now: number): void {
    this.lastNow = now;
    const m = this.model;
    const delivered = this.c.delivered;
    m.updateLatestDeliverySignals(rs, delivered);
    // BBRUpdateCongestionSignals
    m.updateMaxBw(rs, delivered);
    if (m.roundStart) {
      this.cwndLimitedLastRound = this.cwndLimitedThisRound;
      this.cwndLimitedThisRound = false;
    }
    let startupHighLoss = false;
    if (m.lossRoundStart) {
      startupHighLoss = this.startupHighLoss();
      if (!this.isProbingBw() && m.lossInRound) m.lossLowerBounds(this.cwnd);
      m.lossInRound = false;
      m.lossEventsInRound = 0;
      m.lostBytesInRound = 0;
    }
    m.updateAckAggregation(rs, now, this.cwnd);
    m.checkFullBwReached(rs);
    this.checkStartupDone(startupHighLoss);
    this.checkDrainDone();
    this.updateProbeBwCyclePhase(rs, now);
    m.updateMinRtt(rs, now);
    this.checkProbeRtt(rs, now);
    m.advanceLatestDeliverySignals(rs);
    m.boundBwForModel();
  }

  private updateControlParameters(rs: RateSample): void {
    this.setPacingRateWithGain(this.pacingGain);
    this.setCwnd(rs);
  }

  // --- Startup and Drain (§5.3.1, §5.3.2) ----------------------------------------------------------

  private enterStartup(): void {
    this._state = 'startup';
    this.pacingGain = BBR_STARTUP_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
  }

  /**
   * BBRCheckStartupHighLoss at the end of a loss round (which began with the loss that started recovery):
   * still in recovery, more than LossThresh of the round's data lost, in at least StartupFullLossCnt ranges.
   */
  private startupHighLoss(): boolean {
    const m = this.model;
    if (this._state !== 'startup' || m.fullBwReached || !this.recoveryAtAck) return false;
    if (m.lossEventsInRound < BBR_STARTUP_FULL_LOSS_COUNT) return false;
    const sent = m.inflightLatest + m.lostBytesInRound;
    return m.lostBytesInRound > BBR_LOSS_THRESH * sent;
  }

  private checkStartupDone(highLoss: boolean): void {
    const m = this.model;
    if (highLoss) {
      m.fullBwReached = true;
      m.inflightHi = Math.max(this.bdpMultiple(1), m.inflightLatest);
    }
    if (this._state === 'startup' && m.fullBwReached) this.enterDrain();
  }

  private enterDrain(): void {
    this._state = 'drain';
    this.pacingGain = BBR_DRAIN_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
  }

  private checkDrainDone(): void {
    if (this._state === 'drain' && this.c.bytesInFlight <= this.inflight(this.model.bw, 1)) this.enterProbeBw();
  }

  // --- ProbeBW (§5.3.3) ---------------------------------------------------------------------------------

  private isInProbeBw(): boolean {
    const s = this._state;
    return s === 'probe-bw-down' || s === 'probe-bw-cruise' || s === 'probe-bw-refill' || s === 'probe-bw-up';
  }

  private isProbingBw(): boolean {
    const s = this._state;
    return s === 'startup' || s === 'probe-bw-refill' || s === 'probe-bw-up';
  }

  private enterProbeBw(): void {
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
    this.startProbeBwDown();
  }

  private startProbeBwDown(): void {
    const m = this.model;
    m.resetCongestionSignals();
    this.probeUpCnt = Infinity;
    this.pickProbeWait();
    this.cycleStamp = this.lastNow;
    this.ackPhase = AckPhase.ProbeStopping;
    m.startRound(this.c.delivered);
    this._state = 'probe-bw-down';
    this.pacingGain = BBR_PROBE_DOWN_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
  }

  private startProbeBwCruise(): void {
    this._state = 'probe-bw-cruise';
    this.pacingGain = BBR_CRUISE_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
  }

  private startProbeBwRefill(): void {
    const m = this.model;
    m.resetShortTermModel();
    this.bwProbeUpRounds = 0;
    this.bwProbeUpAcks = 0;
    this.ackPhase = AckPhase.Refilling;
    m.startRound(this.c.delivered);
    this._state = 'probe-bw-refill';
    this.pacingGain = BBR_CRUISE_PACING_GAIN;
    this.cwndGain = BBR_DEFAULT_CWND_GAIN;
  }

  private startProbeBwUp(rs: RateSample): void {
    const m = this.model;
    this.cycleStamp = this.lastNow;
    this.ackPhase = AckPhase.ProbeStarting;
    m.startRound(this.c.delivered);
    m.resetFullBw();
    m.fullBw = rs.deliveryRate;
    this._state = 'probe-bw-up';
    this.pacingGain = BBR_PROBE_UP_PACING_GAIN;
    this.cwndGain = BBR_PROBE_UP_CWND_GAIN;
    this.raiseInflightHiSlope();
  }

  /** `now` of the ACK being processed (the draft's Now() inside the state machine). */
  private lastNow = 0;

  private updateProbeBwCyclePhase(rs: RateSample, now: number): void {
    if (!this.model.fullBwReached) return;
    this.adaptLongTermModel(rs);
    switch (this._state) {
      case 'probe-bw-down':
        if (this.isTimeToProbeBw(now)) return;
        if (this.isTimeToCruise()) this.startProbeBwCruise();
        return;
      case 'probe-bw-cruise':
        this.isTimeToProbeBw(now);
        return;
      case 'probe-bw-refill':
        // One round of refilling, then probe up.
        if (this.model.roundStart) {
          this.bwProbeSamples = true;
          this.startProbeBwUp(rs);
        }
        return;
      case 'probe-bw-up':
        if (this.isTimeToGoDown(rs) || this.upQueueBuilt(now)) this.startProbeBwDown();
        return;
      default:
        return;
    }
  }

  /** BBRAdaptLongTermModel: advance the bandwidth filter after a probe; raise inflight_hi while losses are low. */
  private adaptLongTermModel(rs: RateSample): void {
    const m = this.model;
    if (this.ackPhase === AckPhase.ProbeStarting && m.roundStart) this.ackPhase = AckPhase.ProbeFeedback;
    if (this.ackPhase === AckPhase.ProbeStopping && m.roundStart) {
      // The samples of the last probe are in: once per cycle, forget the older cycle's bandwidth. (The draft's
      // pseudocode leaves the phase here, which would advance the filter every round; Linux moves it to Init.)
      this.bwProbeSamples = false;
      this.ackPhase = AckPhase.Init;
      if (this.isInProbeBw() && !rs.isAppLimited) m.advanceMaxBwFilter();
    }
    if (rs.lost > rs.txInFlight * BBR_LOSS_THRESH && this.lossIsCongestion()) return; // IsInflightTooHigh
    if (m.inflightHi === Infinity) return;
    if (rs.txInFlight > m.inflightHi) m.inflightHi = rs.txInFlight;
    if (this._state === 'probe-bw-up') this.probeInflightHiUpward(rs);
  }

  private isTimeToProbeBw(now: number): boolean {
    if (now > this.cycleStamp + this.bwProbeWait || this.isRenoCoexistenceProbeTime()) {
      this.startProbeBwRefill();
      return true;
    }
    return false;
  }

  private pickProbeWait(): void {
    const r = this.random!;
    this.model.roundsSinceBwProbe = r() < 0.5 ? 0 : 1;
    this.bwProbeWait = BBR_PROBE_WAIT_BASE + BBR_PROBE_WAIT_RANDOM * r();
  }

  private isRenoCoexistenceProbeTime(): boolean {
    const renoRounds = this.targetInflight() / this.mds;
    return this.model.roundsSinceBwProbe >= Math.min(renoRounds, BBR_RENO_ROUNDS_MAX);
  }

  private targetInflight(): number {
    const bdp = this.model.bw * this.model.minRtt;
    return Number.isFinite(bdp) && bdp < this.cwnd ? bdp : this.cwnd;
  }

  private isTimeToCruise(): boolean {
    const inFlight = this.c.bytesInFlight;
    if (inFlight > this.inflightWithHeadroom()) return false;
    return inFlight <= this.inflight(this.model.maxBw, 1);
  }

  private isTimeToGoDown(rs: RateSample): boolean {
    const m = this.model;
    if (this.isCwndLimited && this.cwnd >= m.inflightHi) {
      // inflight_hi, not the path, held the rate back: keep probing.
      m.resetFullBw();
      m.fullBw = rs.deliveryRate;
    } else if (m.fullBwNow) {
      return true;
    }
    return false;
  }

  /**
   * Petrel keeps draft-cardwell-iccrg-bbr-congestion-control-02's UP exit besides the plateau: after a
   * min_rtt in UP, more than 1.25 BDP in flight means the probe has already put a quarter BDP in the queue.
   * Waiting three rounds for the plateau instead lets a deep buffer collect most of a BDP.
   */
  private upQueueBuilt(now: number): boolean {
    if (!this.upQueueExit) return false;
    const m = this.model;
    return now > this.cycleStamp + m.minRtt && this.c.bytesInFlight > this.bdpMultiple(BBR_PROBE_UP_PACING_GAIN, m.maxBw);
  }

  private inflightWithHeadroom(): number {
    const hi = this.model.inflightHi;
    if (hi === Infinity) return Infinity;
    const headroom = Math.max(this.mds, BBR_HEADROOM * hi);
    return Math.max(hi - headroom, this.minPipeCwnd);
  }

  private raiseInflightHiSlope(): void {
    const growthPackets = 2 ** this.bwProbeUpRounds;
    this.bwProbeUpRounds = Math.min(this.bwProbeUpRounds + 1, BBR_MAX_PROBE_UP_ROUNDS);
    // Bytes to acknowledge per datagram of inflight_hi growth: growthPackets datagrams per window.
    this.probeUpCnt = Math.max(this.cwnd / growthPackets, this.mds);
  }

  private probeInflightHiUpward(rs: RateSample): void {
    const m = this.model;
    if (!this.isCwndLimited || this.cwnd < m.inflightHi) return;
    this.bwProbeUpAcks += rs.newlyAcked;
    if (this.bwProbeUpAcks >= this.probeUpCnt) {
      const delta = Math.floor(this.bwProbeUpAcks / this.probeUpCnt);
      this.bwProbeUpAcks -= delta * this.probeUpCnt;
      m.inflightHi += delta * this.mds;
    }
    if (m.roundStart) this.raiseInflightHiSlope();
  }

  /** BBRInflightAtLoss: where in this packet the loss rate crossed LossThresh. */
  private inflightAtLoss(size: number, txInFlight: number, lost: number): number {
    const inflightPrev = txInFlight - size;
    const lostPrev = lost - size;
    const lostPrefix = (BBR_LOSS_THRESH * inflightPrev - lostPrev) / (1 - BBR_LOSS_THRESH);
    return inflightPrev + lostPrefix;
  }

  private handleInflightTooHigh(appLimited: boolean, txInFlight: number): void {
    this.bwProbeSamples = false; // once per probe
    const m = this.model;
    if (!appLimited) m.inflightHi = Math.max(txInFlight, this.targetInflight() * BBR_BETA);
    if (this._state === 'probe-bw-up') this.startProbeBwDown();
  }

  // --- ProbeRTT (§5.3.4) ----------------------------------------------------------------------------

  private checkProbeRtt(rs: RateSample, now: number): void {
    const m = this.model;
    if (this._state !== 'probe-rtt' && m.probeRttExpired && !this.idleRestart) {
      this._state = 'probe-rtt';
      this.pacingGain = 1;
      this.cwndGain = BBR_PROBE_RTT_CWND_GAIN;
      this.saveCwnd();
      this.probeRttDoneStamp = NaN;
      this.ackPhase = AckPhase.ProbeStopping;
      m.startRound(this.c.delivered);
    }
    if (this._state === 'probe-rtt') this.handleProbeRtt(now);
    if (rs.delivered > 0) this.idleRestart = false;
  }

  private handleProbeRtt(now: number): void {
    // Low-rate samples during ProbeRTT say nothing about the path.
    this.c.markAppLimited();
    const m = this.model;
    if (Number.isNaN(this.probeRttDoneStamp) && this.c.bytesInFlight <= this.probeRttCwnd()) {
      this.probeRttDoneStamp = now + BBR_PROBE_RTT_DURATION;
      this.probeRttRoundDone = false;
      m.startRound(this.c.delivered);
    } else if (!Number.isNaN(this.probeRttDoneStamp)) {
      if (m.roundStart) this.probeRttRoundDone = true;
      if (this.probeRttRoundDone) this.checkProbeRttDone(now);
    }
  }

  private checkProbeRttDone(now: number): void {
    if (!Number.isNaN(this.probeRttDoneStamp) && now > this.probeRttDoneStamp) {
      this.model.probeRttMinStamp = now; // next ProbeRTT in ProbeRTTInterval
      this.restoreCwnd();
      this.exitProbeRtt();
    }
  }

  private exitProbeRtt(): void {
    this.model.resetShortTermModel();
    if (this.model.fullBwReached) {
      this.startProbeBwDown();
      this.startProbeBwCruise();
    } else {
      this.enterStartup();
    }
  }

  private probeRttCwnd(): number {
    return Math.max(this.bdpMultiple(BBR_PROBE_RTT_CWND_GAIN), this.minPipeCwnd);
  }

  // --- control parameters (§5.6) ------------------------------------------------------------------------

  private initPacingRate(srtt: number): void {
    this.rate = (BBR_STARTUP_PACING_GAIN * this.initialWindow) / (srtt > 0 ? srtt : 1);
  }

  private setPacingRateWithGain(gain: number): void {
    const rate = gain * this.model.bw * (1 - BBR_PACING_MARGIN);
    if (rate > 0 && (this.model.fullBwReached || rate > this.rate)) this.rate = rate;
  }

  /** gain × BDP, or the initial window while there is no RTT sample. */
  private bdpMultiple(gain: number, bw = this.model.bw): number {
    const minRtt = this.model.minRtt;
    if (minRtt === Infinity) return this.initialWindow;
    return gain * bw * minRtt;
  }

  private quantizationBudget(cap: number): number {
    // §5.6.3 send quantum and §5.5.8 offload budget: three quanta in flight.
    let c = Math.max(cap, 3 * this.sendQuantum(), this.minPipeCwnd);
    if (this._state === 'probe-bw-up') c += 2 * this.mds;
    return c;
  }

  /** BBRInflight(bw, gain). */
  private inflight(bw: number, gain: number): number {
    return this.quantizationBudget(this.bdpMultiple(gain, bw));
  }

  private setCwnd(rs: RateSample): void {
    const m = this.model;
    const maxInflight = this.quantizationBudget(this.bdpMultiple(this.cwndGain) + m.extraAcked);
    if (m.fullBwReached) this.cwnd = Math.min(this.cwnd + rs.newlyAcked, maxInflight);
    else if (this.cwnd < maxInflight || this.c.delivered < this.initialWindow) this.cwnd += rs.newlyAcked;
    this.cwnd = Math.max(this.cwnd, this.minPipeCwnd);
    if (this._state === 'probe-rtt') this.cwnd = Math.min(this.cwnd, this.probeRttCwnd());
    this.boundCwndForModel();
  }

  /** BBRBoundCwndForModel (§5.6.4.7): the loss bounds of the current state. */
  private boundCwndForModel(): void {
    const m = this.model;
    let cap = Infinity;
    if (this.isInProbeBw() && this._state !== 'probe-bw-cruise') cap = m.inflightHi;
    else if (this._state === 'probe-rtt' || this._state === 'probe-bw-cruise') cap = this.inflightWithHeadroom();
    cap = Math.min(cap, m.inflightLo);
    cap = Math.max(cap, this.minPipeCwnd);
    if (this.cwnd > cap) this.cwnd = cap;
  }

  private saveCwnd(): void {
    if (!this.inRecovery && this._state !== 'probe-rtt') this.priorCwnd = this.cwnd;
    else this.priorCwnd = Math.max(this.priorCwnd, this.cwnd);
  }

  private restoreCwnd(): void {
    this.cwnd = Math.max(this.cwnd, this.priorCwnd);
  }
}
