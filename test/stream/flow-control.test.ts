import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import { FLOW_CONTROL_DEFAULTS, RecvWindow, SendCredit, StreamCountWindow } from '../../lib/stream/flow-control.js';

describe('SendCredit', () => {
  it('counts used and available credit', () => {
    const c = new SendCredit(1000);
    c.consume(400);
    expect([c.limit, c.used, c.available]).toEqual([1000, 400, 600]);
    c.consume(600);
    expect(c.available).toBe(0);
    expect(() => c.consume(1)).toThrow(PetrelError);
    expect(c.used).toBe(1000);
  });

  it('ignores decreases and reports growth', () => {
    const c = new SendCredit(1000);
    expect(c.raise(900)).toBe(false);
    expect(c.raise(1000)).toBe(false);
    expect(c.limit).toBe(1000);
    expect(c.raise(1500)).toBe(true);
    expect(c.limit).toBe(1500);
    expect(c.raise(1200)).toBe(false); // a reordered older MAX_DATA
    expect(c.limit).toBe(1500);
  });

  it('reports blocked once per limit', () => {
    const c = new SendCredit(100);
    expect(c.pollBlocked()).toBeNull(); // credit left
    c.consume(100);
    expect(c.pollBlocked()).toBe(100);
    expect(c.pollBlocked()).toBeNull();
    c.raise(200);
    expect(c.pollBlocked()).toBeNull(); // no longer blocked
    c.consume(100);
    expect(c.pollBlocked()).toBe(200);
    expect(c.pollBlocked()).toBeNull();
  });

  it('reports blocked again when the frame carrying it was lost', () => {
    const c = new SendCredit(0);
    expect(c.pollBlocked()).toBe(0);
    c.onBlockedLost(0);
    expect(c.pollBlocked()).toBe(0);
    c.raise(50);
    c.consume(50);
    c.onBlockedLost(0); // stale: the limit moved on
    expect(c.pollBlocked()).toBe(50);
  });
});

describe('RecvWindow', () => {
  it('rejects data beyond the limit', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 4000 });
    expect(w.limit).toBe(1000);
    expect(w.onReceived(1000)).toBe(true);
    expect(w.onReceived(400)).toBe(true); // reordered lower offset
    expect(w.receivedOffset).toBe(1000);
    expect(w.onReceived(1001)).toBe(false);
  });

  it('advertises a new limit once less than half the window is left', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 1000 });
    w.onConsumed(500, 0, 100); // 500 left: exactly half, not less
    expect(w.needsUpdate).toBe(false);
    expect(w.pollUpdate(0, 100)).toBeNull();
    w.onConsumed(501, 0, 100);
    expect(w.needsUpdate).toBe(true);
    expect(w.pollUpdate(0, 100)).toBe(1501);
    expect(w.limit).toBe(1501);
    expect(w.pollUpdate(0, 100)).toBeNull();
    w.onConsumed(400, 0, 100); // going backwards changes nothing
    expect(w.consumedOffset).toBe(501);
  });

  it('doubles the window when updates come less than 2 RTTs apart, up to the cap', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 3000, now: 0 });
    const rtt = 100;
    w.onConsumed(501, 50, rtt); // 50 ms after the initial grant < 200 ms
    expect(w.pollUpdate(50, rtt)).toBe(501 + 2000);
    expect(w.window).toBe(2000);
    // Threshold: limit - consumed < 1000 → consumed > 1501.
    w.onConsumed(1501, 100, rtt);
    expect(w.pollUpdate(100, rtt)).toBeNull();
    w.onConsumed(1502, 100, rtt); // 50 ms after the last update
    expect(w.pollUpdate(100, rtt)).toBe(1502 + 3000); // 4000 capped to 3000
    expect(w.window).toBe(3000);
    // Threshold: consumed > 4502 - 1500 = 3002; slow this time (900 ms since the last update).
    w.onConsumed(3003, 1000, rtt);
    expect(w.pollUpdate(1000, rtt)).toBe(3003 + 3000);
    expect(w.window).toBe(3000);
  });

  it('keeps the window when the reader is slow', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 8000, now: 0 });
    w.onConsumed(600, 500, 100);
    expect(w.pollUpdate(500, 100)).toBe(1600);
    w.onConsumed(1200, 700, 100); // exactly 2 RTTs later: not less, no doubling
    expect(w.pollUpdate(700, 100)).toBe(2200);
    expect(w.window).toBe(1000);
  });

  it('does not tune the first window without a start time', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 8000 });
    w.onConsumed(1000, 1, 100);
    expect(w.pollUpdate(1, 100)).toBe(2000);
    expect(w.window).toBe(1000);
  });

  it('judges auto-tuning at the moment the threshold is crossed, once per update', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 8000, now: 0 });
    w.onConsumed(600, 100, 100); // crossed at 100 ms: fast
    w.onConsumed(700, 150, 100);
    w.onConsumed(800, 190, 100); // more reads in the same epoch: no further doubling
    expect(w.window).toBe(2000);
    expect(w.pollUpdate(900, 100)).toBe(800 + 2000); // polled late: the decision stands, it does not double again
    expect(w.window).toBe(2000);
  });

  it('re-advertises a lost limit, but not a superseded one', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 1000 });
    w.onConsumed(600, 0, 10);
    expect(w.pollUpdate(0, 10)).toBe(1600);
    w.onUpdateLost(1600);
    expect(w.needsUpdate).toBe(true);
    expect(w.pollUpdate(0, 10)).toBe(1600);
    expect(w.needsUpdate).toBe(false);
    w.onConsumed(1200, 0, 10);
    expect(w.pollUpdate(0, 10)).toBe(2200);
    w.onUpdateLost(1600);
    expect(w.needsUpdate).toBe(false);
  });

  it('can raise its window to follow a faster stream', () => {
    const w = new RecvWindow({ initialWindow: 1000, maxWindow: 5000 });
    w.ensureWindow(3000);
    expect(w.window).toBe(3000);
    w.ensureWindow(2000); // never shrinks
    expect(w.window).toBe(3000);
    w.ensureWindow(9000);
    expect(w.window).toBe(5000);
    w.onConsumed(2600, 0, 10); // 1000 - 2600 < 2500 → update to consumed + 5000
    expect(w.pollUpdate(0, 10)).toBe(7600);
  });

  it('has defaults where the connection window covers the stream window', () => {
    expect(FLOW_CONTROL_DEFAULTS.connectionWindow).toBeGreaterThanOrEqual(FLOW_CONTROL_DEFAULTS.streamWindow);
    expect(FLOW_CONTROL_DEFAULTS.maxConnectionWindow).toBe(FLOW_CONTROL_DEFAULTS.maxStreamWindow * 1.5);
  });
});

describe('StreamCountWindow', () => {
  it('allows indices below the limit', () => {
    const s = new StreamCountWindow(16);
    expect(s.limit).toBe(16);
    expect(s.allows(0)).toBe(true);
    expect(s.allows(15)).toBe(true);
    expect(s.allows(16)).toBe(false);
  });

  it('grants more streams once half of the maximum has closed', () => {
    const s = new StreamCountWindow(4); // threshold 2
    s.onClosed();
    expect(s.needsUpdate).toBe(false);
    expect(s.pollUpdate()).toBeNull();
    s.onClosed();
    expect(s.needsUpdate).toBe(true);
    expect(s.pollUpdate()).toBe(6);
    expect(s.allows(5)).toBe(true);
    expect(s.allows(6)).toBe(false);
    expect(s.pollUpdate()).toBeNull();
    s.onUpdateLost(6);
    expect(s.pollUpdate()).toBe(6);
    s.onUpdateLost(5); // never the current value: ignored
    expect(s.pollUpdate()).toBeNull();
    s.onClosed();
    s.onClosed();
    s.onClosed();
    expect(s.pollUpdate()).toBe(9); // 5 closed + 4
  });

  it('rounds the threshold of an odd maximum up', () => {
    const s = new StreamCountWindow(3); // threshold 2
    s.onClosed();
    expect(s.pollUpdate()).toBeNull();
    s.onClosed();
    expect(s.pollUpdate()).toBe(5);
  });

  it('updates on every close when the maximum is small', () => {
    const s = new StreamCountWindow(1);
    expect(s.allows(1)).toBe(false);
    s.onClosed();
    expect(s.pollUpdate()).toBe(2);
  });
});
