import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCongestionController, Cubic, CUBIC_ALPHA, cubicK, cubicWindow, NewReno } from '../../lib/congestion/index.js';
import { RttEstimator } from '../../lib/recovery/rtt.js';

const MDS = 1000;
const ALPHA = 9 / 17; // 3(1 − 0.7)/(1 + 0.7)

function rttOf(ms: number): RttEstimator {
  const r = new RttEstimator();
  r.update(ms, 0, 0, false); // first sample: smoothed = latest = ms
  return r;
}
const RTT100 = rttOf(100);
const one = (timeSent: number, size = MDS) => [{ size, timeSent }];

/** Slow start to `bytes` (a multiple of MDS above the 10 000-byte initial window), without HyStart++ in the way. */
function grownTo(bytes: number, opts: { fastConvergence?: boolean } = {}): Cubic {
  const cc = new Cubic({ maxDatagramSize: MDS, hystart: false, ...opts });
  for (let w = cc.window; w < bytes; w += MDS) cc.onPacketsAcked(one(0), 10, RTT100, false);
  expect(cc.window).toBe(bytes);
  return cc;
}

describe('CUBIC curve (RFC 9438 Figures 1 and 2)', () => {
  it('K = cbrt(W_max·(1 − β)/C) and W(t) = C·(t − K)³ + W_max', () => {
    // W_max = 36 datagrams, cwnd_epoch = 0.7·36 = 25.2: K = cbrt(10.8 / 0.4) = cbrt(27) = 3 s
    expect(cubicK(36, 25.2)).toBeCloseTo(3, 12);
    // W_max = 100, epoch 70: K = cbrt(30 / 0.4) = cbrt(75) = 4.21716…
    expect(cubicK(100, 70)).toBeCloseTo(4.2171633265, 9);
    // no gap to close (epoch at or above W_max): K = 0
    expect(cubicK(20, 20)).toBe(0);
    expect(cubicK(20, 24)).toBe(0);
    const k = 3;
    expect(cubicWindow(0, k, 36)).toBeCloseTo(25.2, 12); // 0.4·(−27) + 36
    expect(cubicWindow(1, k, 36)).toBeCloseTo(32.8, 12); // 0.4·(−8) + 36
    expect(cubicWindow(2, k, 36)).toBeCloseTo(35.6, 12); // 0.4·(−1) + 36
    expect(cubicWindow(3, k, 36)).toBe(36); // plateau at W_max
    expect(cubicWindow(4, k, 36)).toBeCloseTo(36.4, 12); // 0.4·1 + 36
    expect(cubicWindow(5, k, 36)).toBeCloseTo(39.2, 12); // 0.4·8 + 36
    expect(cubicWindow(6, k, 36)).toBeCloseTo(46.8, 12); // 0.4·27 + 36
    expect(CUBIC_ALPHA).toBeCloseTo(ALPHA, 15);
  });
});

describe('Cubic controller', () => {
  it('starts like NewReno: initial window, slow start by acknowledged bytes', () => {
    const cc = new Cubic({ maxDatagramSize: 1200 });
    expect(cc.name).toBe('cubic');
    expect(cc.window).toBe(12000);
    expect(cc.minimumWindow).toBe(2400);
    expect(cc.ssthresh).toBe(Infinity);
    expect(cc.inSlowStart).toBe(true);
    expect(cc.hystartPhase).toBe('slow-start');
    cc.onPacketsAcked(
      [
        { size: 1200, timeSent: 0 },
        { size: 1200, timeSent: 1 },
      ],
      100,
      RTT100,
      false,
    );
    expect(cc.window).toBe(14400); // 12000 + 2·1200
    expect(new Cubic({ maxDatagramSize: 1200, hystart: false }).hystartPhase).toBe('done');
  });

  it('reduces to 0.7·W, sets W_max = W, and starts the epoch with K = cbrt(W_max·0.3/C)', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100);
    expect(cc.ssthresh).toBe(25200); // ⌊36000·0.7⌋
    expect(cc.window).toBe(25200);
    expect(cc.wMax).toBe(36000);
    expect(cc.recoveryStartTime).toBe(100);
    expect(cc.inSlowStart).toBe(false);
    // the first ack of a packet sent after the recovery start opens the epoch at t = 0
    cc.onPacketsAcked(one(150), 1000, RTT100, false);
    expect(cc.epochStart).toBe(1000);
    expect(cc.k).toBeCloseTo(3, 9); // cbrt((36 − 25.2)/0.4)
    // t = 0: W_cubic = 25 200 < W_est = 25200 + (9/17)·1000·1000/25200 = 25221.008 → Reno-friendly
    expect(cc.renoWindow).toBeCloseTo(25221.0084, 3);
    expect(cc.window).toBe(25221);
  });

  it('follows the cubic curve one RTT ahead once it is above W_est', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100);
    cc.onPacketsAcked(one(150), 1000, RTT100, false); // epoch at 1000, cwnd = 25221.0084
    // t = 1 s: W_cubic(1) = 32.8 datagrams = 32 800 bytes > W_est = 25221.0084 + (9/17)·10⁶/25221.0084 = 25241.999
    // target = W_cubic(1 + 0.1) = 0.4·(1.1 − 3)³ + 36 = 33.2564 → 33 256.4 bytes (inside [cwnd, 1.5·cwnd])
    // cwnd += (33256.4 − 25221.0084)·1000/25221.0084 = 318.599 → 25 539.608
    cc.onPacketsAcked(one(900), 2000, RTT100, false);
    expect(cc.renoWindow).toBeCloseTo(25241.9993, 3);
    expect(cc.window).toBe(25539);
  });

  it('the target is capped at 1.5·cwnd (a convex curve far past K)', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100);
    cc.onPacketsAcked(one(150), 1000, RTT100, false); // cwnd 25221.0084, K = 3
    // t = 20 s: W_cubic(20.1) = 0.4·17.1³ + 36 ≈ 2036 datagrams ≫ 1.5·cwnd = 37 831.5 bytes
    // cwnd += (1.5·cwnd − cwnd)·1000/cwnd = 500 exactly
    cc.onPacketsAcked(one(900), 21000, RTT100, false);
    expect(cc.window).toBe(25721); // ⌊25221.0084 + 500⌋
  });

  it('tracks W_cubic over many RTTs of full-window acks (concave, plateau, convex)', () => {
    // W_max = 972 datagrams: epoch 680.4, K = cbrt(291.6 / 0.4) = cbrt(729) = 9 s. Reno would need
    // 291.6 / α ≈ 551 RTTs (55 s) to get back, so the cubic curve governs throughout.
    const cc = grownTo(972_000);
    cc.onCongestionEvent(50, 100);
    expect(cc.window).toBe(680_400);
    // one window of acks every 100 ms from t = 0 (now = 1000) to t = 12 s: after each RTT, cwnd lies between
    // W_cubic(t) and the target W_cubic(t + RTT) it chases.
    let prev = 0;
    for (let step = 0; step <= 120; step++) {
      const now = 1000 + step * 100;
      const n = Math.floor(cc.window / MDS);
      for (let i = 0; i < n; i++) cc.onPacketsAcked(one(now - 100), now, RTT100, false);
      const t = step / 10;
      const w = cc.window / MDS;
      expect(w).toBeGreaterThanOrEqual(prev);
      if (step >= 1) {
        expect(w).toBeGreaterThan(cc.renoWindow / MDS); // (at t = 0 the Reno estimate leads by one step)
        expect(w).toBeGreaterThanOrEqual(cubicWindow(t, 9, 972) - 0.01);
        expect(w).toBeLessThanOrEqual(cubicWindow(t + 0.1, 9, 972) + 0.01);
      }
      if (step === 30) expect(w).toBeGreaterThanOrEqual(885.6); // W(3) = 0.4·(−6)³ + 972 = 885.6, W(3.1) = 889.85
      if (step === 90) expect(w).toBeCloseTo(972, 0); // plateau at K
      prev = w;
    }
    // convex after K: W(12) = 0.4·27 + 972 = 982.8, W(12.1) = 983.9
    expect(cc.window / MDS).toBeGreaterThan(982.8);
  });

  it('Reno-friendly region dominates at a short RTT and small t', () => {
    const cc = grownTo(100000); // W_max = 100 datagrams
    cc.onCongestionEvent(50, 100); // cwnd 70 000, K = cbrt(75) = 4.217 s
    const rtt1 = rttOf(1);
    // first CA ack: W_est = 70000 + (9/17)·10⁶/70000 = 70007.563 > W_cubic(0) = 70 000
    cc.onPacketsAcked(one(150), 1000, rtt1, false);
    expect(cc.window).toBe(70007);
    // 20 windows at 1 ms: Reno adds α ≈ 0.53 datagram per window ≈ +10 600 bytes, the cubic curve only
    // W_cubic(0.021) − 70 = 0.4·(75 − (4.2172 − 0.021)³) ≈ 0.35 datagram
    for (let step = 1; step <= 20; step++) {
      const n = Math.floor(cc.window / MDS);
      for (let i = 0; i < n; i++) cc.onPacketsAcked(one(1000 + step - 1), 1000 + step, rtt1, false);
    }
    expect(cc.window).toBe(Math.floor(cc.renoWindow));
    // each window of ⌊cwnd/1000⌋ acks adds ≈ α·1000·⌊cwnd/1000⌋·1000/cwnd ≈ 524: 70 007 + 20·524 ≈ 80 490
    expect(cc.window).toBeGreaterThan(80000);
    expect(cc.window).toBeLessThan(81000);
    // while the cubic curve alone would give W_cubic(0.021) = 70.446 datagrams
    expect(cubicWindow(0.021, cc.k, 100) * MDS).toBeCloseTo(70446, 0);
  });

  it('fast convergence lowers W_max when the window peaks below the previous W_max', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100); // W_max 36 000, cwnd 25 200
    cc.onCongestionEvent(150, 200); // new period; 25 200 < 36 000
    expect(cc.wMax).toBe(21420); // 25200·(1 + 0.7)/2
    expect(cc.window).toBe(17640); // ⌊25200·0.7⌋
    cc.onPacketsAcked(one(250), 300, RTT100, false);
    expect(cc.k).toBeCloseTo(2.1141896196, 9); // cbrt((21.42 − 17.64)/0.4) = cbrt(9.45)

    const slow = grownTo(36000, { fastConvergence: false });
    slow.onCongestionEvent(50, 100);
    slow.onCongestionEvent(150, 200);
    expect(slow.wMax).toBe(25200); // plain W_max = cwnd
    // a window that climbed past the old W_max also sets W_max = cwnd
    const up = grownTo(20000);
    up.onCongestionEvent(50, 100); // W_max 20 000, cwnd 14 000
    up.onPacketsAcked(one(150), 200, RTT100, false); // epoch at 200
    for (let i = 0; i < 200; i++) up.onPacketsAcked(one(150), 100_000, RTT100, false); // t ≈ 100 s: far along the curve
    const peak = up.window;
    expect(peak).toBeGreaterThan(20000);
    up.onCongestionEvent(100_000, 100_001);
    expect(Math.floor(up.wMax)).toBe(peak);
  });

  it('one reduction per recovery period; acks of older packets do not grow the window', () => {
    const cc = grownTo(20000);
    cc.onCongestionEvent(50, 100);
    expect(cc.window).toBe(14000);
    cc.onCongestionEvent(80, 120); // sent before the period began
    cc.onCongestionEvent(100, 130); // sent exactly at its start
    expect(cc.window).toBe(14000);
    cc.onPacketsAcked(
      [
        { size: MDS, timeSent: 90 },
        { size: MDS, timeSent: 100 },
      ],
      140,
      RTT100,
      false,
    );
    expect(cc.window).toBe(14000);
    expect(cc.epochStart).toBeNaN(); // no epoch yet: nothing of the new period was acknowledged
    cc.onCongestionEvent(101, 150); // sent after: a new event, 14000·0.7
    expect(cc.window).toBe(9800);
    expect(cc.recoveryStartTime).toBe(150);
  });

  it('never goes below the minimum window', () => {
    const cc = new Cubic({ maxDatagramSize: MDS });
    let now = 100;
    for (let i = 0; i < 10; i++) {
      cc.onCongestionEvent(now - 1, now);
      now += 10;
    }
    // 10000 → 7000 → 4900 → 3430 → 2401 → 2000 (floor) → 2000 …
    expect(cc.window).toBe(2000);
    expect(cc.ssthresh).toBe(2000);
    cc.setMaxDatagramSize(1500);
    expect(cc.window).toBe(3000);
  });

  it('persistent congestion collapses to the minimum window; the next epoch starts with K = 0', () => {
    const cc = grownTo(20000);
    cc.onCongestionEvent(50, 100); // ssthresh 14 000
    cc.onPersistentCongestion(100);
    expect(cc.window).toBe(2000);
    expect(cc.ssthresh).toBe(14000);
    expect(cc.recoveryStartTime).toBe(-Infinity);
    expect(cc.wMax).toBeNaN();
    expect(cc.hystartPhase).toBe('done'); // only the initial slow start uses HyStart++
    // slow start back to ssthresh: 12 acks → 14 000
    for (let i = 0; i < 12; i++) cc.onPacketsAcked(one(150), 200, RTT100, false);
    expect(cc.window).toBe(14000);
    expect(cc.inSlowStart).toBe(false);
    cc.onPacketsAcked(one(150), 300, RTT100, false);
    expect(cc.epochStart).toBe(300);
    expect(cc.k).toBe(0);
    expect(cc.wMax).toBe(14000);
    // W_est = 14000 + 1·10⁶/14000 (α = 1: W_est is already at cwnd_prior = 14000) = 14071.43
    expect(cc.window).toBe(14071);
  });

  it('app-limited acks neither grow the window nor advance the curve', () => {
    const mk = () => {
      const c = grownTo(36000);
      c.onCongestionEvent(50, 100);
      c.onPacketsAcked(one(150), 1000, RTT100, false); // epoch at 1000
      return c;
    };
    const ref = mk();
    ref.onPacketsAcked(one(900), 1500, RTT100, false); // t = 0.5 s

    const cc = mk();
    const before = cc.window;
    cc.onPacketsAcked(one(900), 1500, RTT100, true); // app-limited from 1500
    for (let i = 0; i < 50; i++) cc.onPacketsAcked(one(1600), 2000, RTT100, true);
    expect(cc.window).toBe(before);
    cc.onPacketsAcked(one(900), 3500, RTT100, false); // 2 s of app-limited time are not counted
    expect(cc.epochStart).toBe(3000);
    expect(cc.window).toBe(ref.window); // same t = 0.5 s, same W_est history
    expect(cc.renoWindow).toBe(ref.renoWindow);

    // app-limited slow start does not grow either
    const ss = new Cubic({ maxDatagramSize: MDS });
    ss.onPacketsAcked(one(0), 10, RTT100, true);
    expect(ss.window).toBe(10000);
  });

  it('an idle gap longer than the RTT does not count in t', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100);
    cc.onPacketSent(MDS, 900);
    cc.onPacketsAcked(one(150), 1000, RTT100, false); // epoch at 1000, srtt 100
    cc.onPacketSent(MDS, 1010);
    cc.onPacketSent(MDS, 1090); // 80 ms < srtt: not idle
    expect(cc.epochStart).toBe(1000);
    cc.onPacketSent(MDS, 5090); // 4000 ms without sends or acks
    expect(cc.epochStart).toBe(5000);
  });

  it('undo of a spurious congestion event restores the state exactly, once', () => {
    const cc = grownTo(36000);
    cc.onCongestionEvent(50, 100);
    cc.onPacketsAcked(one(150), 1000, RTT100, false);
    cc.onPacketsAcked(one(900), 2000, RTT100, false);
    const snap = () => [cc.window, cc.ssthresh, cc.wMax, cc.k, cc.epochStart, cc.renoWindow, cc.recoveryStartTime];
    const before = snap();
    expect(before).toEqual([25539, 25200, 36000, expect.closeTo(3, 9), 1000, expect.closeTo(25241.9993, 3), 100]);
    cc.onCongestionEvent(1500, 2100);
    expect(cc.window).toBe(17877); // ⌊25539.6075·0.7⌋
    expect(cc.wMax).toBeCloseTo(21708.67, 1); // fast convergence: 25539.6075·0.85
    cc.onPacketsAcked(one(2200), 2300, RTT100, false); // growth inside the undone period is discarded
    expect(cc.onSpuriousCongestionEvent()).toBe(true);
    expect(snap()).toEqual(before);
    expect(cc.onSpuriousCongestionEvent()).toBe(false); // nothing left to undo

    // the first reduction can be undone too, back to slow start and HyStart++ as it was
    const ss = new Cubic({ maxDatagramSize: MDS });
    ss.onCongestionEvent(0, 10);
    expect(ss.hystartPhase).toBe('done');
    expect(ss.onSpuriousCongestionEvent()).toBe(true);
    expect([ss.window, ss.ssthresh, ss.recoveryStartTime, ss.hystartPhase]).toEqual([10000, Infinity, -Infinity, 'slow-start']);
    expect(ss.wMax).toBeNaN();

    // not after persistent congestion or a reset
    const pc = grownTo(20000);
    pc.onCongestionEvent(50, 100);
    pc.onPersistentCongestion(100);
    expect(pc.onSpuriousCongestionEvent()).toBe(false);
    expect(pc.window).toBe(2000);
    pc.onCongestionEvent(150, 200);
    pc.reset();
    expect(pc.onSpuriousCongestionEvent()).toBe(false);
    expect(pc.window).toBe(10000);
  });

  it('pacing rate is 2·cwnd/srtt in slow start and 1.25·cwnd/srtt after', () => {
    const cc = new Cubic({ maxDatagramSize: MDS });
    expect(cc.pacingRate(RTT100)).toBe(200); // 2·10000/100 bytes per ms
    cc.onCongestionEvent(0, 10); // 7000
    expect(cc.pacingRate(RTT100)).toBe(87.5); // 1.25·7000/100
    expect(cc.pacingRate(rttOf(0))).toBe(Infinity);
  });

  it('reset returns to the initial state', () => {
    const cc = grownTo(20000);
    cc.onCongestionEvent(50, 100);
    cc.onPacketsAcked(one(150), 200, RTT100, false);
    cc.reset();
    expect([cc.window, cc.ssthresh, cc.recoveryStartTime, cc.hystartPhase]).toEqual([10000, Infinity, -Infinity, 'done']);
    expect(cc.wMax).toBeNaN();
    expect(cc.epochStart).toBeNaN();
    const h = new Cubic({ maxDatagramSize: MDS });
    h.onCongestionEvent(0, 1);
    h.reset();
    expect(h.hystartPhase).toBe('slow-start');
  });

  it('createCongestionController builds CUBIC and still NewReno', () => {
    const cc = createCongestionController('cubic', { maxDatagramSize: 1200, hystart: false });
    expect(cc).toBeInstanceOf(Cubic);
    expect(cc.window).toBe(12000);
    expect((cc as Cubic).hystartPhase).toBe('done');
    expect(createCongestionController('newreno', { maxDatagramSize: 1200 })).toBeInstanceOf(NewReno);
  });

  it('property: random acks, losses, app-limited spells, undo and idle never break the window', () => {
    const op = fc.oneof(
      fc.record({
        k: fc.constant('ack' as const),
        n: fc.integer({ min: 1, max: 40 }),
        size: fc.integer({ min: 1, max: 1500 }),
        age: fc.integer({ min: 0, max: 400 }),
        app: fc.boolean(),
        rtt: fc.integer({ min: 0, max: 300 }),
      }),
      fc.record({ k: fc.constant('loss' as const), age: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ k: fc.constant('pc' as const) }),
      fc.record({ k: fc.constant('undo' as const) }),
      fc.record({ k: fc.constant('send' as const) }),
      fc.record({ k: fc.constant('mds' as const), mds: fc.integer({ min: 1200, max: 1500 }) }),
      fc.record({ k: fc.constant('reset' as const) }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3000 }), op }), { maxLength: 120 }),
        fc.boolean(),
        fc.boolean(),
        (steps, hystart, fastConvergence) => {
          const cc = new Cubic({ maxDatagramSize: 1200, hystart, fastConvergence });
          const rtt = new RttEstimator();
          let now = 0;
          for (const { dt, op: o } of steps) {
            now += dt;
            switch (o.k) {
              case 'ack': {
                rtt.update(o.rtt, 0, 25, true);
                const pkts = Array.from({ length: o.n }, (_, i) => ({ size: o.size, timeSent: now - o.age + i }));
                cc.onPacketsAcked(pkts, now, rtt, o.app);
                break;
              }
              case 'loss':
                cc.onCongestionEvent(now - o.age, now);
                break;
              case 'pc':
                cc.onPersistentCongestion(now);
                break;
              case 'undo':
                cc.onSpuriousCongestionEvent();
                break;
              case 'send':
                cc.onPacketSent(1200, now);
                break;
              case 'mds':
                cc.setMaxDatagramSize(o.mds);
                break;
              case 'reset':
                cc.reset();
                break;
            }
            expect(Number.isFinite(cc.window)).toBe(true);
            expect(cc.window).toBeGreaterThanOrEqual(cc.minimumWindow);
            expect(cc.ssthresh).toBeGreaterThan(0); // false for NaN too
            expect(Number.isFinite(cc.pacingRate(rtt)) || rtt.smoothed === 0).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('NewReno additions', () => {
  it('undo restores window, ssthresh and recovery start once', () => {
    const cc = new NewReno({ maxDatagramSize: 1200 });
    expect(cc.onSpuriousCongestionEvent()).toBe(false);
    cc.onCongestionEvent(0, 100); // 6000
    cc.onPacketsAcked([{ size: 1200, timeSent: 150 }], 200, RTT100, false);
    expect(cc.onSpuriousCongestionEvent()).toBe(true);
    expect([cc.window, cc.ssthresh, cc.recoveryStartTime]).toEqual([12000, Infinity, -Infinity]);
    expect(cc.onSpuriousCongestionEvent()).toBe(false);
    cc.onCongestionEvent(0, 100);
    cc.onPersistentCongestion(100);
    expect(cc.onSpuriousCongestionEvent()).toBe(false);
    expect(cc.window).toBe(2400);
  });

  it('pacing rate', () => {
    const cc = new NewReno({ maxDatagramSize: 1200 });
    expect(cc.pacingRate(RTT100)).toBe(240); // 2·12000/100
    cc.onCongestionEvent(0, 10); // 6000
    expect(cc.pacingRate(RTT100)).toBe(75); // 1.25·6000/100
  });
});
