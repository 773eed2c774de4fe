/**
 * Congestion control in the connection: reordering does not collapse the window (adaptive thresholds and
 * undo of spurious congestion events), and pacing never lets more than its burst allowance leave at once.
 * Goodput here is measured in the simulator's virtual time, so it is deterministic, not a wall-clock timing.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../tools/sim/scenario.js';

const quiet = { ending: 'client-close' as const, outage: null, rebind: null, datagrams: [0, 0] as [number, number], mtu: null, mtuDrop: null };

describe('reordering', () => {
  for (const reorderDelay of [5, 20, 40]) {
    it(`10 % of packets reordered by ${reorderDelay} ms, no loss: goodput stays ≥ 0.9 of a 10 Mbit/s link`, () => {
      const rate = 10e6;
      const rtt = 50;
      const bytes = 20_000_000;
      const r = runScenario({
        seed: 5,
        link: { delay: rtt / 2, rate, queueBytes: (rate * rtt) / 8000, reorder: 0.1, reorderDelay },
        clientStreams: [bytes],
        serverStreams: [],
        extras: quiet,
      });
      expect(r.failure).toBeUndefined();
      // Whole scenario time (handshake and close included), so this slightly understates goodput.
      const goodput = (bytes * 8) / (r.simTime / 1000) / rate;
      expect(goodput).toBeGreaterThanOrEqual(0.9);
      // Reordering was noticed (spurious losses) and did not turn into a stream of window reductions.
      expect(r.clientStats!.congestionEvents).toBeLessThan(30);
    });
  }
});

describe('pacing', () => {
  it('no more than the burst allowance (plus the rate over the window and one timer quantum) leaves in any 1 ms', () => {
    const trace: string[] = [];
    const r = runScenario({
      seed: 9,
      link: { delay: 10, rate: 100e6, queueBytes: 500_000 },
      clientStreams: [20_000_000],
      serverStreams: [],
      extras: quiet,
      trace,
    });
    expect(r.failure).toBeUndefined();
    // Client ack-eliciting packets: their send times and sizes.
    const sends: Array<{ t: number; size: number }> = [];
    for (const rec of trace) {
      const e = JSON.parse(rec.slice(1)) as { time: number; name: string; data: { side?: string; size: number; frames?: Array<{ k: string }> } };
      if (e.name === 'transport:packet_sent' && e.data.side === 'client' && e.data.frames?.some((f) => f.k === 'stream')) {
        sends.push({ t: e.time, size: e.data.size });
      }
    }
    expect(sends.length).toBeGreaterThan(10_000);
    // Sliding 1 ms window over the sends.
    let maxBytes = 0;
    let lo = 0;
    let inWindow = 0;
    for (let hi = 0; hi < sends.length; hi++) {
      inWindow += sends[hi]!.size;
      while (sends[hi]!.t - sends[lo]!.t >= 1) inWindow -= sends[lo++]!.size;
      if (inWindow > maxBytes) maxBytes = inWindow;
    }
    // Burst allowance 10 datagrams; the rate is at most 2 × cwnd / srtt (slow start) — bounded here by
    // the largest window the connection reached over its minimum RTT.
    const burst = 10 * 1472;
    const maxRate = (2 * 4 * 1024 * 1024) / r.clientStats!.minRtt; // bytes per ms, generous (4 MiB window)
    expect(maxBytes).toBeLessThanOrEqual(burst + maxRate * 2);
    // And it is really paced: far below what an unpaced window would dump at once.
    expect(maxBytes).toBeLessThan(r.clientStats!.cwnd);
  });
});
