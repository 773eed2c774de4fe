import { describe, expect, it } from 'vitest';
import { Cubic } from '../../lib/congestion/cubic.js';
import { HyStart, HYSTART_CSS_ROUNDS, HYSTART_N_RTT_SAMPLE, hystartRttThreshold } from '../../lib/congestion/hystart.js';
import { RttEstimator } from '../../lib/recovery/rtt.js';

/**
 * Drives rounds the way a sender sees them: a batch of acks for packets sent at `sentAt`, each followed by
 * a send at the ack time. The first send after a round starts marks its end, so the next batch (sent at
 * that time) opens a new round with its first ack.
 */
class Rounds {
  sentAt = 0;
  constructor(private readonly h: HyStart) {}
  /** One round of acks with these RTT samples; returns the onAck results. */
  round(rtts: readonly number[]): boolean[] {
    const out: boolean[] = [];
    let ackAt = this.sentAt;
    for (const r of rtts) {
      ackAt = this.sentAt + r;
      out.push(this.h.onAck(this.sentAt, r));
      this.h.onPacketSent(ackAt);
    }
    this.sentAt = ackAt;
    return out;
  }
}
const flat = (rtt: number, n = HYSTART_N_RTT_SAMPLE) => Array.from({ length: n }, () => rtt);

describe('HyStart++', () => {
  it('RTT threshold = clamp(lastRoundMinRtt / 8, 4 ms, 16 ms)', () => {
    expect(hystartRttThreshold(20)).toBe(4); // 2.5 → 4
    expect(hystartRttThreshold(100)).toBe(12.5);
    expect(hystartRttThreshold(200)).toBe(16); // 25 → 16
  });

  it('a round ends when a packet sent after it began is acknowledged', () => {
    const h = new HyStart();
    expect(h.rounds).toBe(0);
    h.onAck(0, 10); // no round yet: this ack starts round 1
    expect(h.rounds).toBe(1);
    h.onAck(0, 10); // no send since the round began: cannot end it
    h.onPacketSent(50); // first send of round 1
    h.onPacketSent(60);
    h.onAck(40, 10); // sent before the marker
    expect(h.rounds).toBe(1);
    h.onAck(50, 10); // the marker itself: round 2 begins
    expect(h.rounds).toBe(2);
    h.onAck(60, 10); // sent in round 1, acked in round 2; marker of round 2 not yet sent
    expect(h.rounds).toBe(2);
  });

  it('exits slow start when the round minimum rises by the threshold, only after 8 samples', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100)); // round 1: min 100
    r.round(flat(112.4)); // round 2: threshold 100/8 = 12.5; 112.4 < 112.5
    expect(h.phase).toBe('slow-start');
    // round 3: last = 112.4, threshold 14.05: 130 ≥ 126.45 — but only once 8 samples are in
    const res = r.round(flat(130, 7));
    expect(h.phase).toBe('slow-start');
    expect(res).toEqual([false, false, false, false, false, false, false]);
    h.onAck(r.sentAt - 130, 130); // 8th sample of round 3
    expect(h.phase).toBe('css');
    expect(h.growthDivisor).toBe(4);
  });

  it('a rise of exactly the threshold counts', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100));
    r.round(flat(112.5)); // 112.5 ≥ 100 + 12.5
    expect(h.phase).toBe('css');
  });

  it('the round minimum, not a single sample, decides', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100));
    r.round([...flat(200, 7), 105]); // one sample at 105 keeps the minimum below 112.5
    expect(h.phase).toBe('slow-start');
    expect(h.roundMinRtt).toBe(105);
  });

  it('stays in slow start with a flat (jittery) RTT, or with fewer than 8 samples per round', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    for (let i = 0; i < 30; i++) r.round([100, 103, 101, 104, 100, 102, 104, 103].map((x) => x + (i % 3)));
    expect(h.phase).toBe('slow-start');
    expect(h.rounds).toBe(30);
    const few = new HyStart();
    const f = new Rounds(few);
    f.round(flat(20, 7));
    f.round(flat(200, 7)); // a huge rise, but no round ever has 8 samples
    f.round(flat(400, 7));
    expect(few.phase).toBe('slow-start');
  });

  it('CSS returns to slow start when the RTT falls below the baseline', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100));
    r.round(flat(120)); // ≥ 112.5: CSS, baseline 120
    expect(h.phase).toBe('css');
    r.round(flat(125)); // not below the baseline
    expect(h.phase).toBe('css');
    expect(h.cssRoundCount).toBe(1);
    const res = r.round([119, 119, 119, 119, 119, 119, 119]);
    expect(h.phase).toBe('css'); // 7 samples: not yet
    expect(res.every((x) => !x)).toBe(true);
    h.onAck(r.sentAt - 119, 119);
    expect(h.phase).toBe('slow-start');
    expect(h.growthDivisor).toBe(1);
    // and it can enter CSS again later: last round min 119 → threshold 14.875
    r.round(flat(134));
    expect(h.phase).toBe('css');
    expect(h.cssRoundCount).toBe(0);
  });

  it('after CSS_ROUNDS rounds of CSS it hands over to congestion avoidance', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100));
    r.round(flat(120)); // CSS entered on the 8th ack of round 2; the rest of round 2 counts as CSS round 1
    for (let i = 1; i < HYSTART_CSS_ROUNDS; i++) {
      expect(r.round(flat(130)).some((x) => x)).toBe(false);
      expect(h.cssRoundCount).toBe(i);
    }
    // the first ack of the next round closes the 5th CSS round
    expect(h.onAck(r.sentAt, 130)).toBe(true);
    expect(h.phase).toBe('done');
    expect(h.onAck(r.sentAt, 500)).toBe(false);
  });

  it('disable, restore and reset', () => {
    const h = new HyStart();
    const r = new Rounds(h);
    r.round(flat(100));
    h.disable();
    expect(h.phase).toBe('done');
    r.round(flat(300));
    expect(h.phase).toBe('done');
    h.restorePhase('slow-start');
    expect(h.phase).toBe('slow-start');
    h.reset();
    expect([h.phase, h.rounds, h.roundMinRtt]).toEqual(['slow-start', 0, Infinity]);
  });
});

describe('HyStart++ inside CUBIC', () => {
  it('slows to a quarter in CSS and ends slow start with ssthresh = cwnd, K = 0', () => {
    const cc = new Cubic({ maxDatagramSize: 1000 });
    const rtt = new RttEstimator();
    let sentAt = 0;
    const round = (ms: number, n = 8) => {
      const ackAt = sentAt + ms;
      for (let i = 0; i < n; i++) {
        rtt.update(ms, 0, 0, false);
        cc.onPacketsAcked([{ size: 1000, timeSent: sentAt }], ackAt, rtt, false);
        cc.onPacketSent(1000, ackAt);
      }
      sentAt = ackAt;
    };
    round(50);
    round(50); // 10 000 + 16·1000 = 26 000
    expect(cc.window).toBe(26000);
    round(60); // threshold max(4, 50/8) = 6.25; 60 ≥ 56.25 at the 8th sample: that ack grows 1000/4
    expect(cc.hystartPhase).toBe('css');
    expect(cc.window).toBe(33250); // 26 000 + 7·1000 + 250
    expect(cc.inSlowStart).toBe(true);
    round(60); // CSS: 8 · 250
    expect(cc.window).toBe(35250);
    round(60);
    round(60);
    round(60); // 4 more CSS rounds in all: 33 250 + 4·2000
    expect(cc.window).toBe(41250);
    expect(cc.ssthresh).toBe(Infinity);
    // first ack of the next round closes CSS round 5: ssthresh = cwnd, and the ack is congestion avoidance
    round(60, 1);
    expect(cc.hystartPhase).toBe('done');
    expect(cc.ssthresh).toBe(41250);
    expect(cc.inSlowStart).toBe(false);
    expect(cc.wMax).toBe(41250);
    expect(cc.k).toBe(0);
    // W_est = 41250 + 1·10⁶/41250 (α = 1: W_est starts at cwnd_prior) = 41274.24 > W_cubic(0) = 41250
    expect(cc.window).toBe(41274);
  });

  it('a loss during slow start ends HyStart++ (standard slow start afterwards)', () => {
    const cc = new Cubic({ maxDatagramSize: 1000 });
    cc.onCongestionEvent(0, 10);
    expect(cc.hystartPhase).toBe('done');
  });
});
