import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import type { Connection } from '../../lib/connection/connection.js';

function pattern(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = salt * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Drains every readable stream of a connection into per-stream byte arrays. */
function reader(conn: () => Connection | null) {
  const got = new Map<number, Uint8Array[]>();
  return {
    got,
    step() {
      const c = conn();
      if (!c) return;
      for (const id of [0, 4, 8, 1, 5, 9]) {
        for (let d = c.streamRead(id); d; d = c.streamRead(id)) {
          if (!got.has(id)) got.set(id, []);
          got.get(id)!.push(d.slice());
        }
      }
    },
    bytes(id: number): Uint8Array {
      return Buffer.concat(got.get(id) ?? []);
    },
  };
}

describe('stream data path over a lossless pair', () => {
  it('delivers 3 streams of different sizes intact, in order, hashes equal', () => {
    const p = new Pair({ latency: 5 });
    expect(p.run(() => p.connected())).toBe(true);
    const sizes = [1_000_000, 70_000, 1];
    const data = sizes.map((n, i) => pattern(n, i + 1));
    const ids = data.map(() => p.clientConn.openStream(true)!);
    expect(ids).toEqual([0, 4, 8]);
    ids.forEach((id, i) => p.clientConn.streamWrite(id, data[i]!, true));
    const r = reader(() => p.serverConn);
    const done = () => ids.every((id, i) => p.serverConn!.streamFinished(id) && r.bytes(id).length === sizes[i]);
    expect(p.run(done, 120_000, () => r.step())).toBe(true);
    ids.forEach((id, i) => expect(sha(r.bytes(id))).toBe(sha(data[i]!)));
    const st = p.clientConn.stats();
    expect(st.packetsLost).toBe(0);
    expect(st.bytesInFlight).toBeLessThanOrEqual(st.cwnd);
    // ~1 MB acknowledged within a few dozen ms of virtual time: a positive delivery rate (bytes per ms).
    expect(st.deliveryRate).toBeGreaterThan(0);
  });

  it('recovers from loss: every 7th datagram dropped both ways', () => {
    const p = new Pair({ latency: 20 });
    p.drop = (_dir, i) => i % 7 === 3;
    expect(p.run(() => p.connected())).toBe(true);
    const a = pattern(500_000, 9);
    const b = pattern(300_000, 10);
    const cs = p.clientConn.openStream(true)!;
    p.clientConn.streamWrite(cs, a, true);
    expect(p.run(() => p.serverConn !== null)).toBe(true);
    const ss = p.serverConn!.openStream(true)!;
    p.serverConn!.streamWrite(ss, b, true);
    const rs = reader(() => p.serverConn);
    const rc = reader(() => p.clientConn);
    const done = () =>
      rs.bytes(cs).length === a.length && rc.bytes(ss).length === b.length && p.serverConn!.streamFinished(cs) && p.clientConn.streamFinished(ss);
    expect(p.run(done, 300_000, () => (rs.step(), rc.step()))).toBe(true);
    expect(sha(rs.bytes(cs))).toBe(sha(a));
    expect(sha(rc.bytes(ss))).toBe(sha(b));
    expect(p.clientConn.stats().packetsLost).toBeGreaterThan(0);
  });
});
