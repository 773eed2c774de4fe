/**
 * Property tests: a SendBuffer and a RecvBuffer joined by a simulated lossy network (loss, lost acks,
 * reordering, duplication) with stream flow control deliver exactly the bytes written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecvWindow, SendCredit } from '../../lib/stream/flow-control.js';
import { RecvBuffer } from '../../lib/stream/recv-buffer.js';
import { SendBuffer } from '../../lib/stream/send-buffer.js';
import { mismatch } from './helpers.js';

/** Small deterministic PRNG (mulberry32) driving the network; fast-check supplies its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

type Packet = { kind: 'data'; offset: number; data: Uint8Array; fin: boolean } | { kind: 'max'; limit: number };

interface Net {
  loss: number;
  ackLoss: number;
  dup: number;
}

function transfer(writes: Uint8Array[], transferFlags: boolean[], seed: number, net: Net, initialWindow: number): void {
  const rnd = prng(seed);
  const sb = new SendBuffer();
  const rb = new RecvBuffer();
  const credit = new SendCredit(initialWindow);
  const window = new RecvWindow({ initialWindow, maxWindow: initialWindow * 4, now: 0 });
  const inflight: Packet[] = [];
  const received: Uint8Array[] = [];
  let nextWrite = 0;
  let overBuffered = 0;
  let flowViolations = 0;
  let now = 0;

  for (let step = 0; step < 200_000; step++) {
    now++;
    if (sb.allAcked && rb.finished && inflight.length === 0) break;
    const r = rnd();
    if (nextWrite <= writes.length && r < 0.15) {
      if (nextWrite < writes.length) sb.write(writes[nextWrite]!, { transfer: transferFlags[nextWrite] ?? false });
      else sb.finish();
      nextWrite++;
    } else if (r < 0.55) {
      const before = sb.sendOffset;
      const chunk = sb.nextChunk(1 + Math.floor(rnd() * 1500), credit.limit);
      if (chunk !== null) {
        credit.consume(sb.sendOffset - before);
        inflight.push({ kind: 'data', offset: chunk.offset, data: chunk.data.slice(), fin: chunk.fin });
      }
      const update = window.pollUpdate(now, 10);
      if (update !== null) inflight.push({ kind: 'max', limit: update });
    } else if (r < 0.85 && inflight.length > 0) {
      // Deliver (or lose) a random packet: reordering.
      const i = Math.floor(rnd() * inflight.length);
      const p = inflight[i]!;
      const dup = rnd() < net.dup;
      if (!dup) inflight.splice(i, 1);
      if (rnd() < net.loss) {
        if (p.kind === 'data') sb.onLost(p.offset, p.data.length, p.fin);
        else window.onUpdateLost(p.limit);
        if (dup) inflight.splice(i, 1);
        continue;
      }
      if (p.kind === 'max') {
        credit.raise(p.limit);
        continue;
      }
      rb.insert(p.offset, p.data, p.fin, { transfer: rnd() < 0.5 }); // p.data is a fresh copy: retaining is safe
      if (!window.onReceived(rb.maxOffset)) flowViolations++;
      if (rb.bufferedBytes > rb.maxOffset - rb.readOffset) overBuffered++;
      if (dup) continue; // a copy of this packet is still in flight: its fate is decided then
      if (rnd() < net.ackLoss) {
        sb.onLost(p.offset, p.data.length, p.fin);
      } // spurious loss
      else sb.onAck(p.offset, p.data.length, p.fin);
    } else {
      const max = rnd() < 0.5 ? Infinity : 1 + Math.floor(rnd() * 2000);
      const got = rb.read(max);
      if (got !== null) {
        received.push(got.slice());
        window.onConsumed(rb.readOffset, now, 10);
      }
    }
  }

  expect(sb.allAcked).toBe(true);
  expect(rb.finished).toBe(true);
  expect(overBuffered).toBe(0);
  expect(flowViolations).toBe(0);
  expect(mismatch(concat(received), concat(writes))).toBe(-1);
  expect(sb.heldBytes).toBe(0);
  expect(rb.bufferedBytes).toBe(0);
  expect(rb.heldBytes).toBe(0);
}

describe('SendBuffer → lossy network → RecvBuffer', () => {
  it('delivers exactly the bytes written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 4000 }), { minLength: 0, maxLength: 12 }),
        fc.array(fc.boolean(), { maxLength: 12 }),
        fc.noShrink(fc.integer()),
        fc.record({
          loss: fc.double({ min: 0, max: 0.4, noNaN: true }),
          ackLoss: fc.double({ min: 0, max: 0.2, noNaN: true }),
          dup: fc.double({ min: 0, max: 0.2, noNaN: true }),
        }),
        fc.integer({ min: 1, max: 20000 }),
        (writes, transferFlags, seed, net, initialWindow) => transfer(writes, transferFlags, seed, net, initialWindow),
      ),
      { numRuns: 150 },
    );
  });

  it('delivers a larger transfer of many small writes', () => {
    const rnd = prng(7);
    const writes = Array.from({ length: 2000 }, () => {
      const w = new Uint8Array(1 + Math.floor(rnd() * 200));
      for (let i = 0; i < w.length; i++) w[i] = Math.floor(rnd() * 256);
      return w;
    });
    transfer(writes, [], 99, { loss: 0.2, ackLoss: 0.1, dup: 0.1 }, 8000);
  });
});

describe('RecvBuffer with arbitrary overlapping segments', () => {
  it('reassembles the source and never holds more than maxOffset - readOffset', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 400 }), fc.nat({ max: 5 })), { maxLength: 120 }),
        (source, segments) => {
          const rb = new RecvBuffer();
          const out: Uint8Array[] = [];
          const total = source.length;
          const deliver = (start: number, len: number): void => {
            const end = Math.min(total, start + len);
            rb.insert(start, source.subarray(start, end), end === total);
            expect(rb.bufferedBytes).toBeLessThanOrEqual(rb.maxOffset - rb.readOffset);
          };
          for (const [s, len, readEvery] of segments) {
            deliver(s % total, len);
            if (readEvery === 0) {
              const got = rb.read(1 + (len % 97));
              if (got !== null) out.push(got.slice());
            }
          }
          // Fill whatever is missing, in reverse order, then read the rest.
          for (let s = Math.floor((total - 1) / 256) * 256; s >= 0; s -= 256) deliver(s, 256);
          for (let got = rb.read(); got !== null; got = rb.read()) out.push(got.slice());
          expect(mismatch(concat(out), source)).toBe(-1);
          expect(rb.finished).toBe(true);
          expect(rb.bufferedBytes).toBe(0);
          expect(rb.heldBytes).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
