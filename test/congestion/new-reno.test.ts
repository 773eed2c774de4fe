import { describe, expect, it } from 'vitest';
import { createCongestionController, initialWindowBytes, NewReno } from '../../lib/congestion/index.js';
import { RttEstimator } from '../../lib/recovery/rtt.js';

const rtt = new RttEstimator();
const MDS = 1200;
const pkts = (n: number, size: number, timeSent: number) => Array.from({ length: n }, () => ({ size, timeSent }));

describe('NewReno', () => {
  it('initial window is min(10·mds, max(14720, 2·mds)), minimum 2·mds', () => {
    expect(initialWindowBytes(1200)).toBe(12000); // min(12000, 14720)
    expect(initialWindowBytes(1500)).toBe(14720); // min(15000, max(14720, 3000))
    expect(initialWindowBytes(9000)).toBe(18000); // min(90000, max(14720, 18000))
    const cc = new NewReno({ maxDatagramSize: MDS });
    expect(cc.window).toBe(12000);
    expect(cc.ssthresh).toBe(Infinity);
    expect(cc.inSlowStart).toBe(true);
    expect(cc.minimumWindow).toBe(2400);
    expect(new NewReno({ maxDatagramSize: MDS, initialWindowPackets: 4, minimumWindowPackets: 3 }).window).toBe(4800);
  });

  it('slow start grows the window by the acknowledged bytes', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onPacketsAcked(pkts(5, 1200, 0), 10, rtt, false);
    expect(cc.window).toBe(18000); // 12000 + 5·1200
    expect(cc.inSlowStart).toBe(true);
  });

  it('halves once per recovery period', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onPacketsAcked(pkts(5, 1200, 0), 10, rtt, false); // 18000
    cc.onCongestionEvent(10, 100);
    expect(cc.ssthresh).toBe(9000); // 18000 · 0.5
    expect(cc.window).toBe(9000);
    expect(cc.recoveryStartTime).toBe(100);
    expect(cc.inSlowStart).toBe(false);
    cc.onCongestionEvent(50, 150); // sent before recovery started at 100: same period
    cc.onCongestionEvent(100, 160); // sent exactly at the start: still the same period
    expect(cc.window).toBe(9000);
    cc.onCongestionEvent(120, 200); // sent after: a new event
    expect(cc.window).toBe(4500);
    expect(cc.ssthresh).toBe(4500);
    cc.onCongestionEvent(300, 400); // 2250 < minimum 2400
    expect(cc.ssthresh).toBe(2250);
    expect(cc.window).toBe(2400);
  });

  it('does not grow for packets sent before the recovery period started', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onCongestionEvent(0, 100); // window 6000
    cc.onPacketsAcked(pkts(3, 1200, 100), 110, rtt, false);
    expect(cc.window).toBe(6000);
    cc.onPacketsAcked(pkts(1, 1200, 101), 120, rtt, false);
    expect(cc.window).toBe(6000); // CA: 1200 acked < 6000, no step yet
  });

  it('congestion avoidance adds exactly one mds per window of acknowledged bytes', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onPacketsAcked(pkts(5, 1200, 0), 10, rtt, false); // 18000
    cc.onCongestionEvent(0, 100); // ssthresh = window = 9000
    // 8 × 1000 = 8000 bytes < 9000: no growth yet
    cc.onPacketsAcked(pkts(8, 1000, 150), 200, rtt, false);
    expect(cc.window).toBe(9000);
    // the 9th brings the count to 9000 = one window: +1200
    cc.onPacketsAcked(pkts(1, 1000, 150), 201, rtt, false);
    expect(cc.window).toBe(10200);
    // next step needs a full 10200 more bytes
    cc.onPacketsAcked(pkts(10, 1000, 150), 202, rtt, false);
    expect(cc.window).toBe(10200);
    cc.onPacketsAcked(pkts(1, 200, 150), 203, rtt, false);
    expect(cc.window).toBe(11400);
  });

  it('app-limited acks never grow the window', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onPacketsAcked(pkts(10, 1200, 0), 10, rtt, true);
    expect(cc.window).toBe(12000);
    cc.onCongestionEvent(0, 20); // 6000, congestion avoidance
    cc.onPacketsAcked(pkts(20, 1200, 30), 40, rtt, true);
    expect(cc.window).toBe(6000);
  });

  it('persistent congestion collapses to the minimum window and ends the recovery period', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onCongestionEvent(10, 100); // 6000
    cc.onPersistentCongestion(100);
    expect(cc.window).toBe(2400);
    expect(cc.ssthresh).toBe(6000);
    expect(cc.recoveryStartTime).toBe(-Infinity);
    // a packet sent before 100 grows the window again (slow start below ssthresh)
    cc.onPacketsAcked(pkts(1, 1200, 50), 150, rtt, false);
    expect(cc.window).toBe(3600);
    // and a later loss is a new congestion event: 3600 · 0.5 = 1800 → floor 2400
    cc.onCongestionEvent(60, 160);
    expect(cc.ssthresh).toBe(1800);
    expect(cc.window).toBe(2400);
  });

  it('setMaxDatagramSize raises the minimum window; reset restores the initial state', () => {
    const cc = new NewReno({ maxDatagramSize: MDS });
    cc.onCongestionEvent(0, 1);
    cc.onPersistentCongestion(1); // 2400
    cc.setMaxDatagramSize(1500);
    expect(cc.window).toBe(3000); // lifted to 2·1500
    cc.reset();
    expect(cc.window).toBe(14720); // min(15000, 14720)
    expect(cc.ssthresh).toBe(Infinity);
    expect(cc.recoveryStartTime).toBe(-Infinity);
  });

  it('createCongestionController builds NewReno', () => {
    const cc = createCongestionController('newreno', { maxDatagramSize: MDS });
    expect(cc.name).toBe('newreno');
    expect(cc.window).toBe(12000);
    expect(() => createCongestionController('bogus' as 'newreno', { maxDatagramSize: MDS })).toThrow();
  });
});
