/**
 * Loss detection and the loss/PTO timer for the three packet-number spaces, following the model of
 * RFC 9002 Appendix A. Sans-IO: the caller reports sends, ACKs and timer expiry with `now` (ms) and
 * acts on what comes back (retransmit lost frames, send probes, close on a bad ACK).
 * Bytes in flight live here; the congestion controller only owns the window.
 */
import type { CongestionController } from '../congestion/types.js';
import { PetrelError } from '../errors.js';
import type { AckRange } from '../wire/frame-types.js';
import { DEFAULT_GRANULARITY, DEFAULT_INITIAL_RTT, RttEstimator } from './rtt.js';
import { SentPacketLog } from './sent-packets.js';
import { RateSampler } from './rate-sampler.js';
import { RangeSet } from './range-set.js';
import type { SentPacket, SpaceId } from './types.js';

export type { SentPacket, SpaceId } from './types.js';

/** RFC 9002 §6.1.1: reordering tolerance in packets. */
export const PACKET_THRESHOLD = 3;
/** Step and ceiling of the time threshold's growth after spurious losses (in RTTs). */
export const TIME_THRESHOLD_STEP = 0.25;
export const MAX_TIME_THRESHOLD = 2;
/** Ceiling of the adapted packet threshold: beyond it the time threshold alone detects loss. */
export const MAX_PACKET_THRESHOLD = 256;
/** RFC 9002 §6.1.2: reordering tolerance as a fraction of the RTT. */
export const TIME_THRESHOLD = 9 / 8;
/** RFC 9002 §7.6.1: PTO periods without any ACK that establish persistent congestion. */
export const PERSISTENT_CONGESTION_THRESHOLD = 3;
/** Cap on PTO doublings (2^16 × PTO: practically the RFC's unbounded backoff; the idle timeout ends it first). */
export const DEFAULT_MAX_PTO_BACKOFF = 16;

export interface RecoveryConfig {
  /** ms, default 333 */
  initialRtt?: number;
  /** the peer's max_ack_delay transport parameter, ms */
  maxAckDelay: number;
  packetThreshold?: number;
  timeThreshold?: number;
  /** ms, default 1 */
  granularity?: number;
  persistentCongestionThreshold?: number;
  /** maximum exponent of the PTO backoff (the PTO stops doubling after this many consecutive PTOs) */
  maxPtoBackoff?: number;
  /** A server always treats the client as having validated its address (RFC 9002 A.6); default false. */
  isServer?: boolean;
  /**
   * Longest a backed-off PTO may get, ms (default Infinity). The connection sets it to an eighth of the idle
   * timeout, so a lossy path gets several probe rounds before the idle timer can fire.
   */
  maxPtoPeriod?: number;
  /**
   * The carrier underneath is reliable and ordered (a WebSocket over TCP): it retransmits and controls
   * congestion itself. No loss detection, no PTO probes, no congestion window (ACKs still free send buffers
   * and sample the RTT). Default false.
   */
  reliableCarrier?: boolean;
}

export interface AckResult<F> {
  /** newly acknowledged packets, ascending pn */
  acked: SentPacket<F>[];
  /** packets declared lost by this ACK, ascending pn (includes non-in-flight ACK-only packets) */
  lost: SentPacket<F>[];
  /** set when the ACK covers a pn never sent in that space: close with PROTOCOL_VIOLATION */
  error?: string;
  largestNewlyAcked?: SentPacket<F>;
}

export interface ProbeRequest {
  space: SpaceId;
  count: 1 | 2;
}

export interface TimeoutResult<F> {
  lost: SentPacket<F>[];
  probe: ProbeRequest | null;
}

export interface RecoveryStats {
  /** in-flight packets declared lost (PMTU probes excluded) */
  packetsLost: number;
  bytesLost: number;
  /** packets declared lost and acknowledged afterwards */
  spuriousLosses: number;
  /** Congestion events undone because every loss behind them was spurious. */
  spuriousCongestionEvents: number;
  /** PTO expirations over the connection's life */
  ptoCount: number;
  /** congestion events that started a new recovery period */
  congestionEvents: number;
  persistentCongestionEvents: number;
}

interface SpaceState<F> {
  readonly log: SentPacketLog<F>;
  largestAcked: number;
  /** when the earliest not-yet-lost packet below largestAcked crosses the time threshold; Infinity = none */
  lossTime: number;
  lastAckElicitingTime: number;
  discarded: boolean;
  /** packets below this pn were sent on a previous path: no RTT samples, no window changes from them */
  pathStartPn: number;
}

/** Length of one delivery-rate max-filter window, in smoothed RTTs (bdpEstimate). */
export const RATE_WINDOW_RTTS = 8;

const NO_LOSS = { packets: [] as never[], persistent: false };

export class Recovery<F = unknown> {
  readonly rtt: RttEstimator;
  readonly cc: CongestionController;
  /** Delivery-rate sampling (per sent packet, per ACK) for controllers that take rate samples. */
  readonly rateSampler: RateSampler;
  /** cc.onRateSample / cc.onPacketLost, looked up once (loss-based controllers have neither). */
  private readonly sampling: boolean;
  readonly stats: RecoveryStats = {
    packetsLost: 0,
    bytesLost: 0,
    spuriousLosses: 0,
    spuriousCongestionEvents: 0,
    ptoCount: 0,
    congestionEvents: 0,
    persistentCongestionEvents: 0,
  };

  private readonly initialRtt: number;
  /** Raised when reordering makes packet-threshold losses spurious (RACK-style adaptation, RFC 9002 §6.1.1). */
  private packetThreshold: number;
  private readonly basePacketThreshold: number;
  /** The lost packets of the congestion event that started the current recovery period, still unacknowledged. */
  private lastEvent: { space: SpaceId; lost: RangeSet; remaining: number } | null = null;
  /** Grows (up to MAX_TIME_THRESHOLD) when time-threshold losses turn out spurious. */
  private timeThreshold: number;
  private readonly baseTimeThreshold: number;
  private readonly granularity: number;
  private readonly pcThreshold: number;
  private readonly maxPtoBackoff: number;
  private readonly reliableCarrier: boolean;
  private maxPtoPeriod: number;
  private maxAckDelay: number;
  private readonly spaces: readonly [SpaceState<F>, SpaceState<F>, SpaceState<F>];
  private _ptoCount = 0;
  private handshakeConfirmed = false;
  private peerValidatedAddress: boolean;
  private hasHandshakeKeys = false;
  private amplificationLimited = false;
  private appLimited = false;
  /** when the first RTT sample on the current path was taken; persistent congestion only counts packets sent after it */
  private firstRttSampleTime: number | null = null;
  /** `now` of the last event that would re-arm the RFC's timer (base of the anti-deadlock PTO) */
  private timerAnchor: number | null = null;
  /**
   * Highest delivery rate (bytes/ms) sampled in the current and the previous window of RATE_WINDOW_RTTS
   * smoothed RTTs: a max filter, so a pause (an app-limited moment) does not shrink what the path proved it
   * carries until two windows have passed without it.
   */
  private rateMax = 0;
  private ratePrevMax = 0;
  private rateWindowEnd = -Infinity;

  constructor(cfg: RecoveryConfig, cc: CongestionController) {
    this.initialRtt = cfg.initialRtt ?? DEFAULT_INITIAL_RTT;
    this.granularity = cfg.granularity ?? DEFAULT_GRANULARITY;
    this.packetThreshold = cfg.packetThreshold ?? PACKET_THRESHOLD;
    this.basePacketThreshold = this.packetThreshold;
    this.timeThreshold = cfg.timeThreshold ?? TIME_THRESHOLD;
    this.baseTimeThreshold = this.timeThreshold;
    this.pcThreshold = cfg.persistentCongestionThreshold ?? PERSISTENT_CONGESTION_THRESHOLD;
    this.maxPtoBackoff = cfg.maxPtoBackoff ?? DEFAULT_MAX_PTO_BACKOFF;
    this.reliableCarrier = cfg.reliableCarrier ?? false;
    this.maxPtoPeriod = cfg.maxPtoPeriod ?? Infinity;
    this.maxAckDelay = cfg.maxAckDelay;
    this.peerValidatedAddress = cfg.isServer ?? false;
    this.rtt = new RttEstimator(this.initialRtt, this.granularity);
    this.cc = cc;
    this.rateSampler = new RateSampler(() => this.bytesInFlight);
    this.sampling = cc.onRateSample !== undefined || cc.onPacketLost !== undefined;
    cc.bindDeliveryState?.(this.rateSampler);
    const mk = (): SpaceState<F> => ({
      log: new SentPacketLog<F>(),
      largestAcked: -1,
      lossTime: Infinity,
      lastAckElicitingTime: -Infinity,
      discarded: false,
      pathStartPn: 0,
    });
    this.spaces = [mk(), mk(), mk()];
  }

  get bytesInFlight(): number {
    const s = this.spaces;
    return s[0].log.bytesInFlight + s[1].log.bytesInFlight + s[2].log.bytesInFlight;
  }

  /** Consecutive PTOs without an acknowledgment (the backoff exponent). */
  get ptoCount(): number {
    return this._ptoCount;
  }

  get isHandshakeConfirmed(): boolean {
    return this.handshakeConfirmed;
  }

  get peerCompletedAddressValidation(): boolean {
    return this.peerValidatedAddress;
  }

  /** Largest pn the peer acknowledged in the space, -1 if none (packet-number encoding needs it). */
  largestAcked(space: SpaceId): number {
    return this.spaces[space].largestAcked;
  }

  /** Largest pn sent in the space, -1 if none. */
  largestSent(space: SpaceId): number {
    return this.spaces[space].log.largestSent;
  }

  isDiscarded(space: SpaceId): boolean {
    return this.spaces[space].discarded;
  }

  /** Ack-eliciting packets in flight, all spaces. */
  get ackElicitingInFlight(): number {
    const s = this.spaces;
    return s[0].log.ackElicitingInFlight + s[1].log.ackElicitingInFlight + s[2].log.ackElicitingInFlight;
  }

  onPacketSent(p: SentPacket<F>, now: number): void {
    const s = this.spaces[p.space];
    if (s.discarded) throw new PetrelError('INVALID_STATE', `packet sent in discarded space ${p.space}`);
    s.log.add(p);
    if (p.inFlight) {
      if (p.ackEliciting) s.lastAckElicitingTime = p.timeSent;
      const inFlight = this.bytesInFlight;
      this.rateSampler.onSent(p, inFlight, now);
      this.cc.onPacketSent(p.size, now, inFlight);
      this.timerAnchor = now;
    }
  }

  onAckReceived(space: SpaceId, ranges: readonly AckRange[], ackDelay: number, now: number): AckResult<F> {
    const s = this.spaces[space];
    const acked: SentPacket<F>[] = [];
    if (s.discarded || ranges.length === 0) return { acked, lost: [] };

    let largest = -1;
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (!(r.smallest >= 0 && r.smallest <= r.largest)) return { acked, lost: [], error: 'malformed ACK range' };
      if (s.log.anyNeverSent(r.smallest, r.largest)) {
        return { acked, lost: [], error: `ACK of a packet never sent in space ${space} (${r.smallest}..${r.largest})` };
      }
      if (r.largest > largest) largest = r.largest;
    }
    if (largest > s.largestAcked) s.largestAcked = largest;
    this.rateSampler.beginAck();
    // A client knows the server validated its address once a Handshake packet is acknowledged.
    if (space === 1) this.peerValidatedAddress = true;

    // Walk ranges lowest first so `acked` comes out ascending; only pns still in the log cost anything.
    let largestNewly: SentPacket<F> | undefined;
    let anyAckEliciting = false;
    for (let i = ranges.length - 1; i >= 0; i--) {
      const r = ranges[i]!;
      const lateSmallest = s.log.smallestDeclaredLost(r.smallest, r.largest);
      const spurious = lateSmallest < 0 ? 0 : s.log.takeDeclaredLost(r.smallest, r.largest);
      if (spurious > 0) {
        this.stats.spuriousLosses += spurious;
        // A packet we called lost arrived after all: it was reordered by (at most) this many packets.
        // Tolerate that much reordering from now on; the time threshold still catches real losses.
        const distance = s.largestAcked - lateSmallest;
        if (distance + 1 > this.packetThreshold) this.packetThreshold = Math.min(distance + 1, MAX_PACKET_THRESHOLD);
        // And more time: a packet late by a fraction of an RTT is reordered, not lost (RACK's reordering window).
        this.timeThreshold = Math.min(this.timeThreshold + TIME_THRESHOLD_STEP, MAX_TIME_THRESHOLD);
        this.checkSpuriousEvent(space, r.smallest, r.largest);
      }
      for (let pn = Math.max(r.smallest, s.log.headPn); pn <= r.largest; pn++) {
        const p = s.log.take(pn);
        if (p === undefined) continue;
        acked.push(p);
        if (p.ackEliciting) anyAckEliciting = true;
        if (largestNewly === undefined || p.pn > largestNewly.pn) largestNewly = p;
      }
    }
    if (largestNewly === undefined) return { acked, lost: [] };

    if (largestNewly.pn === largest && anyAckEliciting && largestNewly.pn >= s.pathStartPn) {
      // RFC 9002 §5.3: Initial and Handshake ACK delays are ignored.
      this.rtt.update(now - largestNewly.timeSent, space === 2 ? ackDelay : 0, this.maxAckDelay, this.handshakeConfirmed);
      if (this.firstRttSampleTime === null) this.firstRttSampleTime = now;
    }

    // Losses first so the window is reduced before acks of pre-recovery packets could grow it.
    const lost = this.reliableCarrier ? NO_LOSS : this.detectLost(space, now);
    if (lost.packets.length > 0) this.onPacketsLost(space, lost.packets, lost.persistent, now);

    let ccAcked: SentPacket<F>[] = acked;
    for (let i = 0; i < acked.length; i++) {
      const p = acked[i]!;
      if (!p.inFlight || p.pn < s.pathStartPn) {
        ccAcked = acked.filter((q) => q.inFlight && q.pn >= s.pathStartPn);
        break;
      }
    }
    if (ccAcked.length > 0) {
      const sampler = this.rateSampler;
      for (let i = 0; i < ccAcked.length; i++) sampler.onAcked(ccAcked[i]!, now);
      const rs = sampler.generate(now, this.rtt.min);
      if (rs !== null) this.noteDeliveryRate(rs.deliveryRate, now);
      this.cc.onPacketsAcked(ccAcked, now, this.rtt, this.appLimited);
      if (rs !== null && this.sampling) this.cc.onRateSample?.(rs, now);
    }

    // A client still unsure the server validated its address keeps backing off (anti-deadlock).
    if (this.peerValidatedAddress) this._ptoCount = 0;
    this.timerAnchor = now;
    return { acked, lost: lost.packets, largestNewlyAcked: largestNewly };
  }

  private noteDeliveryRate(rate: number, now: number): void {
    if (now >= this.rateWindowEnd) {
      this.ratePrevMax = this.rateMax;
      this.rateMax = 0;
      this.rateWindowEnd = now + RATE_WINDOW_RTTS * this.rtt.smoothed;
    }
    if (rate > this.rateMax) this.rateMax = rate;
  }

  /**
   * The bandwidth-delay product the path has shown (bytes): the highest recent delivery rate × the smoothed
   * RTT. 0 before the first rate sample. Buffers sized from it (stream send buffering) keep the path full.
   */
  bdpEstimate(): number {
    return Math.max(this.rateMax, this.ratePrevMax) * this.rtt.smoothed;
  }

  /** When the loss/PTO timer must fire (ms), or null for no timer. */
  lossDetectionDeadline(now?: number): number | null {
    if (this.reliableCarrier) return null;
    const loss = this.earliestLossTime();
    if (loss !== null) return loss.time;
    // A server blocked by the anti-amplification limit cannot send probes anyway (RFC 9002 §6.2.2.1).
    if (this.amplificationLimited) return null;
    const pto = this.ptoTimeAndSpace(now);
    return pto === null ? null : pto.time;
  }

  /** The timer fired. Calls before the deadline are ignored (returns nothing lost and no probe). */
  onLossDetectionTimeout(now: number): TimeoutResult<F> {
    if (this.reliableCarrier) return { lost: [], probe: null };
    const loss = this.earliestLossTime();
    if (loss !== null) {
      if (now < loss.time) return { lost: [], probe: null };
      const lost = this.detectLost(loss.space, now);
      if (lost.packets.length > 0) this.onPacketsLost(loss.space, lost.packets, lost.persistent, now);
      this.timerAnchor = now;
      return { lost: lost.packets, probe: null };
    }
    if (this.amplificationLimited) return { lost: [], probe: null };
    const pto = this.ptoTimeAndSpace(now);
    if (pto === null || now < pto.time) return { lost: [], probe: null };
    this._ptoCount++;
    this.stats.ptoCount++;
    this.timerAnchor = now;
    // Two probes make a single loss less likely to cost another PTO; the anti-deadlock packet only needs to arrive once.
    return { lost: [], probe: { space: pto.space, count: pto.antiDeadlock ? 1 : 2 } };
  }

  discardSpace(space: SpaceId, now: number): SentPacket<F>[] {
    const s = this.spaces[space];
    const dropped = s.log.clear();
    s.discarded = true;
    s.lossTime = Infinity;
    s.lastAckElicitingTime = -Infinity;
    this._ptoCount = 0;
    this.timerAnchor = now;
    return dropped;
  }

  setHandshakeConfirmed(): void {
    this.handshakeConfirmed = true;
    // Confirmation implies the peer has validated our address.
    this.peerValidatedAddress = true;
  }

  setPeerCompletedAddressValidation(v: boolean): void {
    this.peerValidatedAddress = v;
  }

  setHasHandshakeKeys(v: boolean): void {
    this.hasHandshakeKeys = v;
  }

  /** See RecoveryConfig.maxPtoPeriod. */
  setMaxPtoPeriod(ms: number): void {
    this.maxPtoPeriod = ms > 0 ? ms : Infinity;
  }

  setMaxAckDelay(ms: number): void {
    this.maxAckDelay = ms;
  }

  /** Server only: true while the anti-amplification limit blocks sending; the PTO is not armed meanwhile. */
  setAmplificationLimited(v: boolean): void {
    this.amplificationLimited = v;
  }

  /** True while the sender has less to send than the window allows: acknowledgments then do not grow the window. */
  setAppLimited(v: boolean): void {
    this.appLimited = v;
    // The draft's CheckIfApplicationLimited: nothing to send with room in the window starts a bubble.
    if (v) this.rateSampler.markAppLimited();
  }

  sendableBytes(): number {
    if (this.reliableCarrier) return Infinity;
    const n = this.cc.window - this.bytesInFlight;
    return n > 0 ? n : 0;
  }

  *unacked(space: SpaceId): IterableIterator<SentPacket<F>> {
    for (const p of this.spaces[space].log.packets()) if (p.inFlight) yield p;
  }

  /**
   * New path (RFC 9000 §9.4): fresh RTT estimator and congestion state. Packets still outstanding from
   * the old path keep counting in bytes in flight, but their acks and losses no longer feed RTT or window.
   */
  onPathChange(): void {
    this.rtt.resetForNewPath(this.initialRtt);
    this.cc.reset();
    this._ptoCount = 0;
    this.firstRttSampleTime = null;
    this.lastEvent = null;
    this.packetThreshold = this.basePacketThreshold;
    this.timeThreshold = this.baseTimeThreshold;
    for (const s of this.spaces) s.pathStartPn = s.log.largestSent + 1;
  }

  // --- internals -------------------------------------------------------------------------------

  /** RFC 9002 A.10 DetectAndRemoveLostPackets, plus the persistent-congestion test over the run it finds. */
  private detectLost(space: SpaceId, now: number): { packets: SentPacket<F>[]; persistent: boolean } {
    const s = this.spaces[space];
    s.lossTime = Infinity;
    if (s.largestAcked < 0) return { packets: [], persistent: false };
    const rtt = this.rtt;
    const lossDelay = Math.max(this.timeThreshold * Math.max(rtt.latest, rtt.smoothed), this.granularity);
    const pcDuration = rtt.pto(this.maxAckDelay, true) * this.pcThreshold;
    const firstSample = this.firstRttSampleTime;
    const log = s.log;
    const end = Math.min(s.largestAcked, log.largestSent);
    const packets: SentPacket<F>[] = [];
    // Persistent congestion: two ack-eliciting losses more than pcDuration apart with nothing acknowledged between.
    let runActive = false;
    let runStart = 0;
    let persistent = false;
    for (let pn = log.headPn; pn <= end; pn++) {
      const p = log.get(pn);
      if (p === undefined) {
        // A hole is a skipped pn, an earlier loss, or an acknowledged packet; only the last breaks the run.
        if (runActive && !log.isSkipped(pn) && !log.wasDeclaredLost(pn)) runActive = false;
        continue;
      }
      const lostAt = p.timeSent + lossDelay;
      if (lostAt <= now || s.largestAcked >= pn + this.packetThreshold) {
        log.take(pn);
        packets.push(p);
        if (!p.inFlight || p.isPmtuProbe) continue;
        log.markLost(pn);
        if (p.ackEliciting && firstSample !== null && p.timeSent > firstSample) {
          if (!runActive) {
            runActive = true;
            runStart = p.timeSent;
          } else if (p.timeSent - runStart > pcDuration) {
            persistent = true;
          }
        }
      } else if (lostAt < s.lossTime) {
        s.lossTime = lostAt;
      }
    }
    return { packets, persistent };
  }

  /** RFC 9002 A.8/B.8 OnPacketsLost: one congestion event for the batch, then the persistent-congestion collapse. */
  private onPacketsLost(space: SpaceId, lost: readonly SentPacket<F>[], persistent: boolean, now: number): void {
    const pathStart = this.spaces[space].pathStartPn;
    let largestLostTime = -Infinity;
    for (let i = 0; i < lost.length; i++) {
      const p = lost[i]!;
      if (!p.inFlight || p.isPmtuProbe) continue;
      this.stats.packetsLost++;
      this.stats.bytesLost += p.size;
      const info = this.rateSampler.onLost(p);
      if (p.pn < pathStart) continue;
      if (this.sampling) this.cc.onPacketLost?.(info, now);
      if (p.timeSent > largestLostTime) largestLostTime = p.timeSent;
    }
    if (largestLostTime === -Infinity) return;
    if (largestLostTime > this.cc.recoveryStartTime) {
      this.stats.congestionEvents++;
      // Remember which packets this event rests on, so an all-spurious event can be undone.
      const set = new RangeSet();
      let n = 0;
      for (const p of lost) {
        if (!p.inFlight || p.isPmtuProbe) continue;
        n += set.insert(p.pn, p.pn);
      }
      this.lastEvent = { space, lost: set, remaining: n };
    }
    this.cc.onCongestionEvent(largestLostTime, now);
    if (persistent) {
      this.stats.persistentCongestionEvents++;
      this.lastEvent = null; // a collapse is not undone
      this.cc.onPersistentCongestion(now);
    }
  }

  /**
   * Undo (RFC 9438 §4.9 spirit, as Linux does for TCP): when every packet whose loss started the current
   * recovery period turns out to have been delivered, the window reduction was for nothing and the
   * controller restores what it had before it.
   */
  private checkSpuriousEvent(space: SpaceId, lo: number, hi: number): void {
    const ev = this.lastEvent;
    if (!ev || ev.space !== space) return;
    let n = 0;
    for (let i = 0; i < ev.lost.rangeCount; i++) {
      const a = Math.max(lo, ev.lost.startAt(i));
      const b = Math.min(hi, ev.lost.endAt(i));
      if (b >= a) n += b - a + 1;
    }
    if (n === 0) return;
    ev.lost.remove(lo, hi);
    ev.remaining -= n;
    if (ev.remaining <= 0) {
      this.lastEvent = null;
      if (this.cc.onSpuriousCongestionEvent?.()) this.stats.spuriousCongestionEvents++;
    }
  }

  private earliestLossTime(): { time: number; space: SpaceId } | null {
    let best: { time: number; space: SpaceId } | null = null;
    for (let i = 0; i < 3; i++) {
      const t = this.spaces[i]!.lossTime;
      if (t !== Infinity && (best === null || t < best.time)) best = { time: t, space: i as SpaceId };
    }
    return best;
  }

  /** RFC 9002 A.8 GetPtoTimeAndSpace, with the anti-deadlock case made explicit. */
  private ptoTimeAndSpace(now?: number): { time: number; space: SpaceId; antiDeadlock: boolean } | null {
    const backoff = 2 ** Math.min(this._ptoCount, this.maxPtoBackoff);
    const base = this.rtt.pto(0, false);
    // The cap never shortens the first, un-backed-off PTO.
    const cap = Math.max(this.maxPtoPeriod, base);
    const duration = Math.min(base * backoff, cap);
    if (this.ackElicitingInFlight === 0) {
      if (this.peerValidatedAddress) return null;
      // Client anti-deadlock: keep probing so the server gets credit / proof of address.
      const anchor = this.timerAnchor ?? now;
      if (anchor === undefined) return null;
      return { time: anchor + duration, space: this.hasHandshakeKeys ? 1 : 0, antiDeadlock: true };
    }
    let best: { time: number; space: SpaceId; antiDeadlock: boolean } | null = null;
    for (let i = 0; i < 3; i++) {
      const s = this.spaces[i]!;
      if (s.discarded || s.log.ackElicitingInFlight === 0) continue;
      let d = duration;
      if (i === 2) {
        // No application PTO before the handshake is confirmed (RFC 9002 §6.2.1).
        if (!this.handshakeConfirmed) break;
        d = Math.min(d + this.maxAckDelay * backoff, Math.max(cap, base + this.maxAckDelay));
      }
      const t = s.lastAckElicitingTime + d;
      if (best === null || t < best.time) best = { time: t, space: i as SpaceId, antiDeadlock: false };
    }
    return best;
  }
}
