/**
 * Authenticates a server's first Initial before any connection state exists (issue 11: a CRC-valid datagram
 * used to create a full connection). Header protection is removed and the payload opened on a copy, so the
 * connection that may follow still sees the packet as it arrived.
 */
import type { PacketProtector } from '../crypto/types.js';
import type { LongHeader } from '../wire/packet.js';
import { readPacketNumber } from '../wire/packet.js';
import { decodePacketNumber } from '../wire/packet-number.js';

const SAMPLE = 16;
const mask = new Uint8Array(5);

/**
 * Opens the Initial packet `h` at the start of `body` under `read` (the client's Initial keys) on a copy, so
 * `body` is untouched. Returns the copy and where its plaintext payload lies, or null when it does not open.
 */
export function openInitialCopy(read: PacketProtector, body: Uint8Array, h: LongHeader): { pkt: Uint8Array; start: number; end: number } | null {
  // A copy (not body.slice: on a Node Buffer that is a view, and unmasking it would corrupt the packet).
  const pkt = new Uint8Array(h.end);
  pkt.set(body.subarray(0, h.end));
  let first = pkt[0]!;
  let pnLength: number;
  if (read.headerProtection) {
    const sampleAt = h.pnOffset + 4;
    if (sampleAt + SAMPLE > h.end) return null;
    read.headerMask(pkt.subarray(sampleAt, sampleAt + SAMPLE), mask);
    first ^= mask[0]! & 0x0f;
    pnLength = (first & 0x03) + 1;
    pkt[0] = first;
    for (let i = 0; i < pnLength; i++) pkt[h.pnOffset + i]! ^= mask[1 + i]!;
  } else pnLength = (first & 0x03) + 1;
  if (h.pnOffset + pnLength > h.end) return null;
  const pn = decodePacketNumber(-1, readPacketNumber(pkt, h.pnOffset, pnLength), pnLength * 8);
  const start = h.pnOffset + pnLength;
  const end = read.open(pn, pkt, 0, start, h.end);
  return end < 0 ? null : { pkt, start, end };
}

/** Whether the Initial packet `h` at the start of `body` opens under `read` (the client's Initial keys). */
export function initialAuthenticates(read: PacketProtector, body: Uint8Array, h: LongHeader): boolean {
  return openInitialCopy(read, body, h) !== null;
}
