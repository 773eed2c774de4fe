/**
 * Delivery-rate sampling (draft-ietf-ccwg-bbr §4.1): the sampler alone with numbers worked by hand, then
 * through Recovery with a controller that takes samples.
 */
import { describe, expect, it } from 'vitest';
import { NewReno } from '../../lib/congestion/new-reno.js';
import type { LostPacketInfo, RateSample } from '../../lib/congestion/types.js';
import { Recovery } from '../../lib/recovery/recovery.js';
import { RateSampler } from '../../lib/recovery/rate-sampler.js';
import type { SentPacket } from '../../lib/recovery/types.js';
import { pkt, range } from './helpers.js';

/** A sampler over a hand-kept in-flight count. */
function harness() {
  let inFlight = 0;
  const s = new RateSampler(() => inFlight);
  const send = (p: SentPacket<string>, now: number) => {
    inFlight += p.size;
    s.onSent(p, inFlight, now);
  };
  const ack = (ps: SentPacket<string>[], now: number, minRtt = 0): RateSample | null => {
    s.beginAck();
    for (const p of ps) {
      inFlight -= p.size;
      s.onAcked(p, now);
    }
    const rs = s.generate(now, minRtt);
    return rs === null ? null : { ...rs };
  };
  const lose = (p: SentPacket<string>): LostPacketInfo => {
    inFlight -= p.size;
    return { ...s.onLost(p) };
  };
  return { s, send, ack, lose, inFlight: () => inFlight };
}

describe('RateSampler', () => {
  it('records the delivery state in each packet at send time', () => {
    const h = harness();
    const p0 = pkt(0, 5);
    const p1 = pkt(1, 6);
    h.send(p0, 5);
    h.send(p1, 6);
    // Nothing in flight before p0: the sampling interval starts at its send.
    expect(p0).toMatchObject({ delivered: 0, deliveredTime: 5, firstSentTime: 5, appLimited: false, txInFlight: 1000, lostAtSend: 0 });
    expect(p1).toMatchObject({ delivered: 0, deliveredTime: 5, firstSentTime: 5, txInFlight: 2000 });
  });

  it('a flight of ten packets: rate = delivered / max(send elapsed, ack elapsed), from the newest packet acked', () => {
    const h = harness();
    const ps = Array.from({ length: 10 }, (_, i) => pkt(i, i));
    ps.forEach((p, i) => h.send(p, i));
    // ACK of packets 0..3 at t = 103: newest is pn 3 (sent at 3, delivered 0, delivered_time 0).
    const a = h.ack(ps.slice(0, 4), 103)!;
    expect(a.delivered).toBe(4000);
    expect(a.interval).toBe(103); // ack elapsed 103 − 0 beats send elapsed 3 − 0
    expect(a.deliveryRate).toBeCloseTo(4000 / 103, 12);
    expect(a.priorDelivered).toBe(0);
    expect(a.newlyAcked).toBe(4000);
    expect(a.txInFlight).toBe(4000);
    expect(a.rtt).toBe(100);
    expect(h.s.delivered).toBe(4000);
    // A packet sent now starts from this ACK's knee: delivered 4000 at 103.
    const p10 = pkt(10, 110);
    h.send(p10, 110);
    expect(p10).toMatchObject({ delivered: 4000, deliveredTime: 103, firstSentTime: 3 });
    h.ack(ps.slice(4), 109);
    // p10 acked at 210: delivered since its send = 6000 (pn 4..9) + 1000; ack elapsed 210 − 103 = 107;
    // send elapsed = 110 − 3 = 107 too.
    const b = h.ack([p10], 210)!;
    expect(b.delivered).toBe(7000);
    expect(b.interval).toBe(107);
    expect(b.deliveryRate).toBeCloseTo(7000 / 107, 12);
  });

  it('ACKs compressed after slow sending: send_elapsed caps the rate; after idle the interval restarts', () => {
    const h = harness();
    const p0 = pkt(0, 0);
    const p1 = pkt(1, 40);
    h.send(p0, 0);
    h.send(p1, 40);
    h.ack([p0], 50); // knee: delivered 1000 at 50; first_send_time becomes p0's send time, 0
    const p2 = pkt(2, 60);
    h.send(p2, 60);
    expect(p2).toMatchObject({ delivered: 1000, deliveredTime: 50, firstSentTime: 0 });
    // p1 and p2 acked together at 70: newest p2. ack elapsed 70 − 50 = 20, send elapsed 60 − 0 = 60.
    const rs = h.ack([p1, p2], 70)!;
    expect(rs.interval).toBe(60);
    expect(rs.delivered).toBe(2000);
    expect(rs.deliveryRate).toBeCloseTo(2000 / 60, 12);
    // Nothing in flight now: the next packet starts a fresh interval at its own send time.
    const p3 = pkt(3, 500);
    h.send(p3, 500);
    expect(p3).toMatchObject({ deliveredTime: 500, firstSentTime: 500 });
    const rs2 = h.ack([p3], 560)!;
    expect(rs2.interval).toBe(60);
    expect(rs2.deliveryRate).toBeCloseTo(1000 / 60, 12);
  });

  it('an interval shorter than min RTT gives no rate (deliveryRate 0), the other fields still filled', () => {
    const h = harness();
    const p = pkt(0, 0);
    h.send(p, 0);
    const rs = h.ack([p], 20, 30)!;
    expect(rs.deliveryRate).toBe(0);
    expect(rs.delivered).toBe(1000);
    expect(rs.rtt).toBe(20);
  });

  it('an ACK without sampled packets gives no sample', () => {
    const h = harness();
    expect(h.ack([], 5)).toBeNull();
  });

  it('app-limited: packets sent during the bubble give app-limited samples until the bubble is delivered', () => {
    const h = harness();
    const p0 = pkt(0, 0);
    h.send(p0, 0);
    h.s.markAppLimited(); // C.delivered 0 + in flight 1000
    expect(h.s.isAppLimited).toBe(true);
    const p1 = pkt(1, 1);
    h.send(p1, 1);
    expect(p1.appLimited).toBe(true);
    expect(h.ack([p0], 100)!.isAppLimited).toBe(false); // p0 was sent before the bubble
    // delivered (1000) is not past the bubble's end (1000) yet
    expect(h.s.isAppLimited).toBe(true);
    expect(h.ack([p1], 101)!.isAppLimited).toBe(true);
    expect(h.s.isAppLimited).toBe(false); // 2000 > 1000: the bubble left the pipe
    const p2 = pkt(2, 102);
    h.send(p2, 102);
    expect(p2.appLimited).toBe(false);
  });

  it('marking with nothing delivered or in flight still marks (the draft\'s "or 1")', () => {
    const h = harness();
    h.s.markAppLimited();
    expect(h.s.isAppLimited).toBe(true);
  });

  it("losses: C.lost, newly lost per ACK, and RS.lost between the newest packet's send and its ACK", () => {
    const h = harness();
    const ps = Array.from({ length: 4 }, (_, i) => pkt(i, i));
    ps.forEach((p, i) => h.send(p, i));
    h.s.beginAck();
    const l = h.lose(ps[1]!);
    expect(l).toMatchObject({ pn: 1, size: 1000, timeSent: 1, txInFlight: 2000, lostAtSend: 0, isAppLimited: false });
    expect(h.s.lost).toBe(1000);
    h.s.onAcked(ps[3]!, 100);
    const rs = h.s.generate(100, 0)!;
    expect(rs.lost).toBe(1000); // pn 1 was lost after pn 3 was sent
    expect(rs.newlyLost).toBe(1000);
    const p4 = pkt(4, 101);
    h.send(p4, 101);
    expect(p4.lostAtSend).toBe(1000);
    const rs2 = h.ack([p4], 200)!;
    expect(rs2.lost).toBe(0);
    expect(rs2.newlyLost).toBe(0);
  });
});

/** NewReno plus the sampling hooks, recording the order of calls. */
class SamplingCc extends NewReno {
  calls: string[] = [];
  samples: RateSample[] = [];
  lost: LostPacketInfo[] = [];
  bound = false;
  bindDeliveryState(): void {
    this.bound = true;
  }
  override onPacketsAcked(...a: Parameters<NewReno['onPacketsAcked']>): void {
    this.calls.push('acked');
    super.onPacketsAcked(...a);
  }
  override onCongestionEvent(t: number, now: number): void {
    this.calls.push('event');
    super.onCongestionEvent(t, now);
  }
  onRateSample(rs: RateSample): void {
    this.calls.push('sample');
    this.samples.push({ ...rs });
  }
  onPacketLost(p: LostPacketInfo): void {
    this.calls.push(`lost ${p.pn}`);
    this.lost.push({ ...p });
  }
}

describe('Recovery drives the sampler and the controller hooks', () => {
  it('binds the delivery state, samples per ACK after onPacketsAcked, reports each loss before the congestion event', () => {
    const cc = new SamplingCc({ maxDatagramSize: 1200 });
    const r = new Recovery<string>({ maxAckDelay: 25 }, cc);
    expect(cc.bound).toBe(true);
    r.setHandshakeConfirmed();
    for (let i = 0; i < 6; i++) r.onPacketSent(pkt(i, i * 10), i * 10);
    expect(r.rateSampler.bytesInFlight).toBe(6000);
    // ACK 2..5 at 200: pn 0 and 1 are 4+ packets below the largest: lost (packet threshold 3).
    r.onAckReceived(2, [range(2, 5)], 0, 200);
    expect(cc.calls).toEqual(['lost 0', 'lost 1', 'event', 'acked', 'sample']);
    expect(cc.lost.map((l) => l.txInFlight)).toEqual([1000, 2000]);
    const rs = cc.samples[0]!;
    expect(rs.newlyAcked).toBe(4000);
    expect(rs.newlyLost).toBe(2000);
    expect(rs.delivered).toBe(4000);
    expect(rs.rtt).toBe(150); // newest acked pn 5 sent at 50
    expect(rs.lost).toBe(2000);
    expect(r.rateSampler.delivered).toBe(4000);
    expect(r.rateSampler.lost).toBe(2000);
  });

  it('setAppLimited(true) starts an app-limited bubble', () => {
    const cc = new SamplingCc({ maxDatagramSize: 1200 });
    const r = new Recovery<string>({ maxAckDelay: 25 }, cc);
    r.setHandshakeConfirmed();
    r.setAppLimited(true);
    const p = pkt(0, 0);
    r.onPacketSent(p, 0);
    expect(p.appLimited).toBe(true);
    r.onAckReceived(2, [range(0, 0)], 0, 50);
    expect(cc.samples[0]!.isAppLimited).toBe(true);
    r.setAppLimited(false);
    const q = pkt(1, 60);
    r.onPacketSent(q, 60);
    expect(q.appLimited).toBe(false);
  });

  it('ACK-only packets neither count as delivered nor give samples', () => {
    const cc = new SamplingCc({ maxDatagramSize: 1200 });
    const r = new Recovery<string>({ maxAckDelay: 25 }, cc);
    r.onPacketSent(pkt(0, 0, { ackEliciting: false, inFlight: false, size: 40 }), 0);
    r.onAckReceived(2, [range(0, 0)], 0, 50);
    expect(cc.samples).toEqual([]);
    expect(r.rateSampler.delivered).toBe(0);
  });
});
