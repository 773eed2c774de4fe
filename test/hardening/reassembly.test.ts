/**
 * The stream reassembler under hostile fragment patterns (issue 11): 1-byte frames at every other offset
 * cost O(log n) each and stop at a fragment bound with a typed error, a shared (per-connection) budget is
 * honoured, gaps filled in any order coalesce, and every byte still comes out right.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { DEFAULT_MAX_FRAGMENTS, RecvBuffer, type FragmentBudget } from '../../lib/stream/recv-buffer.js';
import { RunTree } from '../../lib/stream/run-tree.js';

function byteAt(off: number): number {
  return (off * 31 + 7) & 0xff;
}
function bytes(off: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = byteAt(off + i);
  return b;
}
function codeOf(fn: () => void): number | null {
  try {
    fn();
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelWireError);
    return (e as PetrelWireError).errorCode;
  }
}

describe('RunTree', () => {
  it('stays logarithmic for ascending, descending and alternating inserts', () => {
    for (const order of ['up', 'down', 'zigzag'] as const) {
      const t = new RunTree<{ off: number; len: number }>();
      const n = 50_000;
      for (let i = 0; i < n; i++) {
        const k = order === 'up' ? i : order === 'down' ? n - i : i % 2 === 0 ? i : n * 2 - i;
        t.insert({ off: k * 2, len: 1 });
      }
      expect(t.size).toBe(n);
      // AVL height bound: 1.44 log2(n + 2).
      expect(t.height).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(n + 2)));
      const offs = [...t].map((r) => r.off);
      expect(offs).toEqual([...offs].sort((a, b) => a - b));
      for (let i = 0; i < n; i += 2) t.delete(offs[i]!);
      expect(t.size).toBe(n / 2);
      expect(t.height).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(n / 2 + 2)));
      expect(t.floor(offs[1]!)?.off).toBe(offs[1]);
      expect(t.higher(offs[1]!)?.off).toBe(offs[3]);
    }
  });
});

describe('RecvBuffer under hostile fragmentation', () => {
  it('1-byte frames at every other offset stop at the fragment bound with the configured error code', () => {
    const rb = new RecvBuffer();
    let inserted = 0;
    let code: number | null = null;
    for (let off = 1; off < 4_000_000 && code === null; off += 2) {
      code = codeOf(() => rb.insert(off, bytes(off, 1), false));
      if (code === null) inserted++;
    }
    expect(code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(inserted).toBe(DEFAULT_MAX_FRAGMENTS);
    expect(rb.fragments).toBe(DEFAULT_MAX_FRAGMENTS);
    // Memory held is the bytes themselves, one run each: no growth past the bound.
    expect(rb.bufferedBytes).toBe(DEFAULT_MAX_FRAGMENTS);
    expect(rb.heldBytes).toBe(DEFAULT_MAX_FRAGMENTS);
    const crypto = new RecvBuffer({ maxFragments: 8, errorCode: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED });
    for (let i = 0; i < 8; i++) crypto.insert(1 + 2 * i, bytes(1 + 2 * i, 1), false);
    expect(codeOf(() => crypto.insert(100, bytes(100, 1), false))).toBe(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
  });

  it('a shared budget bounds the fragments of all buffers together and is released by reads and resets', () => {
    const budget: FragmentBudget = { used: 0, limit: 100 };
    const a = new RecvBuffer({ shared: budget });
    const b = new RecvBuffer({ shared: budget });
    for (let i = 0; i < 60; i++) a.insert(1 + 2 * i, bytes(1 + 2 * i, 1), false);
    for (let i = 0; i < 40; i++) b.insert(1 + 2 * i, bytes(1 + 2 * i, 1), false);
    expect(budget.used).toBe(100);
    expect(codeOf(() => b.insert(1000, bytes(1000, 1), false))).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
    expect(b.fragments).toBe(40);
    // Filling a's gaps from the front coalesces its runs and reading releases them.
    for (let i = 0; i < 60; i++) a.insert(2 * i, bytes(2 * i, 1), false);
    expect(a.read()).toEqual(bytes(0, 120));
    expect(a.fragments).toBe(0);
    b.reset(5000);
    expect(budget.used).toBe(0);
  });

  it('gaps filled back to front coalesce: runs stay few and reading stays exact', () => {
    const rb = new RecvBuffer();
    const n = 200_000;
    rb.insert(n, bytes(n, 1), true);
    for (let off = n - 1; off >= 1; off--) rb.insert(off, bytes(off, 1), false);
    // Adjacent small runs are merged up to COALESCE_MAX bytes: about n / 1024 runs, not n.
    expect(rb.fragments).toBeLessThanOrEqual(Math.ceil(n / 1024) + 1);
    rb.insert(0, bytes(0, 1), false);
    const out = rb.read()!;
    expect(out.length).toBe(n + 1);
    for (let i = 0; i <= n; i++) if (out[i] !== byteAt(i)) expect.unreachable(`byte ${i}`);
    expect(rb.finished).toBe(true);
    expect(rb.fragments).toBe(0);
    expect(rb.heldBytes).toBe(0);
  });

  it('matches a byte-array model for random frames, reads and overlaps', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(3000), fc.integer({ min: 0, max: 300 }), fc.boolean()), { minLength: 1, maxLength: 200 }), (ops) => {
        const rb = new RecvBuffer();
        const have = new Uint8Array(3400);
        let readTo = 0;
        for (const [off, len, doRead] of ops) {
          rb.insert(off, bytes(off, len), false);
          have.fill(1, off, off + len);
          if (doRead) {
            const got = rb.read();
            let contig = readTo;
            while (have[contig] === 1) contig++;
            if (contig === readTo) expect(got).toBeNull();
            else expect(got).toEqual(bytes(readTo, contig - readTo));
            readTo = contig;
          }
        }
        let held = 0;
        for (let i = readTo; i < have.length; i++) held += have[i]!;
        expect(rb.bufferedBytes).toBe(held);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
