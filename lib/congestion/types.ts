/**
 * The congestion controller contract the loss-recovery machinery drives (RFC 9002 §7).
 * Bytes in flight are tracked by Recovery, not here: a controller only owns the window.
 */
import type { RttEstimator } from '../recovery/rtt.js';

/** What a controller needs to know about an acknowledged packet. */
export interface AckedPacketInfo {
  readonly size: number;
  readonly timeSent: number;
}

/**
 * Delivery-rate sample of one ACK (draft-ietf-ccwg-bbr §4.1, the RS.* fields). Times in ms, volumes in
 * bytes, rates in bytes per ms. Built by the RateSampler Recovery owns; a controller only reads it.
 */
export interface RateSample {
  /** RS.delivered / RS.interval; 0 when this ACK gives no valid rate (nothing new, or interval < min RTT) */
  readonly deliveryRate: number;
  /** max(send_elapsed, ack_elapsed) of the newest acknowledged packet */
  readonly interval: number;
  /** bytes delivered between the newest acknowledged packet's send and this ACK */
  readonly delivered: number;
  /** C.delivered when the newest acknowledged packet was sent */
  readonly priorDelivered: number;
  /** the newest acknowledged packet was sent while the connection was application-limited */
  readonly isAppLimited: boolean;
  /** RTT of the newest acknowledged packet (now − its send time), -1 when none */
  readonly rtt: number;
  /** bytes newly acknowledged by this ACK */
  readonly newlyAcked: number;
  /** bytes newly declared lost while processing this ACK */
  readonly newlyLost: number;
  /** bytes in flight just after the newest acknowledged packet was sent */
  readonly txInFlight: number;
  /** bytes declared lost between the newest acknowledged packet's send and this ACK */
  readonly lost: number;
}

/** A packet declared lost, with the delivery state recorded when it was sent (per-loss steps, §5.2.4). */
export interface LostPacketInfo {
  /** packet number (adjacent numbers lost together form one loss range) */
  readonly pn: number;
  readonly size: number;
  readonly timeSent: number;
  /** bytes in flight just after it was sent */
  readonly txInFlight: number;
  /** C.lost when it was sent (so C.lost − this is what was lost since) */
  readonly lostAtSend: number;
  readonly isAppLimited: boolean;
}

/** The connection-wide delivery state a model-based controller reads and steers (§4.1.2.1.1). */
export interface DeliveryState {
  /** C.delivered: bytes acknowledged so far (in-flight packets only) */
  readonly delivered: number;
  /** C.lost: bytes declared lost so far */
  readonly lost: number;
  /** C.inflight, all packet-number spaces */
  readonly bytesInFlight: number;
  /** C.app_limited != 0 */
  readonly isAppLimited: boolean;
  /** MarkConnectionAppLimited(): samples until the current flight is acknowledged count as app-limited */
  markAppLimited(): void;
}

export interface CongestionController {
  readonly name: string;
  /** Congestion window in bytes. */
  readonly window: number;
  /** Slow-start threshold in bytes; Infinity until the first congestion event. */
  readonly ssthresh: number;
  readonly inSlowStart: boolean;
  /**
   * Start of the current recovery period (ms); -Infinity when not in recovery.
   * Packets sent at or before it neither grow the window nor cause another reduction.
   */
  readonly recoveryStartTime: number;
  /** `bytesInFlight` is C.inflight just after this packet was sent (all spaces). */
  onPacketSent(bytes: number, now: number, bytesInFlight?: number): void;
  onPacketsAcked(acked: readonly AckedPacketInfo[], now: number, rtt: RttEstimator, appLimited: boolean): void;
  /** One congestion event per recovery period: ignored when largestLostTimeSent <= recoveryStartTime. */
  onCongestionEvent(largestLostTimeSent: number, now: number): void;
  onPersistentCongestion(now: number): void;
  setMaxDatagramSize(bytes: number): void;
  /** Path change: back to the initial state (keeps the current datagram size). */
  reset(): void;
  /**
   * Pacing rate in bytes per ms for the current window and smoothed RTT (Infinity = do not pace).
   * Feed it to a Pacer (pacer.ts) after each ACK.
   */
  pacingRate?(rtt: RttEstimator): number;
  /**
   * The congestion event that started the current recovery period turned out to be spurious (every
   * in-flight packet it declared lost was acknowledged after all): put back the window state it
   * replaced. Returns true if something was restored; only the most recent reduction can be undone,
   * and not after persistent congestion or a reset.
   */
  onSpuriousCongestionEvent?(): boolean;
  /** The most the pacer may release back to back, bytes (BBR's send quantum); default 10 datagrams. */
  sendQuantum?(): number;
  /**
   * Model-based controllers (BBR): Recovery hands over its delivery state once, when it takes the
   * controller. Loss-based controllers leave these three out and see exactly the calls above.
   */
  bindDeliveryState?(state: DeliveryState): void;
  /** Once per ACK that newly acknowledges in-flight packets, after onPacketsAcked and any losses it revealed. */
  onRateSample?(rs: RateSample, now: number): void;
  /** Once per in-flight packet declared lost (PMTU probes excluded), before the batch's onCongestionEvent. */
  onPacketLost?(p: LostPacketInfo, now: number): void;
}

export interface CongestionConfig {
  maxDatagramSize: number;
  /** Initial window in datagrams (default 10, RFC 9002 §7.2), limited as the RFC limits 10. */
  initialWindowPackets?: number;
  /** Minimum window in datagrams (default 2). */
  minimumWindowPackets?: number;
}

export type CongestionAlgorithm = 'newreno' | 'cubic' | 'bbr';
