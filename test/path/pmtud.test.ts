import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import { BLACK_HOLE_THRESHOLD, MAX_PROBES, PMTU_RAISE_TIMER, Pmtud, RESEARCH_DELAY, SEARCH_GRANULARITY } from '../../lib/path/pmtud.js';
import type { PmtudConfig } from '../../lib/path/pmtud.js';

const RTT = 50;

interface Run {
  /** sizes of every probe sent, in order */
  probes: number[];
  /** time after the last probe outcome */
  now: number;
}

/**
 * Drives probes until the module stops asking for one: each probe is acked one RTT later when it fits
 * `pathMtu` and `lose(size, index)` is false, else declared lost one RTT later.
 */
function search(p: Pmtud, pathMtu: number, start = 0, lose: (size: number, i: number) => boolean = () => false): Run {
  const probes: number[] = [];
  let now = start;
  let pn = 1000;
  for (;;) {
    const size = p.nextProbe(now);
    if (size === null) return { probes, now };
    if (probes.length > 100) throw new Error('search does not end');
    p.onProbeSent(++pn, size, now);
    expect(p.nextProbe(now)).toBeNull(); // one probe in flight at a time
    now += RTT;
    if (size <= pathMtu && !lose(size, probes.length)) p.onProbeAcked(pn, now);
    else p.onProbeLost(pn, now);
    probes.push(size);
  }
}

const ipv4 = (extra: Partial<PmtudConfig> = {}): Pmtud => new Pmtud({ max: 1472, ...extra });

describe('Pmtud: search', () => {
  it('exposes the documented constants', () => {
    expect([MAX_PROBES, PMTU_RAISE_TIMER, BLACK_HOLE_THRESHOLD, RESEARCH_DELAY, SEARCH_GRANULARITY]).toEqual([3, 600_000, 6, 30_000, 16]);
  });

  it('clean IPv4 path: one probe at 1472, then search_complete with no raise timer', () => {
    const p = ipv4();
    expect(p.state).toBe('base');
    expect(p.current).toBe(1200);
    const r = search(p, 1472);
    expect(r.probes).toEqual([1472]);
    expect(p.current).toBe(1472);
    expect(p.state).toBe('search_complete');
    expect(p.nextTimeout()).toBeNull();
    expect(p.stats).toEqual({ probesSent: 1, probesAcked: 1, probesLost: 0, blackHoles: 0 });
  });

  it('clean IPv6 path: one probe at 1452', () => {
    const p = new Pmtud({ max: 1452 });
    expect(search(p, 1500).probes).toEqual([1452]);
    expect(p.current).toBe(1452);
  });

  it('path limited to 1400: 1472×3 lost, 1336, 1404×3 lost, 1370, 1387, 1395 → 1395 after 10 probes', () => {
    const p = ipv4();
    const r = search(p, 1400);
    // [1200,1472) → 1336 ok; [1336,1472) → 1404 fails; [1336,1404) → 1370; [1370,1404) → 1387; [1387,1404) width 17 > 16 → 1395; width 9: done
    expect(r.probes).toEqual([1472, 1472, 1472, 1336, 1404, 1404, 1404, 1370, 1387, 1395]);
    expect(p.current).toBe(1395);
    expect(p.state).toBe('search_complete');
    expect(p.nextTimeout()).toBe(r.now + PMTU_RAISE_TIMER);
    expect(p.stats.probesLost).toBe(6);
  });

  it('lost probes never change current; only acked ones raise it', () => {
    const p = ipv4();
    const seen: number[] = [];
    let pn = 0;
    for (let now = 0; ; now += RTT) {
      const size = p.nextProbe(now);
      if (size === null) break;
      p.onProbeSent(++pn, size, now);
      const before = p.current;
      if (size <= 1300) {
        p.onProbeAcked(pn, now + RTT);
        expect(p.current).toBe(size);
      } else {
        p.onProbeLost(pn, now + RTT);
        expect(p.current).toBe(before);
      }
      seen.push(p.current);
    }
    // 1472×3, 1336×3, 1268 ok, 1302×3 (→ hi 1302), [1268,1302) width 34 → 1285 ok, width 17 → 1293 ok, width 9: done
    expect(seen).toEqual([1200, 1200, 1200, 1200, 1200, 1200, 1268, 1268, 1268, 1268, 1285, 1293]);
    expect(p.current).toBe(1293);
  });

  it('MAX_PROBES: two losses then an ack validate the size; the retry is the same size', () => {
    const p = ipv4();
    const r = search(p, 1472, 0, (_s, i) => i < 2);
    expect(r.probes).toEqual([1472, 1472, 1472]);
    expect(p.current).toBe(1472);
  });

  it('maxProbes 1: a single loss bounds the search', () => {
    const p = ipv4({ maxProbes: 1 });
    // 1472 lost → [1200,1472): 1336 ok, 1404 lost, 1370 ok, 1387 ok, 1395 ok
    expect(search(p, 1400).probes).toEqual([1472, 1336, 1404, 1370, 1387, 1395]);
    expect(p.current).toBe(1395);
  });

  it('loss counters are per size: a new size starts from zero losses', () => {
    const p = ipv4();
    // 1472 lost ×3; 1336 lost twice then acked; 1404 must still take three losses
    const r = search(p, 1400, 0, (s, i) => s === 1336 && i < 5);
    expect(r.probes).toEqual([1472, 1472, 1472, 1336, 1336, 1336, 1404, 1404, 1404, 1370, 1387, 1395]);
    expect(p.current).toBe(1395);
  });

  it('random probe loss can only make it settle lower: three unlucky losses of 1336 cap the search', () => {
    const p = ipv4();
    const r = search(p, 1472, 0, (s) => s === 1336 || s === 1472);
    // 1472 ×3, 1336 ×3 → [1200,1336): 1268, 1302, 1319, then [1319,1336) width 17 → 1327, width 9: done
    expect(r.probes).toEqual([1472, 1472, 1472, 1336, 1336, 1336, 1268, 1302, 1319, 1327]);
    expect(p.current).toBe(1327);
  });

  it('ignores outcomes of unknown probe numbers and refuses unrequested probes', () => {
    const p = ipv4();
    expect(() => p.onProbeSent(1, 1300, 0)).toThrow(PetrelError);
    expect(p.nextProbe(0)).toBe(1472);
    expect(() => p.onProbeSent(1, 1400, 0)).toThrow(/not requested/);
    p.onProbeSent(1, 1472, 0);
    expect(() => p.onProbeSent(2, 1472, 0)).toThrow(/in flight/);
    p.onProbeAcked(7, 10);
    p.onProbeLost(8, 10);
    expect(p.probeInFlight).toBe(true);
    expect(p.current).toBe(1200);
    p.onProbeAcked(1, 50);
    expect(p.current).toBe(1472);
    p.onProbeAcked(1, 60); // duplicate: no effect
    expect(p.stats.probesAcked).toBe(1);
  });

  it('every path limit in [1200, max] ends within 16 bytes below it, in ≤ 6 sizes and ≤ 18 probes (IPv4), ≤ 5 sizes and ≤ 15 probes (IPv6)', () => {
    for (const [max, maxSizes] of [
      [1472, 6],
      [1452, 5],
    ] as const) {
      let worstProbes = 0;
      let worstSizes = 0;
      for (let mtu = 1200; mtu <= max; mtu++) {
        const p = new Pmtud({ max });
        const r = search(p, mtu);
        expect(p.state).toBe('search_complete');
        expect(p.current).toBeLessThanOrEqual(mtu);
        expect(p.current).toBeGreaterThanOrEqual(Math.max(1200, mtu - SEARCH_GRANULARITY + 1));
        worstProbes = Math.max(worstProbes, r.probes.length);
        worstSizes = Math.max(worstSizes, new Set(r.probes).size);
      }
      expect(worstSizes).toBe(maxSizes);
      expect(worstProbes).toBe(maxSizes * MAX_PROBES);
    }
  });

  it('max ≤ base disables the search', () => {
    const p = new Pmtud({ max: 1200 });
    expect(p.state).toBe('disabled');
    expect(p.nextProbe(0)).toBeNull();
    expect(p.nextTimeout()).toBeNull();
    expect(p.current).toBe(1200);
  });

  it('rejects invalid configuration', () => {
    expect(() => new Pmtud({ max: 1472.5 })).toThrow(PetrelError);
    expect(() => new Pmtud({ max: 1472, maxProbes: 0 })).toThrow(/maxProbes/);
    expect(() => new Pmtud({ max: 1472, blackHoleThreshold: 1 })).toThrow(/blackHoleThreshold/);
    expect(() => new Pmtud({ max: 1472, raiseTimer: -1 })).toThrow(/raiseTimer/);
  });
});

describe('Pmtud: raise timer', () => {
  it('re-probes upward after PMTU_RAISE_TIMER at a stable size below max', () => {
    const p = ipv4();
    const r = search(p, 1400);
    expect(p.current).toBe(1395);
    const due = r.now + PMTU_RAISE_TIMER;
    expect(p.nextTimeout()).toBe(due);
    p.onTimeout(due - 1);
    expect(p.state).toBe('search_complete');
    expect(p.nextProbe(due - 1)).toBeNull();
    p.onTimeout(due);
    expect(p.state).toBe('searching');
    expect(p.nextTimeout()).toBeNull();
    // The path now carries 1472: the first probe of the new search is max.
    const again = search(p, 1472, due);
    expect(again.probes).toEqual([1472]);
    expect(p.current).toBe(1472);
    expect(p.nextTimeout()).toBeNull();
  });

  it('a raise search that fails keeps current and re-arms the timer', () => {
    const p = ipv4();
    const r = search(p, 1400);
    const due = r.now + PMTU_RAISE_TIMER;
    // nextProbe itself notices the due timer
    const again = search(p, 1400, due);
    // from 1395: 1472 ×3 → [1395,1472) width 77 → 1433 ×3 → [1395,1433) → 1414 ×3 → [1395,1414) → 1404 ×3 → [1395,1404): done
    expect(again.probes).toEqual([1472, 1472, 1472, 1433, 1433, 1433, 1414, 1414, 1414, 1404, 1404, 1404]);
    expect(p.current).toBe(1395);
    expect(p.nextTimeout()).toBe(again.now + PMTU_RAISE_TIMER);
  });
});

describe('Pmtud: setMax and reset', () => {
  it('setMax below current lowers current at once', () => {
    const p = ipv4();
    search(p, 1472);
    p.setMax(1452);
    expect(p.current).toBe(1452);
    expect(p.state).toBe('search_complete');
    expect(p.nextTimeout()).toBeNull();
  });

  it('setMax during a search abandons a too-large probe and probes the new max', () => {
    const p = ipv4();
    expect(p.nextProbe(0)).toBe(1472);
    p.onProbeSent(1, 1472, 0);
    p.setMax(1452);
    expect(p.probeInFlight).toBe(false);
    p.onProbeAcked(1, 50); // the abandoned probe: ignored
    expect(p.current).toBe(1200);
    expect(search(p, 1500, 50).probes).toEqual([1452]);
    expect(p.current).toBe(1452);
  });

  it('setMax after the search: a ceiling above current keeps it and the raise timer; one below lowers it', () => {
    const p = ipv4();
    const r = search(p, 1300);
    expect(p.current).toBe(1293);
    p.setMax(1400);
    expect(p.current).toBe(1293);
    expect(p.state).toBe('search_complete');
    expect(p.nextTimeout()).toBe(r.now + PMTU_RAISE_TIMER);
    p.setMax(1280);
    expect(p.current).toBe(1280);
    expect(p.nextTimeout()).toBeNull();
  });

  it('setMax during a binary search treats a lowered max as untried and probes it next', () => {
    const p = ipv4();
    const r = search(p, 1400, 0, () => false);
    p.reset(r.now);
    let pn = 0;
    for (let i = 0; i < 3; i++) {
      expect(p.nextProbe(i)).toBe(1472);
      p.onProbeSent(++pn, 1472, i);
      p.onProbeLost(pn, i);
    }
    expect(p.nextProbe(10)).toBe(1336); // binary search over [1200, 1472)
    p.setMax(1452); // 1472 failed, but 1452 never was tried
    expect(p.nextProbe(10)).toBe(1452);
    p.onProbeSent(++pn, 1452, 10);
    p.onProbeAcked(pn, 60);
    expect(p.current).toBe(1452);
    expect(p.state).toBe('search_complete');
  });

  it('setMax above a topped-out search starts a new search; setMax ≤ base disables', () => {
    const p = new Pmtud({ max: 1452 });
    search(p, 1472);
    expect(p.current).toBe(1452);
    p.setMax(1472);
    expect(p.state).toBe('searching');
    expect(search(p, 1472, 1000).probes).toEqual([1472]);
    p.setMax(1100);
    expect(p.state).toBe('disabled');
    expect(p.current).toBe(1200);
    expect(p.nextProbe(5000)).toBeNull();
    p.setMax(1472);
    expect(p.state).toBe('base');
    expect(search(p, 1472, 5000).probes).toEqual([1472]);
  });

  it('reset (path change) returns to base and searches again at once', () => {
    const p = ipv4();
    search(p, 1472);
    p.reset(1000);
    expect(p.current).toBe(1200);
    expect(p.state).toBe('base');
    expect(p.nextTimeout()).toBeNull();
    expect(search(p, 1400, 1000).probes).toEqual([1472, 1472, 1472, 1336, 1404, 1404, 1404, 1370, 1387, 1395]);
  });
});

describe('Pmtud: black holes', () => {
  it('falls back to base on the 6th loss of full-size packets while smaller ones get through, then re-searches to the new limit', () => {
    const events: [number, number][] = [];
    const p = ipv4({ onBlackHole: (from, now) => events.push([from, now]) });
    search(p, 1472);
    expect(p.current).toBe(1472);
    // The path shrinks to 1350. Each report: a small packet acked, a full-size one lost.
    let now = 1000;
    for (let i = 1; i <= 5; i++) {
      now += 10;
      p.onPacketAcked(900, now);
      expect(p.onPacketLost(1472, now)).toBe(false);
      expect(p.current).toBe(1472);
    }
    now += 10;
    p.onPacketAcked(1300, now); // smaller than every loss: refutes nothing
    expect(p.onPacketLost(1472, now)).toBe(true);
    expect(p.current).toBe(1200);
    expect(p.state).toBe('base');
    expect(events).toEqual([[1472, now]]);
    expect(p.stats.blackHoles).toBe(1);
    // Stale full-size losses after the fall-back do not count any more.
    expect(p.onPacketLost(1472, now + 10)).toBe(false);
    // Base is confirmed with one probe, then the re-search waits RESEARCH_DELAY.
    const fell = now;
    expect(p.nextTimeout()).toBeNull();
    const confirm = search(p, 1350, now + 10);
    expect(confirm.probes).toEqual([1200]);
    expect(p.state).toBe('base');
    expect(p.nextProbe(fell + RESEARCH_DELAY - 1)).toBeNull();
    expect(p.nextTimeout()).toBe(fell + RESEARCH_DELAY);
    p.onTimeout(fell + RESEARCH_DELAY);
    expect(p.state).toBe('searching');
    const r = search(p, 1350, fell + RESEARCH_DELAY);
    // 1472×3, 1336 ok, 1404×3, 1370×3, [1336,1370) → 1353×3, [1336,1353) width 17 → 1344 ok: done
    expect(r.probes).toEqual([1472, 1472, 1472, 1336, 1404, 1404, 1404, 1370, 1370, 1370, 1353, 1353, 1353, 1344]);
    expect(p.current).toBe(1344);
  });

  it('an acknowledged packet at least as large refutes earlier losses; smaller packets lost are ignored', () => {
    const p = ipv4();
    search(p, 1472);
    let now = 1000;
    for (let i = 0; i < 20; i++) {
      now += 10;
      expect(p.onPacketLost(1472, now)).toBe(false);
      expect(p.onPacketLost(1150, now)).toBe(false); // ≤ base: never evidence
      if (i % 5 === 4) p.onPacketAcked(1472, now + 1); // refutes the five losses before it
    }
    expect(p.current).toBe(1472);
    // all refuted: it takes six fresh losses again
    for (let k = 1; k <= 5; k++) expect(p.onPacketLost(1472, now + 10 * k)).toBe(false);
    expect(p.onPacketLost(1472, now + 60)).toBe(true);
  });

  it('an ack refutes only losses of sizes up to its own', () => {
    const p = ipv4();
    search(p, 1472);
    for (let i = 1; i <= 3; i++) p.onPacketLost(1300, i);
    for (let i = 4; i <= 5; i++) p.onPacketLost(1472, i);
    p.onPacketAcked(1400, 6); // refutes the three 1300s, not the 1472s
    for (let i = 7; i <= 9; i++) expect(p.onPacketLost(1472, i)).toBe(false);
    expect(p.onPacketLost(1472, 10)).toBe(true);
  });

  it('an ack in the same report as a loss does not refute it', () => {
    const p = ipv4();
    search(p, 1472);
    p.onPacketLost(1472, 100);
    p.onPacketAcked(1472, 100); // same report: cannot tell which was sent later, so the loss still counts
    for (let t = 200; t <= 500; t += 100) expect(p.onPacketLost(1472, t)).toBe(false);
    expect(p.onPacketLost(1472, 600)).toBe(true);
    // the same with the ack in a later report: the first loss is refuted
    const q = ipv4();
    search(q, 1472);
    q.onPacketLost(1472, 100);
    q.onPacketAcked(1472, 101);
    for (let t = 200; t <= 600; t += 100) expect(q.onPacketLost(1472, t)).toBe(false);
    expect(q.onPacketLost(1472, 700)).toBe(true);
  });

  it('many losses in a single report (outage, burst) are not enough; a loss in a later report is', () => {
    const p = ipv4();
    search(p, 1472);
    for (let i = 0; i < 40; i++) expect(p.onPacketLost(1472, 5000)).toBe(false);
    expect(p.current).toBe(1472);
    // after the outage, full-size packets get through again: the evidence is refuted
    p.onPacketAcked(1472, 5100);
    expect(p.onPacketLost(1472, 5200)).toBe(false);
    expect(p.current).toBe(1472);
    // the loss at 5200 plus five in the next report make six over two reports
    for (let i = 0; i < 4; i++) expect(p.onPacketLost(1472, 6000)).toBe(false);
    expect(p.onPacketLost(1472, 6000)).toBe(true);
    expect(p.current).toBe(1200);
  });

  it('losses larger than current (sent before a fall-back or a lower max) are not evidence', () => {
    const p = ipv4();
    search(p, 1400);
    expect(p.current).toBe(1395);
    for (let i = 1; i <= 10; i++) expect(p.onPacketLost(1472, i)).toBe(false);
  });

  it('repeated fall-backs double the re-search delay, capped by the raise timer; a quiet raise period resets it', () => {
    const p = ipv4({ researchDelay: 200_000 });
    const fallBack = (start: number): number => {
      search(p, 1472, start); // base probe (if any) and, when due, the search up to 1472
      let t = start + 1000;
      for (let i = 0; i < BLACK_HOLE_THRESHOLD; i++) p.onPacketLost(1472, ++t);
      expect(p.current).toBe(1200);
      search(p, 1472, t); // confirm base
      return t;
    };
    // reach 1472, then fall back three times, each time once the re-search succeeded
    search(p, 1472);
    const t1 = fallBack(0);
    expect(p.nextTimeout()).toBe(t1 + 200_000);
    search(p, 1472, t1 + 200_000);
    expect(p.current).toBe(1472);
    const t2 = fallBack(t1 + 200_000);
    expect(p.nextTimeout()).toBe(t2 + 400_000);
    search(p, 1472, t2 + 400_000);
    const t3 = fallBack(t2 + 400_000);
    expect(p.nextTimeout()).toBe(t3 + PMTU_RAISE_TIMER); // 800 000 capped at 600 000
    // long after the last one (≥ raise timer): delay is back to researchDelay
    search(p, 1472, t3 + PMTU_RAISE_TIMER);
    const t4 = fallBack(t3 + 2 * PMTU_RAISE_TIMER);
    expect(p.nextTimeout()).toBe(t4 + 200_000);
  });

  it('base that does not get through MAX_PROBES times → error; a later ack of a base-size packet leaves it', () => {
    const p = ipv4();
    search(p, 1472);
    for (let i = 1; i <= BLACK_HOLE_THRESHOLD; i++) p.onPacketLost(1472, i);
    expect(p.state).toBe('base');
    const r = search(p, 1000, 10); // even 1200 is lost
    expect(r.probes).toEqual([1200, 1200, 1200]);
    expect(p.state).toBe('error');
    expect(p.current).toBe(1200);
    expect(p.nextProbe(r.now)).toBeNull();
    expect(p.nextTimeout()).toBe(r.now + RESEARCH_DELAY);
    p.onPacketAcked(1100, r.now + 1); // smaller than base: proves nothing
    expect(p.state).toBe('error');
    p.onPacketAcked(1200, r.now + 2);
    expect(p.state).toBe('base');
    expect(p.nextProbe(r.now + 3)).toBeNull(); // waits for the retry deadline, then searches
    expect(search(p, 1472, r.now + RESEARCH_DELAY).probes).toEqual([1472]);
  });

  it('error retries the base probe after RESEARCH_DELAY', () => {
    const p = ipv4();
    search(p, 1472);
    for (let i = 1; i <= BLACK_HOLE_THRESHOLD; i++) p.onPacketLost(1472, i);
    const r = search(p, 1000, 10);
    expect(p.state).toBe('error');
    p.onTimeout(r.now + RESEARCH_DELAY);
    expect(p.state).toBe('base');
    expect(p.nextTimeout()).toBeNull();
    // base passes again: confirmed, and the search starts right away (the wait already happened)
    const again = search(p, 1472, r.now + RESEARCH_DELAY);
    expect(again.probes).toEqual([1200, 1472]);
    expect(p.current).toBe(1472);
  });

  it('a base-size data ack confirms base without waiting for the base probe', () => {
    const p = ipv4();
    search(p, 1472);
    for (let i = 1; i <= BLACK_HOLE_THRESHOLD; i++) p.onPacketLost(1472, i); // falls back at now = 6
    expect(p.nextProbe(10)).toBe(1200);
    p.onProbeSent(1, 1200, 10);
    p.onPacketAcked(1200, 20);
    expect(p.probeInFlight).toBe(false);
    expect(p.nextTimeout()).toBe(6 + RESEARCH_DELAY);
  });
});

describe('Pmtud: properties', () => {
  /** deterministic LCG seeded by fast-check (no Math.random in tests either) */
  const lcg = (seed: number): (() => number) => {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  };
  const fail = (msg: string): never => {
    throw new Error(msg);
  };

  /**
   * Runs a connection-like driver for `horizon` ms: one probe at a time (outcome one RTT later), one data
   * packet every 10 ms of a random size up to `current`. `mtuAt(now)` is the path's limit.
   */
  function drive(
    p: Pmtud,
    mtuAt: (now: number) => number,
    rand: () => number,
    probeLoss: number,
    dataLoss: number,
    horizon: number,
    check: (now: number, probeLostBelowMtu: boolean) => void,
    onDataLost?: (size: number, now: number) => void,
  ): void {
    let pn = 0;
    let probe = -1;
    let probeSize = 0;
    let probeSentAt = 0;
    let probeLostBelowMtu = false;
    for (let now = 0; now < horizon; now += 10) {
      const mtu = mtuAt(now);
      if (probe === -1) {
        const size = p.nextProbe(now);
        if (size !== null) {
          if (size < 1200 || size > p.max) fail(`probe size ${size}`);
          probe = ++pn;
          probeSize = size;
          probeSentAt = now;
          p.onProbeSent(probe, size, now);
        }
      } else if (now - probeSentAt >= RTT) {
        if (probeSize <= mtu && rand() >= probeLoss) p.onProbeAcked(probe, now);
        else {
          if (probeSize <= mtu) probeLostBelowMtu = true;
          p.onProbeLost(probe, now);
        }
        probe = -1;
      }
      const size = 1000 + Math.floor(rand() * (p.current - 999));
      if (size > mtu || rand() < dataLoss) {
        onDataLost?.(size, now);
        p.onPacketLost(size, now);
      } else p.onPacketAcked(size, now);
      const t = p.nextTimeout();
      if (t !== null && t <= now) p.onTimeout(now);
      check(now, probeLostBelowMtu);
    }
  }

  it('current stays in [base, min(path, max)]; with no probe lost it converges to within granularity of the limit', () => {
    const scenario = fc.record({
      mtu: fc.integer({ min: 1200, max: 1500 }),
      max: fc.constantFrom(1452, 1472),
      probeLoss: fc.constantFrom(0, 0, 0.1, 0.3),
      dataLoss: fc.constantFrom(0, 0.05, 0.3),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, ({ mtu, max, probeLoss, dataLoss, seed }) => {
        const rand = lcg(seed);
        const limit = Math.min(mtu, max);
        const floor = Math.max(1200, limit - SEARCH_GRANULARITY + 1);
        const p = new Pmtud({ max, researchDelay: 5_000, raiseTimer: 60_000 });
        drive(
          p,
          () => mtu,
          rand,
          probeLoss,
          dataLoss,
          200_000,
          (now, probeLost) => {
            if (p.current < 1200 || p.current > limit) fail(`current ${p.current} outside [1200, ${limit}] at ${now}`);
            if (p.state === 'search_complete' && !probeLost && p.current < floor) fail(`settled at ${p.current} < ${floor}`);
          },
        );
        if (probeLoss === 0 && dataLoss === 0) {
          expect(p.state).toBe('search_complete');
          expect(p.current).toBeGreaterThanOrEqual(floor);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('after the path shrinks below current, current is back under the limit within BLACK_HOLE_THRESHOLD losses and stays there', () => {
    const scenario = fc.record({
      before: fc.integer({ min: 1300, max: 1472 }),
      after: fc.integer({ min: 1200, max: 1471 }),
      dataLoss: fc.constantFrom(0, 0.05, 0.2),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, ({ before, after, dataLoss, seed }) => {
        fc.pre(after < before - SEARCH_GRANULARITY);
        const rand = lcg(seed);
        const p = new Pmtud({ max: 1472, researchDelay: 5_000, raiseTimer: 60_000 });
        const shrinkAt = 20_000;
        let lossesOverLimit = 0;
        let recovered = -1;
        const check = (now: number): void => {
          if (now < shrinkAt) return;
          if (recovered < 0 && p.current <= after) recovered = now;
          if (recovered >= 0 && p.current > after) fail(`current ${p.current} above the new limit ${after} at ${now}`);
        };
        const lost = (size: number, now: number): void => {
          if (now >= shrinkAt && recovered < 0 && size > after) lossesOverLimit++;
        };
        drive(p, (now) => (now < shrinkAt ? before : after), rand, 0, dataLoss, 150_000, check, lost);
        expect(recovered).toBeGreaterThanOrEqual(shrinkAt);
        expect(lossesOverLimit).toBeLessThanOrEqual(BLACK_HOLE_THRESHOLD);
        expect(p.stats.blackHoles).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 80 },
    );
  });
});
