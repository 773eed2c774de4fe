/** Stream and datagram priorities in the RFC 9218 model (urgency 0–7, incremental flag). */
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { inspectDatagram } from '../helpers/inspect.js';

/** Stream ids of STREAM frames, in order, in every client→server datagram. */
function recordStreamOrder(p: Pair): number[][] {
  const log: number[][] = [];
  p.drop = (dir, _i, data) => {
    if (dir === 'c2s') {
      const ids = inspectDatagram(data).flatMap((pk) => pk.frames.flatMap((f) => (f.type === 'stream' ? [f.streamId] : [])));
      if (ids.length) log.push(ids);
    }
    return false;
  };
  return log;
}

describe('priorities', () => {
  it('an urgent message written behind a bulk stream leaves in the very next packet', () => {
    const p = new Pair({ latency: 20 });
    expect(p.run(() => p.connected())).toBe(true);
    const bulk = p.clientConn.openStream(true)!;
    const urgent = p.clientConn.openStream(true, { urgency: 0 })!;
    p.clientConn.streamWrite(bulk, new Uint8Array(3_000_000));
    // Let the bulk transfer get going (window open, packets queued).
    p.run(() => false, p.now + 300);
    const log = recordStreamOrder(p);
    p.clientConn.streamWrite(urgent, new Uint8Array(100).fill(9));
    p.run(() => log.length >= 3, p.now + 5_000);
    // The first packet carrying stream data after the write carries the urgent message, first.
    expect(log[0]![0]).toBe(urgent);
  });

  it('non-incremental streams of one urgency are served one at a time, in id order', () => {
    const p = new Pair({ latency: 10 });
    expect(p.run(() => p.connected())).toBe(true);
    const log = recordStreamOrder(p);
    const a = p.clientConn.openStream(true)!;
    const b = p.clientConn.openStream(true)!;
    p.clientConn.streamWrite(b, new Uint8Array(200_000), true);
    p.clientConn.streamWrite(a, new Uint8Array(200_000), true);
    p.run(() => p.clientConn.streamBufferedBytes(a) === 0 && p.clientConn.streamBufferedBytes(b) === 0, 60_000);
    const order = log.flat();
    // All of a's first transmissions come before b's first frame (lower id first, to completion).
    const firstB = order.indexOf(b);
    const lastA = order.lastIndexOf(a);
    expect(firstB).toBeGreaterThan(0);
    expect(lastA).toBeLessThan(firstB);
  });

  it('incremental streams of one urgency share packets round-robin', () => {
    const p = new Pair({ latency: 10 });
    expect(p.run(() => p.connected())).toBe(true);
    const log = recordStreamOrder(p);
    const a = p.clientConn.openStream(true, { incremental: true })!;
    const b = p.clientConn.openStream(true, { incremental: true })!;
    p.clientConn.streamWrite(a, new Uint8Array(200_000), true);
    p.clientConn.streamWrite(b, new Uint8Array(200_000), true);
    p.run(() => p.clientConn.streamBufferedBytes(a) === 0 && p.clientConn.streamBufferedBytes(b) === 0, 60_000);
    const order = log.flat();
    // Interleaved: in the first 40 frames both appear many times, alternating.
    const head = order.slice(0, 40);
    expect(head.filter((x) => x === a).length).toBeGreaterThan(15);
    expect(head.filter((x) => x === b).length).toBeGreaterThan(15);
  });

  it('urgency orders datagrams against streams: an urgency-7 datagram waits for urgency-3 stream data', () => {
    const p = new Pair({ latency: 10 });
    expect(p.run(() => p.connected() && p.clientConn.maxDatagramPayload() > 0)).toBe(true);
    const kinds: string[] = [];
    p.drop = (dir, _i, data) => {
      if (dir === 'c2s') {
        for (const pk of inspectDatagram(data)) for (const f of pk.frames) if (f.type === 'stream' || f.type === 'datagram') kinds.push(f.type);
      }
      return false;
    };
    const s = p.clientConn.openStream(true)!;
    p.clientConn.sendDatagram(new Uint8Array(50), 7);
    p.clientConn.streamWrite(s, new Uint8Array(2000), true);
    p.clientConn.sendDatagram(new Uint8Array(50), 0);
    p.run(() => kinds.length >= 4, 10_000);
    expect(kinds[0]).toBe('datagram'); // the urgency-0 datagram
    expect(kinds.indexOf('stream')).toBeLessThan(kinds.lastIndexOf('datagram'));
    expect(kinds[kinds.length - 1]).toBe('datagram'); // the urgency-7 one comes last
  });
});
