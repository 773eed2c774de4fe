import { describe, expect, it } from 'vitest';
import type { ConnContext } from '../../lib/connection/context.js';
import { resolveOptions } from '../../lib/connection/defaults.js';
import { StreamManager } from '../../lib/connection/streams/manager.js';
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
