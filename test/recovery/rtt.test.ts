import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../lib/recovery/rtt.js';

describe('RttEstimator', () => {
  it('starts from the initial RTT (333 ms default) with rttvar = initial / 2', () => {
    const r = new RttEstimator();
    expect(r.hasSample).toBe(false);
    expect(r.smoothed).toBe(333);
    expect(r.rttvar).toBe(166.5);
    expect(r.latest).toBe(0);
    expect(r.min).toBe(0);
    // PTO = 333 + max(4 * 166.5, 1) = 333 + 666 = 999; with max_ack_delay 25: 1024
    expect(r.pto(25, false)).toBe(999);
    expect(r.pto(25, true)).toBe(1024);
  });

  it('first sample sets smoothed = sample, rttvar = sample / 2, min = sample and ignores ack delay', () => {
    const r = new RttEstimator();
    r.update(100, 20, 25, true);
    expect(r.hasSample).toBe(true);
    expect(r.latest).toBe(100);
    expect(r.min).toBe(100);
    expect(r.smoothed).toBe(100);
    expect(r.rttvar).toBe(50);
  });

  it('subsequent samples subtract the ack delay and smooth with 7/8 and 3/4', () => {
    const r = new RttEstimator();
    r.update(100, 0, 25, true);
    // 120 >= min 100 + delay 10, so adjusted = 110
    // rttvar = 3/4·50 + 1/4·|100 − 110| = 37.5 + 2.5 = 40
    // smoothed = 7/8·100 + 1/8·110 = 87.5 + 13.75 = 101.25
    r.update(120, 10, 25, true);
    expect(r.latest).toBe(120);
    expect(r.min).toBe(100);
    expect(r.rttvar).toBe(40);
    expect(r.smoothed).toBe(101.25);
  });

  it('does not subtract an ack delay that would take the sample below min_rtt', () => {
    const r = new RttEstimator();
    r.update(100, 0, 25, true);
    // 105 < 100 + 10: adjusted stays 105
    // rttvar = 37.5 + 1/4·5 = 38.75; smoothed = 87.5 + 105/8 = 87.5 + 13.125 = 100.625
    r.update(105, 10, 25, true);
    expect(r.rttvar).toBe(38.75);
    expect(r.smoothed).toBe(100.625);
  });

  it('caps the ack delay at max_ack_delay only once the handshake is confirmed', () => {
    const confirmed = new RttEstimator();
    confirmed.update(100, 0, 25, true);
    // delay min(100, 25) = 25 → adjusted 175; smoothed = 87.5 + 175/8 = 87.5 + 21.875 = 109.375
    // rttvar = 37.5 + 1/4·75 = 56.25
    confirmed.update(200, 100, 25, true);
    expect(confirmed.smoothed).toBe(109.375);
    expect(confirmed.rttvar).toBe(56.25);

    const early = new RttEstimator();
    early.update(100, 0, 25, false);
    // uncapped delay 100: 200 >= 100 + 100 → adjusted 100; smoothed stays 100, rttvar = 37.5
    early.update(200, 100, 25, false);
    expect(early.smoothed).toBe(100);
    expect(early.rttvar).toBe(37.5);
  });

  it('tracks min RTT from raw samples, not adjusted ones', () => {
    const r = new RttEstimator();
    r.update(100, 0, 25, true);
    r.update(80, 30, 25, true); // new min 80; 80 < 80 + 25 so nothing is subtracted
    expect(r.min).toBe(80);
    r.update(150, 50, 100, true); // adjusted 100, min unchanged
    expect(r.min).toBe(80);
    expect(r.latest).toBe(150);
  });

  it('floors the PTO variance term at the granularity', () => {
    const r = new RttEstimator(333, 10);
    r.update(2, 0, 0, true); // smoothed 2, rttvar 1: 4·1 = 4 < 10
    expect(r.pto(0, false)).toBe(12); // 2 + 10
    expect(r.pto(5, true)).toBe(17);
  });

  it('clamps negative samples to zero', () => {
    const r = new RttEstimator();
    r.update(-5, 0, 25, true);
    expect(r.latest).toBe(0);
    expect(r.min).toBe(0);
  });

  it('resetForNewPath returns to the pre-sample state, optionally with a new initial RTT', () => {
    const r = new RttEstimator(100);
    r.update(40, 0, 25, true);
    r.resetForNewPath();
    expect(r.hasSample).toBe(false);
    expect(r.smoothed).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.min).toBe(0);
    r.resetForNewPath(200);
    expect(r.smoothed).toBe(200);
    expect(r.rttvar).toBe(100);
  });
});
