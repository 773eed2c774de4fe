/**
 * Game-channel traffic in the seeded soak: every scenario sends messages on channels of all four modes
 * both ways through the ChannelLayer. Over a small seed set this checks that the traffic really flowed
 * (and was fragmented, and met loss), that the reliable modes lost nothing, and — by tampering with what
 * the layer is handed — that the scenario's per-mode checks do catch corruption, duplication and reordering.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChannelLayer } from '../../lib/channel/channel-layer.js';
import { CHANNEL_MODES, runScenario, type ScenarioOptions } from '../../tools/sim/scenario.js';

const SEEDS = Array.from({ length: 20 }, (_, i) => 201 + i);

describe('simulator soak: game channels', () => {
  it(`seeds ${SEEDS[0]}–${SEEDS.at(-1)}: all four modes carry messages, the reliable ones lose none`, () => {
    const failures: string[] = [];
    const received = Object.fromEntries(CHANNEL_MODES.map((m) => [m, 0])) as Record<string, number>;
    let fragmentsReceived = 0;
    let unreliableLost = 0;
    for (const seed of SEEDS) {
      const r = runScenario({ seed });
      if (!r.ok) failures.push(`seed ${seed}: ${r.failure} [${r.mixText}]`);
      for (const mode of CHANNEL_MODES) {
        const c = r.channels.modes[mode];
        received[mode]! += c.received;
        // Both sides send 12–36 messages per mode.
        expect(c.sent, `seed ${seed} ${mode}`).toBeGreaterThanOrEqual(24);
        expect(c.received, `seed ${seed} ${mode}`).toBeLessThanOrEqual(c.sent);
        expect(c.lost, `seed ${seed} ${mode}`).toBe(c.sent - c.received);
        if (mode === 'reliable-ordered' || mode === 'reliable-unordered') {
          expect(c.lost, `seed ${seed} ${mode}`).toBe(0);
          expect(c.bytesReceived, `seed ${seed} ${mode}`).toBe(c.bytesSent);
        } else unreliableLost += c.lost;
      }
      fragmentsReceived += r.channels.fragmentsReceived;
    }
    expect(failures).toEqual([]);
    for (const mode of CHANNEL_MODES) expect(received[mode], mode).toBeGreaterThan(0);
    // Messages above one datagram went out in fragments and were reassembled; lossy links cost some.
    expect(fragmentsReceived).toBeGreaterThan(0);
    expect(unreliableLost).toBeGreaterThan(0);
  });

  it('the channel counters of a seed are the same in two runs', () => {
    expect(runScenario({ seed: 203 }).channels).toEqual(runScenario({ seed: 203 }).channels);
  });

  it('channels: false sends no channel messages and still passes', () => {
    const r = runScenario({ seed: 204, channels: false });
    expect(r.failure).toBeUndefined();
    for (const mode of CHANNEL_MODES) expect(r.channels.modes[mode].sent).toBe(0);
  });
});

describe('simulator soak: the channel checks catch a misbehaving layer', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // A clean, pinned link: every message arrives, so a fault injected before the layer must show.
  const clean: ScenarioOptions = {
    seed: 5,
    link: { delay: 10, rate: 20e6, queueBytes: 500_000 },
    clientStreams: [20_000],
    serverStreams: [20_000],
    extras: { ending: 'client-close', outage: null, rebind: null, datagrams: [0, 0], mtu: null, mtuDrop: null },
  };

  /** Channel ids follow the declaration order of CHANNEL_MODES in every layer. */
  const idOf = (mode: (typeof CHANNEL_MODES)[number]) => CHANNEL_MODES.indexOf(mode);

  /** Replaces ChannelLayer.send with `fn`, which gets the real send (bound to the layer) and the layer. */
  function tamper(fn: (send: (id: number, d: Uint8Array) => void, id: number, d: Uint8Array, layer: ChannelLayer) => void): void {
    const real = ChannelLayer.prototype.send;
    vi.spyOn(ChannelLayer.prototype, 'send').mockImplementation(function (this: ChannelLayer, id: number, d: Uint8Array) {
      fn((i, x) => real.call(this, i, x), id, d, this);
    });
  }

  it('the untampered clean scenario passes with nothing lost in any mode', () => {
    const r = runScenario(clean);
    expect(r.failure).toBeUndefined();
    // On a clean path nothing is lost, except sequenced messages the sender replaced by newer ones while
    // they were still queued (sender-side freshness, counted as 'superseded').
    for (const mode of CHANNEL_MODES) {
      expect(r.channels.modes[mode].lost).toBe(mode === 'unreliable-sequenced' ? (r.channels.messagesDropped.superseded ?? 0) : 0);
    }
  });

  it('a flipped byte in a reliable-unordered message is reported as corrupt', () => {
    tamper((send, id, d) => {
      if (id === idOf('reliable-unordered') && d[0] === 2 && d.length > 1) d[d.length - 1]! ^= 0x40;
      send(id, d);
    });
    expect(runScenario(clean).failure).toMatch(/reliable-unordered: message 2 corrupt/);
  });

  it('a truncated unreliable message is reported as corrupt', () => {
    tamper((send, id, d) => send(id, id === idOf('unreliable') && d[0] === 1 && d.length > 1 ? d.subarray(0, d.length - 1) : d));
    expect(runScenario(clean).failure).toMatch(/unreliable: message 1 corrupt/);
  });

  it('an unreliable message sent twice is reported as a duplicate', () => {
    tamper((send, id, d) => {
      send(id, d);
      if (id === idOf('unreliable') && d[0] === 3) send(id, d);
    });
    expect(runScenario(clean).failure).toMatch(/unreliable: message 3 delivered twice/);
  });

  for (const mode of ['reliable-ordered', 'unreliable-sequenced'] as const) {
    it(`two ${mode} messages handed over in swapped order are reported as out of order`, () => {
      // Each sending layer holds its message 3 back and hands it over right after 4.
      const held = new Map<ChannelLayer, Uint8Array>();
      // Sequenced: message 10 goes right after 14 instead (handed over right after its successor, the sender's
      // freshness rule would replace the still-queued successor by it, and early messages are still held
      // newest-wins until the channel's declaration is acknowledged: nothing would arrive out of order).
      const [early, late] = mode === 'reliable-ordered' ? [3, 4] : [10, 14];
      tamper((send, id, d, layer) => {
        if (id !== idOf(mode) || (d[0] !== early && d[0] !== late)) return send(id, d);
        if (d[0] === early) held.set(layer, d.slice());
        else {
          send(id, d);
          send(id, held.get(layer)!);
        }
      });
      const want =
        mode === 'reliable-ordered'
          ? /reliable-ordered: message 4 delivered when 3 was next/
          : /unreliable-sequenced: message 10 delivered after 1[1-3]/;
      expect(runScenario(clean).failure).toMatch(want);
    });
  }
});
