/**
 * BBRv3 state by state with the draft's numbers (draft-ietf-ccwg-bbr): Startup gains and the full-pipe
 * estimator, Drain, the ProbeBW cycle, ProbeRTT, the loss bounds, and Petrel's random-loss filter.
 * Rates are bytes/ms; the harness's bandwidth is 1000 B/ms with a 100 ms RTT, so one BDP is 100 000 bytes.
 */
import { describe, expect, it } from 'vitest';
import { Bbr } from '../../lib/congestion/bbr/bbr.js';
import { createCongestionController } from '../../lib/congestion/index.js';
import {
  BBR_DRAIN_PACING_GAIN,
  BBR_PROBE_DOWN_PACING_GAIN,
  BBR_PROBE_UP_CWND_GAIN,
  BBR_PROBE_UP_PACING_GAIN,
  BBR_STARTUP_PACING_GAIN,
} from '../../lib/congestion/bbr/constants.js';
import { Harness, MDS } from './bbr-harness.js';

const BW = 1000;
const BDP = BW * 100;

/** A harness driven through Startup and Drain into ProbeBW_CRUISE at bandwidth BW. */
function cruising(cfg: ConstructorParameters<typeof Harness>[0] = {}): Harness {
  const h = new Harness(cfg);
  h.fillPipe(BW);
  h.ack({ rate: BW, inFlight: BDP });
  expect(h.bbr.state).toBe('probe-bw-cruise');
  return h;
}

describe('BBR: Startup', () => {
  it('starts with pacing gain 4·ln 2 ≈ 2.77, cwnd gain 2, the initial window and no ssthresh', () => {
    const h = new Harness();
    const b = h.bbr;
    expect(b.name).toBe('bbr');
    expect(b.state).toBe('startup');
    expect(b.pacingGainNow).toBeCloseTo(2.77, 2);
    expect(BBR_STARTUP_PACING_GAIN).toBeCloseTo(4 * Math.log(2), 12);
    expect(b.cwndGainNow).toBe(2);
    expect(b.window).toBe(10 * MDS);
    expect(b.ssthresh).toBe(Infinity);
    expect(b.inSlowStart).toBe(true);
    expect(createCongestionController('bbr', { maxDatagramSize: MDS })).toBeInstanceOf(Bbr);
  });

  it('initial pacing rate = StartupPacingGain × initial window / first smoothed RTT; it then follows 2.77 × bw × 0.99', () => {
    const h = new Harness();
    h.ack({ rtt: 100 }); // no rate sample yet
    expect(h.bbr.pacingRate(h.rtt)).toBeCloseTo((BBR_STARTUP_PACING_GAIN * 12_000) / 100, 9);
    h.ack({ rate: 500 });
    expect(h.bbr.pacingRate(h.rtt)).toBeCloseTo(BBR_STARTUP_PACING_GAIN * 500 * 0.99, 9);
    // Before the pipe is full the rate never falls.
    h.ack({ rate: 600 * 1.25 });
    const r = h.bbr.pacingRate(h.rtt);
    h.ack({ rate: 100 });
    expect(h.bbr.pacingRate(h.rtt)).toBe(r);
  });

  it('grows the window by what each ACK delivers while below gain × BDP', () => {
    const h = new Harness();
    h.ack({ rate: 100 });
    expect(h.bbr.window).toBe(20 * MDS);
    h.ack({ rate: 200 });
    expect(h.bbr.window).toBe(30 * MDS);
  });

  it('declares the pipe full after three rounds without 25 % growth, then drains at gain 0.35', () => {
    const h = new Harness();
    for (const r of [100, 200, 400, 800]) h.ack({ rate: r, inFlight: 200_000 });
    expect(h.bbr.model.fullBw).toBe(800);
    // < 1.25 × 800 = 1000 three times
    h.ack({ rate: 990, inFlight: 200_000 });
    h.ack({ rate: 999, inFlight: 200_000 });
    expect(h.bbr.state).toBe('startup');
    expect(h.bbr.model.fullBwCount).toBe(2);
    h.ack({ rate: 999, inFlight: 200_000 });
    expect(h.bbr.model.fullBwReached).toBe(true);
    expect(h.bbr.state).toBe('drain');
    expect(h.bbr.pacingGainNow).toBe(BBR_DRAIN_PACING_GAIN);
    expect(h.bbr.cwndGainNow).toBe(2);
  });

  it('exactly 25 % growth restarts the count; app-limited rounds do not count', () => {
    const h = new Harness();
    h.ack({ rate: 800 });
    h.ack({ rate: 900 });
    h.ack({ rate: 900 });
    h.ack({ rate: 1000 }); // 1.25 × 800: still growing
    expect(h.bbr.model.fullBw).toBe(1000);
    expect(h.bbr.model.fullBwCount).toBe(0);
    for (let i = 0; i < 5; i++) h.ack({ rate: 1000, appLimited: true });
    expect(h.bbr.model.fullBwCount).toBe(0);
    expect(h.bbr.state).toBe('startup');
  });

  it('exits on high loss: at the end of a loss round in recovery, > 2 % lost in at least 6 separate ranges', () => {
    const h = new Harness({ randomLossFilter: false });
    h.ack({ rate: 100 });
    h.ack({ rate: 200 });
    const lose = (pns: number[]) => {
      for (const pn of pns) {
        h.c.lost += MDS;
        h.bbr.onPacketLost({ pn, size: MDS, timeSent: h.now - 50, txInFlight: 50_000, lostAtSend: 0, isAppLimited: false });
      }
      h.bbr.onCongestionEvent(h.now - 1, h.now);
    };
    lose([10, 12, 14, 16, 18]); // five ranges are not enough
    expect(h.bbr.inLossRecovery).toBe(true);
    h.ack({ rate: 400 });
    expect(h.bbr.state).toBe('startup');
    lose([30, 31, 33, 35, 37, 39, 41]);
    expect(h.bbr.model.lossEventsInRound).toBe(6); // 30-31 is one range
    h.ack({ rate: 700, inFlight: 200_000, txInFlight: 30_000 });
    expect(h.bbr.model.fullBwReached).toBe(true);
    expect(h.bbr.state).toBe('drain');
    // inflight_hi = max(BDP (bw 400 × 100 ms), inflight_latest (one ACK's 12 000))
    expect(h.bbr.model.inflightHi).toBe(40_000);
  });

  it('losses at or below 2 % of the round do not end Startup, however many ranges', () => {
    const h = new Harness({ randomLossFilter: false });
    h.ack({ rate: 100, newlyAcked: 600 * MDS });
    h.ack({ rate: 200, newlyAcked: 600 * MDS });
    for (let i = 0; i < 8; i++) {
      h.c.lost += MDS;
      h.bbr.onPacketLost({ pn: 100 + 2 * i, size: MDS, timeSent: h.now - 50, txInFlight: 50_000, lostAtSend: 0, isAppLimited: false });
    }
    h.bbr.onCongestionEvent(h.now - 1, h.now);
    // 8 × 1200 lost beside 600 × 1200 delivered: 1.3 %
    h.ack({ rate: 400, newlyAcked: 600 * MDS });
    expect(h.bbr.state).toBe('startup');
  });
});

describe('BBR: Drain and ProbeBW', () => {
  it('Drain holds until in flight ≤ BDP, then ProbeBW (straight to CRUISE when the queue is already gone)', () => {
    const h = new Harness();
    h.fillPipe(BW);
    expect(h.bbr.state).toBe('drain');
    h.ack({ rate: BW, inFlight: BDP + 20_000 });
    expect(h.bbr.state).toBe('drain');
    h.ack({ rate: BW, inFlight: BDP });
    expect(h.bbr.state).toBe('probe-bw-cruise');
    expect(h.bbr.pacingGainNow).toBe(1);
    expect(h.bbr.pacingRate(h.rtt)).toBeCloseTo(BW * 0.99, 9);
  });

  it('cycles CRUISE → REFILL (after the 2 s probe wait) → UP (after one round) → DOWN (plateau) → CRUISE', () => {
    const h = cruising({ upQueueExit: false });
    const b = h.bbr;
    const start = h.now;
    while (h.now + 100 <= start + 2000) {
      h.ack({ rate: BW, inFlight: BDP });
      expect(b.state).toBe('probe-bw-cruise');
    }
    h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).toBe('probe-bw-refill');
    expect(b.pacingGainNow).toBe(1);
    expect(b.model.bwLo).toBe(Infinity);
    h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).toBe('probe-bw-up');
    expect(b.pacingGainNow).toBe(BBR_PROBE_UP_PACING_GAIN);
    expect(b.cwndGainNow).toBe(BBR_PROBE_UP_CWND_GAIN);
    expect(b.pacingRate(h.rtt)).toBeCloseTo(1.25 * BW * 0.99, 9);
    // No growth for three rounds: the plateau ends the probe.
    h.ack({ rate: BW, inFlight: 1.2 * BDP });
    h.ack({ rate: BW, inFlight: 1.2 * BDP });
    expect(b.state).toBe('probe-bw-up');
    h.ack({ rate: BW, inFlight: 1.2 * BDP });
    expect(b.state).toBe('probe-bw-down');
    expect(b.pacingGainNow).toBe(BBR_PROBE_DOWN_PACING_GAIN);
    h.ack({ rate: BW, inFlight: 1.1 * BDP });
    expect(b.state).toBe('probe-bw-down');
    h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).toBe('probe-bw-cruise');
  });

  it("UP also ends once 1.25 BDP is in flight after a min_rtt (Petrel keeps draft-02's exit)", () => {
    const h = cruising();
    const b = h.bbr;
    for (let i = 0; i < 30 && b.state !== 'probe-bw-up'; i++) h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).toBe('probe-bw-up');
    h.ack({ rate: BW, inFlight: 1.25 * BDP - 1, dt: 50 });
    expect(b.state).toBe('probe-bw-up');
    h.ack({ rate: BW, inFlight: 1.25 * BDP + 1, dt: 10, roundStart: false });
    expect(b.state).toBe('probe-bw-up'); // not yet a min_rtt in UP
    h.ack({ rate: BW, inFlight: 1.25 * BDP + 1, dt: 50, roundStart: false });
    expect(b.state).toBe('probe-bw-down');
  });

  it('the max-bw filter spans two cycles: a lower cycle keeps the old max until its own probe is over', () => {
    const h = cruising({ upQueueExit: false });
    const b = h.bbr;
    for (let i = 0; i < 5; i++) h.ack({ rate: 600, inFlight: BDP });
    expect(b.state).toBe('probe-bw-cruise');
    expect(b.model.maxBw).toBe(BW); // the previous cycle's 1000 is remembered
    for (let i = 0; i < 60 && b.state === 'probe-bw-cruise'; i++) h.ack({ rate: 600, inFlight: BDP });
    for (let i = 0; i < 10 && b.state !== 'probe-bw-down'; i++) h.ack({ rate: 600, inFlight: BDP });
    expect(b.state).toBe('probe-bw-down');
    expect(b.model.maxBw).toBe(BW);
    h.ack({ rate: 600, inFlight: BDP }); // a round after the probe: the filter advances
    expect(b.model.maxBw).toBe(600);
  });

  it('the Reno-coexistence bound probes after min(BDP in datagrams, 63) rounds when that comes first', () => {
    // BDP of 20 datagrams at 10 ms RTT: 20 rounds are 200 ms, long before the 2 s wall-clock wait.
    const h = new Harness();
    const bw = (20 * MDS) / 10;
    h.fillPipe(bw, 10);
    h.ack({ rate: bw, rtt: 10, inFlight: 20 * MDS });
    expect(h.bbr.state).toBe('probe-bw-cruise');
    let rounds = 0;
    while (h.bbr.state === 'probe-bw-cruise' && rounds < 100) {
      h.ack({ rate: bw, rtt: 10, inFlight: 20 * MDS });
      rounds++;
    }
    expect(h.bbr.state).toBe('probe-bw-refill');
    expect(rounds).toBeGreaterThanOrEqual(19);
    expect(rounds).toBeLessThanOrEqual(21);
  });
});

describe('BBR: ProbeRTT', () => {
  it('enters after 5 s without a lower RTT sample, holds 0.5 BDP for 200 ms and a round, then restores the window', () => {
    const h = cruising();
    const b = h.bbr;
    const stamp = b.model.probeRttMinStamp;
    while (h.now + 100 <= stamp + 5000) {
      h.ack({ rate: BW, inFlight: BDP });
      expect(b.state).not.toBe('probe-rtt');
    }
    const cwndBefore = b.window;
    h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).toBe('probe-rtt');
    expect(b.cwndGainNow).toBe(0.5);
    expect(b.pacingGainNow).toBe(1);
    expect(b.window).toBe(BDP / 2);
    expect(h.c.marks).toBeGreaterThan(0); // ProbeRTT's samples are app-limited
    h.ack({ rate: BW, inFlight: BDP / 2 }); // in flight down to the ProbeRTT window: 200 ms start now
    const t0 = h.now;
    h.ack({ rate: BW, inFlight: BDP / 2 }); // +100, round done
    h.ack({ rate: BW, inFlight: BDP / 2 }); // +200, not past yet
    expect(h.now).toBe(t0 + 200);
    expect(b.state).toBe('probe-rtt');
    h.ack({ rate: BW, inFlight: BDP / 2 });
    expect(b.state).toBe('probe-bw-cruise');
    expect(b.window).toBeGreaterThanOrEqual(cwndBefore);
    expect(b.model.probeRttMinStamp).toBe(h.now);
  });

  it('a lower RTT sample postpones ProbeRTT', () => {
    const h = cruising();
    const b = h.bbr;
    const stamp = b.model.probeRttMinStamp;
    while (h.now < stamp + 4000) h.ack({ rate: BW, inFlight: BDP });
    h.ack({ rate: BW, inFlight: BDP, rtt: 99 });
    while (h.now < stamp + 6000) h.ack({ rate: BW, inFlight: BDP });
    expect(b.state).not.toBe('probe-rtt');
    expect(b.model.minRtt).toBe(99);
  });
});

describe('BBR: loss bounds', () => {
  function inUp(filter = false): Harness {
    const h = cruising({ randomLossFilter: filter });
    for (let i = 0; i < 30 && h.bbr.state !== 'probe-bw-up'; i++) h.ack({ rate: BW, inFlight: BDP });
    expect(h.bbr.state).toBe('probe-bw-up');
    return h;
  }
  const lose = (h: Harness, pn: number, lostAtSend: number) => {
    h.c.lost += MDS;
    h.bbr.onPacketLost({ pn, size: MDS, timeSent: h.now - 50, txInFlight: 100_000, lostAtSend, isAppLimited: false });
  };

  it('loss ≤ 2 % of the flight while probing changes nothing; > 2 % sets inflight_hi where the rate crossed 2 % and ends UP', () => {
    const h = inUp();
    lose(h, 1, 0); // 1200 of 100 000 = 1.2 %
    expect(h.bbr.model.inflightHi).toBe(Infinity);
    expect(h.bbr.state).toBe('probe-bw-up');
    lose(h, 3, 0); // 2400: still ≤ 2000? no — 2.4 % > 2 %
    // inflight_prev = 98 800, lost_prev = 1200, lost_prefix = (0.02·98 800 − 1200)/0.98
    const atLoss = 98_800 + (0.02 * 98_800 - 1200) / 0.98;
    expect(h.bbr.model.inflightHi).toBeCloseTo(Math.max(atLoss, 0.7 * BDP), 6);
    expect(h.bbr.state).toBe('probe-bw-down');
    h.ack({ rate: BW, inFlight: 90_000 });
    expect(h.bbr.window).toBeLessThanOrEqual(Math.ceil(atLoss));
  });

  it('outside probing a lossy round cuts bw_lo and inflight_lo to max(latest, 0.7 × previous)', () => {
    const h = cruising({ randomLossFilter: false });
    const b = h.bbr;
    h.ack({ rate: 500, inFlight: BDP, newlyAcked: 30_000 }); // a round delivering at 500
    h.c.lost += MDS;
    b.onPacketLost({ pn: 5, size: MDS, timeSent: h.now - 50, txInFlight: BDP, lostAtSend: 0, isAppLimited: false });
    const cwnd = b.window;
    h.ack({ rate: 500, inFlight: BDP, newlyAcked: 30_000 });
    // first lossy round: bw_lo from max_bw, inflight_lo from cwnd, then the decrease
    expect(b.model.bwLo).toBeCloseTo(Math.max(500, 0.7 * BW), 9);
    expect(b.model.bw).toBe(b.model.bwLo);
    expect(b.model.inflightLo).toBeCloseTo(Math.max(30_000, 0.7 * cwnd), 9);
    expect(b.window).toBeLessThanOrEqual(b.model.inflightLo);
  });

  it('the random-loss filter ignores losses while the RTT shows no queue and counts them when it does', () => {
    const h = inUp(true);
    lose(h, 1, 0);
    lose(h, 3, 0);
    lose(h, 5, 0);
    expect(h.bbr.model.inflightHi).toBe(Infinity); // latest RTT = min RTT: the link's own loss
    expect(h.bbr.state).toBe('probe-bw-up');
    h.rtt.update(115, 0, 0, true); // 15 ms of queue (> 10 % of min RTT)
    lose(h, 7, 0);
    expect(h.bbr.model.inflightHi).toBeLessThan(Infinity);
    expect(h.bbr.state).toBe('probe-bw-down');
  });

  it('persistent congestion: window = in flight + one datagram, restored when recovery ends', () => {
    const h = cruising();
    const b = h.bbr;
    const before = b.window;
    h.c.bytesInFlight = 10_000;
    b.onPersistentCongestion(h.now);
    expect(b.window).toBe(10_000 + MDS);
    h.ack({ rate: BW, inFlight: 10_000 });
    expect(b.inLossRecovery).toBe(false);
    expect(b.window).toBeGreaterThanOrEqual(before); // restored, then this ACK's growth
  });
});

describe('BBR: controller plumbing', () => {
  it('reset() returns to Startup with the initial window; the send quantum is 2 datagrams at low rates', () => {
    const h = cruising();
    expect(h.bbr.sendQuantum()).toBe(2 * MDS);
    h.bbr.reset();
    expect(h.bbr.state).toBe('startup');
    expect(h.bbr.window).toBe(10 * MDS);
    expect(h.bbr.model.maxBw).toBe(0);
  });

  it('is deterministic without an injected random source (seeded from the first send)', () => {
    const run = () => {
      const h = cruising({ random: undefined });
      const states: string[] = [];
      for (let i = 0; i < 200; i++) {
        h.ack({ rate: BW, inFlight: BDP, dt: 37 });
        states.push(h.bbr.state);
      }
      return states;
    };
    const a = run();
    expect(a).toEqual(run());
    expect(new Set(a).size).toBeGreaterThan(2);
  });
});
