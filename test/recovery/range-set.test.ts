import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeSet } from '../../lib/recovery/range-set.js';

function make(...ranges: Array<[number, number]>): RangeSet {
  const rs = new RangeSet();
  for (const [s, e] of ranges) rs.insert(s, e);
  return rs;
}

describe('RangeSet insert', () => {
  it('starts empty', () => {
    const rs = new RangeSet();
    expect(rs.isEmpty).toBe(true);
    expect(rs.rangeCount).toBe(0);
    expect(rs.count()).toBe(0);
    expect(rs.min()).toBe(-1);
    expect(rs.max()).toBe(-1);
    expect(rs.toArray()).toEqual([]);
    expect(rs.toAckRanges()).toEqual([]);
    expect(rs.has(0)).toBe(false);
    expect(rs.rangeContaining(0)).toBeNull();
  });

  it('returns the count of new integers for a fresh range', () => {
    const rs = new RangeSet();
    expect(rs.insert(5, 9)).toBe(5);
    expect(rs.toArray()).toEqual([[5, 9]]);
    expect(rs.insert(0, 0)).toBe(1);
    expect(rs.toArray()).toEqual([
      [0, 0],
      [5, 9],
    ]);
    expect(rs.insert(20, 20)).toBe(1);
    expect(rs.toArray()).toEqual([
      [0, 0],
      [5, 9],
      [20, 20],
    ]);
  });

  it('ignores an inverted range', () => {
    const rs = make([5, 9]);
    expect(rs.insert(4, 3)).toBe(0);
    expect(rs.toArray()).toEqual([[5, 9]]);
  });

  it('returns 0 for a duplicate or an interior range', () => {
    const rs = make([5, 9]);
    expect(rs.insert(5, 9)).toBe(0);
    expect(rs.insert(6, 8)).toBe(0);
    expect(rs.insert(9, 9)).toBe(0);
    expect(rs.toArray()).toEqual([[5, 9]]);
  });

  it('merges a range adjacent on the right', () => {
    const rs = make([5, 9]);
    expect(rs.insert(10, 12)).toBe(3);
    expect(rs.toArray()).toEqual([[5, 12]]);
  });

  it('merges a range adjacent on the left', () => {
    const rs = make([5, 9]);
    expect(rs.insert(2, 4)).toBe(3);
    expect(rs.toArray()).toEqual([[2, 9]]);
  });

  it('merges at 0 when adjacent to a range starting at 1', () => {
    const rs = make([1, 3]);
    expect(rs.insert(0, 0)).toBe(1);
    expect(rs.toArray()).toEqual([[0, 3]]);
  });

  it('does not merge ranges separated by a gap of one', () => {
    const rs = make([5, 9]);
    expect(rs.insert(11, 12)).toBe(2);
    expect(rs.insert(1, 3)).toBe(3);
    expect(rs.toArray()).toEqual([
      [1, 3],
      [5, 9],
      [11, 12],
    ]);
    expect(rs.rangeCount).toBe(3);
  });

  it('fills a single-integer gap, joining both neighbours', () => {
    const rs = make([5, 9], [11, 12]);
    expect(rs.insert(10, 10)).toBe(1);
    expect(rs.toArray()).toEqual([[5, 12]]);
  });

  it('counts only the uncovered part of a partial overlap', () => {
    const rs = make([5, 9]);
    expect(rs.insert(7, 14)).toBe(5); // 10..14
    expect(rs.toArray()).toEqual([[5, 14]]);
    expect(rs.insert(0, 6)).toBe(5); // 0..4
    expect(rs.toArray()).toEqual([[0, 14]]);
  });

  it('spans and swallows many ranges', () => {
    const rs = make([2, 3], [6, 7], [10, 10], [13, 15], [30, 31]);
    // [0, 20] covers 21 integers; 2+2+1+3 = 8 already present.
    expect(rs.insert(0, 20)).toBe(13);
    expect(rs.toArray()).toEqual([
      [0, 20],
      [30, 31],
    ]);
    expect(rs.count()).toBe(23);
  });

  it('spans ranges from inside the first to inside the last', () => {
    const rs = make([0, 4], [8, 9], [12, 20], [40, 41]);
    // [3, 15]: 13 integers, present 3,4,8,9,12..15 = 8.
    expect(rs.insert(3, 15)).toBe(5);
    expect(rs.toArray()).toEqual([
      [0, 20],
      [40, 41],
    ]);
  });

  it('inserts between existing ranges keeping order', () => {
    const rs = make([0, 1], [20, 21]);
    expect(rs.insert(10, 11)).toBe(2);
    expect(rs.toArray()).toEqual([
      [0, 1],
      [10, 11],
      [20, 21],
    ]);
    expect(rs.startAt(1)).toBe(10);
    expect(rs.endAt(1)).toBe(11);
  });

  it('handles large values (packet numbers / byte offsets beyond 2^32)', () => {
    const big = 2 ** 40;
    const rs = make([big, big + 9]);
    expect(rs.insert(big + 10, big + 10)).toBe(1);
    expect(rs.toArray()).toEqual([[big, big + 10]]);
    expect(rs.count()).toBe(11);
  });
});

describe('RangeSet remove', () => {
  it('splits a range', () => {
    const rs = make([0, 10]);
    rs.remove(4, 6);
    expect(rs.toArray()).toEqual([
      [0, 3],
      [7, 10],
    ]);
    expect(rs.count()).toBe(8);
  });

  it('trims the left edge', () => {
    const rs = make([5, 10]);
    rs.remove(0, 6);
    expect(rs.toArray()).toEqual([[7, 10]]);
  });

  it('trims the right edge', () => {
    const rs = make([5, 10]);
    rs.remove(8, 20);
    expect(rs.toArray()).toEqual([[5, 7]]);
  });

  it('removes exactly one range', () => {
    const rs = make([0, 1], [5, 10], [20, 21]);
    rs.remove(5, 10);
    expect(rs.toArray()).toEqual([
      [0, 1],
      [20, 21],
    ]);
  });

  it('removes single integers at range ends', () => {
    const rs = make([5, 10]);
    rs.remove(5, 5);
    rs.remove(10, 10);
    expect(rs.toArray()).toEqual([[6, 9]]);
  });

  it('trims one, drops several and trims another in a single call', () => {
    const rs = make([0, 5], [8, 9], [12, 13], [16, 25], [40, 40]);
    rs.remove(3, 18);
    expect(rs.toArray()).toEqual([
      [0, 2],
      [19, 25],
      [40, 40],
    ]);
  });

  it('removes everything', () => {
    const rs = make([1, 2], [4, 8], [100, 200]);
    rs.remove(0, 1000);
    expect(rs.isEmpty).toBe(true);
    expect(rs.toArray()).toEqual([]);
  });

  it('is a no-op on gaps and inverted ranges', () => {
    const rs = make([0, 3], [10, 12]);
    rs.remove(5, 8);
    rs.remove(20, 30);
    rs.remove(12, 11);
    expect(rs.toArray()).toEqual([
      [0, 3],
      [10, 12],
    ]);
  });
});

describe('RangeSet removeBelow / keepHighest / clear', () => {
  it('removeBelow drops whole ranges and trims the straddling one', () => {
    const rs = make([0, 3], [6, 9], [12, 15]);
    rs.removeBelow(8);
    expect(rs.toArray()).toEqual([
      [8, 9],
      [12, 15],
    ]);
    rs.removeBelow(10);
    expect(rs.toArray()).toEqual([[12, 15]]);
    rs.removeBelow(12);
    expect(rs.toArray()).toEqual([[12, 15]]);
    rs.removeBelow(16);
    expect(rs.isEmpty).toBe(true);
  });

  it('removeBelow(0) changes nothing', () => {
    const rs = make([0, 3], [6, 9]);
    rs.removeBelow(0);
    expect(rs.toArray()).toEqual([
      [0, 3],
      [6, 9],
    ]);
  });

  it('removeBelow at a range end keeps that single integer', () => {
    const rs = make([0, 3], [6, 9]);
    rs.removeBelow(9);
    expect(rs.toArray()).toEqual([[9, 9]]);
  });

  it('keepHighest drops the lowest ranges', () => {
    const rs = make([0, 1], [3, 4], [6, 7], [9, 10]);
    rs.keepHighest(4);
    expect(rs.rangeCount).toBe(4);
    rs.keepHighest(2);
    expect(rs.toArray()).toEqual([
      [6, 7],
      [9, 10],
    ]);
    rs.keepHighest(5);
    expect(rs.toArray()).toEqual([
      [6, 7],
      [9, 10],
    ]);
    rs.keepHighest(0);
    expect(rs.isEmpty).toBe(true);
  });

  it('clear empties the set and it stays usable', () => {
    const rs = make([0, 1], [3, 4]);
    rs.clear();
    expect(rs.isEmpty).toBe(true);
    expect(rs.count()).toBe(0);
    expect(rs.max()).toBe(-1);
    expect(rs.insert(3, 4)).toBe(2);
    expect(rs.toArray()).toEqual([[3, 4]]);
  });
});

describe('RangeSet queries', () => {
  const rs = make([2, 4], [7, 7], [10, 15]);

  it('min / max / count / rangeCount', () => {
    expect(rs.min()).toBe(2);
    expect(rs.max()).toBe(15);
    expect(rs.count()).toBe(3 + 1 + 6);
    expect(rs.rangeCount).toBe(3);
    expect(rs.isEmpty).toBe(false);
  });

  it('has', () => {
    const members = [2, 3, 4, 7, 10, 11, 12, 13, 14, 15];
    for (let v = 0; v <= 17; v++) expect(rs.has(v), `has(${v})`).toBe(members.includes(v));
  });

  it('hasRange', () => {
    expect(rs.hasRange(2, 4)).toBe(true);
    expect(rs.hasRange(3, 3)).toBe(true);
    expect(rs.hasRange(7, 7)).toBe(true);
    expect(rs.hasRange(11, 15)).toBe(true);
    expect(rs.hasRange(1, 4)).toBe(false);
    expect(rs.hasRange(2, 5)).toBe(false);
    expect(rs.hasRange(4, 7)).toBe(false); // spans a gap
    expect(rs.hasRange(10, 16)).toBe(false);
    expect(rs.hasRange(16, 20)).toBe(false);
    expect(rs.hasRange(5, 6)).toBe(false);
  });

  it('rangeContaining', () => {
    expect(rs.rangeContaining(2)).toEqual([2, 4]);
    expect(rs.rangeContaining(4)).toEqual([2, 4]);
    expect(rs.rangeContaining(7)).toEqual([7, 7]);
    expect(rs.rangeContaining(12)).toEqual([10, 15]);
    expect(rs.rangeContaining(1)).toBeNull();
    expect(rs.rangeContaining(5)).toBeNull();
    expect(rs.rangeContaining(9)).toBeNull();
    expect(rs.rangeContaining(16)).toBeNull();
  });

  it('startAt / endAt index ranges in ascending order', () => {
    expect([0, 1, 2].map((i) => [rs.startAt(i), rs.endAt(i)])).toEqual([
      [2, 4],
      [7, 7],
      [10, 15],
    ]);
  });

  it('toAckRanges is descending and honours the limit', () => {
    expect(rs.toAckRanges()).toEqual([
      { smallest: 10, largest: 15 },
      { smallest: 7, largest: 7 },
      { smallest: 2, largest: 4 },
    ]);
    expect(rs.toAckRanges(2)).toEqual([
      { smallest: 10, largest: 15 },
      { smallest: 7, largest: 7 },
    ]);
    expect(rs.toAckRanges(1)).toEqual([{ smallest: 10, largest: 15 }]);
    expect(rs.toAckRanges(0)).toEqual([]);
    expect(rs.toAckRanges(10)).toHaveLength(3);
  });

  it('queries do not mutate', () => {
    expect(rs.toArray()).toEqual([
      [2, 4],
      [7, 7],
      [10, 15],
    ]);
  });
});

// ---- Property tests against a Set<number> model over a small universe ----

const U = 200;

type Op =
  | { t: 'insert'; a: number; b: number }
  | { t: 'remove'; a: number; b: number }
  | { t: 'removeBelow'; v: number }
  | { t: 'keepHighest'; n: number }
  | { t: 'clear' };

const val = fc.integer({ min: 0, max: U });
// Short ranges dominate so the set stays fragmented; inverted pairs are kept to exercise end < start.
const span = fc
  .tuple(val, fc.oneof(fc.integer({ min: -2, max: 6 }), fc.integer({ min: -20, max: 60 })))
  .map(([a, d]) => ({ a, b: Math.min(U, Math.max(0, a + d)) }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: span.map(({ a, b }) => ({ t: 'insert' as const, a, b })) },
  { weight: 4, arbitrary: span.map(({ a, b }) => ({ t: 'remove' as const, a, b })) },
  { weight: 1, arbitrary: val.map((v) => ({ t: 'removeBelow' as const, v })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 12 }).map((n) => ({ t: 'keepHighest' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ t: 'clear' as const }) },
);

function modelRanges(m: Set<number>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let v = 0; v <= U; v++) {
    if (!m.has(v)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === v - 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

/** Applies op to the model; returns insert's expected count (0 for the others). */
function applyModel(m: Set<number>, o: Op): number {
  switch (o.t) {
    case 'insert': {
      let added = 0;
      for (let v = o.a; v <= o.b; v++) {
        if (!m.has(v)) {
          m.add(v);
          added++;
        }
      }
      return added;
    }
    case 'remove':
      for (let v = o.a; v <= o.b; v++) m.delete(v);
      return 0;
    case 'removeBelow':
      for (const v of [...m]) if (v < o.v) m.delete(v);
      return 0;
    case 'keepHighest': {
      const rs = modelRanges(m);
      for (const [s, e] of rs.slice(0, Math.max(0, rs.length - o.n))) for (let v = s; v <= e; v++) m.delete(v);
      return 0;
    }
    case 'clear':
      m.clear();
      return 0;
  }
}

function applyReal(rs: RangeSet, o: Op): number {
  switch (o.t) {
    case 'insert':
      return rs.insert(o.a, o.b);
    case 'remove':
      rs.remove(o.a, o.b);
      return 0;
    case 'removeBelow':
      rs.removeBelow(o.v);
      return 0;
    case 'keepHighest':
      rs.keepHighest(o.n);
      return 0;
    case 'clear':
      rs.clear();
      return 0;
  }
}

function checkAgainstModel(rs: RangeSet, m: Set<number>): void {
  const want = modelRanges(m);
  const got = rs.toArray();
  expect(got).toEqual(want);
  // Sorted, disjoint, non-adjacent, each non-empty.
  for (let i = 0; i < got.length; i++) {
    expect(got[i]![0]).toBeLessThanOrEqual(got[i]![1]);
    if (i > 0) expect(got[i]![0]).toBeGreaterThan(got[i - 1]![1] + 1);
  }
  expect(rs.rangeCount).toBe(want.length);
  expect(rs.isEmpty).toBe(m.size === 0);
  expect(rs.count()).toBe(m.size);
  expect(rs.min()).toBe(m.size ? Math.min(...m) : -1);
  expect(rs.max()).toBe(m.size ? Math.max(...m) : -1);
  for (let i = 0; i < want.length; i++) {
    expect(rs.startAt(i)).toBe(want[i]![0]);
    expect(rs.endAt(i)).toBe(want[i]![1]);
  }
  expect(rs.toAckRanges()).toEqual([...want].reverse().map(([s, e]) => ({ smallest: s, largest: e })));
}

describe('RangeSet properties (model: Set<number> over 0..200)', () => {
  it('random operation sequences match the model, including insert counts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const rs = new RangeSet();
        const m = new Set<number>();
        for (const o of ops) {
          const want = applyModel(m, o);
          expect(applyReal(rs, o)).toBe(want);
          checkAgainstModel(rs, m);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('point queries match the model', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: U + 2 }), fc.integer({ min: 0, max: 8 })), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 12 }),
        (ops, probes, limit) => {
          const rs = new RangeSet();
          const m = new Set<number>();
          for (const o of ops) {
            applyModel(m, o);
            applyReal(rs, o);
          }
          const ranges = modelRanges(m);
          for (const [v, len] of probes) {
            expect(rs.has(v)).toBe(m.has(v));
            let all = true;
            for (let x = v; x <= v + len; x++) all &&= m.has(x);
            expect(rs.hasRange(v, v + len)).toBe(all);
            const r = ranges.find(([s, e]) => s <= v && v <= e) ?? null;
            expect(rs.rangeContaining(v)).toEqual(r);
          }
          const ack = rs.toAckRanges(limit);
          expect(ack).toEqual(
            [...ranges]
              .reverse()
              .slice(0, limit)
              .map(([s, e]) => ({ smallest: s, largest: e })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('insert order does not matter and the count sums to the union size', () => {
    fc.assert(
      fc.property(fc.array(span, { maxLength: 30 }), (spans) => {
        const fwd = new RangeSet();
        const rev = new RangeSet();
        let addedFwd = 0;
        let addedRev = 0;
        for (const { a, b } of spans) addedFwd += fwd.insert(a, b);
        for (const { a, b } of [...spans].reverse()) addedRev += rev.insert(a, b);
        expect(fwd.toArray()).toEqual(rev.toArray());
        expect(addedFwd).toBe(fwd.count());
        expect(addedRev).toBe(rev.count());
      }),
      { numRuns: 200 },
    );
  });
});

describe('RangeSet that empties and fills again (arrays kept, not re-allocated)', () => {
  it('matches a plain set of integers through empty/refill cycles, large and small', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('insert'), a: fc.nat(80), b: fc.nat(6) }),
      fc.record({ k: fc.constant('remove'), a: fc.nat(80), b: fc.nat(10) }),
      fc.record({ k: fc.constant('removeBelow'), a: fc.nat(90), b: fc.constant(0) }),
      fc.record({ k: fc.constant('keepHighest'), a: fc.nat(5), b: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const rs = new RangeSet();
        let ref = new Set<number>();
        for (const { k, a, b } of ops) {
          if (k === 'insert') {
            // Every other value: many separate ranges, so emptying sometimes drops arrays beyond the kept size.
            for (let v = a; v <= a + b; v += 2) {
              rs.insert(v, v);
              ref.add(v);
            }
          } else if (k === 'remove') {
            rs.remove(a, a + b);
            for (let v = a; v <= a + b; v++) ref.delete(v);
          } else if (k === 'removeBelow') {
            rs.removeBelow(a);
            ref = new Set([...ref].filter((v) => v >= a));
          } else {
            rs.keepHighest(a);
            const pairs = rs.toArray();
            ref = new Set(pairs.flatMap(([s, e]) => Array.from({ length: e - s + 1 }, (_, i) => s + i)));
          }
          const sorted = [...ref].sort((x, y) => x - y);
          expect(rs.count()).toBe(sorted.length);
          expect(rs.isEmpty).toBe(sorted.length === 0);
          expect(rs.min()).toBe(sorted.length ? sorted[0] : -1);
          expect(rs.max()).toBe(sorted.length ? sorted[sorted.length - 1] : -1);
          for (const v of sorted) expect(rs.has(v)).toBe(true);
          expect(rs.toAckRanges().length).toBe(rs.rangeCount);
        }
      }),
      { numRuns: 300 },
    );
  });
});
