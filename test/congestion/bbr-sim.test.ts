/**
 * BBR through the real connection in the simulator: the seeded soak scenario with BBR on both ends (every
 * byte hashed), and BBR's point — random loss is not congestion — on the figures' link.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../tools/sim/scenario.js';
import { runSteady, runTransfer } from '../../tools/sim/figures.js';

describe('BBR in the simulator', () => {
  it('seeds 1–10 pass with BBR as the controller', () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 10; seed++) {
      const r = runScenario({ seed, options: { congestionControl: 'bbr' } });
      if (!r.ok) failures.push(`seed ${seed}: ${r.failure} [${r.mixText}]`);
    }
    expect(failures).toEqual([]);
  });

  it('at 5 % random loss BBR moves 2 MB at least twice as fast as CUBIC', () => {
    const run = (cc: 'bbr' | 'cubic') => runTransfer({ seed: 3, bytes: 2_000_000, rttMs: 50, loss: 0.05, options: { congestionControl: cc } });
    const bbr = run('bbr');
    const cubic = run('cubic');
    expect(Number.isFinite(bbr.durationMs)).toBe(true);
    expect(bbr.goodput).toBeGreaterThan(2 * cubic.goodput);
  });

  it('over a 4-BDP buffer BBR keeps the queue short where CUBIC fills it', () => {
    const run = (cc: 'bbr' | 'cubic') =>
      runSteady({ seed: 2, rttMs: 50, queueBdp: 4, durationMs: 12_000, fromMs: 6_000, options: { congestionControl: cc } });
    const bbr = run('bbr');
    const cubic = run('cubic');
    expect(bbr.goodput).toBeGreaterThan(0.85);
    expect(bbr.delayP50).toBeLessThan(1.1);
    expect(cubic.delayP50).toBeGreaterThan(2);
  });
});
