/**
 * Datagram path MTU discovery (DPLPMTUD, RFC 8899) for one path, sans-IO (spec/pmtud.md).
 *
 * Sizes are UDP payload sizes, Petrel's CRC included. The connection sends each probe the module asks
 * for as a PING padded with PADDING to exactly that size, records it in Recovery with `isPmtuProbe`
 * (so its loss never shrinks the congestion window), and routes Recovery's verdicts back here:
 * probes to onProbeAcked/onProbeLost, every other packet to onPacketAcked/onPacketLost (black-hole
 * detection). No clock of its own: every input carries `now` (ms), and nextTimeout/onTimeout drive the
 * raise and re-search timers.
 *
 * Search: the first probe of a search is `max` (most paths carry 1500-byte MTUs, so a clean path is done
 * in one probe round trip); once a size has failed MAX_PROBES times in a row, a binary search runs over
 * [current, smallest failed size) and stops when that interval is at most `searchGranularity` wide.
 */
import { PetrelError } from '../errors.js';
import { BASE_DATAGRAM_SIZE } from '../wire/datagram.js';

/** RFC 8899 MAX_PROBES: consecutive losses of one probe size that prove it too large. */
export const MAX_PROBES = 3;
/** RFC 8899 PMTU_RAISE_TIMER, ms: how long a completed search below `max` waits before probing upward again. */
export const PMTU_RAISE_TIMER = 600_000;
/** Unrefuted losses of packets larger than BASE (spanning ≥ 2 loss reports) that mean a black hole. */
export const BLACK_HOLE_THRESHOLD = 6;
/** ms after a black-hole fall-back before searching again; doubles on repeated fall-backs (capped by the raise timer). */
export const RESEARCH_DELAY = 30_000;
/** The binary search stops once [largest acked, smallest failed) is at most this many bytes wide. */
export const SEARCH_GRANULARITY = 16;

export type PmtudState = 'disabled' | 'base' | 'searching' | 'search_complete' | 'error';

export interface PmtudConfig {
  /** size every path is assumed to carry (validated by the handshake's padded Initials); default 1200 */
  base?: number;
  /** search ceiling: min(1472 on IPv4 or 1452 on IPv6, the peer's max_udp_payload_size, our own limit) */
  max: number;
  /** default MAX_PROBES (3) */
  maxProbes?: number;
  /** ms, default PMTU_RAISE_TIMER (600 000) */
  raiseTimer?: number;
  /** default BLACK_HOLE_THRESHOLD (6); at least 2 */
  blackHoleThreshold?: number;
  /** ms, default RESEARCH_DELAY (30 000) */
  researchDelay?: number;
  /** bytes, default SEARCH_GRANULARITY (16) */
  searchGranularity?: number;
  /** called when a black hole is detected, after `current` has dropped to base; `from` is the abandoned size */
  onBlackHole?: (from: number, now: number) => void;
}

export interface PmtudStats {
  probesSent: number;
  probesAcked: number;
  probesLost: number;
  blackHoles: number;
}

function checkInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new PetrelError('INVALID_OPTION', `pmtud ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function checkTime(name: string, v: number): number {
  if (!(v >= 0) || !Number.isFinite(v)) throw new PetrelError('INVALID_OPTION', `pmtud ${name} must be a finite number ≥ 0, got ${v}`);
  return v;
}

export class Pmtud {
  private readonly base: number;
  private readonly maxProbes: number;
  private readonly raiseTimer: number;
  private readonly blackHoleThreshold: number;
  private readonly researchDelay: number;
  private readonly granularity: number;
  private readonly onBlackHole: ((from: number, now: number) => void) | undefined;

  private _state: PmtudState = 'base';
  private _current: number;
  private _max: number;
  /** in state 'base': whether `base` is known to pass (after a fall-back it is probed once) */
  private baseConfirmed = true;
  /** smallest size that failed MAX_PROBES times in this search, or Infinity while `max` is untried */
  private hi = Infinity;
  /** size the next probe must have (kept across retries), 0 when none */
  private target = 0;
  /** consecutive losses of `target` */
  private losses = 0;
  /** the probe in flight (size 0: none); one at a time */
  private probePn = -1;
  private probeSize = 0;
  private deadline: number | null = null;
  /** black-hole fall-backs in a row (each less than a raise timer after the previous one) */
  private fallbacks = 0;
  private lastFallbackAt = -Infinity;
  /**
   * Black-hole evidence: losses of packets in (base, current] that no later acknowledgment has refuted,
   * in report order (times non-decreasing). At most `blackHoleThreshold` entries.
   */
  private readonly lostSizes: number[] = [];
  private readonly lostTimes: number[] = [];

  readonly stats: PmtudStats = { probesSent: 0, probesAcked: 0, probesLost: 0, blackHoles: 0 };

  constructor(cfg: PmtudConfig) {
    this.base = checkInt('base', cfg.base ?? BASE_DATAGRAM_SIZE, 1);
    this._max = checkInt('max', cfg.max, 1);
    this.maxProbes = checkInt('maxProbes', cfg.maxProbes ?? MAX_PROBES, 1);
    this.raiseTimer = checkTime('raiseTimer', cfg.raiseTimer ?? PMTU_RAISE_TIMER);
    this.blackHoleThreshold = checkInt('blackHoleThreshold', cfg.blackHoleThreshold ?? BLACK_HOLE_THRESHOLD, 2);
    this.researchDelay = checkTime('researchDelay', cfg.researchDelay ?? RESEARCH_DELAY);
    this.granularity = checkInt('searchGranularity', cfg.searchGranularity ?? SEARCH_GRANULARITY, 1);
    this.onBlackHole = cfg.onBlackHole;
    this._current = this.base;
    if (this._max <= this.base) this._state = 'disabled';
  }

  get state(): PmtudState {
    return this._state;
  }

  /** The largest datagram the connection may send now (probes excepted). */
  get current(): number {
    return this._current;
  }

  /** The search ceiling. */
  get max(): number {
    return this._max;
  }

  get probeInFlight(): boolean {
    return this.probeSize !== 0;
  }

  /**
   * The size of the probe to send now, or null. Never while a probe is in flight. In state 'base' the
   * first call starts the search (the connection calls it once the handshake is confirmed).
   */
  nextProbe(now: number): number | null {
    if (this.probeSize !== 0) return null;
    if (this.deadline !== null && now >= this.deadline) this.onTimeout(now);
    if (this._state === 'base') {
      if (!this.baseConfirmed) return this.target;
      if (this.deadline !== null) return null;
      this.startSearch(now);
    }
    return this._state === 'searching' ? this.target : null;
  }

  /** The probe nextProbe asked for went out as packet `pn`; `size` must be what nextProbe returned. */
  onProbeSent(pn: number, size: number, _now: number): void {
    if (this.probeSize !== 0) throw new PetrelError('INVALID_STATE', 'a PMTU probe is already in flight');
    if (this.target === 0 || size !== this.target) {
      throw new PetrelError('INVALID_STATE', `PMTU probe of ${size} bytes was not requested (expected ${this.target || 'none'})`);
    }
    this.probePn = pn;
    this.probeSize = size;
    this.stats.probesSent++;
  }

  onProbeAcked(pn: number, now: number): void {
    if (this.probeSize === 0 || pn !== this.probePn) return; // abandoned or unknown probe
    const size = this.probeSize;
    this.probeSize = 0;
    this.stats.probesAcked++;
    this.refute(size, now);
    if (this._state === 'base') {
      this.confirmBase();
    } else if (this._state === 'searching') {
      this._current = size; // probes are always in (current, max]: setMax abandons larger ones
      this.continueSearch(now);
    }
  }

  /** A probe loss is expected and says nothing about congestion; MAX_PROBES in a row bound the search. */
  onProbeLost(pn: number, now: number): void {
    if (this.probeSize === 0 || pn !== this.probePn) return;
    const size = this.probeSize;
    this.probeSize = 0;
    this.stats.probesLost++;
    if (size !== this.target || ++this.losses < this.maxProbes) return;
    this.losses = 0;
    if (this._state === 'base') {
      // Even base does not get through: RFC 8899 ERROR. Keep base, retry after researchDelay.
      this._state = 'error';
      this.target = 0;
      this.deadline = now + this.researchDelay;
    } else if (this._state === 'searching') {
      this.hi = size;
      this.continueSearch(now);
    }
  }

  /** Any non-probe packet acknowledged: it proves its size still passes (refutes black-hole evidence). */
  onPacketAcked(size: number, now: number): void {
    this.refute(size, now);
    if (size >= this.base && (this._state === 'error' || (this._state === 'base' && !this.baseConfirmed))) {
      this._state = 'base';
      this.confirmBase();
      this.probeSize = 0; // a base probe still in flight no longer matters
    }
  }

  /**
   * Any non-probe packet declared lost. Returns true when this loss completed the black-hole evidence:
   * `current` is then base again (state 'base') and onBlackHole has been called.
   */
  onPacketLost(size: number, now: number): boolean {
    if (size <= this.base || size > this._current) return false;
    const sizes = this.lostSizes;
    const times = this.lostTimes;
    if (sizes.length >= this.blackHoleThreshold) {
      // Only possible when all entries came in one report (else we would have fallen back): keep the largest.
      let min = 0;
      for (let i = 1; i < sizes.length; i++) if (sizes[i]! < sizes[min]!) min = i;
      if (sizes[min]! >= size && times[0] === now) return false;
      sizes.splice(min, 1);
      times.splice(min, 1);
    }
    sizes.push(size);
    times.push(now);
    // Losses from a single report (one ACK after an outage, one burst) are not enough on their own.
    if (sizes.length < this.blackHoleThreshold || times[0] === now) return false;
    this.fallBack(now);
    return true;
  }

  /**
   * Sets the search ceiling (the peer's max_udp_payload_size, or a new local limit). Lowers `current` when
   * it exceeds the new ceiling; a ceiling ≤ base disables the search (current stays base).
   */
  setMax(max: number): void {
    checkInt('max', max, 1);
    const oldMax = this._max;
    this._max = max;
    if (max <= this.base) {
      this._state = 'disabled';
      this._current = this.base;
      this.clearSearch();
      this.deadline = null;
      this.clearEvidence();
      return;
    }
    if (this._state === 'disabled') {
      this._state = 'base';
      this.baseConfirmed = true;
      this.deadline = null;
    }
    if (this._current > max) {
      this._current = max;
      this.clearEvidence();
    }
    if (this.probeSize > max) this.probeSize = 0;
    if (this.hi !== Infinity && this.hi > max) this.hi = Infinity; // the new max itself is untried
    if (this._state === 'searching') {
      const t = this.pickTarget();
      if (t !== 0) this.setTarget(t);
      else this.finish(null); // only when current reached the new max
    } else if (this._state === 'search_complete') {
      if (this._current >= max) this.deadline = null;
      else if (max > oldMax && this._current === oldMax) this.beginSearch();
    }
  }

  /** Path change: back to base (a validated path carries base) and search again at the next nextProbe. */
  reset(_now: number): void {
    this._current = this.base;
    this._state = this._max <= this.base ? 'disabled' : 'base';
    this.baseConfirmed = true;
    this.clearSearch();
    this.deadline = null;
    this.fallbacks = 0;
    this.lastFallbackAt = -Infinity;
    this.clearEvidence();
  }

  /** When onTimeout wants to run (raise timer, re-search after a fall-back, retry after error), or null. */
  nextTimeout(): number | null {
    if (this._state === 'base' && !this.baseConfirmed) return null; // waiting on the base probe, not the clock
    return this.deadline;
  }

  onTimeout(now: number): void {
    if (this.deadline === null || now < this.deadline) return;
    switch (this._state) {
      case 'search_complete':
      case 'base':
        if (this._state === 'base' && !this.baseConfirmed) return;
        this.deadline = null;
        this.startSearch(now);
        return;
      case 'error':
        this.deadline = null;
        this._state = 'base';
        this.baseConfirmed = false;
        this.setTarget(this.base);
        return;
      default:
        this.deadline = null;
    }
  }

  // --- search ---

  private startSearch(now: number): void {
    this.beginSearch();
    if (this.target === 0) this.finish(now);
  }

  /** Enters 'searching' with the upper bound forgotten; target is 0 when there is nothing to search. */
  private beginSearch(): void {
    this._state = 'searching';
    this.deadline = null;
    this.hi = Infinity;
    this.losses = 0;
    this.target = 0;
    this.setTarget(this.pickTarget());
  }

  private continueSearch(now: number): void {
    const t = this.pickTarget();
    if (t === 0) this.finish(now);
    else this.setTarget(t);
  }

  /** Next size to probe, or 0 when the search is over. */
  private pickTarget(): number {
    const lo = this._current;
    if (lo >= this._max) return 0;
    if (this.hi === Infinity) return this._max;
    const width = this.hi - lo;
    return width > this.granularity ? lo + Math.floor(width / 2) : 0;
  }

  private setTarget(t: number): void {
    if (t !== this.target) this.losses = 0;
    this.target = t;
  }

  /** Search over; the raise timer runs only when there is room above `current`. */
  private finish(now: number | null): void {
    this._state = 'search_complete';
    this.target = 0;
    this.losses = 0;
    this.deadline = now !== null && this._current < this._max ? now + this.raiseTimer : null;
  }

  private confirmBase(): void {
    this.baseConfirmed = true;
    this.target = 0;
    this.losses = 0;
  }

  private clearSearch(): void {
    this.hi = Infinity;
    this.target = 0;
    this.losses = 0;
    this.probeSize = 0;
  }

  // --- black holes ---

  /** An acknowledged `size` proves sizes ≤ it pass: losses of those reported before `now` stop counting. */
  private refute(size: number, now: number): void {
    const sizes = this.lostSizes;
    if (sizes.length === 0) return;
    const times = this.lostTimes;
    let w = 0;
    for (let i = 0; i < sizes.length; i++) {
      if (sizes[i]! <= size && times[i]! < now) continue;
      sizes[w] = sizes[i]!;
      times[w] = times[i]!;
      w++;
    }
    sizes.length = w;
    times.length = w;
  }

  private clearEvidence(): void {
    this.lostSizes.length = 0;
    this.lostTimes.length = 0;
  }

  private fallBack(now: number): void {
    const from = this._current;
    this.fallbacks = now - this.lastFallbackAt >= this.raiseTimer ? 1 : this.fallbacks + 1;
    this.lastFallbackAt = now;
    this._current = this.base;
    this._state = 'base';
    this.baseConfirmed = false;
    this.clearSearch();
    this.setTarget(this.base);
    this.clearEvidence();
    const delay = this.researchDelay * 2 ** Math.min(this.fallbacks - 1, 30);
    this.deadline = now + Math.min(delay, this.raiseTimer);
    this.stats.blackHoles++;
    this.onBlackHole?.(from, now);
  }
}
