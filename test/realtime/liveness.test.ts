import { describe, expect, it } from 'vitest';
import { PeerLiveness } from '../../lib/connection/liveness.js';

describe('PeerLiveness', () => {
  it('is off at 0: no deadline, no keep-alive requirement', () => {
    const l = new PeerLiveness(0, 0);
    expect(l.deadline()).toBe(null);
    expect(l.keepAliveInterval).toBe(Infinity);
    expect(l.onTimeout(1e9)).toBe(null);
  });

  it('an unresponsive report never says less than half the timeout, even where float subtraction rounds down', () => {
    // 1400.1 - 1000.1 is 399.9999999999999 in doubles, though 1400.1 >= 1000.1 + 400 holds.
    const l = new PeerLiveness(800, 1000.1);
    expect(l.onTimeout(1000.1 + 400)).toBe('unresponsive');
    expect(l.silentFor(1000.1 + 400)).toBe(400);
    expect(l.silentFor(1000.1 + 500)).toBeCloseTo(500, 9);
  });

  it('unresponsive at half the timeout, responsive again on any packet, dead at the full timeout', () => {
    const l = new PeerLiveness(1000, 0);
    expect(l.keepAliveInterval).toBe(250);
    expect(l.deadline()).toBe(500);
    expect(l.onTimeout(499)).toBe(null);
    expect(l.onTimeout(500)).toBe('unresponsive');
    expect(l.isUnresponsive).toBe(true);
    expect(l.deadline()).toBe(1000);
    expect(l.onHeard(700)).toBe('responsive');
    expect(l.onHeard(710)).toBe(null);
    expect(l.deadline()).toBe(1210);
    expect(l.onTimeout(1210)).toBe('unresponsive');
    expect(l.onTimeout(1709)).toBe(null);
    expect(l.onTimeout(1710)).toBe('dead');
    expect(l.silentFor(1710)).toBe(1000);
  });
});
