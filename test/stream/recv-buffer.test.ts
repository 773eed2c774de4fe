import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { RecvBuffer } from '../../lib/stream/recv-buffer.js';
import { mismatch, pattern } from './helpers.js';

function put(rb: RecvBuffer, start: number, length: number, fin = false): void {
  rb.insert(start, pattern(start, length), fin);
}

function expectFinalSizeError(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelWireError);
    expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.FINAL_SIZE_ERROR);
    return;
  }
  expect.unreachable('expected FINAL_SIZE_ERROR');
}

describe('RecvBuffer', () => {
  it('delivers in-order data as a view of the stored copy', () => {
    const rb = new RecvBuffer();
    const frame = pattern(0, 100);
    rb.insert(0, frame, false);
    frame.fill(0); // the packet buffer is reused: the stored bytes must not change
    expect(rb.readable).toBe(100);
    expect(rb.bufferedBytes).toBe(100);
    const got = rb.read()!;
    expect(got).toEqual(pattern(0, 100));
    expect(rb.readOffset).toBe(100);
    expect(rb.bufferedBytes).toBe(0);
    expect(rb.read()).toBeNull();
  });

  it('appends in-order data to one run and reads it without copying', () => {
    const rb = new RecvBuffer();
    for (let i = 0; i < 10; i++) put(rb, i * 100, 100);
    const a = rb.read(300)!;
    const b = rb.read(700)!;
    expect(a).toEqual(pattern(0, 300));
    expect(b).toEqual(pattern(300, 700));
    expect(b.buffer).toBe(a.buffer); // both views of the same run
  });

  it('holds out-of-order data until the gap fills', () => {
    const rb = new RecvBuffer();
    put(rb, 100, 50);
    expect(rb.readable).toBe(0);
    expect(rb.read()).toBeNull();
    expect(rb.maxOffset).toBe(150);
    expect(rb.bufferedBytes).toBe(50);
    put(rb, 0, 100);
    expect(rb.readable).toBe(150);
    expect(rb.read()).toEqual(pattern(0, 150));
    expect(rb.read()).toBeNull();
  });

  it('reads across run boundaries in pieces', () => {
    const rb = new RecvBuffer();
    put(rb, 10, 10);
    put(rb, 30, 10);
    put(rb, 20, 10); // appended to the run at 10, which then meets the run at 30
    put(rb, 0, 10);
    expect(rb.readable).toBe(40);
    const parts: Uint8Array[] = [];
    for (let p = rb.read(7); p !== null; p = rb.read(7)) parts.push(p);
    expect(parts.map((p) => p.length)).toEqual([7, 7, 7, 7, 7, 5]);
    expect(Uint8Array.from(parts.flatMap((p) => [...p]))).toEqual(pattern(0, 40));
    expect(rb.bufferedBytes).toBe(0);
  });

  it('stores only new bytes of overlapping and duplicate frames', () => {
    const rb = new RecvBuffer();
    put(rb, 20, 10);
    put(rb, 40, 10);
    put(rb, 20, 10); // duplicate
    expect(rb.bufferedBytes).toBe(20);
    put(rb, 15, 40); // covers both runs and the gaps [15,20), [30,40), [50,55)
    expect(rb.bufferedBytes).toBe(40);
    expect(rb.maxOffset).toBe(55);
    put(rb, 0, 18);
    expect(rb.bufferedBytes).toBe(55);
    expect(rb.read()).toEqual(pattern(0, 55));
    put(rb, 0, 55); // all below the read offset
    expect(rb.bufferedBytes).toBe(0);
    expect(rb.read()).toBeNull();
    put(rb, 50, 10); // half old, half new
    expect(rb.bufferedBytes).toBe(5);
    expect(rb.read()).toEqual(pattern(55, 5));
  });

  it('reassembles 10k segments delivered in reverse and in shuffled order', () => {
    for (const order of ['reverse', 'shuffled'] as const) {
      const n = 10_000;
      const idx = Array.from({ length: n }, (_, i) => (order === 'reverse' ? n - 1 - i : i));
      if (order === 'shuffled') {
        let s = 12345; // fixed LCG: deterministic shuffle
        for (let i = n - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) % 2 ** 31;
          const j = s % (i + 1);
          [idx[i], idx[j]] = [idx[j]!, idx[i]!];
        }
      }
      const rb = new RecvBuffer();
      let overBuffered = 0;
      for (const i of idx) {
        put(rb, i * 100, 100, i === n - 1);
        if (rb.bufferedBytes > rb.maxOffset - rb.readOffset) overBuffered++;
      }
      expect(overBuffered).toBe(0);
      expect(rb.bufferedBytes).toBe(n * 100);
      expect(rb.readable).toBe(n * 100);
      const all = rb.read()!;
      expect(all.length).toBe(n * 100);
      expect(mismatch(all, pattern(0, n * 100))).toBe(-1);
      expect(rb.finished).toBe(true);
      expect(rb.heldBytes).toBe(0);
    }
  });

  it('finishes once everything up to the final size is read', () => {
    const rb = new RecvBuffer();
    put(rb, 0, 10, true);
    expect(rb.finalSize).toBe(10);
    expect(rb.finished).toBe(false);
    rb.read(4);
    expect(rb.finished).toBe(false);
    rb.read();
    expect(rb.finished).toBe(true);
  });

  it('accepts a FIN-only frame at the end and a repeated FIN', () => {
    const rb = new RecvBuffer();
    put(rb, 0, 10);
    rb.insert(10, new Uint8Array(0), true);
    put(rb, 0, 10, true); // same final size again
    put(rb, 5, 3); // data inside the final size
    expect(rb.finalSize).toBe(10);
    expect(rb.read()).toEqual(pattern(0, 10));
    expect(rb.finished).toBe(true);
  });

  it('finishes an empty stream on a FIN at offset 0', () => {
    const rb = new RecvBuffer();
    rb.insert(0, new Uint8Array(0), true);
    expect(rb.finished).toBe(true);
    expect(rb.read()).toBeNull();
  });

  describe('FINAL_SIZE_ERROR', () => {
    it('data beyond a known final size', () => {
      const rb = new RecvBuffer();
      put(rb, 0, 10, true);
      expectFinalSizeError(() => put(rb, 10, 1));
      expectFinalSizeError(() => put(rb, 5, 6));
    });

    it('a FIN that changes the final size', () => {
      const rb = new RecvBuffer();
      put(rb, 0, 10, true);
      expectFinalSizeError(() => put(rb, 0, 8, true));
      expectFinalSizeError(() => rb.insert(12, new Uint8Array(0), true));
    });

    it('a FIN below data already received', () => {
      const rb = new RecvBuffer();
      put(rb, 50, 20); // out of order: maxOffset 70
      expectFinalSizeError(() => put(rb, 0, 60, true));
      expectFinalSizeError(() => rb.insert(69, new Uint8Array(0), true));
      put(rb, 0, 70, true); // exactly at maxOffset is fine
      expect(rb.finalSize).toBe(70);
    });

    it('a RESET_STREAM whose final size differs from the FIN', () => {
      const rb = new RecvBuffer();
      put(rb, 0, 10, true);
      expectFinalSizeError(() => rb.reset(11));
      expectFinalSizeError(() => rb.reset(9));
    });

    it('a RESET_STREAM final size below received data', () => {
      const rb = new RecvBuffer();
      put(rb, 100, 10);
      expectFinalSizeError(() => rb.reset(109));
    });

    it('data after a reset beyond its final size', () => {
      const rb = new RecvBuffer();
      put(rb, 0, 10);
      rb.reset(20);
      expectFinalSizeError(() => put(rb, 15, 10));
      expectFinalSizeError(() => put(rb, 0, 5, true));
    });

    it('leaves the state unchanged when it throws', () => {
      const rb = new RecvBuffer();
      put(rb, 0, 10, true);
      expectFinalSizeError(() => put(rb, 5, 10));
      expect(rb.maxOffset).toBe(10);
      expect(rb.bufferedBytes).toBe(10);
    });
  });

  it('reset discards buffered data and fixes the final size', () => {
    const rb = new RecvBuffer();
    put(rb, 0, 10);
    put(rb, 20, 10);
    rb.read(5);
    rb.reset(40);
    expect(rb.isReset).toBe(true);
    expect(rb.finalSize).toBe(40);
    expect(rb.maxOffset).toBe(40);
    expect(rb.bufferedBytes).toBe(0);
    expect(rb.heldBytes).toBe(0);
    expect(rb.readable).toBe(0);
    expect(rb.read()).toBeNull();
    expect(rb.finished).toBe(false);
    put(rb, 30, 10); // late data within the final size: ignored
    expect(rb.bufferedBytes).toBe(0);
    rb.reset(40); // a duplicate RESET_STREAM
    expect(rb.finalSize).toBe(40);
  });

  it('retains transferred frames without copying', () => {
    const rb = new RecvBuffer();
    const frame = pattern(0, 1000);
    rb.insert(0, frame, false, { transfer: true });
    const got = rb.read()!;
    expect(got.buffer).toBe(frame.buffer);
    expect(got).toEqual(pattern(0, 1000));
  });

  it('copies a transferred frame that is small against its backing buffer', () => {
    const rb = new RecvBuffer();
    const packet = new Uint8Array(1500);
    packet.set(pattern(0, 100), 50);
    rb.insert(0, packet.subarray(50, 150), false, { transfer: true }); // 100 * 8 < 1500
    packet.fill(0);
    const got = rb.read()!;
    expect(got.buffer).not.toBe(packet.buffer);
    expect(got).toEqual(pattern(0, 100));
  });

  it('copies the few new bytes of a mostly duplicate transferred frame', () => {
    const rb = new RecvBuffer();
    put(rb, 0, 1000);
    const frame = pattern(0, 1010); // 10 new bytes: retaining them would pin 1010
    rb.insert(0, frame, false, { transfer: true });
    frame.fill(0);
    rb.read(1000);
    const tail = rb.read()!;
    expect(tail.buffer).not.toBe(frame.buffer);
    expect(tail).toEqual(pattern(1000, 10));
  });

  it('never writes into a retained frame when later data follows it', () => {
    const rb = new RecvBuffer();
    const first = pattern(0, 500);
    rb.insert(0, first, false, { transfer: true });
    put(rb, 500, 500); // copy path: grows a copy of the run, the caller's array stays as it was
    rb.insert(1000, pattern(1000, 500), false, { transfer: true });
    expect(first).toEqual(pattern(0, 500));
    expect(rb.read()).toEqual(pattern(0, 1500));
  });

  it('releases runs as they are read', () => {
    const rb = new RecvBuffer();
    put(rb, 0, 1000);
    put(rb, 2000, 1000);
    expect(rb.heldBytes).toBe(2000);
    rb.read();
    expect(rb.heldBytes).toBe(1000);
    put(rb, 1000, 1000);
    rb.read();
    expect(rb.heldBytes).toBe(0);
  });
});
