import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SentPacket, SpaceId } from '../../lib/recovery/recovery.js';
import { setup } from './helpers.js';

type Op =
  | { t: 'send'; space: SpaceId; size: number; kind: 0 | 1 | 2 | 3; skip: number; dt: number }
  | { t: 'ack'; space: SpaceId; pick: number[]; newest: boolean; dt: number; delay: number }
  | { t: 'badack'; space: SpaceId; over: number }
  | { t: 'timeout' }
  | { t: 'discard'; space: 0 | 1 }
  | { t: 'confirm' }
  | { t: 'path' };

const space = fc.constantFrom<SpaceId>(0, 1, 2);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('send' as const),
      space,
      size: fc.integer({ min: 1, max: 1500 }),
      kind: fc.constantFrom<0 | 1 | 2 | 3>(0, 0, 0, 1, 2, 3),
      skip: fc.constantFrom(0, 0, 0, 1, 2),
      dt: fc.integer({ min: 0, max: 60 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('ack' as const),
      space,
      pick: fc.array(fc.nat({ max: 1000 }), { maxLength: 12 }),
      newest: fc.boolean(),
      dt: fc.integer({ min: 0, max: 200 }),
      delay: fc.integer({ min: 0, max: 50 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('badack' as const), space, over: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'timeout' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('discard' as const), space: fc.constantFrom<0 | 1>(0, 1) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'confirm' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'path' as const }) },
);

interface Model {
  outstanding: Map<number, SentPacket<string>>;
  sent: number[];
  next: number;
  discarded: boolean;
}

describe('Recovery property: bytes in flight', () => {
  it('always equals the sum of in-flight unacknowledged, unlost packet sizes', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(op, { maxLength: 80 }), (isServer, ops) => {
        const { r } = setup({ isServer });
        const m: Model[] = [0, 1, 2].map(() => ({ outstanding: new Map(), sent: [], next: 0, discarded: false }));
        let now = 0;
        const removeAll = (s: SpaceId, ps: readonly SentPacket<string>[]) => {
          for (const p of ps) {
            expect(p.space).toBe(s);
            expect(m[s]!.outstanding.get(p.pn)).toBe(p);
            m[s]!.outstanding.delete(p.pn);
          }
        };
        for (const o of ops) {
          switch (o.t) {
            case 'send': {
              const sm = m[o.space]!;
              if (sm.discarded) break;
              now += o.dt;
              const pn = sm.next + o.skip;
              sm.next = pn + 1;
              const p: SentPacket<string> = {
                pn,
                space: o.space,
                timeSent: now,
                size: o.size,
                ackEliciting: o.kind === 0 || o.kind === 3,
                inFlight: o.kind !== 2,
                frames: '',
                isPmtuProbe: o.kind === 3,
              };
              r.onPacketSent(p, now);
              sm.sent.push(pn);
              sm.outstanding.set(pn, p);
              break;
            }
            case 'ack': {
              const sm = m[o.space]!;
              if (sm.sent.length === 0) break;
              now += o.dt;
              const picked = o.pick.map((i) => sm.sent[i % sm.sent.length]!);
              // acking the newest packet is what makes older ones cross the packet threshold
              if (o.newest) picked.push(sm.sent[sm.sent.length - 1]!);
              const chosen = [...new Set(picked)].sort((a, b) => a - b);
              const ranges: { smallest: number; largest: number }[] = [];
              for (const pn of chosen) {
                const last = ranges[ranges.length - 1];
                if (last && last.largest + 1 === pn) last.largest = pn;
                else ranges.push({ smallest: pn, largest: pn });
              }
              ranges.reverse();
              const before = r.largestAcked(o.space);
              const res = r.onAckReceived(o.space, ranges, o.delay, now);
              expect(res.error).toBeUndefined();
              if (sm.discarded) {
                expect(res.acked).toEqual([]);
                break;
              }
              const expectAcked = chosen.filter((pn) => sm.outstanding.has(pn));
              expect(res.acked.map((p) => p.pn)).toEqual(expectAcked);
              removeAll(o.space, res.acked);
              removeAll(o.space, res.lost);
              // packet threshold: nothing 3 or more below the largest acknowledged survives an ACK that acked something
              const largest = Math.max(before, chosen[chosen.length - 1]!);
              if (expectAcked.length > 0) for (const pn of sm.outstanding.keys()) expect(pn + 3 > largest).toBe(true);
              break;
            }
            case 'badack': {
              const sm = m[o.space]!;
              const pn = (sm.sent.length ? sm.sent[sm.sent.length - 1]! : -1) + o.over;
              const res = r.onAckReceived(o.space, [{ smallest: pn, largest: pn }], 0, now);
              if (sm.discarded) expect(res.error).toBeUndefined();
              else expect(res.error).toBeDefined();
              expect(res.acked).toEqual([]);
              break;
            }
            case 'timeout': {
              const d = r.lossDetectionDeadline(now);
              if (d === null) break;
              now = Math.max(now, d);
              const ptoBefore = r.ptoCount;
              const res = r.onLossDetectionTimeout(now);
              for (let s = 0 as SpaceId; s < 3; s++) {
                removeAll(
                  s,
                  res.lost.filter((p) => p.space === s),
                );
              }
              if (res.probe) expect(r.ptoCount).toBe(ptoBefore + 1);
              else expect(r.ptoCount).toBe(ptoBefore);
              break;
            }
            case 'discard': {
              const sm = m[o.space]!;
              const dropped = r.discardSpace(o.space, now);
              removeAll(o.space, dropped);
              expect(sm.outstanding.size).toBe(0);
              sm.discarded = true;
              break;
            }
            case 'confirm':
              r.setHandshakeConfirmed();
              break;
            case 'path':
              r.onPathChange();
              break;
          }
          let sum = 0;
          let eliciting = 0;
          for (let s = 0 as SpaceId; s < 3; s++) {
            const inflight = [...m[s]!.outstanding.values()].filter((p) => p.inFlight);
            for (const p of inflight) {
              sum += p.size;
              if (p.ackEliciting) eliciting++;
            }
            expect([...r.unacked(s)].map((p) => p.pn)).toEqual(inflight.map((p) => p.pn));
          }
          expect(r.bytesInFlight).toBe(sum);
          expect(r.bytesInFlight).toBeGreaterThanOrEqual(0);
          expect(r.ackElicitingInFlight).toBe(eliciting);
          expect(r.sendableBytes()).toBe(Math.max(0, r.cc.window - sum));
          expect(r.cc.window).toBeGreaterThanOrEqual(2400);
          const d = r.lossDetectionDeadline(now);
          if (d !== null) expect(Number.isFinite(d)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
