/**
 * Round-trip time estimation (RFC 9002 §5, the RFC 6298 smoothing with QUIC's ack-delay handling).
 * All values are milliseconds. Before the first sample the estimator reports the configured
 * initial RTT (smoothed) and half of it (rttvar), which is what the first PTO is computed from.
 */

/** RFC 9002 §6.2.2: the recommended initial RTT when nothing better is known. */
export const DEFAULT_INITIAL_RTT = 333;
/** RFC 9002 §6.1.2: timer granularity, the floor for loss delay and the PTO variance term. */
export const DEFAULT_GRANULARITY = 1;

export class RttEstimator {
  private initialRtt: number;
  readonly granularity: number;
  private _latest = 0;
  private _min = 0;
  private _smoothed: number;
  private _rttvar: number;
  private _hasSample = false;

  constructor(initialRtt: number = DEFAULT_INITIAL_RTT, granularity: number = DEFAULT_GRANULARITY) {
    this.initialRtt = initialRtt;
    this.granularity = granularity;
    this._smoothed = initialRtt;
    this._rttvar = initialRtt / 2;
  }

  /** Most recent raw sample (0 before the first one). */
  get latest(): number {
    return this._latest;
  }
  /** Minimum raw sample seen on this path (0 before the first one); never adjusted for ack delay. */
  get min(): number {
    return this._min;
  }
  get smoothed(): number {
    return this._smoothed;
  }
  get rttvar(): number {
    return this._rttvar;
  }
  get hasSample(): boolean {
    return this._hasSample;
  }

  /**
   * Feeds one sample. `ackDelay` is the peer-reported delay (ms). It is ignored for the first sample,
   * capped at `maxAckDelay` once the handshake is confirmed, and only subtracted when the result
   * would not fall below min_rtt (so a lying peer cannot push the estimate under the path floor).
   */
  update(latestRtt: number, ackDelay: number, maxAckDelay: number, handshakeConfirmed: boolean): void {
    if (!Number.isFinite(latestRtt)) return;
    const latest = latestRtt < 0 ? 0 : latestRtt;
    this._latest = latest;
    if (!this._hasSample) {
      this._hasSample = true;
      this._min = latest;
      this._smoothed = latest;
      this._rttvar = latest / 2;
      return;
    }
    if (latest < this._min) this._min = latest;
    let delay = ackDelay > 0 ? ackDelay : 0;
    if (handshakeConfirmed && delay > maxAckDelay) delay = maxAckDelay;
    const adjusted = latest >= this._min + delay ? latest - delay : latest;
    this._rttvar = 0.75 * this._rttvar + 0.25 * Math.abs(this._smoothed - adjusted);
    this._smoothed = 0.875 * this._smoothed + 0.125 * adjusted;
  }

  /** PTO base period (before backoff): smoothed + max(4·rttvar, granularity) [+ maxAckDelay]. */
  pto(maxAckDelay: number, includeAckDelay: boolean): number {
    const base = this._smoothed + Math.max(4 * this._rttvar, this.granularity);
    return includeAckDelay ? base + maxAckDelay : base;
  }

  /** Back to the pre-sample state (RFC 9000 §9.4: a new path gets a fresh estimator). */
  resetForNewPath(initialRtt?: number): void {
    if (initialRtt !== undefined) this.initialRtt = initialRtt;
    this._latest = 0;
    this._min = 0;
    this._smoothed = this.initialRtt;
    this._rttvar = this.initialRtt / 2;
    this._hasSample = false;
  }
}
