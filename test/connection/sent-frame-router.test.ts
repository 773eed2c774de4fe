import { describe, expect, it } from 'vitest';
import { SentFrameRouter, type SentFrame, type SentFrameHandlers } from '../../lib/connection/sent-frame.js';
import type { SentPacket } from '../../lib/recovery/types.js';
import { PacketSpace } from '../../lib/connection/space.js';
import { APP } from '../../lib/connection/context.js';

class Owner {
  readonly log: string[] = [];
  constructor(readonly name: string) {}
  static readonly table: SentFrameHandlers<Owner> = {
    ping: { acked: (o) => void o.log.push(`${o.name} ping acked`) },
    datagram: {
      acked: (o, f) => void o.log.push(`${o.name} datagram ${f.id} acked`),
      lost: (o, f) => {
        o.log.push(`${o.name} datagram ${f.id} lost`);
        return f.id === 2;
      },
    },
  };
}

const packet = (frames: SentFrame[]) => ({ frames }) as unknown as SentPacket<SentFrame[]>;

describe('SentFrameRouter (handlers per class, called with the registering instance)', () => {
  it('routes each frame to the instance that registered its kind; routers of different connections stay apart', () => {
    const a = new Owner('a');
    const b = new Owner('b');
    const ra = new SentFrameRouter();
    const rb = new SentFrameRouter();
    ra.register(a, Owner.table);
    rb.register(b, Owner.table);
    const space = new PacketSpace(APP);
    ra.acked(packet([{ k: 'ping' }, { k: 'datagram', id: 1, length: 3 }, { k: 'padding', length: 5 }]), space);
    expect(rb.lost(packet([{ k: 'datagram', id: 1, length: 3 }]), space)).toBe(false);
    expect(rb.lost(packet([{ k: 'ping' }, { k: 'datagram', id: 2, length: 3 }]), space)).toBe(true);
    expect(a.log).toEqual(['a ping acked', 'a datagram 1 acked']);
    expect(b.log).toEqual(['b datagram 1 lost', 'b datagram 2 lost']);
  });
});
