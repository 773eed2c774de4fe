/**
 * Frame codec (spec/wire.md §Frames): encodes one frame into a caller's buffer and decodes frames
 * from a packet payload. Layouts follow RFC 9000 §19, RFC 9221 (DATAGRAM) and the ack-frequency
 * draft (ACK_FREQUENCY, IMMEDIATE_ACK).
 *
 * Encoding validates the whole frame and sizes it before writing a byte, so a throw leaves the
 * writer untouched. Decoding returns views into the input (no copies) and rejects malformed input
 * with PetrelWireError(FRAME_ENCODING_ERROR) carrying the offending frame type; on a throw the
 * reader is left at the start of the frame.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { ByteReader, type ByteWriter } from './buffer.js';
import type { AckRange, EcnCounts, Frame } from './frame-types.js';
import { FrameType } from './frame-types.js';
import { MAX_FIELD_VALUE, varintSize, writeVarint } from './varint.js';

/** Longest connection ID a NEW_CONNECTION_ID frame may carry (RFC 9000 §19.15). */
export const MAX_CONNECTION_ID_LENGTH = 20;
export const STATELESS_RESET_TOKEN_LENGTH = 16;
export const PATH_DATA_LENGTH = 8;

/** Packet kinds a frame can travel in (RFC 9000 §12.4 Table 3). */
export type FrameSpace = 'initial' | 'handshake' | '0rtt' | '1rtt';

const STREAM_OFF = 0x04;
const STREAM_LEN = 0x02;
const STREAM_FIN = 0x01;

const FRAME_ENCODING_ERROR = TransportErrorCode.FRAME_ENCODING_ERROR;

function outOfRange(message: string): never {
  throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, message);
}

/** Size of a field's varint, validating the value first (varintSize alone accepts anything). */
function fieldSize(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_FIELD_VALUE) outOfRange(`${what} out of range: ${v}`);
  return varintSize(v);
}

function checkFixed(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) outOfRange(`${what} must be ${n} bytes, got ${b.length}`);
}

// ---------------------------------------------------------------------------------------------
// Sizes (also the encoder's validation pass)
// ---------------------------------------------------------------------------------------------

/** Bytes a STREAM frame takes besides its data. Validates the fields and offset + length <= 2^53 - 1. */
export function streamFrameOverhead(streamId: number, offset: number, dataLength: number, withLength: boolean): number {
  let n = 1 + fieldSize(streamId, 'stream id');
  const offSize = fieldSize(offset, 'stream offset');
  if (offset > 0) n += offSize;
  const lenSize = fieldSize(dataLength, 'stream data length');
  if (withLength) n += lenSize;
  if (offset + dataLength > MAX_FIELD_VALUE) outOfRange('stream offset + length above 2^53 - 1');
  return n;
}

/** Bytes a CRYPTO frame takes besides its data. */
export function cryptoFrameOverhead(offset: number, length: number): number {
  const n = 1 + fieldSize(offset, 'crypto offset') + fieldSize(length, 'crypto length');
  if (offset + length > MAX_FIELD_VALUE) outOfRange('crypto offset + length above 2^53 - 1');
  return n;
}

/** Bytes a DATAGRAM frame takes besides its data: the type, plus the Length field for 0x31. */
export function datagramFrameOverhead(length: number, withLength: boolean): number {
  const lenSize = fieldSize(length, 'datagram length');
  return withLength ? 1 + lenSize : 1;
}

/**
 * Largest data length a STREAM frame can carry within `space` bytes, or -1 if not even an empty
 * frame fits. Accounts for the Length field growing with the data.
 */
export function maxStreamDataLength(streamId: number, offset: number, space: number, withLength: boolean): number {
  const fixed = streamFrameOverhead(streamId, offset, 0, false);
  return fitData(space - fixed, withLength, MAX_FIELD_VALUE - offset);
}

/** Largest data length a CRYPTO frame can carry within `space` bytes, or -1 if none fits. */
export function maxCryptoDataLength(offset: number, space: number): number {
  const fixed = 1 + fieldSize(offset, 'crypto offset');
  return fitData(space - fixed, true, MAX_FIELD_VALUE - offset);
}

/** Largest n <= cap with n + (withLength ? varintSize(n) : 0) <= room; -1 if none. */
function fitData(room: number, withLength: boolean, cap: number): number {
  if (!withLength) return room < 0 ? -1 : Math.min(room, cap);
  // For each Length-field size s, the best n is min(room - s, largest value s bytes hold); keep the best.
  let best = -1;
  for (let s = 1; s <= 8; s *= 2) {
    const n = Math.min(room - s, s === 8 ? MAX_FIELD_VALUE : 2 ** (8 * s - 2) - 1);
    if (n > best) best = n;
  }
  return best < 0 ? -1 : Math.min(best, cap);
}

/**
 * Exact size of an ACK frame (type 0x02, or 0x03 with `ecn`). `ranges` must be descending,
 * non-overlapping, non-adjacent and non-empty; violations throw VALUE_OUT_OF_RANGE.
 */
export function ackFrameSize(ackDelay: number, ranges: readonly AckRange[], ecn?: EcnCounts): number {
  if (ranges.length === 0) outOfRange('ACK needs at least one range');
  let n = 1 + fieldSize(ackDelay, 'ack delay') + varintSize(ranges.length - 1);
  let prevSmallest = 0;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    fieldSize(r.smallest, 'ack range smallest');
    fieldSize(r.largest, 'ack range largest');
    if (r.smallest > r.largest) outOfRange(`ack range ${r.smallest}..${r.largest} is inverted`);
    if (i === 0) {
      n += varintSize(r.largest);
    } else {
      // The wire Gap is (previous smallest - this largest - 2); it must not go negative.
      const gap = prevSmallest - r.largest - 2;
      if (gap < 0) outOfRange('ack ranges must be descending, non-overlapping and non-adjacent');
      n += varintSize(gap);
    }
    n += varintSize(r.largest - r.smallest);
    prevSmallest = r.smallest;
  }
  if (ecn) n += fieldSize(ecn.ect0, 'ECT(0) count') + fieldSize(ecn.ect1, 'ECT(1) count') + fieldSize(ecn.ce, 'CE count');
  return n;
}

/** Exact encoded size of `f`. Throws VALUE_OUT_OF_RANGE for a frame encodeFrame would reject. */
export function frameSize(f: Frame): number {
  switch (f.type) {
    case 'padding':
      if (!Number.isInteger(f.length) || f.length < 1 || f.length > MAX_FIELD_VALUE) outOfRange(`padding length ${f.length}`);
      return f.length;
    case 'ping':
    case 'handshake_done':
    case 'immediate_ack':
      return 1;
    case 'ack':
      return ackFrameSize(f.ackDelay, f.ranges, f.ecn);
    case 'reset_stream':
      return 1 + fieldSize(f.streamId, 'stream id') + fieldSize(f.errorCode, 'error code') + fieldSize(f.finalSize, 'final size');
    case 'stop_sending':
      return 1 + fieldSize(f.streamId, 'stream id') + fieldSize(f.errorCode, 'error code');
    case 'crypto':
      return cryptoFrameOverhead(f.offset, f.data.length) + f.data.length;
    case 'new_token':
      if (f.token.length === 0) outOfRange('NEW_TOKEN token must not be empty');
      return 1 + varintSize(f.token.length) + f.token.length;
    case 'stream':
      return streamFrameOverhead(f.streamId, f.offset, f.data.length, !f.implicitLength) + f.data.length;
    case 'max_data':
      return 1 + fieldSize(f.maximum, 'maximum');
    case 'max_stream_data':
      return 1 + fieldSize(f.streamId, 'stream id') + fieldSize(f.maximum, 'maximum');
    case 'max_streams':
      return 1 + fieldSize(f.maximum, 'maximum streams');
    case 'data_blocked':
      return 1 + fieldSize(f.limit, 'limit');
    case 'stream_data_blocked':
      return 1 + fieldSize(f.streamId, 'stream id') + fieldSize(f.limit, 'limit');
    case 'streams_blocked':
      return 1 + fieldSize(f.limit, 'stream limit');
    case 'new_connection_id': {
      const n = 1 + fieldSize(f.sequence, 'sequence') + fieldSize(f.retirePriorTo, 'retire prior to');
      if (f.retirePriorTo > f.sequence) outOfRange('retire prior to above sequence number');
      const len = f.connectionId.length;
      if (len < 1 || len > MAX_CONNECTION_ID_LENGTH) outOfRange(`connection id length ${len} not in 1..20`);
      checkFixed(f.resetToken, STATELESS_RESET_TOKEN_LENGTH, 'stateless reset token');
      return n + 1 + len + STATELESS_RESET_TOKEN_LENGTH;
    }
    case 'retire_connection_id':
      return 1 + fieldSize(f.sequence, 'sequence');
    case 'path_challenge':
    case 'path_response':
      checkFixed(f.data, PATH_DATA_LENGTH, 'path validation data');
      return 1 + PATH_DATA_LENGTH;
    case 'connection_close': {
      let n = 1 + fieldSize(f.errorCode, 'error code') + varintSize(f.reason.length) + f.reason.length;
      if (!f.application) n += fieldSize(f.frameType, 'frame type');
      return n;
    }
    case 'datagram':
      return datagramFrameOverhead(f.data.length, !f.implicitLength) + f.data.length;
    case 'ack_frequency':
      return (
        2 +
        fieldSize(f.sequence, 'sequence') +
        fieldSize(f.ackElicitingThreshold, 'ack-eliciting threshold') +
        fieldSize(f.requestMaxAckDelay, 'request max ack delay') +
        fieldSize(f.reorderingThreshold, 'reordering threshold')
      );
    default:
      return outOfRange(`unknown frame kind ${(f as { type: unknown }).type}`);
  }
}

/** The type value `f` is encoded with (e.g. 0x0e for a STREAM frame with offset and length). */
export function frameTypeOf(f: Frame): number {
  switch (f.type) {
    case 'padding':
      return FrameType.PADDING;
    case 'ping':
      return FrameType.PING;
    case 'ack':
      return f.ecn ? FrameType.ACK_ECN : FrameType.ACK;
    case 'reset_stream':
      return FrameType.RESET_STREAM;
    case 'stop_sending':
      return FrameType.STOP_SENDING;
    case 'crypto':
      return FrameType.CRYPTO;
    case 'new_token':
      return FrameType.NEW_TOKEN;
    case 'stream':
      return FrameType.STREAM | (f.offset > 0 ? STREAM_OFF : 0) | (f.implicitLength ? 0 : STREAM_LEN) | (f.fin ? STREAM_FIN : 0);
    case 'max_data':
      return FrameType.MAX_DATA;
    case 'max_stream_data':
      return FrameType.MAX_STREAM_DATA;
    case 'max_streams':
      return f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI;
    case 'data_blocked':
      return FrameType.DATA_BLOCKED;
    case 'stream_data_blocked':
      return FrameType.STREAM_DATA_BLOCKED;
    case 'streams_blocked':
      return f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI;
    case 'new_connection_id':
      return FrameType.NEW_CONNECTION_ID;
    case 'retire_connection_id':
      return FrameType.RETIRE_CONNECTION_ID;
    case 'path_challenge':
      return FrameType.PATH_CHALLENGE;
    case 'path_response':
      return FrameType.PATH_RESPONSE;
    case 'connection_close':
      return f.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE;
    case 'handshake_done':
      return FrameType.HANDSHAKE_DONE;
    case 'immediate_ack':
      return FrameType.IMMEDIATE_ACK;
    case 'datagram':
      return f.implicitLength ? FrameType.DATAGRAM : FrameType.DATAGRAM_LEN;
    case 'ack_frequency':
      return FrameType.ACK_FREQUENCY;
    default:
      return outOfRange(`unknown frame kind ${(f as { type: unknown }).type}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Writes `f` at `w.pos`. Throws VALUE_OUT_OF_RANGE for an invalid frame and BUFFER_TOO_SMALL if it
 * does not fit before `w.end`; in both cases nothing is written and `w.pos` is unchanged.
 */
export function encodeFrame(w: ByteWriter, f: Frame): void {
  const size = frameSize(f);
  if (size > w.end - w.pos) {
    throw new PetrelWireError(TransportErrorCode.BUFFER_TOO_SMALL, `frame needs ${size} bytes, ${w.end - w.pos} left`);
  }
  const b = w.buf;
  let p = w.pos;
  // Every value below was validated by frameSize, so writeVarint cannot throw.
  switch (f.type) {
    case 'padding':
      b.fill(0, p, p + f.length);
      p += f.length;
      break;
    case 'ping':
    case 'handshake_done':
    case 'immediate_ack':
      b[p++] = frameTypeOf(f);
      break;
    case 'ack':
      p = writeAck(b, p, f.ackDelay, f.ranges, f.ecn);
      break;
    case 'reset_stream':
      b[p++] = FrameType.RESET_STREAM;
      p = writeVarint(b, p, f.streamId);
      p = writeVarint(b, p, f.errorCode);
      p = writeVarint(b, p, f.finalSize);
      break;
    case 'stop_sending':
      b[p++] = FrameType.STOP_SENDING;
      p = writeVarint(b, p, f.streamId);
      p = writeVarint(b, p, f.errorCode);
      break;
    case 'crypto':
      b[p++] = FrameType.CRYPTO;
      p = writeVarint(b, p, f.offset);
      p = writeVarint(b, p, f.data.length);
      b.set(f.data, p);
      p += f.data.length;
      break;
    case 'new_token':
      b[p++] = FrameType.NEW_TOKEN;
      p = writeVarint(b, p, f.token.length);
      b.set(f.token, p);
      p += f.token.length;
      break;
    case 'stream':
      b[p++] = frameTypeOf(f);
      p = writeVarint(b, p, f.streamId);
      if (f.offset > 0) p = writeVarint(b, p, f.offset);
      if (!f.implicitLength) p = writeVarint(b, p, f.data.length);
      b.set(f.data, p);
      p += f.data.length;
      break;
    case 'max_data':
    case 'max_streams':
      b[p++] = frameTypeOf(f);
      p = writeVarint(b, p, f.maximum);
      break;
    case 'max_stream_data':
      b[p++] = FrameType.MAX_STREAM_DATA;
      p = writeVarint(b, p, f.streamId);
      p = writeVarint(b, p, f.maximum);
      break;
    case 'data_blocked':
    case 'streams_blocked':
      b[p++] = frameTypeOf(f);
      p = writeVarint(b, p, f.limit);
      break;
    case 'stream_data_blocked':
      b[p++] = FrameType.STREAM_DATA_BLOCKED;
      p = writeVarint(b, p, f.streamId);
      p = writeVarint(b, p, f.limit);
      break;
    case 'new_connection_id':
      b[p++] = FrameType.NEW_CONNECTION_ID;
      p = writeVarint(b, p, f.sequence);
      p = writeVarint(b, p, f.retirePriorTo);
      b[p++] = f.connectionId.length;
      b.set(f.connectionId, p);
      p += f.connectionId.length;
      b.set(f.resetToken, p);
      p += STATELESS_RESET_TOKEN_LENGTH;
      break;
    case 'retire_connection_id':
      b[p++] = FrameType.RETIRE_CONNECTION_ID;
      p = writeVarint(b, p, f.sequence);
      break;
    case 'path_challenge':
    case 'path_response':
      b[p++] = frameTypeOf(f);
      b.set(f.data, p);
      p += PATH_DATA_LENGTH;
      break;
    case 'connection_close':
      b[p++] = frameTypeOf(f);
      p = writeVarint(b, p, f.errorCode);
      if (!f.application) p = writeVarint(b, p, f.frameType);
      p = writeVarint(b, p, f.reason.length);
      b.set(f.reason, p);
      p += f.reason.length;
      break;
    case 'datagram':
      b[p++] = frameTypeOf(f);
      if (!f.implicitLength) p = writeVarint(b, p, f.data.length);
      b.set(f.data, p);
      p += f.data.length;
      break;
    case 'ack_frequency':
      p = writeVarint(b, p, FrameType.ACK_FREQUENCY);
      p = writeVarint(b, p, f.sequence);
      p = writeVarint(b, p, f.ackElicitingThreshold);
      p = writeVarint(b, p, f.requestMaxAckDelay);
      p = writeVarint(b, p, f.reorderingThreshold);
      break;
  }
  w.pos = p;
}

function writeAck(b: Uint8Array, p: number, ackDelay: number, ranges: readonly AckRange[], ecn: EcnCounts | undefined): number {
  const first = ranges[0]!;
  b[p++] = ecn ? FrameType.ACK_ECN : FrameType.ACK;
  p = writeVarint(b, p, first.largest);
  p = writeVarint(b, p, ackDelay);
  p = writeVarint(b, p, ranges.length - 1);
  p = writeVarint(b, p, first.largest - first.smallest);
  let prevSmallest = first.smallest;
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    p = writeVarint(b, p, prevSmallest - r.largest - 2);
    p = writeVarint(b, p, r.largest - r.smallest);
    prevSmallest = r.smallest;
  }
  if (ecn) {
    p = writeVarint(b, p, ecn.ect0);
    p = writeVarint(b, p, ecn.ect1);
    p = writeVarint(b, p, ecn.ce);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

function reject(message: string, frameType: number): never {
  throw new PetrelWireError(FRAME_ENCODING_ERROR, message, frameType);
}

/**
 * Decodes one frame at `r.pos` (reading no further than `r.end`) and advances past it. A run of
 * 0x00 bytes is one PaddingFrame. Byte fields are views into `r.buf`.
 */
export function decodeFrame(r: ByteReader): Frame {
  const start = r.pos;
  let type = 0;
  try {
    const first = r.u8();
    if (first < 0x40) {
      type = first;
    } else {
      // Multi-byte type: decode it as a varint and insist on the shortest form (RFC 9000 §12.4).
      r.pos = start;
      const t = r.varint();
      type = t;
      if (r.pos - start !== varintSize(t)) reject(`frame type 0x${t.toString(16)} not minimally encoded`, t);
    }
    return decodeBody(r, type, start);
  } catch (e) {
    r.pos = start;
    if (e instanceof PetrelWireError) {
      // Reader errors (truncation, > 2^53 - 1) carry neither the frame code nor the type: add them.
      if (e.errorCode === FRAME_ENCODING_ERROR && e.frameType !== undefined) throw e;
      throw new PetrelWireError(FRAME_ENCODING_ERROR, e.message, type);
    }
    throw e;
  }
}

function decodeBody(r: ByteReader, type: number, start: number): Frame {
  switch (type) {
    case FrameType.PADDING: {
      const b = r.buf;
      let p = r.pos;
      while (p < r.end && b[p] === 0) p++;
      r.pos = p;
      return { type: 'padding', length: p - start };
    }
    case FrameType.PING:
      return { type: 'ping' };
    case FrameType.ACK:
    case FrameType.ACK_ECN:
      return decodeAck(r, type);
    case FrameType.RESET_STREAM:
      return { type: 'reset_stream', streamId: r.varint(), errorCode: r.varint(), finalSize: r.varint() };
    case FrameType.STOP_SENDING:
      return { type: 'stop_sending', streamId: r.varint(), errorCode: r.varint() };
    case FrameType.CRYPTO: {
      const offset = r.varint();
      const len = r.varint();
      if (len > r.remaining) reject('CRYPTO data runs past the end', type);
      if (offset + len > MAX_FIELD_VALUE) reject('CRYPTO offset + length above 2^53 - 1', type);
      return { type: 'crypto', offset, data: r.bytes(len) };
    }
    case FrameType.NEW_TOKEN: {
      const len = r.varint();
      if (len === 0) reject('NEW_TOKEN with an empty token', type);
      if (len > r.remaining) reject('NEW_TOKEN token runs past the end', type);
      return { type: 'new_token', token: r.bytes(len) };
    }
    case 0x08:
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x0e:
    case 0x0f: {
      const streamId = r.varint();
      const offset = type & STREAM_OFF ? r.varint() : 0;
      const implicitLength = (type & STREAM_LEN) === 0;
      const len = implicitLength ? r.remaining : r.varint();
      if (len > r.remaining) reject('STREAM data runs past the end', type);
      if (offset + len > MAX_FIELD_VALUE) reject('STREAM offset + length above 2^53 - 1', type);
      return { type: 'stream', streamId, offset, data: r.bytes(len), fin: (type & STREAM_FIN) !== 0, implicitLength };
    }
    case FrameType.MAX_DATA:
      return { type: 'max_data', maximum: r.varint() };
    case FrameType.MAX_STREAM_DATA:
      return { type: 'max_stream_data', streamId: r.varint(), maximum: r.varint() };
    // The 2^60 stream-count ceiling of RFC 9000 §19.11/§19.14 is implied: fields stop at 2^53 - 1.
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI:
      return { type: 'max_streams', bidi: type === FrameType.MAX_STREAMS_BIDI, maximum: r.varint() };
    case FrameType.DATA_BLOCKED:
      return { type: 'data_blocked', limit: r.varint() };
    case FrameType.STREAM_DATA_BLOCKED:
      return { type: 'stream_data_blocked', streamId: r.varint(), limit: r.varint() };
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI:
      return { type: 'streams_blocked', bidi: type === FrameType.STREAMS_BLOCKED_BIDI, limit: r.varint() };
    case FrameType.NEW_CONNECTION_ID: {
      const sequence = r.varint();
      const retirePriorTo = r.varint();
      if (retirePriorTo > sequence) reject('NEW_CONNECTION_ID retire prior to above sequence number', type);
      const len = r.u8();
      if (len < 1 || len > MAX_CONNECTION_ID_LENGTH) reject(`NEW_CONNECTION_ID length ${len} not in 1..20`, type);
      const connectionId = r.bytes(len);
      return { type: 'new_connection_id', sequence, retirePriorTo, connectionId, resetToken: r.bytes(STATELESS_RESET_TOKEN_LENGTH) };
    }
    case FrameType.RETIRE_CONNECTION_ID:
      return { type: 'retire_connection_id', sequence: r.varint() };
    case FrameType.PATH_CHALLENGE:
      return { type: 'path_challenge', data: r.bytes(PATH_DATA_LENGTH) };
    case FrameType.PATH_RESPONSE:
      return { type: 'path_response', data: r.bytes(PATH_DATA_LENGTH) };
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP: {
      const application = type === FrameType.CONNECTION_CLOSE_APP;
      const errorCode = r.varint();
      const frameType = application ? 0 : r.varint();
      const len = r.varint();
      if (len > r.remaining) reject('CONNECTION_CLOSE reason runs past the end', type);
      return { type: 'connection_close', application, errorCode, frameType, reason: r.bytes(len) };
    }
    case FrameType.HANDSHAKE_DONE:
      return { type: 'handshake_done' };
    case FrameType.IMMEDIATE_ACK:
      return { type: 'immediate_ack' };
    case FrameType.DATAGRAM:
      return { type: 'datagram', data: r.rest(), implicitLength: true };
    case FrameType.DATAGRAM_LEN: {
      const len = r.varint();
      if (len > r.remaining) reject('DATAGRAM data runs past the end', type);
      return { type: 'datagram', data: r.bytes(len), implicitLength: false };
    }
    case FrameType.ACK_FREQUENCY:
      return {
        type: 'ack_frequency',
        sequence: r.varint(),
        ackElicitingThreshold: r.varint(),
        requestMaxAckDelay: r.varint(),
        reorderingThreshold: r.varint(),
      };
    default:
      return reject(`unknown frame type 0x${type.toString(16)}`, type);
  }
}

function decodeAck(r: ByteReader, type: number): Frame {
  const largest = r.varint();
  const ackDelay = r.varint();
  const count = r.varint();
  // Each further range takes at least two bytes: a bigger count cannot be honest, so stop early.
  if (count > (r.remaining - 1) / 2) reject('ACK range count runs past the end', type);
  const firstRange = r.varint();
  let smallest = largest - firstRange;
  if (smallest < 0) reject('ACK first range goes below packet number 0', type);
  const ranges: AckRange[] = [{ smallest, largest }];
  for (let i = 0; i < count; i++) {
    const gap = r.varint();
    const len = r.varint();
    const hi = smallest - gap - 2;
    const lo = hi - len;
    if (lo < 0) reject('ACK range goes below packet number 0', type);
    ranges.push({ smallest: lo, largest: hi });
    smallest = lo;
  }
  if (type === FrameType.ACK_ECN) {
    const ecn: EcnCounts = { ect0: r.varint(), ect1: r.varint(), ce: r.varint() };
    return { type: 'ack', ackDelay, ranges, ecn };
  }
  return { type: 'ack', ackDelay, ranges };
}

/** Decodes a whole packet payload into frames. An empty payload gives []. */
export function decodeFrames(payload: Uint8Array): Frame[] {
  const r = new ByteReader(payload);
  const out: Frame[] = [];
  while (r.pos < r.end) out.push(decodeFrame(r));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Classification (RFC 9000 §12.4, §13.2, §9.1)
// ---------------------------------------------------------------------------------------------

/** Every frame except ACK, PADDING and CONNECTION_CLOSE elicits an acknowledgement. */
export function isAckEliciting(f: Frame): boolean {
  return f.type !== 'ack' && f.type !== 'padding' && f.type !== 'connection_close';
}

/** Frames a path-probing packet may consist of (RFC 9000 §9.1). */
export function isProbingFrame(f: Frame): boolean {
  return f.type === 'path_challenge' || f.type === 'path_response' || f.type === 'new_connection_id' || f.type === 'padding';
}

/** Whether `f` may appear in a packet of the given kind (RFC 9000 §12.4 Table 3, plus extensions). */
export function frameAllowedIn(f: Frame, space: FrameSpace): boolean {
  switch (space) {
    case 'initial':
    case 'handshake':
      return (
        f.type === 'padding' || f.type === 'ping' || f.type === 'ack' || f.type === 'crypto' || (f.type === 'connection_close' && !f.application)
      );
    case '0rtt':
      switch (f.type) {
        case 'ack':
        case 'crypto':
        case 'handshake_done':
        case 'new_token':
        case 'path_response':
        case 'retire_connection_id':
        // Ack-frequency frames steer the peer's 1-RTT acknowledgements; Petrel sends them in 1-RTT only.
        case 'ack_frequency':
        case 'immediate_ack':
          return false;
        default:
          return true;
      }
    case '1rtt':
      return true;
    default:
      return false;
  }
}
