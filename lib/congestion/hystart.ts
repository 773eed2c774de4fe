/**
 * HyStart++ (RFC 9406): leave the initial slow start when the round's minimum RTT rises, before the
 * queue overflows. A rise moves the sender into Conservative Slow Start (CSS, a quarter of the growth);
 * if the RTT falls back below the baseline it resumes slow start, and after CSS_ROUNDS rounds of CSS it
 * hands over to congestion avoidance.
 *
 * Rounds are tracked by send time, which is all the controller sees of an acked packet: a round ends
 * when a packet sent at or after the first send that followed the round's start is acknowledged
 * (RFC 9406's windowEnd = SND.NXT). Pure state machine: no time source, no allocation.
 */

/** RTT samples a round needs before its minimum is trusted. */
export const HYSTART_N_RTT_SAMPLE = 8;
/** Bounds of the RTT-increase threshold, ms. */
export const HYSTART_MIN_RTT_THRESH = 4;
export const HYSTART_MAX_RTT_THRESH = 16;
/** The threshold is lastRoundMinRtt / this, clamped to the bounds above. */
export const HYSTART_MIN_RTT_DIVISOR = 8;
/** Slow-start growth is divided by this during CSS. */
export const HYSTART_CSS_GROWTH_DIVISOR = 4;
/** Rounds spent in CSS before congestion avoidance takes over. */
export const HYSTART_CSS_ROUNDS = 5;

/** 'slow-start': watching for an RTT rise; 'css': conservative slow start; 'done': HyStart++ has no more say. */
export type HyStartPhase = 'slow-start' | 'css' | 'done';

/** RFC 9406 §4.2: max(MIN_RTT_THRESH, min(lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH)). */
export function hystartRttThreshold(lastRoundMinRtt: number): number {
  return Math.max(HYSTART_MIN_RTT_THRESH, Math.min(lastRoundMinRtt / HYSTART_MIN_RTT_DIVISOR, HYSTART_MAX_RTT_THRESH));
}

export class HyStart {
  private _phase: HyStartPhase = 'slow-start';
  private roundStarted = false;
  /** Send time of the first packet sent after the round began; Infinity until that send happens. */
  private roundMarker = Infinity;
  private _rounds = 0;
  private lastRoundMinRtt = Infinity;
  private currentRoundMinRtt = Infinity;
  private sampleCount = 0;
  private cssBaselineMinRtt = Infinity;
  private cssRounds = 0;

  get phase(): HyStartPhase {
    return this._phase;
  }
  /** What slow-start growth is divided by now (1, or CSS_GROWTH_DIVISOR during CSS). */
  get growthDivisor(): number {
    return this._phase === 'css' ? HYSTART_CSS_GROWTH_DIVISOR : 1;
  }
  /** Rounds started so far (diagnostics and tests). */
  get rounds(): number {
    return this._rounds;
  }
  /** Rounds completed in the current CSS episode. */
  get cssRoundCount(): number {
    return this.cssRounds;
  }
  /** Minimum RTT of the round in progress, Infinity if it has no sample yet. */
  get roundMinRtt(): number {
    return this.currentRoundMinRtt;
  }

  onPacketSent(now: number): void {
    if (this.roundStarted && this.roundMarker === Infinity) this.roundMarker = now;
  }

  /**
   * One ACK during slow start. `largestTimeSent` is the newest send time among the packets it newly
   * acknowledges (those that count for the window); `rttSample` the RTT it produced (NaN for none).
   * Returns true when CSS has run its rounds and slow start must end now (the caller sets ssthresh = cwnd).
   */
  onAck(largestTimeSent: number, rttSample: number): boolean {
    if (this._phase === 'done') return false;
    if (!this.roundStarted || largestTimeSent >= this.roundMarker) {
      // The ack that closes a round is the first of the next one.
      if (this._phase === 'css' && ++this.cssRounds >= HYSTART_CSS_ROUNDS) {
        this._phase = 'done';
        return true;
      }
      this.startRound();
    }
    if (!Number.isFinite(rttSample) || rttSample < 0) return false;
    if (rttSample < this.currentRoundMinRtt) this.currentRoundMinRtt = rttSample;
    this.sampleCount++;
    if (this.sampleCount < HYSTART_N_RTT_SAMPLE) return false;
    if (this._phase === 'slow-start') {
      const last = this.lastRoundMinRtt;
      if (last !== Infinity && this.currentRoundMinRtt >= last + hystartRttThreshold(last)) {
        this._phase = 'css';
        this.cssBaselineMinRtt = this.currentRoundMinRtt;
        this.cssRounds = 0;
      }
    } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
      // The rise was jitter, not a queue: back to full slow start.
      this._phase = 'slow-start';
      this.cssBaselineMinRtt = Infinity;
      this.cssRounds = 0;
    }
    return false;
  }

  /** A loss (or the slow start ending some other way): HyStart++ only governs the initial slow start. */
  disable(): void {
    this._phase = 'done';
  }

  /** Undo of a spurious congestion event: resume the phase that disable() cut short. */
  restorePhase(phase: HyStartPhase): void {
    this._phase = phase;
  }

  reset(): void {
    this._phase = 'slow-start';
    this.roundStarted = false;
    this.roundMarker = Infinity;
    this._rounds = 0;
    this.lastRoundMinRtt = Infinity;
    this.currentRoundMinRtt = Infinity;
    this.sampleCount = 0;
    this.cssBaselineMinRtt = Infinity;
    this.cssRounds = 0;
  }

  private startRound(): void {
    this.roundStarted = true;
    this.roundMarker = Infinity;
    this._rounds++;
    this.lastRoundMinRtt = this.currentRoundMinRtt;
    this.currentRoundMinRtt = Infinity;
    this.sampleCount = 0;
  }
}
