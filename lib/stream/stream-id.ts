/**
 * Stream id arithmetic (spec/streams.md §Stream ids, RFC 9000 §2.1).
 * The two low bits carry the type: bit 0 = initiator (0 client, 1 server), bit 1 = direction (0 bidi, 1 uni).
 * Ids go beyond 32 bits, so this uses arithmetic (% and *) rather than bit operators.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';

/**
 * Streams of one type that have an id. Petrel caps every integer field at 2^53 - 1 (spec/wire-frames.md
 * §Field limit), so ids stop at 2^53 - 1 and each type has 2^51 of them (QUIC: 2^60).
 */
export const MAX_STREAM_COUNT = 2 ** 51;

export type StreamInitiator = 'client' | 'server';

/** The id of the `index`-th stream (0-based) of the given type. */
export function streamId(index: number, initiator: StreamInitiator, bidi: boolean): number {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_STREAM_COUNT) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `stream index out of range: ${index}`);
  }
  return index * 4 + (initiator === 'server' ? 1 : 0) + (bidi ? 0 : 2);
}

/** The type bits (0..3) of an id. */
export function streamType(id: number): number {
  return id % 4;
}

export function isBidi(id: number): boolean {
  return id % 4 < 2;
}

export function isClientInitiated(id: number): boolean {
  return id % 2 === 0;
}

/** Position of the stream among streams of its type (0 for the first one). */
export function streamIndex(id: number): number {
  return Math.floor(id / 4);
}

export function isLocallyInitiated(id: number, isClient: boolean): boolean {
  return isClientInitiated(id) === isClient;
}

/** Whether this endpoint may send on the stream: every bidi stream, and unidirectional streams it opened. */
export function canSend(id: number, isClient: boolean): boolean {
  return isBidi(id) || isLocallyInitiated(id, isClient);
}

/** Whether this endpoint may receive on the stream: every bidi stream, and unidirectional streams the peer opened. */
export function canReceive(id: number, isClient: boolean): boolean {
  return isBidi(id) || !isLocallyInitiated(id, isClient);
}
