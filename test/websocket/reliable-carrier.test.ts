/**
 * The core's reliableCarrier option (draft-kazuho-quic-quic-on-streams in spirit): over a carrier that already
 * retransmits and controls congestion, the connection sends what flow control allows at once (no congestion
 * window, no pacing) and never declares a loss or sends a PTO probe. The dropped-packet case shows it is not
 * for lossy paths: nothing is ever repaired.
 */
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { pattern } from '../api/helpers.js';

const RELIABLE = { reliableCarrier: true, pacing: false };

function bulk(opts: { reliable: boolean; dropFirstStreamPacket?: boolean }): { inFlightEarly: number; done: boolean; pair: Pair } {
  const o = opts.reliable ? RELIABLE : {};
  const pair = new Pair({ latency: 10, client: o, server: o });
  expect(pair.run(() => pair.connected(), 5000)).toBe(true);
  // Let the handshake's stragglers settle (HANDSHAKE_DONE, ACKs).
  pair.run(() => false, pair.now + 100);
  const data = pattern(600_000, 3);
  const sid = pair.clientConn.openStream(true)!;
  pair.clientConn.streamWrite(sid, data, true);
  if (opts.dropFirstStreamPacket) {
    let dropped = false;
    pair.drop = (dir, _i, d) => {
      if (dir === 'c2s' && !dropped && d.length > 1000) return (dropped = true);
      return false;
    };
  }
  pair.run(() => false, pair.now + 1);
  const inFlightEarly = pair.clientConn.stats().bytesInFlight;
  let got = 0;
  const done = pair.run(() => {
    const s = pair.serverConn;
    if (!s) return false;
    for (let d = s.streamRead(sid); d; d = s.streamRead(sid)) got += d.length;
    return got === data.length;
  }, pair.now + 5000);
  return { inFlightEarly, done, pair };
}

describe('reliableCarrier', () => {
  it('sends what flow control allows at once, where the congestion window would hold it to a few packets', () => {
    const cc = bulk({ reliable: false });
    const rc = bulk({ reliable: true });
    expect(cc.done && rc.done).toBe(true);
    expect(cc.inFlightEarly).toBeLessThan(64 * 1024);
    expect(rc.inFlightEarly).toBeGreaterThan(250 * 1024); // the 256 KiB stream window, not a cwnd
  });

  it('never declares losses nor probes: a dropped packet is not repaired (the carrier must be reliable)', () => {
    const plain = bulk({ reliable: false, dropFirstStreamPacket: true });
    expect(plain.done).toBe(true);
    expect(plain.pair.clientConn.stats().packetsLost + plain.pair.clientConn.stats().ptoCount).toBeGreaterThan(0);
    const rc = bulk({ reliable: true, dropFirstStreamPacket: true });
    expect(rc.done).toBe(false);
    expect(rc.pair.clientConn.stats().packetsLost).toBe(0);
    expect(rc.pair.clientConn.stats().ptoCount).toBe(0);
  });
});
