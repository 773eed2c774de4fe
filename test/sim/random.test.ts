import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../lib/sim/event-queue.js';
import { SimRandom } from '../../lib/sim/random.js';
import { fingerprint, fnv1a32 } from '../../lib/sim/trace.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('SimRandom', () => {
  it('is a pure function of the seed', () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const c = new SimRandom(43);
    const xa = Array.from({ length: 50 }, () => a.next());
    const xb = Array.from({ length: 50 }, () => b.next());
    const xc = Array.from({ length: 50 }, () => c.next());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it('next() stays in [0, 1) for any seed', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (seed) => {
        const r = new SimRandom(seed);
        for (let i = 0; i < 100; i++) {
          const v = r.next();
          if (!(v >= 0 && v < 1)) return false;
        }
        return true;
      }),
    );
  });

  it('next() has mean 1/2 and int() is uniform over an inclusive range', () => {
    const r = new SimRandom(7);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) sum += r.next();
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.01);

    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const v = r.int(3, 12);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(12);
      counts[v - 3]!++;
    }
    // chi-square with 9 degrees of freedom; 27.88 is the 0.1 % critical value
    const chi2 = counts.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    expect(chi2).toBeLessThan(27.88);
    expect(() => r.int(5, 4)).toThrow(RangeError);
  });

  it('bytes(n) returns n bytes and advances the stream', () => {
    const r = new SimRandom(1);
    const a = r.bytes(7);
    const b = r.bytes(7);
    expect(a.length).toBe(7);
    expect(r.bytes(0).length).toBe(0);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    // every byte value shows up in a long enough draw (no stuck bits)
    const seen = new Set(r.bytes(20_000));
    expect(seen.size).toBe(256);
  });

  it('fork(label) depends on the seed and the label only, not on consumption', () => {
    const used = new SimRandom(5);
    for (let i = 0; i < 37; i++) used.next();
    const f1 = used.fork('loss');
    const f2 = new SimRandom(5).fork('loss');
    const s1 = Array.from({ length: 20 }, () => f1.next());
    expect(Array.from({ length: 20 }, () => f2.next())).toEqual(s1);
    // a fork is independent of its parent and of its siblings
    const parent = Array.from({ length: 20 }, () => new SimRandom(5).next());
    const sibling = new SimRandom(5).fork('jitter');
    expect(Array.from({ length: 20 }, () => sibling.next())).not.toEqual(s1);
    expect(parent).not.toEqual(s1);
    expect(new SimRandom(6).fork('loss').next()).not.toBe(s1[0]);
    // nested forks are paths: a/b differs from b/a
    expect(new SimRandom(5).fork('a').fork('b').next()).not.toBe(new SimRandom(5).fork('b').fork('a').next());
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new SimRandom(1.5)).toThrow(RangeError);
    expect(() => new SimRandom(Number.NaN)).toThrow(RangeError);
  });
});

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit vectors', () => {
    expect(fnv1a32(ascii(''))).toBe(0x811c9dc5);
    expect(fnv1a32(ascii('a'))).toBe(0xe40c292c);
    expect(fnv1a32(ascii('foobar'))).toBe(0xbf9cf968);
    expect(fingerprint(ascii('a'))).toBe('e40c292c');
  });
});

describe('EventQueue', () => {
  it('pops by time, ties in insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const q = new EventQueue<{ time: number; seq: number; tag: number }>();
        times.forEach((time, tag) => q.push({ time, seq: 0, tag }));
        const expected = times.map((time, tag) => ({ time, tag })).sort((a, b) => a.time - b.time || a.tag - b.tag);
        const got: number[] = [];
        for (let e = q.pop(); e !== undefined; e = q.pop()) got.push(e.tag);
        expect(got).toEqual(expected.map((e) => e.tag));
        expect(q.size).toBe(0);
      }),
    );
  });
});
