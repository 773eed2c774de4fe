/** Channel priorities reach the core scheduler: a more urgent channel's datagrams leave first. */
import { describe, expect, it } from 'vitest';
import { LayerPair } from './layer-pair.js';
import { inspectDatagram } from '../helpers/inspect.js';

describe('channel priority', () => {
  it('an urgency-0 unreliable channel overtakes an urgency-7 one queued before it', () => {
    const p = new LayerPair();
    expect(p.run(() => p.connected())).toBe(true);
    const bulk = p.clientLayer.channel('bulk', 'unreliable', 7);
    const urgent = p.clientLayer.channel('urgent', 'unreliable', 0);
    // Let both declarations be acknowledged so sends go straight to the core's datagram queues.
    expect(p.run(() => p.clientLayer.stats().heldMessages === 0 && p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
    const order: number[] = [];
    p.drop = (dir, _i, data) => {
      if (dir === 'c2s') for (const pk of inspectDatagram(data)) for (const f of pk.frames) if (f.type === 'datagram') order.push(f.data[1]!);
      return false;
    };
    for (let i = 0; i < 5; i++) p.clientLayer.send(bulk, new Uint8Array(400).fill(1));
    p.clientLayer.send(urgent, new Uint8Array(40).fill(2));
    p.run(() => order.length >= 6, 5000);
    // Byte 1 of a channel datagram is the channel id (kind byte first): the urgent channel's goes first.
    expect(order[0]).toBe(urgent);
    expect(order.slice(1)).toEqual([bulk, bulk, bulk, bulk, bulk]);
  });
});
