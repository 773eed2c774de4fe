/** BBR's windowed filters: the two-cycle max-bw filter and the Nichols windowed max (extra_acked). */
import { describe, expect, it } from 'vitest';
import { MaxBwFilter, WindowedMaxFilter } from '../../lib/congestion/bbr/filters.js';

describe('MaxBwFilter (MaxBwFilterLen = 2 cycles)', () => {
  it('keeps the best of the current and the previous cycle, forgetting older cycles', () => {
    const f = new MaxBwFilter();
    expect(f.value).toBe(0);
    f.update(5);
    f.update(3);
    expect(f.value).toBe(5);
    f.advance(); // 5 is now the previous cycle's
    f.update(4);
    expect(f.value).toBe(5);
    f.advance(); // 5 is two cycles old: gone
    expect(f.value).toBe(4);
    f.advance();
    expect(f.value).toBe(0);
    f.update(7);
    f.reset();
    expect(f.value).toBe(0);
  });
});

describe('WindowedMaxFilter', () => {
  it('a new best replaces everything at once', () => {
    const f = new WindowedMaxFilter();
    f.update(3, 0, 10);
    expect(f.update(9, 1, 10)).toBe(9);
  });

  it('an expired best is replaced by the later sub-window bests it kept', () => {
    // Samples are kept per sub-window: the second best after a quarter window, the third after half of one.
    const f = new WindowedMaxFilter();
    f.update(10, 0, 10);
    f.update(8, 3, 10);
    f.update(6, 9, 10);
    expect(f.value).toBe(10);
    expect(f.update(1, 11, 10)).toBe(8); // 10 (t=0) left the window; 8 (t=3) is the best inside
    expect(f.update(1, 14, 10)).toBe(6); // 8 left too
  });

  it('a sample arriving within the same sub-window as a better one is not kept (the filter is approximate)', () => {
    const f = new WindowedMaxFilter();
    f.update(10, 0, 10);
    f.update(8, 3, 10);
    f.update(6, 7, 10); // too close to 8 (t=3): dropped
    f.update(1, 11, 10);
    expect(f.update(1, 14, 10)).toBe(1);
  });

  it('with nothing left in the window the current sample is the max', () => {
    const f = new WindowedMaxFilter();
    f.update(10, 0, 10);
    expect(f.update(2, 100, 10)).toBe(2);
  });

  it('stays within bounds of a brute-force windowed max on a random walk', () => {
    // Never below the current sample, never above the best of the last window and a quarter, always a real sample.
    let x = 50;
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const f = new WindowedMaxFilter();
    const hist: Array<[number, number]> = [];
    for (let t = 0; t < 2000; t++) {
      x = Math.max(0, x + (rnd() - 0.5) * 10);
      hist.push([t, x]);
      const v = f.update(x, t, 40);
      const loose = Math.max(...hist.filter(([ht]) => t - ht <= 50).map(([, hv]) => hv));
      expect(v).toBeGreaterThanOrEqual(x);
      expect(v).toBeLessThanOrEqual(loose);
      // it is a max of real samples from the window (or the current one)
      expect(hist.some(([ht, hv]) => hv === v && t - ht <= 50)).toBe(true);
    }
  });
});
