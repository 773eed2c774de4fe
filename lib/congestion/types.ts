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
  onPacketSent(bytes: number, now: number): void;
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
}

export interface CongestionConfig {
  maxDatagramSize: number;
  /** Initial window in datagrams (default 10, RFC 9002 §7.2), limited as the RFC limits 10. */
  initialWindowPackets?: number;
  /** Minimum window in datagrams (default 2). */
  minimumWindowPackets?: number;
}

export type CongestionAlgorithm = 'newreno' | 'cubic';
