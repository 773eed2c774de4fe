/**
 * HKDF-Expand (RFC 5869 §2.3) over any HMAC-SHA-256, shared by providers: node:crypto has no
 * expand-only call, and a pure-JS provider only has to bring HMAC.
 */
import { HASH_LENGTH } from './provider.js';

export function hkdfExpandWithHmac(
  hmac: (key: Uint8Array, data: Uint8Array) => Uint8Array,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_LENGTH) {
    throw new RangeError(`HKDF-Expand length out of range: ${length}`);
  }
  const out = new Uint8Array(length);
  // T(i) = HMAC(PRK, T(i-1) | info | i); one input buffer reused, T(i-1) rewritten at its front.
  const input = new Uint8Array(HASH_LENGTH + info.length + 1);
  let prevLength = 0;
  let produced = 0;
  for (let i = 1; produced < length; i++) {
    input.set(info, prevLength);
    input[prevLength + info.length] = i;
    const t = hmac(prk, input.subarray(0, prevLength + info.length + 1));
    const take = Math.min(HASH_LENGTH, length - produced);
    out.set(t.subarray(0, take), produced);
    produced += take;
    input.set(t, 0);
    prevLength = HASH_LENGTH;
  }
  return out;
}
