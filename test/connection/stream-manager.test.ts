import { describe, expect, it } from 'vitest';
import type { ConnContext } from '../../lib/connection/context.js';
import { resolveOptions } from '../../lib/connection/defaults.js';
import { StreamManager } from '../../lib/connection/streams/manager.js';
import { StreamWriter } from '../../lib/connection/streams/writer.js';
import type { SentFrame } from '../../lib/connection/sent-frame.js';
import { ByteWriter } from '../../lib/wire/buffer.js';
import { decodeFrames } from '../../lib/wire/frames.js';
import type { ConnectionEvent } from '../../lib/connection/types.js';

/** Just the context StreamManager reads: a server, default options, an RTT, a clock, an event queue. */
function manager(streamWindow = 1000): { m: StreamManager; events: ConnectionEvent[]; wakes: () => number } {
  const events: ConnectionEvent[] = [];
  let wakes = 0;
  const ctx = {
    isClient: false,
    opts: resolveOptions({ streamWindow, maxStreamWindow: streamWindow }),
    events,
    recovery: { rtt: { smoothed: 50 } },
    now: 0,
    state: 'established',
    peerParams: null,
    wake: () => void wakes++,
  } as unknown as ConnContext;
  return { m: new StreamManager(ctx), events, wakes: () => wakes };
}

describe('StreamManager reads and the control frames they owe', () => {
  it('a read that does not move the window far enough owes nothing (no MAX_STREAM_DATA, no entry in the owed set)', () => {
    const { m, wakes } = manager();
    // Client-initiated bidi stream 0, 100 bytes: well under half of the 1000-byte window.
    expect(m.onStreamFrame(0, 0, new Uint8Array(100).fill(7), false)).toBeNull();
    const got = m.read(0);
    expect(got?.length).toBe(100);
    expect(got?.every((b) => b === 7)).toBe(true);
    expect(m.controlOwed.size).toBe(0);
    expect(m.streams.get(0)!.maxDataPending).toBe(false);
    expect(wakes()).toBe(0);
  });

  it('a read past half the window owes MAX_STREAM_DATA and wakes the driver once', () => {
    const { m, wakes } = manager();
    expect(m.onStreamFrame(0, 0, new Uint8Array(700), false)).toBeNull();
    m.read(0);
    const s = m.streams.get(0)!;
    expect(s.maxDataPending).toBe(true);
    expect([...m.controlOwed]).toEqual([s]);
    expect(wakes()).toBe(1);
  });

  it('data beyond the stream window is a FLOW_CONTROL_ERROR', () => {
    const { m } = manager();
    const err = m.onStreamFrame(0, 900, new Uint8Array(200), false);
    expect(err?.code).toBe(0x03);
  });
});

describe('StreamWriter room checks use the encoded frame sizes', () => {
  it('writes the control frames that fit, keeps the rest owed, and never overruns the packet', () => {
    const { m } = manager();
    const ctx = (m as unknown as { ctx: ConnContext }).ctx;
    const writer = new StreamWriter(ctx, m);
    // Peer-opened bidi stream 0 (we are the server): we can reset our side and stop theirs.
    expect(m.onStreamFrame(0, 0, new Uint8Array(10), false)).toBeNull();
    m.reset(0, 0x1234);
    m.stopSending(0, 5); // STOP_SENDING: 1 + 1 + 1 = 3 bytes
    // Room for RESET_STREAM (1 type + 1 id + 2 code + 1 final size = 5) but not STOP_SENDING after it.
    const buf = new Uint8Array(7);
    const frames: SentFrame[] = [];
    expect(writer.writeStreamControl(new ByteWriter(buf), frames)).toBe(true);
    expect(frames.map((f) => f.k)).toEqual(['reset_stream']);
    const s = m.streams.get(0)!;
    expect(s.resetPending).toBe(false);
    expect(s.stopPending).toBe(true);
    expect(m.controlOwed.has(s)).toBe(true);
    // Next packet: the STOP_SENDING goes, and the stream owes nothing more.
    const buf2 = new Uint8Array(64);
    const w2 = new ByteWriter(buf2);
    const frames2: SentFrame[] = [];
    expect(writer.writeStreamControl(w2, frames2)).toBe(true);
    expect(decodeFrames(buf2.subarray(0, w2.pos)).map((f) => f.type)).toEqual(['stop_sending']);
    expect(m.controlOwed.has(s)).toBe(false);
  });
});
