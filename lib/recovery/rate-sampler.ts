/**
 * Delivery-rate sampling (draft-ietf-ccwg-bbr §4.1, after draft-cheng-iccrg-delivery-rate-estimation):
 * every in-flight packet carries a snapshot of the connection's delivery state from when it was sent;
 * the newest packet an ACK covers turns that snapshot into one rate sample (bytes delivered over the
 * longer of its send and ACK intervals). Recovery drives it; controllers read the samples.
 *
 * QUIC never acknowledges a packet number twice, so the draft's "already acknowledged" check is not needed,
 * and the ACK of a retransmission is unambiguous (it is a new packet).
 */
import type { DeliveryState, LostPacketInfo, RateSample } from '../congestion/types.js';
import type { SentPacket } from './types.js';

/** The per-ACK sample, reused across ACKs (one per connection, no allocation per ACK). */
class MutableRateSample implements RateSample {
  deliveryRate = 0;
  interval = 0;
  delivered = 0;
  priorDelivered = 0;
  isAppLimited = false;
  rtt = -1;
  newlyAcked = 0;
  newlyLost = 0;
  txInFlight = 0;
  lost = 0;
}

/** The lost-packet view handed to a controller, reused likewise. */
class MutableLostPacket implements LostPacketInfo {
  pn = 0;
  size = 0;
  timeSent = 0;
  txInFlight = 0;
  lostAtSend = 0;
  isAppLimited = false;
}

export class RateSampler implements DeliveryState {
  /** C.delivered, bytes */
  delivered = 0;
  /** C.lost, bytes */
  lost = 0;
  /** C.delivered_time, ms */
  private deliveredTime = 0;
  /** C.first_send_time, ms */
  private firstSentTime = 0;
  /** C.app_limited: the C.delivered value past which samples stop being app-limited; 0 = not app-limited */
  private appLimitedUntil = 0;
  private readonly rs = new MutableRateSample();
  private readonly lostView = new MutableLostPacket();
  // the newest packet acknowledged by the current ACK
  private hasData = false;
  private newestSent = 0;
  private newestPn = -1;
  private sendElapsed = 0;
  private ackElapsed = 0;
  private newestLostAtSend = 0;

  constructor(private readonly inFlight: () => number) {}

  get bytesInFlight(): number {
    return this.inFlight();
  }

  get isAppLimited(): boolean {
    return this.appLimitedUntil !== 0;
  }

  /** MarkConnectionAppLimited(): the bubble lasts until everything now in flight is delivered. */
  markAppLimited(): void {
    const v = this.delivered + this.inFlight();
    this.appLimitedUntil = v > 0 ? v : 1;
  }

  /** OnPacketSent (§4.1.2.2) for an in-flight packet; `inFlightAfter` includes it. */
  onSent(p: SentPacket<unknown>, inFlightAfter: number, now: number): void {
    if (inFlightAfter - p.size <= 0) this.firstSentTime = this.deliveredTime = now;
    p.firstSentTime = this.firstSentTime;
    p.deliveredTime = this.deliveredTime;
    p.delivered = this.delivered;
    p.appLimited = this.appLimitedUntil !== 0;
    p.txInFlight = inFlightAfter;
    p.lostAtSend = this.lost;
  }

  /** InitRateSample: an ACK arrives. */
  beginAck(): void {
    this.hasData = false;
    this.rs.newlyAcked = 0;
    this.rs.newlyLost = 0;
  }

  /** UpdateRateSample for one newly acknowledged in-flight packet. */
  onAcked(p: SentPacket<unknown>, now: number): void {
    this.delivered += p.size;
    this.deliveredTime = now;
    this.rs.newlyAcked += p.size;
    if (p.delivered === undefined) return; // sent before sampling began: counts, but gives no sample
    if (!this.hasData || p.timeSent > this.newestSent || (p.timeSent === this.newestSent && p.pn > this.newestPn)) {
      this.hasData = true;
      this.newestSent = p.timeSent;
      this.newestPn = p.pn;
      const rs = this.rs;
      rs.priorDelivered = p.delivered;
      rs.isAppLimited = p.appLimited === true;
      rs.txInFlight = p.txInFlight!;
      this.newestLostAtSend = p.lostAtSend!;
      this.sendElapsed = p.timeSent - p.firstSentTime!;
      this.ackElapsed = now - p.deliveredTime!;
      this.firstSentTime = p.timeSent;
    }
  }

  /** A packet was declared lost; returns the controller's view of it. */
  onLost(p: SentPacket<unknown>): LostPacketInfo {
    this.lost += p.size;
    this.rs.newlyLost += p.size;
    const v = this.lostView;
    v.pn = p.pn;
    v.size = p.size;
    v.timeSent = p.timeSent;
    v.txInFlight = p.txInFlight ?? 0;
    v.lostAtSend = p.lostAtSend ?? this.lost - p.size;
    v.isAppLimited = p.appLimited === true;
    return v;
  }

  /**
   * GenerateRateSample (§4.1.2.3), or null when the ACK acknowledged nothing sampled. `minRtt` (ms) filters
   * implausibly short intervals; the sample is then returned with deliveryRate 0.
   */
  generate(now: number, minRtt: number): RateSample | null {
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) this.appLimitedUntil = 0;
    if (!this.hasData) return null;
    const rs = this.rs;
    rs.interval = this.sendElapsed > this.ackElapsed ? this.sendElapsed : this.ackElapsed;
    rs.delivered = this.delivered - rs.priorDelivered;
    rs.lost = this.lost - this.newestLostAtSend;
    rs.rtt = now - this.newestSent;
    rs.deliveryRate = rs.interval > 0 && rs.interval >= minRtt ? rs.delivered / rs.interval : 0;
    return rs;
  }
}
