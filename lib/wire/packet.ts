/**
 * Packet headers (spec/wire.md §Long header, §Short header, §Retry, §Version Negotiation).
 *
 * These functions only lay out and read bytes. Header protection and AEAD are applied by the caller
 * (lib/crypto/types.ts PacketProtector) after writing and before reading anything past the header
 * invariants: `parsePacketHeader` stops at the packet number, which is still masked on receipt.
 *
 * Coalescing: several long-header packets may share one datagram, each ending at `pnOffset + Length`;
 * the next packet starts where the previous one ends. A short-header packet has no Length and runs
 * to the end of the datagram minus the 4-byte CRC, so it is always the last one. Retry and Version
 * Negotiation also run to the end of the datagram. Callers pass that end (`datagramLength - CRC_LENGTH`).
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { ByteReader, ByteWriter } from './buffer.js';
import type { PacketNumberLength } from './packet-number.js';

export type { PacketNumberLength };

/** The only version this implementation speaks ("PT" + 0x0001). Never QUIC's 0x00000001. */
export const PETREL_VERSION = 0x50540001;
/** Length of every connection id a Petrel endpoint issues, so short headers can be routed. */
export const CID_LENGTH = 8;
/** Longest connection id a Petrel long header may carry. */
export const MAX_CID_LENGTH = 20;
/** Longest connection id the version-independent invariants allow (for answering unknown versions). */
export const MAX_INVARIANT_CID_LENGTH = 255;
export const RETRY_INTEGRITY_TAG_LENGTH = 16;
/**
 * Every packet carries at least this many bytes from the start of its packet number to the end of its
 * plaintext payload; senders pad with PADDING frames. It keeps the header-protection sample in place
 * (RFC 9001 §5.4.2) and gives receivers one rule in every mode, the insecure one included.
 */
export const MIN_PN_AND_PAYLOAD = 4;
/** The header-protection sample starts this many bytes after the packet number offset… */
export const HP_SAMPLE_OFFSET = 4;
/** …and is this long. */
export const HP_SAMPLE_LENGTH = 16;

export type LongPacketType = 'initial' | '0rtt' | 'handshake' | 'retry';
const LONG_TYPES: readonly LongPacketType[] = ['initial', '0rtt', 'handshake', 'retry'];
const LONG_TYPE_CODE: Record<LongPacketType, number> = { initial: 0, '0rtt': 1, handshake: 2, retry: 3 };

const FORM_BIT = 0x80;
const FIXED_BIT = 0x40;
const SPIN_BIT = 0x20;
const KEY_PHASE_BIT = 0x04;
/** Reserved bits (protected): long 0x0c, short 0x18. Must be 0 after header protection is removed. */
const LONG_RESERVED = 0x0c;
const SHORT_RESERVED = 0x18;
const EMPTY = new Uint8Array(0);

export interface LongHeaderFields {
  type: 'initial' | '0rtt' | 'handshake';
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial only (a missing token is written as length 0). */
  token?: Uint8Array;
  pnLength: PacketNumberLength;
  truncatedPn: number;
}

export interface ShortHeaderFields {
  dcid: Uint8Array;
  keyPhase: boolean;
  spin: boolean;
  pnLength: PacketNumberLength;
  truncatedPn: number;
}

export interface LongHeader {
  form: 'long';
  type: 'initial' | '0rtt' | 'handshake';
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  /** Initial only; empty for other types. */
  token: Uint8Array;
  /** As received, i.e. still header-protected. */
  firstByte: number;
  pnOffset: number;
  /** End of this packet: pnOffset + Length. The next coalesced packet, if any, starts here. */
  end: number;
}

export interface ShortHeader {
  form: 'short';
  dcid: Uint8Array;
  firstByte: number;
  pnOffset: number;
  /** The end passed in: a short-header packet fills the rest of the datagram. */
  end: number;
}

export interface RetryHeader {
  form: 'retry';
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  token: Uint8Array;
  integrityTag: Uint8Array;
  end: number;
}

export interface VersionNegotiationHeader {
  form: 'version_negotiation';
  dcid: Uint8Array;
  scid: Uint8Array;
  versions: number[];
  end: number;
}

/**
 * A long header of a version other than PETREL_VERSION: only the invariants (RFC 8999) are read.
 * The endpoint decides what to do (a server answers a large enough one with Version Negotiation).
 */
export interface UnsupportedVersionHeader {
  form: 'unsupported_version';
  version: number;
  dcid: Uint8Array;
  scid: Uint8Array;
  firstByte: number;
  end: number;
}

export type ParsedHeader = LongHeader | ShortHeader | RetryHeader | VersionNegotiationHeader | UnsupportedVersionHeader;

function fail(message: string): never {
  throw new PetrelWireError(TransportErrorCode.PACKET_ENCODING_ERROR, message);
}

function outOfRange(message: string): never {
  throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, message);
}

function checkCid(cid: Uint8Array, max: number): void {
  if (cid.length > max) outOfRange(`connection id longer than ${max} bytes`);
}

function checkPnLength(len: number): asserts len is PacketNumberLength {
  if (len !== 1 && len !== 2 && len !== 3 && len !== 4) outOfRange(`packet number length ${len}`);
}

function checkTruncatedPn(v: number, len: PacketNumberLength): void {
  checkPnLength(len);
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** (8 * len)) outOfRange(`truncated packet number ${v} does not fit ${len} byte(s)`);
}

// One writer reused by every header writer: writing is synchronous and never re-entrant.
// A full buffer surfaces as BUFFER_TOO_SMALL from the writer.
const writer = new ByteWriter(new Uint8Array(0));

function start(buf: Uint8Array, off: number): ByteWriter {
  if (off < 0 || off > buf.length) throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, `offset ${off} outside the buffer`);
  return writer.reset(buf, off);
}

function writeCids(w: ByteWriter, dcid: Uint8Array, scid: Uint8Array): void {
  w.u8(dcid.length);
  w.bytes(dcid);
  w.u8(scid.length);
  w.bytes(scid);
}

/** Writes `v` as `len` big-endian bytes (the truncated packet number). */
function writePn(w: ByteWriter, v: number, len: PacketNumberLength): void {
  for (let shift = 8 * (len - 1); shift >= 0; shift -= 8) w.u8((v >>> shift) & 0xff);
}

/**
 * Writes a long header up to and including the packet number. The Length field is a 2-byte varint
 * placeholder; once the payload is laid out, patch it with `patchLongHeaderLength`.
 * First byte: 1 | 1 (fixed) | type (2) | reserved (2) = 0 | pnLength - 1 (2).
 */
export function writeLongHeader(
  buf: Uint8Array,
  off: number,
  h: LongHeaderFields,
): { lengthOffset: number; pnOffset: number; payloadOffset: number } {
  checkCid(h.dcid, MAX_CID_LENGTH);
  checkCid(h.scid, MAX_CID_LENGTH);
  checkTruncatedPn(h.truncatedPn, h.pnLength);
  const token = h.token ?? EMPTY;
  if (token.length > 0 && h.type !== 'initial') outOfRange('only Initial packets carry a token');
  const w = start(buf, off);
  w.u8(FORM_BIT | FIXED_BIT | (LONG_TYPE_CODE[h.type] << 4) | (h.pnLength - 1));
  w.u32(h.version >>> 0);
  writeCids(w, h.dcid, h.scid);
  if (h.type === 'initial') {
    w.varint(token.length);
    w.bytes(token);
  }
  const lengthOffset = w.pos;
  w.varint(0, 2);
  const pnOffset = w.pos;
  writePn(w, h.truncatedPn, h.pnLength);
  return { lengthOffset, pnOffset, payloadOffset: w.pos };
}

/** Largest Length a 2-byte varint holds; a long-header packet is never longer than this. */
export const MAX_LONG_HEADER_LENGTH = 0x3fff;

/** Fills the Length placeholder: `length` = packet number bytes + payload + AEAD tag. */
export function patchLongHeaderLength(buf: Uint8Array, lengthOffset: number, length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_LONG_HEADER_LENGTH) outOfRange(`long header Length ${length}`);
  buf[lengthOffset] = 0x40 | (length >>> 8);
  buf[lengthOffset + 1] = length & 0xff;
}

/** Writes a short header up to and including the packet number. First byte: 0 | 1 | S | RR=0 | K | PP. */
export function writeShortHeader(buf: Uint8Array, off: number, h: ShortHeaderFields): { pnOffset: number; payloadOffset: number } {
  checkCid(h.dcid, MAX_CID_LENGTH);
  checkTruncatedPn(h.truncatedPn, h.pnLength);
  const w = start(buf, off);
  w.u8(FIXED_BIT | (h.spin ? SPIN_BIT : 0) | (h.keyPhase ? KEY_PHASE_BIT : 0) | (h.pnLength - 1));
  w.bytes(h.dcid);
  const pnOffset = w.pos;
  writePn(w, h.truncatedPn, h.pnLength);
  return { pnOffset, payloadOffset: w.pos };
}

/**
 * Writes a Version Negotiation packet listing `versions`; returns the end offset.
 * First byte: 1 | 1 | 6 unused bits taken from `unused`. The 0x40 bit is set so the packet looks like
 * any other Petrel packet to middleboxes (RFC 9000 §17.2.1 recommends it). Connection ids echo the
 * client's (scid and dcid swapped by the caller), so they may be up to 255 bytes.
 */
export function writeVersionNegotiation(
  buf: Uint8Array,
  off: number,
  v: { dcid: Uint8Array; scid: Uint8Array; versions: readonly number[]; unused: number },
): number {
  checkCid(v.dcid, MAX_INVARIANT_CID_LENGTH);
  checkCid(v.scid, MAX_INVARIANT_CID_LENGTH);
  if (v.versions.length === 0) outOfRange('Version Negotiation lists no version');
  if (v.versions.includes(0)) outOfRange('version 0 is reserved for Version Negotiation');
  const w = start(buf, off);
  w.u8(FORM_BIT | FIXED_BIT | (v.unused & 0x3f));
  w.u32(0);
  writeCids(w, v.dcid, v.scid);
  for (const version of v.versions) w.u32(version >>> 0);
  return w.pos;
}

/**
 * Writes a Retry packet; returns the end offset. First byte: 1 | 1 | 11 | 0000.
 * The integrity tag is computed by the crypto layer over `retryPseudoPacket(...)`.
 */
export function writeRetry(
  buf: Uint8Array,
  off: number,
  r: { version: number; dcid: Uint8Array; scid: Uint8Array; token: Uint8Array; integrityTag: Uint8Array },
): number {
  checkCid(r.dcid, MAX_CID_LENGTH);
  checkCid(r.scid, MAX_CID_LENGTH);
  if (r.token.length === 0) outOfRange('Retry token is empty');
  if (r.integrityTag.length !== RETRY_INTEGRITY_TAG_LENGTH) outOfRange('Retry integrity tag must be 16 bytes');
  const w = start(buf, off);
  w.u8(FORM_BIT | FIXED_BIT | (LONG_TYPE_CODE.retry << 4));
  w.u32(r.version >>> 0);
  writeCids(w, r.dcid, r.scid);
  w.bytes(r.token);
  w.bytes(r.integrityTag);
  return w.pos;
}

/**
 * The bytes the Retry integrity tag is computed over: ODCID length (1 byte) | ODCID | the Retry
 * packet without its tag. `originalDcid` is the dcid of the client's first Initial.
 */
export function retryPseudoPacket(originalDcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array {
  checkCid(originalDcid, MAX_CID_LENGTH);
  const out = new Uint8Array(1 + originalDcid.length + retryWithoutTag.length);
  out[0] = originalDcid.length;
  out.set(originalDcid, 1);
  out.set(retryWithoutTag, 1 + originalDcid.length);
  return out;
}

// One reader reused by every parse: parsing is synchronous and never re-entrant.
const reader = new ByteReader(new Uint8Array(0), 0, 0, TransportErrorCode.PACKET_ENCODING_ERROR);

/**
 * Reads the header of the packet at `off` up to its packet number (which is still protected).
 * `end` is where the datagram's packets end (its length minus the CRC). Byte fields are views into
 * `buf`. Throws PetrelWireError(PACKET_ENCODING_ERROR) for anything malformed; a version other than
 * PETREL_VERSION is not an error: it comes back as `unsupported_version`.
 */
export function parsePacketHeader(buf: Uint8Array, off: number, end: number, shortDcidLength: number = CID_LENGTH): ParsedHeader {
  if (end > buf.length || off < 0 || off >= end) fail('no packet at this offset');
  const r = reader.reset(buf, off, end);
  const first = r.u8();

  if ((first & FORM_BIT) === 0) {
    if ((first & FIXED_BIT) === 0) fail('fixed bit is 0');
    if (shortDcidLength > MAX_CID_LENGTH) outOfRange('short header dcid length above 20');
    const dcid = r.bytes(shortDcidLength);
    const pnOffset = r.pos;
    if (end - pnOffset < MIN_PN_AND_PAYLOAD) fail('short header packet too short for a packet number');
    return { form: 'short', dcid, firstByte: first, pnOffset, end };
  }

  const version = r.u32();
  const dcidLen = r.u8();
  const maxCid = version === PETREL_VERSION ? MAX_CID_LENGTH : MAX_INVARIANT_CID_LENGTH;
  if (dcidLen > maxCid) fail(`dcid length ${dcidLen} above ${maxCid}`);
  const dcid = r.bytes(dcidLen);
  const scidLen = r.u8();
  if (scidLen > maxCid) fail(`scid length ${scidLen} above ${maxCid}`);
  const scid = r.bytes(scidLen);

  if (version === 0) {
    const rest = end - r.pos;
    if (rest === 0 || rest % 4 !== 0) fail('Version Negotiation version list is empty or not a multiple of 4 bytes');
    const versions: number[] = [];
    while (r.pos < end) versions.push(r.u32());
    return { form: 'version_negotiation', dcid, scid, versions, end };
  }
  if (version !== PETREL_VERSION) return { form: 'unsupported_version', version, dcid, scid, firstByte: first, end };
  if ((first & FIXED_BIT) === 0) fail('fixed bit is 0');

  const type = LONG_TYPES[(first >>> 4) & 3]!;
  if (type === 'retry') {
    const tokenLen = end - r.pos - RETRY_INTEGRITY_TAG_LENGTH;
    if (tokenLen <= 0) fail('Retry without token or integrity tag');
    const token = r.bytes(tokenLen);
    const integrityTag = r.bytes(RETRY_INTEGRITY_TAG_LENGTH);
    return { form: 'retry', version, dcid, scid, token, integrityTag, end };
  }

  const token = type === 'initial' ? r.bytes(r.varint()) : EMPTY;
  const length = r.varint();
  const pnOffset = r.pos;
  if (length < MIN_PN_AND_PAYLOAD) fail(`Length ${length} too short for a packet number`);
  if (length > end - pnOffset) fail(`Length ${length} runs past the datagram`);
  return { form: 'long', type, version, dcid, scid, token, firstByte: first, pnOffset, end: pnOffset + length };
}

/** Reads a `pnLength`-byte big-endian truncated packet number (after header protection is removed). */
export function readPacketNumber(buf: Uint8Array, pnOffset: number, pnLength: number): number {
  checkPnLength(pnLength);
  if (pnOffset < 0 || pnOffset + pnLength > buf.length) fail('packet number runs past the buffer');
  let v = 0;
  for (let i = 0; i < pnLength; i++) v = v * 256 + buf[pnOffset + i]!;
  return v;
}

/** Packet number length encoded in an unprotected first byte (both header forms). */
export function packetNumberLength(firstByte: number): PacketNumberLength {
  return ((firstByte & 0x03) + 1) as PacketNumberLength;
}

/** Key phase bit of an unprotected short-header first byte. */
export function keyPhase(firstByte: number): boolean {
  return (firstByte & KEY_PHASE_BIT) !== 0;
}

/**
 * True when the reserved bits of an unprotected first byte are zero. A packet that fails this after
 * header protection is removed and the payload authenticates is a PROTOCOL_VIOLATION (RFC 9000 §17.2).
 */
export function reservedBitsClear(firstByte: number): boolean {
  return (firstByte & (firstByte & FORM_BIT ? LONG_RESERVED : SHORT_RESERVED)) === 0;
}

/** Bits of the first byte header protection masks: 4 low bits for long headers, 5 for short ones. */
export function protectedFirstByteBits(firstByte: number): number {
  return firstByte & FORM_BIT ? 0x0f : 0x1f;
}
