/**
 * Datagram-level framing (spec/wire.md §Datagram, §Stateless reset).
 *
 * Every Petrel UDP datagram ends with a CRC-32 (IEEE 802.3, the zlib/PNG one) of all preceding bytes,
 * big-endian, computed over the final (protected) bytes. Receivers check it before parsing anything,
 * so corrupted or foreign datagrams are dropped for the cost of one CRC instead of an AEAD failure.
 * The CRC is not a security mechanism: AEAD is. The CRC function is injected (the Node driver passes
 * `zlib.crc32`) so the core stays platform-neutral.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';

/** CRC-32 (IEEE) of `data`, as an unsigned 32-bit number. */
export type Crc32 = (data: Uint8Array) => number;

export const CRC_LENGTH = 4;
/** A client pads every datagram carrying an Initial packet to at least this many bytes (CRC included). */
export const MIN_INITIAL_DATAGRAM = 1200;
/** Datagram size used until path MTU discovery proves a larger one. */
export const BASE_DATAGRAM_SIZE = 1200;
/** Largest UDP payload (CRC included) over IPv4 with a 1500-byte MTU: 1500 - 20 (IP) - 8 (UDP). */
export const MAX_DATAGRAM_IPV4 = 1472;
/** Largest UDP payload (CRC included) over IPv6 with a 1500-byte MTU: 1500 - 40 (IP) - 8 (UDP). */
export const MAX_DATAGRAM_IPV6 = 1452;

function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = (v >>> 16) & 0xff;
  buf[off + 2] = (v >>> 8) & 0xff;
  buf[off + 3] = v & 0xff;
}

/** Writes the CRC of buf[0, len) at buf[len, len + 4); returns len + 4, the datagram length. */
export function appendChecksum(buf: Uint8Array, len: number, crc: Crc32): number {
  if (len < 0 || len + CRC_LENGTH > buf.length) {
    throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, 'no room for the datagram CRC');
  }
  writeU32(buf, len, crc(buf.subarray(0, len)) >>> 0);
  return len + CRC_LENGTH;
}

/** True when buf[0, len) is a datagram whose last 4 bytes are the CRC of the bytes before them. */
export function verifyChecksum(buf: Uint8Array, len: number, crc: Crc32): boolean {
  if (len < CRC_LENGTH || len > buf.length) return false;
  const body = len - CRC_LENGTH;
  return crc(buf.subarray(0, body)) >>> 0 === readU32(buf, body);
}

/** Length of the 16-byte stateless reset token (also carried in NEW_CONNECTION_ID and transport parameters). */
export const STATELESS_RESET_TOKEN_LENGTH = 16;
/** Unpredictable bytes a stateless reset carries before its token, first byte included. */
export const STATELESS_RESET_MIN_RANDOM = 21;
/** Smallest stateless reset datagram: first byte, 20 unpredictable bytes, token, CRC. */
export const STATELESS_RESET_MIN = 1 + 20 + STATELESS_RESET_TOKEN_LENGTH + CRC_LENGTH;

/**
 * Writes a stateless reset datagram at buf[0..): `randomBytes` (≥ 21 bytes; its first byte becomes
 * 01xxxxxx so the datagram looks like a short-header packet), the 16-byte token, then a valid CRC.
 * Returns the datagram length (randomBytes.length + 20). The caller keeps it shorter than the
 * datagram that triggered it (spec §Stateless reset) so two endpoints can never loop.
 */
export function writeStatelessReset(buf: Uint8Array, randomBytes: Uint8Array, token: Uint8Array, crc: Crc32): number {
  if (randomBytes.length < STATELESS_RESET_MIN_RANDOM) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `stateless reset needs ≥ ${STATELESS_RESET_MIN_RANDOM} random bytes`);
  }
  if (token.length !== STATELESS_RESET_TOKEN_LENGTH) {
    throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, 'stateless reset token must be 16 bytes');
  }
  const body = randomBytes.length + STATELESS_RESET_TOKEN_LENGTH;
  if (body + CRC_LENGTH > buf.length) throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, 'buffer too small for stateless reset');
  buf.set(randomBytes, 0);
  buf[0] = 0x40 | (randomBytes[0]! & 0x3f);
  buf.set(token, randomBytes.length);
  return appendChecksum(buf, body, crc);
}

/**
 * The candidate stateless reset token of a datagram (a view of the 16 bytes before the CRC), or null
 * when the datagram cannot be a reset (shorter than STATELESS_RESET_MIN, or not short-header-shaped).
 * Receivers compare it (in constant time) with the tokens they hold only when the datagram could not
 * be processed otherwise; the CRC has already been verified.
 */
export function statelessResetToken(datagram: Uint8Array, len: number): Uint8Array | null {
  if (len < STATELESS_RESET_MIN || len > datagram.length) return null;
  if ((datagram[0]! & 0xc0) !== 0x40) return null;
  const end = len - CRC_LENGTH;
  return datagram.subarray(end - STATELESS_RESET_TOKEN_LENGTH, end);
}
