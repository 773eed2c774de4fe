/**
 * Targeted scenarios of the data path (issue: reliable connection core, part 1), each driven in virtual time.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { hasStreamFrame } from '../helpers/inspect.js';

describe('handshake under loss: drop each handshake datagram in turn, in each direction', () => {
  // A clean handshake's datagrams, counted per direction.
  const clean = new Pair();
  clean.run(() => clean.connected() && clean.clientEvents.some((e) => e.kind === 'connection' && e.event.type === 'handshake_confirmed'));
  const counts = { c2s: 0, s2c: 0 };
  // Count by running again with a pass-through filter.
  const counter = new Pair();
  counter.drop = (dir) => {
    counts[dir]++;
    return false;
  };
  counter.run(() => counter.connected() && counter.clientEvents.some((e) => e.kind === 'connection' && e.event.type === 'handshake_confirmed'));

  for (const dir of ['c2s', 's2c'] as const) {
    for (let i = 0; i < Math.max(counts[dir], 1); i++) {
      it(`${dir} datagram #${i} dropped: both sides establish with identical parameters`, () => {
        const p = new Pair({ latency: 15 });
        p.drop = (d, index) => d === dir && index === i;
        const ok = p.run(
          () => p.connected() && p.serverConn !== null && p.clientConn.state === 'established' && p.serverConn.state === 'established',
          30_000,
        );
        expect(ok).toBe(true);
        // What each side received is exactly what the other sent.
        const sp = p.clientConn.peerTransportParameters!;
        const cp = p.serverConn!.peerTransportParameters!;
        expect(sp.initialSourceConnectionId).toEqual(p.serverConn!.localCid);
        expect(cp.initialSourceConnectionId).toEqual(p.clientConn.localCid);
        expect(sp.originalDestinationConnectionId).toEqual(p.clientConn.originalDcid);
        expect(sp.maxIdleTimeout).toBe(cp.maxIdleTimeout);
        expect(p.clientConn.negotiatedAlpn).toBe(p.serverConn!.negotiatedAlpn);
      });
    }
  }
  it('the clean handshake used datagrams in both directions', () => {
    expect(counts.c2s).toBeGreaterThanOrEqual(2);
    expect(counts.s2c).toBeGreaterThanOrEqual(1);
  });
});

describe('independent streams: a black-holed stream does not delay another', () => {
  // Packets that carry stream A's data and none of B's are dropped for 1 s. (A packet carrying both is
  // let through: the sender bundles A's retransmissions with B's messages, and dropping those would
  // black-hole B too.) B's messages must keep arriving at one-way delay while A's wait for recovery.
  it("drops stream A's packets for 1 s; stream B's messages keep arriving at one-way delay", () => {
    const oneWay = 20;
    const p = new Pair({ latency: oneWay });
    expect(p.run(() => p.connected())).toBe(true);
    p.stepMs = 1;
    const a = p.clientConn.openStream(true)!;
    const b = p.clientConn.openStream(true)!;
    const start = p.now;
    const blackFrom = start + 500;
    const blackTo = blackFrom + 1000;
    p.drop = (dir, _i, data) => dir === 'c2s' && p.now >= blackFrom && p.now < blackTo && hasStreamFrame(data, a) && !hasStreamFrame(data, b);
    // 100-byte messages every 20 ms on each stream, B offset by 10 ms so packets carry one stream each.
    const sent = { a: 0, b: 0 };
    const sentAt = { a: [] as number[], b: [] as number[] };
    const latency = { a: [] as number[], b: [] as number[] };
    const recvBytes = { a: 0, b: 0 };
    const hashes = { a: createHash('sha256'), b: createHash('sha256'), ra: createHash('sha256'), rb: createHash('sha256') };
    const msg = (k: 'a' | 'b', n: number) => new Uint8Array(100).fill((n * 7 + (k === 'a' ? 1 : 2)) & 0xff);
    const end = start + 3000;
    p.run(
      () => p.now >= end + 2000 && recvBytes.a === sent.a * 100 && recvBytes.b === sent.b * 100,
      end + 20_000,
      () => {
        for (const k of ['a', 'b'] as const) {
          const due = p.now < end ? Math.floor((p.now - start - (k === 'b' ? 10 : 0)) / 20) + 1 : sent[k];
          while (sent[k] < due) {
            const m = msg(k, sent[k]);
            hashes[k].update(m);
            p.clientConn.streamWrite(k === 'a' ? a : b, m);
            sentAt[k].push(p.now);
            sent[k]++;
          }
        }
        const sc = p.serverConn;
        if (!sc) return;
        for (const k of ['a', 'b'] as const) {
          for (let d = sc.streamRead(k === 'a' ? a : b); d; d = sc.streamRead(k === 'a' ? a : b)) {
            hashes[k === 'a' ? 'ra' : 'rb'].update(d);
            const before = Math.floor(recvBytes[k] / 100);
            recvBytes[k] += d.length;
            for (let m = before; m < Math.floor(recvBytes[k] / 100); m++) latency[k].push(p.now - sentAt[k][m]!);
          }
        }
      },
    );
    // B's messages arrive within the one-way delay plus one ACK delay: A's losses shrink the shared
    // congestion window (so B may wait for an ACK), but B never waits for A's retransmissions.
    const duringB = latency.b.filter((_, m) => sentAt.b[m]! >= blackFrom && sentAt.b[m]! < blackTo);
    const duringA = latency.a.filter((_, m) => sentAt.a[m]! >= blackFrom && sentAt.a[m]! < blackTo);
    expect(duringB.length).toBeGreaterThan(40);
    expect(Math.max(...duringB)).toBeLessThanOrEqual(oneWay + 25 + 2);
    // A really lost its packets: its messages from the window waited for loss recovery, far longer than B's.
    const meanA = duringA.reduce((x, y) => x + y, 0) / duringA.length;
    // (Recovery is quick — A's retransmissions ride in B's packets — but A still waits several one-way
    // delays on average, while B never waits beyond one ACK delay.)
    expect(meanA).toBeGreaterThan(3 * oneWay);
    expect(meanA).toBeGreaterThan(Math.max(...duringB));
    expect(p.clientConn.stats().packetsLost).toBeGreaterThan(20);
    expect(hashes.ra.digest('hex')).toBe(hashes.a.digest('hex'));
    expect(hashes.rb.digest('hex')).toBe(hashes.b.digest('hex'));
  });
});

describe('zero-window stall: a receiver that stops reading stalls only its stream', () => {
  it('10 s without reading: the sender sends only a few packets, then resumes within one RTT of the read', () => {
    const p = new Pair({ latency: 25, server: { streamWindow: 64 * 1024, maxStreamWindow: 64 * 1024 } });
    expect(p.run(() => p.connected())).toBe(true);
    const id = p.clientConn.openStream(true)!;
    const data = new Uint8Array(1_000_000).map((_, i) => (i * 31) & 0xff);
    p.clientConn.streamWrite(id, data, true);
    // Let the window fill and every packet be acknowledged.
    p.run(() => false, p.now + 2000);
    const sentBefore = p.clientConn.stats().packetsSent;
    const stallStart = p.now;
    expect(p.clientConn.stats().bytesInFlight).toBe(0);
    p.run(() => false, stallStart + 10_000);
    const stallPackets = p.clientConn.stats().packetsSent - sentBefore;
    // The receiver holds no more than its window while the application does not read.
    expect(p.serverConn!.streamStats(id)!.recvBuffered).toBe(64 * 1024);
    expect(stallPackets).toBeLessThanOrEqual(3); // the STREAM_DATA_BLOCKED, and nothing else is due

    // Read once: credit goes back and new data must arrive within one RTT (50 ms) plus the ack delay.
    const readAt = p.now;
    let firstNewData = -1;
    let blockedAtResume = -1;
    let got = 0;
    const rx = createHash('sha256');
    const ok = p.run(
      () => got === data.length,
      readAt + 60_000,
      () => {
        const sc = p.serverConn!;
        for (let d = sc.streamRead(id); d; d = sc.streamRead(id)) {
          rx.update(d);
          got += d.length;
          if (firstNewData < 0 && got > 64 * 1024) {
            firstNewData = p.now;
            blockedAtResume = p.clientConn.streamStats(id)?.timeBlocked ?? -1;
          }
        }
      },
    );
    expect(ok).toBe(true);
    expect(firstNewData - readAt).toBeLessThanOrEqual(50 + 1);
    // Stats: the stream was blocked by the peer's stream limit for the whole stall (stats are as of the
    // connection's latest input; the credit's arrival closed the blocked interval).
    expect(blockedAtResume).toBeGreaterThanOrEqual(10_000);
    expect(p.clientConn.stats().timeBlocked).toBe(0); // the connection window was never the limit
    expect(rx.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });
});
