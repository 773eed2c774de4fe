/**
 * The demo's core, shorter: two users chat through the impairment proxy at 5 % loss and 60 ms RTT; every line must
 * arrive exactly once and in order at both. And the check itself must catch what it claims to catch.
 */
import { describe, expect, it } from 'vitest';
import { runChatDemo, verify } from '../../examples/chat/demo-run.js';
import type { ChatLine } from '../../examples/chat/protocol.js';

describe('npm run demo (core)', () => {
  it('two users through 5 % loss / 60 ms RTT: every line exactly once, in order, at both', async () => {
    const r = await runChatDemo({ lines: 8, pause: 60, loss: 0.05, rtt: 60, seed: 3 });
    expect(r.verdict.checks.filter((c) => !c.startsWith('ok'))).toEqual([]);
    expect(r.verdict.ok).toBe(true);
    for (const u of r.users) {
      expect(u.seen.map((s) => s.line.id)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(u.link.minRtt).toBeGreaterThanOrEqual(55); // the proxy's 30 ms each way is really there
    }
    // The proxy really dropped datagrams, in both directions together.
    const dropped =
      Object.values(r.proxy.upstream.dropped).reduce((a, b) => a + b, 0) + Object.values(r.proxy.downstream.dropped).reduce((a, b) => a + b, 0);
    expect(r.proxy.upstream.sent + r.proxy.downstream.sent).toBeGreaterThan(50);
    expect(dropped).toBeGreaterThan(0);
    expect(r.server.lines).toBe(16);
    expect(r.server.rejected).toBe(0);
  });
});

describe('verify()', () => {
  const said = new Map([
    [
      'a',
      [
        { seq: 1, text: 'x' },
        { seq: 2, text: 'y' },
      ],
    ],
    ['b', [{ seq: 1, text: 'z' }]],
  ]);
  const line = (id: number, from: string, seq: number, text: string): { line: ChatLine } => ({ line: { room: 'r', id, from, seq, text, at: 0 } });
  const good = [line(1, 'a', 1, 'x'), line(2, 'b', 1, 'z'), line(3, 'a', 2, 'y')];

  it('passes a faithful transcript', () => {
    expect(
      verify(said, [
        { nick: 'a', seen: good },
        { nick: 'b', seen: good },
      ]).ok,
    ).toBe(true);
  });

  it.each([
    ['a duplicate', [...good, line(3, 'a', 2, 'y')]],
    ['a missing line', good.slice(0, 2)],
    ['a reordering', [good[0]!, good[2]!, good[1]!]],
    ['altered text', [good[0]!, good[1]!, line(3, 'a', 2, 'Y')]],
  ])('fails on %s', (_what, seen) => {
    const v = verify(said, [
      { nick: 'a', seen: good },
      { nick: 'b', seen },
    ]);
    expect(v.ok).toBe(false);
    expect(v.checks.some((c) => c.startsWith('FAIL b'))).toBe(true);
  });
});
