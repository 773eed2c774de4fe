import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodeEnv } from '../../lib/transport/udp-endpoint.js';

describe('nodeEnv', () => {
  it('derives stateless reset tokens as HMAC-SHA256 under the endpoint subkey, truncated to 16 bytes', () => {
    const secret = new Uint8Array(32).map((_, i) => i * 11 + 3);
    const subkey = createHmac('sha256', secret).update('petrel stateless reset v1').digest();
    const env = nodeEnv(secret);
    for (const len of [0, 1, 8, 20, 63, 64, 65, 200]) {
      const cid = new Uint8Array(len).map((_, i) => (i * 37 + len) & 0xff);
      const expected = new Uint8Array(createHmac('sha256', subkey).update(cid).digest().subarray(0, 16));
      expect(env.resetToken!(cid)).toEqual(expected);
    }
    // Two ids in a row: no state carried from one token to the next.
    const a = new Uint8Array(8).fill(1);
    const b = new Uint8Array(4).fill(2);
    const ta = env.resetToken!(a);
    env.resetToken!(b);
    expect(env.resetToken!(a)).toEqual(ta);
    expect(nodeEnv(new Uint8Array(32)).resetToken!(a)).not.toEqual(ta);
  });

  it('fills small requests from a pool without handing out the same bytes twice', () => {
    const env = nodeEnv(new Uint8Array(32));
    const seen = new Set<string>();
    // 3,000 draws of 8 bytes cross several 4 KiB refills.
    for (let i = 0; i < 3000; i++) {
      const b = new Uint8Array(8);
      env.randomFill(b);
      const k = Buffer.from(b).toString('hex');
      expect(seen.has(k)).toBe(false);
      seen.add(k);
    }
    const big = new Uint8Array(1000);
    env.randomFill(big);
    expect(big.some((x) => x !== 0)).toBe(true);
    const ones = new Uint8Array(4096 * 3);
    env.randomFill(ones);
    expect(new Set(ones).size).toBeGreaterThan(200);
  });
});
