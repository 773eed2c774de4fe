import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import { pkt, pns, range, setup } from './helpers.js';

describe('Recovery: acknowledgments and RTT samples', () => {
  it('samples RTT only when the largest acknowledged is newly acked and something ack-eliciting was acked', () => {
    const { r } = setup();
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onPacketSent(pkt(1, 10, { ackEliciting: false, inFlight: false, size: 50 }), 10);
    // largest (1) newly acked but not ack-eliciting, and nothing ack-eliciting acked: no sample
    const a = r.onAckReceived(2, [range(1, 1)], 0, 100);
    expect(pns(a.acked)).toEqual([1]);
    expect(a.largestNewlyAcked?.pn).toBe(1);
    expect(r.rtt.hasSample).toBe(false);
    // pn 0 is ack-eliciting, but the largest (1) is not newly acked: still no sample
    const b = r.onAckReceived(2, [range(0, 1)], 0, 120);
    expect(pns(b.acked)).toEqual([0]);
    expect(r.rtt.hasSample).toBe(false);
    r.onPacketSent(pkt(2, 200), 200);
    r.onAckReceived(2, [range(0, 2)], 10, 250);
    expect(r.rtt.latest).toBe(50); // 250 − 200; first sample ignores ack delay
    expect(r.rtt.smoothed).toBe(50);
    // a duplicate ACK acknowledges nothing and changes nothing
    const d = r.onAckReceived(2, [range(0, 2)], 0, 400);
    expect(d.acked).toEqual([]);
    expect(d.largestNewlyAcked).toBeUndefined();
    expect(r.rtt.latest).toBe(50);
  });

  it('ignores the ACK delay in the Initial space but applies it in the application space', () => {
    const run = (space: 0 | 2) => {
      const { r } = setup({ isServer: true });
      r.setHandshakeConfirmed();
      r.onPacketSent(pkt(0, 0, { space }), 0);
      r.onAckReceived(space, [range(0, 0)], 0, 100); // first sample 100
      r.onPacketSent(pkt(1, 200, { space }), 200);
      r.onAckReceived(space, [range(0, 1)], 20, 330); // raw 130, delay 20
      return r.rtt.smoothed;
    };
    expect(run(0)).toBe(103.75); // 7/8·100 + 130/8 = 87.5 + 16.25
    expect(run(2)).toBe(101.25); // adjusted 110: 87.5 + 13.75
  });

  it('returns acked packets in ascending order and removes their bytes from flight', () => {
    const { r, cc } = setup({ isServer: true });
    for (let pn = 0; pn < 6; pn++) r.onPacketSent(pkt(pn, 0), 0);
    expect(r.bytesInFlight).toBe(6000);
    expect(cc.sent).toBe(6);
    const a = r.onAckReceived(2, [range(4, 5), range(2, 2)], 0, 10);
    expect(pns(a.acked)).toEqual([2, 4, 5]);
    expect(a.largestNewlyAcked?.pn).toBe(5);
    expect(r.largestAcked(2)).toBe(5);
    expect(r.largestSent(2)).toBe(5);
    // 2, 4, 5 acked; 0 and 1 lost (5 ≥ 0+3, 5 ≥ 1+3); 3 outstanding (sample 10: 0 + 9/8·10 > 10)
    expect(pns(a.lost)).toEqual([0, 1]);
    expect(r.bytesInFlight).toBe(1000);
    expect([...r.unacked(2)].map((p) => p.pn)).toEqual([3]);
  });

  it('rejects an ACK of a packet number never sent, without changing state', () => {
    const { r } = setup({ isServer: true });
    expect(r.onAckReceived(2, [range(0, 0)], 0, 1).error).toBeDefined(); // nothing sent yet
    r.onPacketSent(pkt(0, 0), 0);
    r.onPacketSent(pkt(1, 0), 0);
    r.onPacketSent(pkt(3, 0), 0); // pn 2 skipped
    expect(r.onAckReceived(2, [range(4, 4)], 0, 5).error).toMatch(/never sent/);
    expect(r.onAckReceived(2, [range(2, 2)], 0, 5).error).toMatch(/never sent/);
    expect(r.onAckReceived(2, [range(3, 3), range(1, 2)], 0, 5).error).toMatch(/never sent/);
    expect(r.onAckReceived(1, [range(0, 0)], 0, 5).error).toMatch(/never sent/); // other space
    expect(r.onAckReceived(2, [range(3, 1)], 0, 5).error).toBeDefined(); // malformed
    expect(r.bytesInFlight).toBe(3000);
    expect(r.largestAcked(2)).toBe(-1);
    expect(r.rtt.hasSample).toBe(false);
    const ok = r.onAckReceived(2, [range(3, 3), range(0, 1)], 0, 5);
    expect(ok.error).toBeUndefined();
    expect(pns(ok.acked)).toEqual([0, 1, 3]);
    expect(r.bytesInFlight).toBe(0);
  });

  it('feeds only in-flight packets to the controller and passes the app-limited flag', () => {
    const { r, cc } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0, { ackEliciting: false, inFlight: false, size: 40 }), 0);
    r.onPacketSent(pkt(1, 0), 0);
    expect(r.bytesInFlight).toBe(1000);
    expect(cc.sent).toBe(1);
    r.setAppLimited(true);
    r.onAckReceived(2, [range(0, 1)], 0, 50);
    expect(cc.acked).toHaveLength(1);
    expect(cc.acked[0]!.map((p) => p.size)).toEqual([1000]);
    expect(cc.ackedAppLimited).toEqual([true]);
    expect(cc.window).toBe(12000); // app-limited: no growth
  });

  it('acknowledges 20000 packets in flight through 2000 cumulative ACKs', () => {
    const { r } = setup({ isServer: true });
    for (let pn = 0; pn < 20000; pn++) r.onPacketSent(pkt(pn, 0, { size: 10 }), 0);
    expect(r.bytesInFlight).toBe(200000);
    let acked = 0;
    for (let k = 9; k < 20000; k += 10) acked += r.onAckReceived(2, [range(0, k)], 0, 1).acked.length;
    expect(acked).toBe(20000);
    expect(r.bytesInFlight).toBe(0);
    expect(r.stats.packetsLost).toBe(0);
  });
});

describe('Recovery: loss detection', () => {
  it('packet threshold: ACK of 3 loses pn 0 only, ACK of 4 then loses pn 1; one congestion event per period', () => {
    const { r, cc } = setup({ isServer: true });
    for (let pn = 0; pn < 5; pn++) r.onPacketSent(pkt(pn, pn), pn);
    // RTT sample 103 − 3 = 100 → loss delay 9/8·100 = 112.5, so no time-threshold loss yet
    const a = r.onAckReceived(2, [range(3, 3)], 0, 103);
    expect(pns(a.lost)).toEqual([0]); // 3 ≥ 0+3; 3 < 1+3
    expect(r.bytesInFlight).toBe(3000);
    expect(r.stats.packetsLost).toBe(1);
    expect(r.stats.bytesLost).toBe(1000);
    expect(cc.events).toEqual([{ largestLostTimeSent: 0, now: 103 }]);
    expect(cc.window).toBe(6000); // 12000 halved; ack of pn 3 (sent before recovery) adds nothing
    expect(r.lossDetectionDeadline()).toBe(113.5); // pn 1: 1 + 112.5

    const b = r.onAckReceived(2, [range(3, 4)], 0, 104);
    expect(pns(b.lost)).toEqual([1]); // 4 ≥ 1+3; pn 2 stays
    expect(cc.events).toHaveLength(2); // reported, but pn 1 was sent before the recovery start (103)
    expect(r.stats.congestionEvents).toBe(1);
    expect(cc.window).toBe(6000);
    // second sample 100: smoothed stays 100 → pn 2 lost at 2 + 112.5
    expect(r.lossDetectionDeadline()).toBe(114.5);
  });

  it('time threshold: deadline is timeSent + 9/8·rtt and the timer declares the loss', () => {
    const { r } = setup();
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onPacketSent(pkt(1, 60), 60);
    r.onPacketSent(pkt(2, 61), 61);
    r.onPacketSent(pkt(3, 62), 62);
    // sample 142 − 62 = 80 → loss delay 9/8·80 = 90
    const a = r.onAckReceived(2, [range(3, 3)], 0, 142);
    expect(pns(a.lost)).toEqual([0]);
    expect(r.lossDetectionDeadline()).toBe(150); // 60 + 90
    expect(r.onLossDetectionTimeout(149)).toEqual({ lost: [], probe: null }); // early call: ignored
    const t1 = r.onLossDetectionTimeout(150);
    expect(pns(t1.lost)).toEqual([1]);
    expect(t1.probe).toBeNull();
    expect(r.lossDetectionDeadline()).toBe(151); // 61 + 90
    expect(pns(r.onLossDetectionTimeout(151).lost)).toEqual([2]);
    expect(r.bytesInFlight).toBe(0);
    expect(r.lossDetectionDeadline()).toBeNull();
    expect(r.ptoCount).toBe(0);
  });

  it('time threshold has a 1 ms floor (granularity)', () => {
    const { r } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0), 0);
    r.onPacketSent(pkt(1, 0), 0);
    r.onAckReceived(2, [range(1, 1)], 0, 0); // RTT 0: 9/8·0 = 0 → floor 1 ms
    expect(r.lossDetectionDeadline()).toBe(1);
    expect(pns(r.onLossDetectionTimeout(1).lost)).toEqual([0]);
  });

  it('lost PMTU probes leave bytes in flight but never cause a congestion event', () => {
    const { r, cc } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0, { size: 1400, isPmtuProbe: true }), 0);
    for (let pn = 1; pn <= 3; pn++) r.onPacketSent(pkt(pn, pn), pn);
    const a = r.onAckReceived(2, [range(1, 3)], 0, 103);
    expect(pns(a.lost)).toEqual([0]);
    expect(r.bytesInFlight).toBe(0);
    expect(cc.events).toEqual([]);
    expect(r.stats.packetsLost).toBe(0);
    expect(cc.window).toBe(15000); // 12000 + 3·1000 slow start
  });

  it('counts a spurious loss once when a declared-lost packet is acknowledged later', () => {
    const { r } = setup({ isServer: true });
    for (let pn = 0; pn < 4; pn++) r.onPacketSent(pkt(pn, pn), pn);
    expect(pns(r.onAckReceived(2, [range(1, 3)], 0, 103).lost)).toEqual([0]);
    const late = r.onAckReceived(2, [range(0, 3)], 0, 110);
    expect(late.acked).toEqual([]);
    expect(r.stats.spuriousLosses).toBe(1);
    r.onAckReceived(2, [range(0, 3)], 0, 120);
    expect(r.stats.spuriousLosses).toBe(1);
    expect(r.stats.packetsLost).toBe(1);
  });
});

describe('Recovery: persistent congestion', () => {
  // pn 0 @0 acked @100: first sample 100 (smoothed 100, rttvar 50). Later ACK of pn 4..6 @1400 samples 80:
  //   rttvar = 3/4·50 + 1/4·20 = 42.5, smoothed = 7/8·100 + 80/8 = 97.5
  //   duration = (97.5 + max(4·42.5, 1) + 25) · 3 = 292.5 · 3 = 877.5
  function scenario(pn1Time: number, ackRanges: { smallest: number; largest: number }[]) {
    const s = setup();
    const { r } = s;
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onAckReceived(2, [range(0, 0)], 0, 100);
    r.onPacketSent(pkt(1, pn1Time), pn1Time);
    r.onPacketSent(pkt(2, 700), 700);
    r.onPacketSent(pkt(3, 1250), 1250);
    r.onPacketSent(pkt(4, 1300), 1300);
    r.onPacketSent(pkt(5, 1310), 1310);
    r.onPacketSent(pkt(6, 1320), 1320);
    const res = r.onAckReceived(2, ackRanges, 0, 1400);
    return { ...s, res };
  }

  it('is declared when ack-eliciting losses span more than the duration with nothing acked between', () => {
    const { r, cc, res } = scenario(200, [range(4, 6)]);
    expect(r.rtt.smoothed).toBe(97.5);
    expect(r.rtt.rttvar).toBe(42.5);
    expect(pns(res.lost)).toEqual([1, 2, 3]); // 1250 − 200 = 1050 > 877.5
    expect(cc.events).toEqual([{ largestLostTimeSent: 1250, now: 1400 }]);
    expect(cc.persistent).toEqual([1400]);
    expect(r.stats.persistentCongestionEvents).toBe(1);
    // 12000 + 1000 (pn 0) = 13000 → halved 6500 → minimum 2400 → + 3·1000 slow start (recovery reset)
    expect(cc.window).toBe(5400);
  });

  it('is not declared when a packet between the losses was acknowledged', () => {
    const { r, cc, res } = scenario(200, [range(4, 6), range(2, 2)]);
    expect(pns(res.lost)).toEqual([1, 3]);
    expect(cc.persistent).toEqual([]);
    expect(r.stats.persistentCongestionEvents).toBe(0);
    expect(cc.events).toHaveLength(1);
  });

  it('is not declared when the span is within the duration', () => {
    const { cc, res } = scenario(500, [range(4, 6)]); // 1250 − 500 = 750 ≤ 877.5
    expect(pns(res.lost)).toEqual([1, 2, 3]);
    expect(cc.persistent).toEqual([]);
  });

  it('ignores packets sent before the first RTT sample', () => {
    const { r, cc } = setup();
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onPacketSent(pkt(1, 50), 50);
    r.onAckReceived(2, [range(0, 0)], 0, 100); // first sample at 100; pn 1 was sent before it
    for (const [pn, t] of [
      [2, 1200],
      [3, 1250],
      [4, 1260],
      [5, 1270],
    ] as const) {
      r.onPacketSent(pkt(pn, t), t);
    }
    // sample 80 → duration 877.5 as above; 1200 − 50 = 1150 would qualify if pn 1 counted
    const res = r.onAckReceived(2, [range(3, 5)], 0, 1350);
    expect(pns(res.lost)).toEqual([1, 2]);
    expect(cc.persistent).toEqual([]);
    expect(cc.events).toHaveLength(1);
  });

  it('needs an RTT sample at all', () => {
    const { r, cc } = setup();
    r.setHandshakeConfirmed();
    for (const [pn, t] of [
      [0, 0],
      [1, 500],
      [2, 1000],
      [3, 1500],
      [4, 1510],
      [5, 1520],
    ] as const) {
      r.onPacketSent(pkt(pn, t), t);
    }
    const res = r.onAckReceived(2, [range(3, 5)], 0, 1600);
    expect(pns(res.lost)).toEqual([0, 1, 2]);
    expect(cc.persistent).toEqual([]);
    expect(cc.events).toHaveLength(1);
  });
});

describe('Recovery: PTO', () => {
  it('arms at last ack-eliciting send + PTO and doubles on each expiry without touching the window', () => {
    const { r, cc } = setup();
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    // 333 + 4·166.5 + max_ack_delay 25 = 1024
    expect(r.lossDetectionDeadline()).toBe(1024);
    expect(r.onLossDetectionTimeout(1023)).toEqual({ lost: [], probe: null });
    expect(r.ptoCount).toBe(0);
    expect(r.onLossDetectionTimeout(1024)).toEqual({ lost: [], probe: { space: 2, count: 2 } });
    expect(r.ptoCount).toBe(1);
    expect(r.lossDetectionDeadline()).toBe(2048); // 0 + (999 + 25)·2
    expect(r.onLossDetectionTimeout(2048).probe).toEqual({ space: 2, count: 2 });
    expect(r.ptoCount).toBe(2);
    expect(r.stats.ptoCount).toBe(2);
    expect(r.lossDetectionDeadline()).toBe(4096); // 1024·4
    expect(cc.window).toBe(12000);
    expect(cc.events).toEqual([]);
    expect(r.bytesInFlight).toBe(1000);
    // the probe's ACK resets the backoff; pn 0 is then lost by time (0 + 9/8·100 ≤ 2200)
    r.onPacketSent(pkt(1, 2100), 2100);
    const a = r.onAckReceived(2, [range(1, 1)], 0, 2200);
    expect(pns(a.lost)).toEqual([0]);
    expect(r.ptoCount).toBe(0);
    expect(r.stats.ptoCount).toBe(2);
    expect(r.lossDetectionDeadline()).toBeNull();
  });

  it('caps the backoff at maxPtoBackoff doublings', () => {
    const { r } = setup({ maxPtoBackoff: 1 });
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onLossDetectionTimeout(1024);
    r.onPacketSent(pkt(1, 1024), 1024);
    expect(r.lossDetectionDeadline()).toBe(3072); // 1024 + 1024·2
    r.onLossDetectionTimeout(3072);
    r.onPacketSent(pkt(2, 3072), 3072);
    expect(r.ptoCount).toBe(2);
    expect(r.lossDetectionDeadline()).toBe(5120); // 3072 + 1024·2 (not ·4)
  });

  it('Initial/Handshake PTOs exclude max_ack_delay and pick the earliest space', () => {
    const { r } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0, { space: 0 }), 0);
    r.onPacketSent(pkt(0, 10, { space: 1 }), 10);
    expect(r.lossDetectionDeadline()).toBe(999); // Initial: 0 + 999
    expect(r.onLossDetectionTimeout(999).probe).toEqual({ space: 0, count: 2 });
    // Initial 0 + 1998 vs Handshake 10 + 1998
    expect(r.lossDetectionDeadline()).toBe(1998);
  });

  it('arms no application PTO before the handshake is confirmed', () => {
    const { r } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0), 0);
    expect(r.lossDetectionDeadline()).toBeNull();
    expect(r.onLossDetectionTimeout(5000)).toEqual({ lost: [], probe: null });
    r.setHandshakeConfirmed();
    expect(r.lossDetectionDeadline()).toBe(1024);
  });

  it('client anti-deadlock PTO runs with nothing in flight until the server validated its address', () => {
    const { r } = setup();
    r.onPacketSent(pkt(0, 0, { space: 0 }), 0);
    r.onAckReceived(0, [range(0, 0)], 0, 100); // sample 100: PTO base 100 + 4·50 = 300
    expect(r.ackElicitingInFlight).toBe(0);
    expect(r.lossDetectionDeadline()).toBe(400); // from the ACK at 100
    expect(r.onLossDetectionTimeout(400)).toEqual({ lost: [], probe: { space: 0, count: 1 } });
    r.setHasHandshakeKeys(true);
    expect(r.lossDetectionDeadline()).toBe(1000); // 400 + 300·2
    expect(r.onLossDetectionTimeout(1000).probe).toEqual({ space: 1, count: 1 });
    expect(r.ptoCount).toBe(2);
    // an Initial ACK does not reset the backoff while the address is unvalidated
    r.onPacketSent(pkt(1, 1000, { space: 0 }), 1000);
    r.onAckReceived(0, [range(1, 1)], 0, 1100); // sample 100: rttvar 37.5 → base 250
    expect(r.ptoCount).toBe(2);
    expect(r.lossDetectionDeadline()).toBe(2100); // 1100 + 250·4
    // a Handshake ACK proves validation: backoff reset, nothing in flight → no timer
    r.onPacketSent(pkt(0, 1100, { space: 1 }), 1100);
    r.onAckReceived(1, [range(0, 0)], 0, 1200);
    expect(r.peerCompletedAddressValidation).toBe(true);
    expect(r.ptoCount).toBe(0);
    expect(r.lossDetectionDeadline()).toBeNull();
  });

  it('a server with nothing in flight, or blocked by amplification, arms no PTO', () => {
    const { r } = setup({ isServer: true });
    expect(r.lossDetectionDeadline(0)).toBeNull();
    r.onPacketSent(pkt(0, 0, { space: 0 }), 0);
    expect(r.lossDetectionDeadline()).toBe(999);
    r.setAmplificationLimited(true);
    expect(r.lossDetectionDeadline()).toBeNull();
    expect(r.onLossDetectionTimeout(5000)).toEqual({ lost: [], probe: null });
    r.setAmplificationLimited(false);
    expect(r.lossDetectionDeadline()).toBe(999);
  });
});

describe('Recovery: spaces, window and paths', () => {
  it('discardSpace drops its packets and bytes, resets the PTO backoff and ignores it afterwards', () => {
    const { r } = setup({ isServer: true });
    r.onPacketSent(pkt(0, 0, { space: 0, size: 1200 }), 0);
    r.onPacketSent(pkt(1, 1, { space: 0, size: 1200 }), 1);
    r.onPacketSent(pkt(0, 2, { space: 1, size: 1000 }), 2);
    expect(r.bytesInFlight).toBe(3400);
    r.onLossDetectionTimeout(1000); // Initial PTO at 1 + 999
    expect(r.ptoCount).toBe(1);
    const dropped = r.discardSpace(0, 1000);
    expect(dropped.map((p) => [p.space, p.pn])).toEqual([
      [0, 0],
      [0, 1],
    ]);
    expect(r.bytesInFlight).toBe(1000);
    expect(r.ptoCount).toBe(0);
    expect(r.isDiscarded(0)).toBe(true);
    expect(r.lossDetectionDeadline()).toBe(1001); // Handshake: 2 + 999
    expect([...r.unacked(0)]).toEqual([]);
    expect(r.onAckReceived(0, [range(0, 1)], 0, 1100)).toEqual({ acked: [], lost: [] });
    expect(() => r.onPacketSent(pkt(2, 1100, { space: 0 }), 1100)).toThrow(PetrelError);
    r.discardSpace(1, 1100);
    expect(r.bytesInFlight).toBe(0);
    expect(r.lossDetectionDeadline()).toBeNull();
  });

  it('sendableBytes is window − bytes in flight and never negative', () => {
    const { r } = setup({ isServer: true });
    expect(r.sendableBytes()).toBe(12000);
    for (let pn = 0; pn < 5; pn++) r.onPacketSent(pkt(pn, 0), 0);
    expect(r.sendableBytes()).toBe(7000);
    for (let pn = 5; pn < 13; pn++) r.onPacketSent(pkt(pn, 0), 0);
    expect(r.bytesInFlight).toBe(13000);
    expect(r.sendableBytes()).toBe(0);
  });

  it('rejects packet numbers that do not increase', () => {
    const { r } = setup({ isServer: true });
    r.onPacketSent(pkt(5, 0), 0);
    expect(() => r.onPacketSent(pkt(5, 0), 0)).toThrow();
    expect(() => r.onPacketSent(pkt(4, 0), 0)).toThrow();
    expect(r.bytesInFlight).toBe(1000);
    expect(r.onAckReceived(2, [range(4, 5)], 0, 1).error).toBeDefined(); // 4 is below the first sent
  });

  it('a path change resets RTT and congestion state; old-path packets stop feeding them', () => {
    const { r, cc } = setup({ isServer: true });
    r.setHandshakeConfirmed();
    r.onPacketSent(pkt(0, 0), 0);
    r.onAckReceived(2, [range(0, 0)], 0, 100);
    r.onPacketSent(pkt(1, 200), 200);
    r.onPacketSent(pkt(2, 210), 210);
    r.onPathChange();
    expect(cc.resets).toBe(1);
    expect(r.rtt.hasSample).toBe(false);
    expect(r.rtt.smoothed).toBe(333);
    expect(r.bytesInFlight).toBe(2000); // still outstanding
    r.onPacketSent(pkt(3, 300), 300);
    const a = r.onAckReceived(2, [range(1, 1)], 0, 400);
    expect(pns(a.acked)).toEqual([1]);
    expect(r.rtt.hasSample).toBe(false); // sample from an old-path packet is not taken
    const ackedBefore = cc.acked.length;
    expect(ackedBefore).toBe(1); // only the pre-change ACK of pn 0
    // sample 150 → loss delay 168.75: pn 2 (210 + 168.75 ≤ 450) is lost, but it is an old-path packet
    const b = r.onAckReceived(2, [range(3, 3), range(1, 1)], 0, 450);
    expect(r.rtt.latest).toBe(150);
    expect(pns(b.lost)).toEqual([2]);
    expect(cc.events).toEqual([]);
    expect(r.stats.packetsLost).toBe(1);
    expect(cc.acked.slice(ackedBefore).map((x) => x.map((p) => p.timeSent))).toEqual([[300]]);
  });
});
