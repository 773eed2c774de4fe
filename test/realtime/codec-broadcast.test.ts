/** msgpack float32 option, prepare() once / broadcast() to many channels. */
import { describe, expect, it } from 'vitest';
import { msgpackCodec } from '../../lib/api/codec.js';
import { broadcast, prepare } from '../../lib/api/broadcast.js';
import { PetrelChannel, type ChannelSendOptions } from '../../lib/api/channel.js';
import { PetrelError } from '../../lib/errors.js';

const limits = { maxMessageSize: 1 << 20, maxDepth: 32 };

function snapshot(n: number): { tick: number; e: Array<{ id: number; x: number; y: number; a: number }> } {
  const e = [];
  for (let i = 0; i < n; i++) e.push({ id: i, x: 100.123456789 + i * 1.37, y: -52.987654321 + i * 0.91, a: 0.1 * i + 0.0001 });
  return { tick: 123456, e };
}

describe('msgpack float32 option', () => {
  it('shrinks non-integer numbers to float32 (5 bytes), keeps integers exact, and decodes within float32 precision', () => {
    const v = snapshot(50);
    const f64 = msgpackCodec(limits);
    const f32 = msgpackCodec(limits, { float32: true });
    const a = f64.encode(v);
    const b = f32.encode(v);
    // 150 non-integers, 4 bytes saved each.
    expect(a.length - b.length).toBe(150 * 4);
    const back = f32.decode(b) as ReturnType<typeof snapshot>;
    expect(back.tick).toBe(123456);
    for (let i = 0; i < 50; i++) {
      expect(back.e[i]!.id).toBe(i);
      expect(back.e[i]!.x).toBe(Math.fround(v.e[i]!.x));
      expect(back.e[i]!.y).toBe(Math.fround(v.e[i]!.y));
      expect(Math.abs(back.e[i]!.a - v.e[i]!.a)).toBeLessThan(1e-6);
    }
    // The default codec is exact.
    expect(f64.decode(a)).toEqual(v);
  });
});

class FakeHost {
  readonly got: Array<{ id: number; bytes: Uint8Array; options?: ChannelSendOptions }> = [];
  constructor(private readonly fail: string | null = null) {}
  sendOnChannel(id: number, bytes: Uint8Array, options?: ChannelSendOptions): void {
    if (this.fail) throw new PetrelError(this.fail, 'refused');
    this.got.push({ id, bytes, options });
  }
}

describe('prepare() / broadcast()', () => {
  it('encodes once and hands the same bytes to every channel; failures are counted, not thrown', () => {
    let encodes = 0;
    const base = msgpackCodec(limits);
    const counting = { encode: (v: unknown) => (encodes++, base.encode(v)), decode: base.decode };
    const msg = prepare(snapshot(50), { codec: counting });
    expect(encodes).toBe(1);
    const hosts = Array.from({ length: 16 }, () => new FakeHost());
    const closedHost = new FakeHost('CONNECTION_CLOSED');
    const bigHost = new FakeHost('MESSAGE_TOO_LARGE');
    const chans = [...hosts, closedHost, bigHost].map((h, i) => new PetrelChannel(h, i, 'state', 'unreliable-sequenced', base));
    const r = broadcast(chans, msg, { maxAge: 50 });
    expect(r).toEqual({ sent: 16, closed: 1, failed: { MESSAGE_TOO_LARGE: 1 } });
    expect(encodes).toBe(1);
    for (const [i, h] of hosts.entries()) {
      expect(h.got.length).toBe(1);
      expect(h.got[0]!.id).toBe(i);
      expect(Buffer.from(h.got[0]!.bytes).equals(Buffer.from(base.encode(snapshot(50))))).toBe(true);
      expect(h.got[0]!.options).toEqual({ maxAge: 50 });
    }
    expect(Object.isFrozen(msg)).toBe(true);
    expect(chans[0]!.stats().sent).toBe(1);
  });

  it('prepare refuses oversized messages with MESSAGE_TOO_LARGE', () => {
    expect(() => prepare(new Uint8Array(2000), { maxMessageSize: 1000 })).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
  });
});
