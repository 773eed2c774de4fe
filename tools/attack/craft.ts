/**
 * Hostile datagrams for the attack tool and the hardening tests: junk with a valid CRC, client Initials sealed
 * under the (public) Initial keys with chosen frames, and 1-RTT packets sealed with keys captured from a real
 * handshake (a client only ever learns its own keys: these are the frames a connected peer could send).
 */
import type { CryptoConfig, CoreEnv } from '../../lib/connection/types.js';
import type { HandshakeSession, PacketProtector } from '../../lib/crypto/types.js';
import { protectHeader } from '../../lib/crypto/packet-protection.js';
import { ByteWriter } from '../../lib/wire/buffer.js';
import { CRC_LENGTH, MIN_INITIAL_DATAGRAM, appendChecksum } from '../../lib/wire/datagram.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { encodeFrame } from '../../lib/wire/frames.js';
import { PETREL_VERSION, patchLongHeaderLength, writeLongHeader, writeShortHeader } from '../../lib/wire/packet.js';

type Crc = CoreEnv['crc32'];

/** A long-header Initial-looking datagram of `size` bytes: Petrel's version, random ids and payload, valid CRC. */
export function junkInitial(random: (out: Uint8Array) => void, crc32: Crc, size = MIN_INITIAL_DATAGRAM): Uint8Array {
  const buf = new Uint8Array(size);
  random(buf);
  const dcid = buf.slice(6, 6 + 8);
  const scid = buf.slice(20, 28);
  const h = writeLongHeader(buf, 0, { type: 'initial', version: PETREL_VERSION, dcid, scid, pnLength: 2, truncatedPn: 0 });
  patchLongHeaderLength(buf, h.lengthOffset, size - CRC_LENGTH - h.pnOffset);
  appendChecksum(buf, size - CRC_LENGTH, crc32);
  return buf;
}

/** Frames sealed into one client Initial packet (padded to `padTo`, default 1200 bytes) under `write` (the Initial keys for dcid). */
export function sealedInitial(
  args: { write: PacketProtector; dcid: Uint8Array; scid: Uint8Array; pn: number; frames: readonly Frame[]; token?: Uint8Array; padTo?: number },
  crc32: Crc,
): Uint8Array {
  const buf = new Uint8Array(1500);
  const h = writeLongHeader(buf, 0, {
    type: 'initial',
    version: PETREL_VERSION,
    dcid: args.dcid,
    scid: args.scid,
    token: args.token,
    pnLength: 4,
    truncatedPn: args.pn >>> 0,
  });
  const w = new ByteWriter(buf, h.payloadOffset, buf.length);
  for (const f of args.frames) encodeFrame(w, f);
  const payloadEnd = Math.max(w.pos, h.pnOffset + 4 + 16, (args.padTo ?? MIN_INITIAL_DATAGRAM) - CRC_LENGTH - args.write.tagLength);
  buf.fill(0, w.pos, payloadEnd); // PADDING
  patchLongHeaderLength(buf, h.lengthOffset, payloadEnd + args.write.tagLength - h.pnOffset);
  const end = args.write.seal(args.pn, buf, 0, h.payloadOffset, payloadEnd);
  protectHeader(buf, 0, h.pnOffset, 4, args.write);
  return buf.slice(0, appendChecksum(buf, end, crc32));
}

/** Frames sealed into one 1-RTT packet to `dcid` (padded so header protection can sample). */
export function sealedShort(
  args: { write: PacketProtector; dcid: Uint8Array; pn: number; frames: readonly Frame[]; keyPhase?: boolean; raw?: Uint8Array },
  crc32: Crc,
): Uint8Array {
  const buf = new Uint8Array(4096);
  const h = writeShortHeader(buf, 0, { dcid: args.dcid, keyPhase: args.keyPhase ?? false, spin: false, pnLength: 4, truncatedPn: args.pn >>> 0 });
  const w = new ByteWriter(buf, h.payloadOffset, buf.length - 32);
  for (const f of args.frames) encodeFrame(w, f);
  if (args.raw) w.bytes(args.raw); // bytes that need not be a valid frame
  const payloadEnd = Math.max(w.pos, h.pnOffset + 4 + 16);
  buf.fill(0, w.pos, payloadEnd);
  const end = args.write.seal(args.pn, buf, 0, h.payloadOffset, payloadEnd);
  protectHeader(buf, 0, h.pnOffset, 4, args.write);
  return buf.slice(0, appendChecksum(buf, end, crc32));
}

/**
 * Wraps a client CryptoConfig so the 1-RTT write protector its session installs is kept: with it a test or the
 * attack tool seals frames of its own choosing into the established connection.
 */
export function capturingCrypto(inner: CryptoConfig): { crypto: CryptoConfig; oneRttWrite: () => PacketProtector | null } {
  let write: PacketProtector | null = null;
  const crypto: CryptoConfig = {
    initialProtectors: (cid, isClient) => inner.initialProtectors(cid, isClient),
    createSession(args) {
      const s: HandshakeSession = inner.createSession(args);
      const pollKeys = s.pollKeys.bind(s);
      s.pollKeys = () => {
        const k = pollKeys();
        if (k && k.level === '1rtt' && k.write) write = k.write;
        return k;
      };
      return s;
    },
  };
  return { crypto, oneRttWrite: () => write };
}
