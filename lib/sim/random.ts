/**
 * Seeded randomness for the simulator. Streams are xoroshiro128+ generators (pure-rand); `fork(label)` derives a child
 * stream from the parent's *seed key* and the label only, never from how much of the parent was consumed, so adding a
 * consumer of one stream (a new impairment, a new link) cannot shift the numbers any other stream produces.
 */
import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import type { RandomGenerator } from 'pure-rand';

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** murmur3's 32-bit finaliser: a cheap bijective avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function keyFromSeed(seed: number): Uint32Array {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`SimRandom seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const key = new Uint32Array(4);
  for (let i = 0; i < 4; i++) key[i] = fmix32(fmix32(lo ^ Math.imul(i + 1, 0x9e3779b9)) ^ hi);
  return key;
}

function forkKey(parent: Uint32Array, label: string): Uint32Array {
  const key = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    let h = fmix32(parent[i]! ^ Math.imul(i + 1, 0x7f4a7c15));
    for (let c = 0; c < label.length; c++) h = Math.imul(h ^ label.charCodeAt(c), 0x01000193);
    key[i] = fmix32(h ^ label.length);
  }
  return key;
}

function generatorFor(k: Uint32Array): RandomGenerator {
  // an all-zero state would stay zero forever
  if ((k[0]! | k[1]! | k[2]! | k[3]!) === 0) return xoroshiro128plus.fromState([1, 0, 0, 0]);
  return xoroshiro128plus.fromState([k[0]! | 0, k[1]! | 0, k[2]! | 0, k[3]! | 0]);
}

export class SimRandom {
  /** The root seed this stream descends from (forks keep it; informational). */
  readonly seed: number;
  private key: Uint32Array;
  private gen: RandomGenerator;

  /** `seed`: any safe integer. Two SimRandoms with the same seed produce the same numbers. */
  constructor(seed: number) {
    this.seed = seed;
    this.key = keyFromSeed(seed);
    this.gen = generatorFor(this.key);
  }

  /** Uniform double in [0, 1) with 53 random bits (the high bits of two outputs; the low bits of a + generator are weaker). */
  next(): number {
    const a = this.gen.unsafeNext() >>> 5;
    const b = this.gen.unsafeNext() >>> 6;
    return (a * TWO_POW_26 + b) / TWO_POW_53;
  }

  /** Uniform integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) throw new RangeError(`bad int range [${lo}, ${hi}]`);
    return unsafeUniformIntDistribution(lo, hi, this.gen);
  }

  /** true with probability `p`. Consumes one draw even when p is 0 or 1, so stream alignment never depends on p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** n random bytes (three per generator output, from its stronger high bits). */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    while (i < n) {
      const w = this.gen.unsafeNext();
      out[i++] = w >>> 24;
      if (i < n) out[i++] = (w >>> 16) & 0xff;
      if (i < n) out[i++] = (w >>> 8) & 0xff;
    }
    return out;
  }

  /** An independent stream named `label`: a pure function of this stream's seed key and the label. */
  fork(label: string): SimRandom {
    const child = new SimRandom(this.seed);
    child.key = forkKey(this.key, label);
    child.gen = generatorFor(child.key);
    return child;
  }
}
