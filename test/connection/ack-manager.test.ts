import { describe, expect, it } from 'vitest';
import { AckManager, MAX_TRACKED_ACK_RANGES } from '../../lib/connection/ack-manager.js';
import type { ConnContext } from '../../lib/connection/context.js';
import { resolveOptions } from '../../lib/connection/defaults.js';
import { PacketSpace } from '../../lib/connection/space.js';
import { ByteWriter } from '../../lib/wire/buffer.js';
import { decodeFrames } from '../../lib/wire/frames.js';
import type { SentFrame } from '../../lib/connection/sent-frame.js';

function setup(): { ack: AckManager; space: PacketSpace; ctx: ConnContext } {
  const space = new PacketSpace(2);
  const ctx = {
    opts: resolveOptions({}),
    spaces: [new PacketSpace(0), new PacketSpace(1), space],
    localParams: { ackDelayExponent: 3 },
    counters: { acksSent: 0 },
  } as unknown as ConnContext;
  return { ack: new AckManager(ctx), space, ctx };
}

describe('AckManager', () => {
  it('a peer that leaves a gap after every packet cannot grow the ranges we track past the cap', () => {
    const { ack, space } = setup();
    for (let pn = 0; pn < 20_000; pn += 2) {
      const ooo = space.onReceived(pn, pn, true);
      ack.onPacketReceived(space, true, ooo, pn);
      expect(space.toAck.rangeCount).toBeLessThanOrEqual(MAX_TRACKED_ACK_RANGES + 1);
    }
    expect(space.toAck.rangeCount).toBeGreaterThan(MAX_TRACKED_ACK_RANGES - 1);
    // The newest packet numbers are the ones kept.
    expect(space.toAck.max()).toBe(19_998);
  });

  it('writes at most maxAckRanges ranges, newest first, and marks the ACK sent', () => {
    const { ack, space, ctx } = setup();
    for (let pn = 0; pn < 200; pn += 2) space.onReceived(pn, 0, true);
    const buf = new Uint8Array(1200);
    const w = new ByteWriter(buf);
    const frames: SentFrame[] = [];
    ack.writeAck(space, w, 0, frames);
    const [f] = decodeFrames(buf.subarray(0, w.pos));
    expect(f?.type).toBe('ack');
    if (f?.type !== 'ack') return;
    expect(f.ranges.length).toBe(ctx.opts.maxAckRanges);
    expect(f.ranges[0]).toEqual({ smallest: 198, largest: 198 });
    expect(space.ackNeeded).toBe(false);
    expect(ctx.counters.acksSent).toBe(1);
  });

  it('an out-of-order ack-eliciting 1-RTT packet is acknowledged at once, an in-order one by the deadline', () => {
    const { ack, space } = setup();
    ack.onPacketReceived(space, true, space.onReceived(0, 10, true), 10);
    expect(space.ackImmediate).toBe(false);
    expect(space.ackDeadline).toBe(10 + 25);
    ack.onPacketReceived(space, true, space.onReceived(5, 11, true), 11);
    expect(space.ackImmediate).toBe(true);
  });
});
