import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import {
  MAX_STREAM_COUNT,
  canReceive,
  canSend,
  isBidi,
  isClientInitiated,
  isLocallyInitiated,
  streamId,
  streamIndex,
  streamType,
} from '../../lib/stream/stream-id.js';

describe('stream ids (RFC 9000 §2.1)', () => {
  it('matches the type table for the first stream of each type', () => {
    expect(streamId(0, 'client', true)).toBe(0x00);
    expect(streamId(0, 'server', true)).toBe(0x01);
    expect(streamId(0, 'client', false)).toBe(0x02);
    expect(streamId(0, 'server', false)).toBe(0x03);
  });

  it('steps by 4 within a type', () => {
    expect(streamId(1, 'client', true)).toBe(4);
    expect(streamId(2, 'server', true)).toBe(9);
    expect(streamId(5, 'server', false)).toBe(23); // 5*4 + 3
    expect(streamId(10, 'client', false)).toBe(42); // 10*4 + 2
  });

  it('decodes type, initiator, direction and index', () => {
    // id: [isBidi, isClientInitiated, index, type]
    const table: Array<[number, boolean, boolean, number, number]> = [
      [0, true, true, 0, 0],
      [1, true, false, 0, 1],
      [2, false, true, 0, 2],
      [3, false, false, 0, 3],
      [4, true, true, 1, 0],
      [23, false, false, 5, 3],
      [42, false, true, 10, 2],
    ];
    for (const [id, bidi, client, index, type] of table) {
      expect(isBidi(id), `isBidi(${id})`).toBe(bidi);
      expect(isClientInitiated(id), `isClientInitiated(${id})`).toBe(client);
      expect(streamIndex(id), `streamIndex(${id})`).toBe(index);
      expect(streamType(id), `streamType(${id})`).toBe(type);
    }
  });

  it('works beyond 32 bits, up to the 2^53 - 1 field limit', () => {
    const last = streamId(MAX_STREAM_COUNT - 1, 'server', false);
    expect(last).toBe(2 ** 53 - 1);
    expect(streamIndex(last)).toBe(2 ** 51 - 1);
    expect(isBidi(last)).toBe(false);
    expect(isClientInitiated(last)).toBe(false);
    expect(streamId(MAX_STREAM_COUNT - 1, 'client', true)).toBe(2 ** 53 - 4);
    const id = 2 ** 40 + 1; // server bidi, index 2^38
    expect(isBidi(id)).toBe(true);
    expect(isClientInitiated(id)).toBe(false);
    expect(streamIndex(id)).toBe(2 ** 38);
    expect(streamId(2 ** 38, 'server', true)).toBe(id);
  });

  it('rejects bad indices', () => {
    for (const bad of [-1, 1.5, MAX_STREAM_COUNT, Number.NaN]) {
      try {
        streamId(bad, 'client', true);
        expect.unreachable(`index ${bad} accepted`);
      } catch (e) {
        expect(e).toBeInstanceOf(PetrelWireError);
        expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode.VALUE_OUT_OF_RANGE);
      }
    }
  });

  it('tells local from remote streams', () => {
    expect(isLocallyInitiated(0, true)).toBe(true);
    expect(isLocallyInitiated(0, false)).toBe(false);
    expect(isLocallyInitiated(1, true)).toBe(false);
    expect(isLocallyInitiated(7, false)).toBe(true);
  });

  it('allows sending and receiving by direction', () => {
    // Client view: bidi both ways; own uni (2) send only; server uni (3) receive only.
    expect([canSend(0, true), canReceive(0, true)]).toEqual([true, true]);
    expect([canSend(1, true), canReceive(1, true)]).toEqual([true, true]);
    expect([canSend(2, true), canReceive(2, true)]).toEqual([true, false]);
    expect([canSend(3, true), canReceive(3, true)]).toEqual([false, true]);
    // Server view: the mirror image.
    expect([canSend(2, false), canReceive(2, false)]).toEqual([false, true]);
    expect([canSend(3, false), canReceive(3, false)]).toEqual([true, false]);
  });
});
