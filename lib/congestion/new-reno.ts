/**
 * NewReno as RFC 9002 §7 / Appendix B describes it: slow start, congestion avoidance with
 * byte counting (exactly one datagram per window of acknowledged bytes), halving once per
 * recovery period, and a collapse to the minimum window on persistent congestion.
 */
import type { RttEstimator } from '../recovery/rtt.js';
import { pacingRateFor } from './pacer.js';
import type { AckedPacketInfo, CongestionConfig, CongestionController } from './types.js';

/** RFC 9002 §7.3.2: the window is multiplied by this on a congestion event. */
export const LOSS_REDUCTION_FACTOR = 0.5;
/** RFC 9002 §7.2: the byte cap on the initial window is 10 × 1472 = 14720 for 10 datagrams. */
const INITIAL_WINDOW_BYTES_PER_PACKET = 1472;

/** min(n·mds, max(n·1472, 2·mds)); n = 10 gives the RFC's min(10·mds, max(14720, 2·mds)). */
export function initialWindowBytes(maxDatagramSize: number, packets = 10): number {
  return Math.min(packets * maxDatagramSize, Math.max(packets * INITIAL_WINDOW_BYTES_PER_PACKET, 2 * maxDatagramSize));
}

export class NewReno implements CongestionController {
  readonly name = 'newreno';
  private mds: number;
  private readonly initialPackets: number;
  private readonly minimumPackets: number;
  private _window: number;
  private _ssthresh = Infinity;
  private _recoveryStart = -Infinity;
  /** Bytes acknowledged in congestion avoidance not yet turned into window growth. */
  private caAcked = 0;
  /** State before the last reduction, for onSpuriousCongestionEvent; NaN window = nothing to undo. */
  private savedWindow = NaN;
  private savedSsthresh = Infinity;
  private savedRecoveryStart = -Infinity;
  private savedCaAcked = 0;

  constructor(cfg: CongestionConfig) {
    this.mds = cfg.maxDatagramSize;
    this.initialPackets = cfg.initialWindowPackets ?? 10;
    this.minimumPackets = cfg.minimumWindowPackets ?? 2;
    this._window = this.initialWindow;
  }

  get window(): number {
    return this._window;
  }
  get ssthresh(): number {
    return this._ssthresh;
  }
  get inSlowStart(): boolean {
    return this._window < this._ssthresh;
  }
  get recoveryStartTime(): number {
    return this._recoveryStart;
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

  onPacketSent(_bytes: number, _now: number): void {
    // NewReno keeps no per-send state; Recovery owns bytes in flight.
  }

  onPacketsAcked(acked: readonly AckedPacketInfo[], _now: number, _rtt: RttEstimator, appLimited: boolean): void {
    // RFC 9002 §7.8: an under-used window says nothing about the path, so it must not grow.
    if (appLimited) return;
    for (let i = 0; i < acked.length; i++) {
      const p = acked[i]!;
      // Acks of packets sent before the current recovery started belong to the old, too-large window.
      if (p.timeSent <= this._recoveryStart) continue;
      if (this._window < this._ssthresh) {
        this._window += p.size;
      } else {
        this.caAcked += p.size;
        while (this.caAcked >= this._window) {
          this.caAcked -= this._window;
          this._window += this.mds;
        }
      }
    }
  }

  onCongestionEvent(largestLostTimeSent: number, now: number): void {
    if (largestLostTimeSent <= this._recoveryStart) return;
    this.savedWindow = this._window;
    this.savedSsthresh = this._ssthresh;
    this.savedRecoveryStart = this._recoveryStart;
    this.savedCaAcked = this.caAcked;
    this._recoveryStart = now;
    this._ssthresh = Math.floor(this._window * LOSS_REDUCTION_FACTOR);
    this._window = Math.max(this._ssthresh, this.minimumWindow);
    this.caAcked = 0;
  }

  onPersistentCongestion(_now: number): void {
    this._window = this.minimumWindow;
    this._recoveryStart = -Infinity;
    this.caAcked = 0;
    this.savedWindow = NaN;
  }

  /** Puts back the window, ssthresh and recovery start the last reduction replaced (once). */
  onSpuriousCongestionEvent(): boolean {
    if (this.savedWindow !== this.savedWindow) return false;
    this._window = Math.max(this.savedWindow, this.minimumWindow);
    this._ssthresh = this.savedSsthresh;
    this._recoveryStart = this.savedRecoveryStart;
    this.caAcked = this.savedCaAcked;
    this.savedWindow = NaN;
    return true;
  }

  pacingRate(rtt: RttEstimator): number {
    return pacingRateFor(this._window, rtt.smoothed, this.inSlowStart);
  }

  setMaxDatagramSize(bytes: number): void {
    this.mds = bytes;
    if (this._window < this.minimumWindow) this._window = this.minimumWindow;
  }

  reset(): void {
    this._window = this.initialWindow;
    this._ssthresh = Infinity;
    this._recoveryStart = -Infinity;
    this.caAcked = 0;
    this.savedWindow = NaN;
  }
}
