/**
 * Packet number truncation and reconstruction (spec/wire.md §Packet numbers; RFC 9000 §17.1 and
 * Appendix A.2/A.3 are the model).
 *
 * Packet numbers are JavaScript numbers limited to 2^53 - 1 (spec §Integers). Arithmetic below never
 * uses 32-bit bitwise operators on full packet numbers, because they exceed 2^32 on long connections.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { MAX_FIELD_VALUE } from './varint.js';

export type PacketNumberLength = 1 | 2 | 3 | 4;

/** Largest packet number Petrel ever uses (spec §Integers); a connection closes before reaching it. */
export const MAX_PACKET_NUMBER = MAX_FIELD_VALUE;

/**
 * Chooses how many bytes to send of `fullPn` and returns the truncated value.
 * The encoding must cover more than twice the distance to the largest acknowledged packet
 * (RFC 9000 §17.1), i.e. `fullPn - largestAcked < 2^(8*length - 1)`, so a receiver whose largest
 * received packet lies anywhere in the unacknowledged range still reconstructs the right number.
 * `largestAcked` is -1 when nothing in this space has been acknowledged yet.
 */
export function encodePacketNumber(fullPn: number, largestAcked: number): { truncated: number; length: PacketNumberLength } {
  if (!Number.isInteger(fullPn) || fullPn < 0 || fullPn > MAX_PACKET_NUMBER) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `packet number out of range: ${fullPn}`);
  }
  if (!Number.isInteger(largestAcked) || largestAcked < -1 || largestAcked >= fullPn) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `largest acked ${largestAcked} not below ${fullPn}`);
  }
  // Number of packets the receiver may not have seen yet, this one included.
  const unacked = fullPn - largestAcked;
  let length: PacketNumberLength;
  if (unacked < 0x80) length = 1;
  else if (unacked < 0x8000) length = 2;
  else if (unacked < 0x800000) length = 3;
  else if (unacked < 0x80000000) length = 4;
  else throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `${unacked} unacknowledged packets exceed a 4-byte packet number`);
  return { truncated: fullPn % PN_WINDOW[length], length };
}

const PN_WINDOW = [0, 0x100, 0x10000, 0x1000000, 0x100000000] as const;

/**
 * Reconstructs a full packet number from its truncated form: the value closest to `largestPn + 1`
 * whose low `pnBits` bits equal `truncatedPn`. `largestPn` is the largest packet number received
 * (and authenticated) in this space so far, or -1 when none.
 */
export function decodePacketNumber(largestPn: number, truncatedPn: number, pnBits: number): number {
  const win = 2 ** pnBits;
  const hwin = win / 2;
  const expected = largestPn + 1;
  // Replace the low pnBits of `expected` with the truncated value (no bitwise ops: values exceed 2^32).
  const candidate = expected - (expected % win) + truncatedPn;
  if (candidate + hwin <= expected && candidate + win <= MAX_PACKET_NUMBER) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}
