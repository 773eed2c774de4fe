import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import { SendBuffer, type SendChunk } from '../../lib/stream/send-buffer.js';
import { pattern } from './helpers.js';

/** A chunk as [offset, length, fin, retransmit], checking its bytes against the pattern. */
function summary(c: SendChunk | null): [number, number, boolean, boolean] | null {
  if (c === null) return null;
  expect(c.data).toEqual(pattern(c.offset, c.data.length));
  return [c.offset, c.data.length, c.fin, c.retransmit];
}

function filled(length: number): SendBuffer {
  const sb = new SendBuffer();
  sb.write(pattern(0, length));
  return sb;
}

describe('SendBuffer', () => {
  it('splits new data into chunks of at most maxLength', () => {
    const sb = filled(3000);
    expect(sb.hasPending(Infinity)).toBe(true);
    expect(summary(sb.nextChunk(1200, Infinity))).toEqual([0, 1200, false, false]);
    expect(summary(sb.nextChunk(1200, Infinity))).toEqual([1200, 1200, false, false]);
    expect(summary(sb.nextChunk(1200, Infinity))).toEqual([2400, 600, false, false]);
    expect(sb.nextChunk(1200, Infinity)).toBeNull();
    expect(sb.hasPending(Infinity)).toBe(false);
    expect(sb.sendOffset).toBe(3000);
    expect(sb.written).toBe(3000);
  });

  it('coalesces many small writes and spans them in one chunk', () => {
    const sb = new SendBuffer();
    for (let i = 0; i < 100; i++) sb.write(pattern(i * 30, 30)); // 3000 bytes in 30-byte writes
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([0, 1000, false, false]);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([1000, 2000, false, false]);
    // Blocks grow 256, 512, 1024, 2048: four blocks, not a hundred chunks.
    expect(sb.heldBytes).toBe(256 + 512 + 1024 + 2048);
  });

  it('stops new data at the flow-control limit', () => {
    const sb = filled(1000);
    expect(summary(sb.nextChunk(1200, 300))).toEqual([0, 300, false, false]);
    expect(sb.nextChunk(1200, 300)).toBeNull();
    expect(sb.hasPending(300)).toBe(false);
    expect(sb.hasPending(500)).toBe(true);
    expect(summary(sb.nextChunk(1200, 500))).toEqual([300, 200, false, false]);
    expect(summary(sb.nextChunk(1200, 5000))).toEqual([500, 500, false, false]);
  });

  it('sends lost ranges first, lowest offset first, regardless of the limit', () => {
    const sb = filled(3000);
    for (let i = 0; i < 3; i++) sb.nextChunk(1000, 3000);
    sb.write(pattern(3000, 500));
    sb.onLost(2000, 1000, false);
    sb.onLost(0, 1000, false);
    // The limit (3000) blocks new data, not retransmissions.
    expect(sb.hasPending(3000)).toBe(true);
    expect(summary(sb.nextChunk(600, 3000))).toEqual([0, 600, false, true]);
    expect(summary(sb.nextChunk(600, 3000))).toEqual([600, 400, false, true]);
    expect(summary(sb.nextChunk(1200, 3000))).toEqual([2000, 1000, false, true]);
    expect(sb.nextChunk(1200, 3000)).toBeNull();
    expect(summary(sb.nextChunk(1200, 4000))).toEqual([3000, 500, false, false]);
  });

  it('merges adjacent lost ranges into one retransmission', () => {
    const sb = filled(2400);
    sb.nextChunk(1200, Infinity);
    sb.nextChunk(1200, Infinity);
    sb.onLost(1200, 1200, false);
    sb.onLost(0, 1200, false);
    expect(summary(sb.nextChunk(3000, Infinity))).toEqual([0, 2400, false, true]);
  });

  it('tracks partial acknowledgements and the contiguous acked prefix', () => {
    const sb = filled(3000);
    for (let i = 0; i < 3; i++) sb.nextChunk(1000, Infinity);
    sb.onAck(1000, 1000, false);
    expect(sb.ackedOffset).toBe(0);
    expect(sb.bufferedBytes).toBe(3000);
    sb.onAck(0, 500, false);
    expect(sb.ackedOffset).toBe(500);
    sb.onAck(500, 500, false);
    expect(sb.ackedOffset).toBe(2000);
    expect(sb.bufferedBytes).toBe(1000);
    sb.onAck(0, 1000, false); // duplicate ack: no change
    expect(sb.ackedOffset).toBe(2000);
    expect(sb.allAcked).toBe(false);
  });

  it('does not resend bytes acknowledged before the loss was declared', () => {
    const sb = filled(3000);
    sb.nextChunk(3000, Infinity);
    sb.onAck(1000, 500, false);
    sb.onAck(2000, 100, false);
    sb.onLost(0, 3000, false);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([0, 1000, false, true]);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([1500, 500, false, true]);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([2100, 900, false, true]);
    expect(sb.nextChunk(5000, Infinity)).toBeNull();
  });

  it('drops a queued retransmission when a late ack arrives (spurious loss)', () => {
    const sb = filled(2000);
    sb.nextChunk(1000, Infinity);
    sb.nextChunk(1000, Infinity);
    sb.onLost(0, 2000, false);
    sb.onAck(0, 1000, false);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([1000, 1000, false, true]);
    expect(sb.nextChunk(5000, Infinity)).toBeNull();
  });

  it('ignores losses of bytes never sent or below the acked prefix', () => {
    const sb = filled(2000);
    sb.nextChunk(1000, Infinity);
    sb.onAck(0, 500, false);
    sb.onLost(0, 2000, false); // only [500, 1000) was sent and unacked
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([500, 500, false, true]);
    expect(summary(sb.nextChunk(5000, Infinity))).toEqual([1000, 1000, false, false]);
  });

  it('puts the FIN on the chunk that ends the stream', () => {
    const sb = filled(1500);
    sb.finish();
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([0, 1000, false, false]);
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([1000, 500, true, false]);
    expect(sb.nextChunk(1000, Infinity)).toBeNull();
    expect(sb.hasPending(Infinity)).toBe(false);
  });

  it('sends a FIN-only chunk when the data already went out', () => {
    const sb = filled(100);
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([0, 100, false, false]);
    sb.finish();
    expect(sb.written).toBe(100);
    expect(sb.hasPending(100)).toBe(true); // FIN needs no credit
    expect(summary(sb.nextChunk(1000, 100))).toEqual([100, 0, true, false]);
    expect(sb.nextChunk(1000, Infinity)).toBeNull();
  });

  it('sends a FIN-only chunk on an empty stream', () => {
    const sb = new SendBuffer();
    sb.finish();
    expect(summary(sb.nextChunk(1000, 0))).toEqual([0, 0, true, false]);
    sb.onAck(0, 0, true);
    expect(sb.allAcked).toBe(true);
  });

  it('retransmits a lost FIN with the lost data', () => {
    const sb = filled(100);
    sb.finish();
    sb.nextChunk(1000, Infinity);
    sb.onLost(0, 100, true);
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([0, 100, true, true]);
    sb.onAck(0, 100, true);
    expect(sb.allAcked).toBe(true);
    expect(sb.bufferedBytes).toBe(0);
  });

  it('retransmits a lost FIN-only chunk alone', () => {
    const sb = filled(100);
    sb.nextChunk(1000, Infinity);
    sb.finish();
    sb.nextChunk(1000, Infinity);
    sb.onAck(0, 100, false);
    expect(sb.allAcked).toBe(false);
    sb.onLost(100, 0, true);
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([100, 0, true, true]);
    sb.onAck(100, 0, true);
    expect(sb.allAcked).toBe(true);
  });

  it('does not set FIN on a retransmission once the FIN is acknowledged', () => {
    const sb = filled(100);
    sb.nextChunk(1000, Infinity);
    sb.finish();
    sb.nextChunk(1000, Infinity); // FIN only
    sb.onAck(100, 0, true);
    sb.onLost(0, 100, false);
    expect(summary(sb.nextChunk(1000, Infinity))).toEqual([0, 100, false, true]);
    expect(sb.allAcked).toBe(false);
    sb.onAck(0, 100, false);
    expect(sb.allAcked).toBe(true);
  });

  it('does not resend a FIN that was acknowledged before its loss was declared', () => {
    const sb = filled(100);
    sb.finish();
    sb.nextChunk(1000, Infinity);
    sb.onAck(0, 100, true);
    sb.onLost(0, 100, true);
    expect(sb.hasPending(Infinity)).toBe(false);
    expect(sb.nextChunk(1000, Infinity)).toBeNull();
  });

  it('releases chunk memory as the acked prefix advances', () => {
    const sb = new SendBuffer();
    for (let i = 0; i < 10; i++) sb.write(pattern(i * 20000, 20000)); // 20000 >= 16 KiB: a chunk each
    expect(sb.heldBytes).toBe(200000);
    while (sb.nextChunk(1200, Infinity) !== null);
    sb.onAck(0, 59999, false); // chunks 0 and 1 complete, chunk 2 short by one byte
    expect(sb.ackedOffset).toBe(59999);
    expect(sb.heldBytes).toBe(160000);
    sb.onAck(59999, 1, false);
    expect(sb.heldBytes).toBe(140000);
    sb.onAck(60000, 140000, false);
    expect(sb.heldBytes).toBe(0);
    expect(sb.bufferedBytes).toBe(0);
    // The stream keeps working after everything was released.
    sb.write(pattern(200000, 10));
    expect(summary(sb.nextChunk(1200, Infinity))).toEqual([200000, 10, false, false]);
  });

  it('keeps memory bounded while streaming 64 MiB with acks', () => {
    const sb = new SendBuffer();
    const block = new Uint8Array(65536);
    let maxHeld = 0;
    for (let w = 0; w < 1024; w++) {
      sb.write(block);
      for (let c = sb.nextChunk(1200, Infinity); c !== null; c = sb.nextChunk(1200, Infinity)) {
        sb.onAck(c.offset, c.data.length, c.fin);
      }
      maxHeld = Math.max(maxHeld, sb.heldBytes);
    }
    expect(sb.ackedOffset).toBe(64 * 1024 * 1024);
    expect(maxHeld).toBeLessThanOrEqual(65536);
    expect(sb.heldBytes).toBe(0);
  });

  it('copies written bytes by default and retains them with transfer', () => {
    const copied = new Uint8Array(20000).fill(1);
    const kept = new Uint8Array(20000).fill(2);
    const sb = new SendBuffer();
    sb.write(copied);
    sb.write(kept, { transfer: true });
    copied.fill(9);
    const first = sb.nextChunk(20000, Infinity)!;
    expect(first.data.every((b) => b === 1)).toBe(true);
    const second = sb.nextChunk(20000, Infinity)!;
    expect(second.data.buffer).toBe(kept.buffer); // a view of the caller's array, no copy
  });

  it('returns a view for in-chunk data and a copy across chunks', () => {
    const a = pattern(0, 20000);
    const b = pattern(20000, 20000);
    const sb = new SendBuffer();
    sb.write(a, { transfer: true });
    sb.write(b, { transfer: true });
    const inside = sb.nextChunk(19000, Infinity)!;
    expect(inside.data.buffer).toBe(a.buffer);
    const across = summary(sb.nextChunk(2000, Infinity));
    expect(across).toEqual([19000, 2000, false, false]);
  });

  it('drops everything on reset and keeps sendOffset as the final size', () => {
    const sb = filled(3000);
    sb.nextChunk(1000, Infinity);
    sb.onLost(0, 1000, false);
    sb.reset();
    expect(sb.isReset).toBe(true);
    expect(sb.sendOffset).toBe(1000);
    expect(sb.bufferedBytes).toBe(0);
    expect(sb.heldBytes).toBe(0);
    expect(sb.hasPending(Infinity)).toBe(false);
    expect(sb.nextChunk(1000, Infinity)).toBeNull();
    expect(() => sb.write(new Uint8Array(1))).toThrow(PetrelError);
  });

  it('rejects writes after finish', () => {
    const sb = filled(10);
    sb.finish();
    expect(() => sb.write(new Uint8Array(1))).toThrow(/after finish/);
    expect(() => sb.write(new Uint8Array(0))).toThrow(/after finish/);
    expect(sb.written).toBe(10);
    sb.finish(); // idempotent
    expect(summary(sb.nextChunk(100, Infinity))).toEqual([0, 10, true, false]);
  });
});
