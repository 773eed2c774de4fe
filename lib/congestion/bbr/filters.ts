/**
 * The two windowed filters of BBR's path model (draft-ietf-ccwg-bbr §5.5.3, §5.5.9).
 */

/**
 * Max filter over the current and the previous ProbeBW cycle (MaxBwFilterLen = 2): one slot per cycle,
 * so advancing a cycle forgets the older slot. Enough for the draft's window of two cycles.
 */
export class MaxBwFilter {
  private cur = 0;
  private prev = 0;

  get value(): number {
    return this.cur > this.prev ? this.cur : this.prev;
  }

  update(sample: number): void {
    if (sample > this.cur) this.cur = sample;
  }

  /** A new ProbeBW cycle starts: the previous cycle's best is forgotten. */
  advance(): void {
    this.prev = this.cur;
    this.cur = 0;
  }

  reset(): void {
    this.cur = 0;
    this.prev = 0;
  }
}

/**
 * Running max over a window of (virtual) time, Kathleen Nichols' three-sample scheme: the best, second-best
 * and third-best samples of successively later sub-windows, so an expiring best is replaced without a history.
 */
export class WindowedMaxFilter {
  private v0 = 0;
  private t0 = 0;
  private v1 = 0;
  private t1 = 0;
  private v2 = 0;
  private t2 = 0;

  get value(): number {
    return this.v0;
  }

  reset(value = 0, time = 0): void {
    this.v0 = this.v1 = this.v2 = value;
    this.t0 = this.t1 = this.t2 = time;
  }

  update(value: number, time: number, window: number): number {
    if (value >= this.v0 || time - this.t2 > window) {
      // A new overall best, or nothing in the window any more: restart from this sample.
      this.reset(value, time);
      return this.v0;
    }
    if (value >= this.v1) {
      this.v1 = this.v2 = value;
      this.t1 = this.t2 = time;
    } else if (value >= this.v2) {
      this.v2 = value;
      this.t2 = time;
    }
    // Expire the best when it is older than the window; promote the later sub-window bests.
    if (time - this.t0 > window) {
      this.v0 = this.v1;
      this.t0 = this.t1;
      this.v1 = this.v2;
      this.t1 = this.t2;
      this.v2 = value;
      this.t2 = time;
      if (time - this.t0 > window) {
        this.v0 = this.v1;
        this.t0 = this.t1;
        this.v1 = this.v2;
        this.t1 = this.t2;
      }
    } else if (this.v1 === this.v0 && time - this.t1 > window / 4) {
      // A quarter window passed without a second-best: take this sample as the second and third.
      this.v1 = this.v2 = value;
      this.t1 = this.t2 = time;
    } else if (this.v2 === this.v1 && time - this.t2 > window / 2) {
      this.v2 = value;
      this.t2 = time;
    }
    return this.v0;
  }
}
