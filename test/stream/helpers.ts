/** Test helpers shared by the stream tests. */

/** Bytes whose value encodes their stream position, so any misplaced byte shows. */
export function pattern(start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (start + i) % 251;
  return out;
}

/** First index where a and b differ (a length difference counts), or -1. Cheap for megabytes, unlike toEqual. */
export function mismatch(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
