/**
 * Path MTU discovery in the connection (RFC 8899): probes from 1200 up to 1472, a lower path MTU, and a
 * black hole (the path MTU drops mid-transfer) with its fall-back to 1200 — over the simulator's links.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../tools/sim/scenario.js';

describe('path MTU discovery', () => {
  it('a clean path: both sides reach 1472 and the transfer uses it', () => {
    const r = runScenario({
      seed: 1,
      link: { delay: 10, rate: 50e6, queueBytes: 200_000 },
      clientStreams: [3_000_000],
      serverStreams: [1_000_000],
      extras: { ending: 'client-close', outage: null, rebind: null, datagrams: [0, 0], mtu: null, mtuDrop: null },
    });
    expect(r.failure).toBeUndefined();
    expect(r.clientStats!.maxDatagramSize).toBe(1472);
    expect(r.serverStats!.maxDatagramSize).toBe(1472);
    // One probe, acknowledged: 1472 found in one probe round trip.
    expect(r.clientStats!.pmtu).toMatchObject({ state: 'search_complete', probesSent: 1, probesAcked: 1, blackHoles: 0 });
  });

  it('a 1400-byte path MTU: settles between 1385 and 1400, never above, with nothing lost but probes', () => {
    const r = runScenario({
      seed: 2,
      link: { delay: 10, rate: 50e6, queueBytes: 200_000 },
      clientStreams: [3_000_000],
      serverStreams: [],
      extras: { ending: 'client-close', outage: null, rebind: null, datagrams: [0, 0], mtu: 1400, mtuDrop: null },
    });
    expect(r.failure).toBeUndefined();
    const mds = r.clientStats!.maxDatagramSize;
    expect(mds).toBeLessThanOrEqual(1400);
    expect(mds).toBeGreaterThanOrEqual(1385);
  });

  it('a black hole: the MTU drops to 1300 mid-transfer; the sender falls back to 1200 and completes intact', () => {
    const r = runScenario({
      seed: 3,
      link: { delay: 10, rate: 20e6, queueBytes: 100_000 },
      clientStreams: [8_000_000],
      serverStreams: [],
      extras: { ending: 'client-close', outage: null, rebind: null, datagrams: [0, 0], mtu: null, mtuDrop: { at: 1000, to: 1300 } },
    });
    expect(r.failure).toBeUndefined();
    expect(r.ok).toBe(true);
    // The drop was detected as a black hole (fall back to 1200), then a re-search found at most the new limit.
    expect(r.clientStats!.pmtu!.blackHoles).toBeGreaterThanOrEqual(1);
    expect(r.clientStats!.maxDatagramSize).toBeLessThanOrEqual(1300);
  });
});
