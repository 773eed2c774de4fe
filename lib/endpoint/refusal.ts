/**
 * Stateless refusal of a new connection (issue 12): instead of dropping a client's first Initial — which
 * leaves the client waiting for its connect timeout — the server answers with one Initial packet carrying
 * CONNECTION_CLOSE(CONNECTION_REFUSED) and a reason whose first word is a stable code the client surfaces
 * as a typed error: `SERVER_BUSY` (maxConnections reached, or the server is closing), `REFUSED` (the
 * accept hook said no) or `INSECURE_MISMATCH` (the client speaks the other protection mode).
 *
 * The packet is protected with the Initial keys of the client's own first destination connection id (so
 * the client can read it), is never larger than what triggered it (no amplification), and the endpoint
 * rate-limits these answers. Sans-IO and platform-neutral.
 */
import { openInitialCopy } from './initial-check.js';
import { protectHeader } from '../crypto/packet-protection.js';
import type { PacketProtector } from '../crypto/types.js';
import { TransportErrorCode } from '../errors.js';
import { ByteReader, ByteWriter } from '../wire/buffer.js';
import { appendChecksum, CRC_LENGTH, type Crc32 } from '../wire/datagram.js';
import { decodeFrame, encodeFrame } from '../wire/frames.js';
import { PETREL_VERSION, patchLongHeaderLength, writeLongHeader, type LongHeader } from '../wire/packet.js';

/** Stable refusal codes carried as the first word of the CONNECTION_CLOSE reason ("SERVER_BUSY: …"). */
export type RefusalCode = 'SERVER_BUSY' | 'REFUSED' | 'INSECURE_MISMATCH';
export const REFUSAL_CODES: ReadonlySet<string> = new Set<RefusalCode>(['SERVER_BUSY', 'REFUSED', 'INSECURE_MISMATCH']);

/** Longest reason phrase put on the wire (bytes); longer application reasons are cut. */
const MAX_REASON = 200;
const utf8 = new TextEncoder();

/**
 * Writes a complete refusal datagram (with CRC) into `buf` and returns its length. `dcid` is the client's
 * source connection id, `scid` any id of ours; `protector` the server-side Initial write protector.
 */
export function writeRefusal(
  buf: Uint8Array,
  o: { protector: PacketProtector; dcid: Uint8Array; scid: Uint8Array; code: RefusalCode; reason: string; crc: Crc32 },
): number {
  let reason = utf8.encode(`${o.code}: ${o.reason}`);
  if (reason.length > MAX_REASON) reason = reason.subarray(0, MAX_REASON);
  const h = writeLongHeader(buf, 0, {
    type: 'initial',
    version: PETREL_VERSION,
    dcid: o.dcid,
    scid: o.scid,
    token: new Uint8Array(0),
    pnLength: 1,
    truncatedPn: 0,
  });
  const tag = o.protector.tagLength;
  const w = new ByteWriter(buf).reset(buf, h.payloadOffset, buf.length - tag - CRC_LENGTH);
  encodeFrame(w, { type: 'connection_close', application: false, errorCode: TransportErrorCode.CONNECTION_REFUSED, frameType: 0, reason });
  // Enough plaintext after the packet number for the header-protection sample.
  while (w.pos < h.pnOffset + 4 + (o.protector.headerProtection ? 16 - tag : 0)) w.u8(0);
  const plainEnd = w.pos;
  patchLongHeaderLength(buf, h.lengthOffset, plainEnd - h.pnOffset + tag);
  const end = o.protector.seal(0, buf, 0, h.payloadOffset, plainEnd);
  protectHeader(buf.subarray(0, end), 0, h.pnOffset, 1, o.protector);
  return appendChecksum(buf, end, o.crc);
}

/**
 * Whether the Initial packet `h` in `body` opens with `protector` (a copy is opened; `body` is untouched)
 * and carries a CRYPTO frame at offset 0 whose first byte is `firstMessageType` (null: any). For the
 * plaintext protector, opening always "succeeds", so the frame check is what tells the modes apart.
 */
export function initialOpens(body: Uint8Array, h: LongHeader, protector: PacketProtector, firstMessageType: number | null): boolean {
  const opened = openInitialCopy(protector, body, h);
  if (!opened) return false;
  const r = new ByteReader(opened.pkt.subarray(opened.start, opened.end));
  try {
    while (r.remaining > 0) {
      const f = decodeFrame(r);
      if (f.type === 'padding' || f.type === 'ping' || f.type === 'ack') continue;
      if (f.type !== 'crypto' || f.offset !== 0 || f.data.length === 0) return false;
      return firstMessageType === null || f.data[0] === firstMessageType;
    }
  } catch {
    return false;
  }
  return false;
}
