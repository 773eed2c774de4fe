/**
 * Game channels on the wire (spec/wire.md §Game channels).
 *
 * Unreliable channels ride in DATAGRAM frame payloads, each prefixed by a small channel header.
 * Reliable channels ride on streams: a stream starts with a preamble naming what it carries, then a
 * sequence of length-prefixed messages. Channel names are bound to ids by DECLARE messages on each
 * endpoint's control stream; every endpoint numbers the channels it sends on in its own id space.
 * Every error is PetrelWireError(CHANNEL_ENCODING_ERROR), except a full output buffer (BUFFER_TOO_SMALL).
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { ByteReader, type ByteWriter } from './buffer.js';
import { varintLengthFromFirstByte, varintSize } from './varint.js';

export type ChannelMode = 'unreliable' | 'unreliable-sequenced' | 'reliable-ordered' | 'reliable-unordered';
const MODES: readonly ChannelMode[] = ['unreliable', 'unreliable-sequenced', 'reliable-ordered', 'reliable-unordered'];

/** Largest channel id (ids fit a 4-byte varint). */
export const MAX_CHANNEL_ID = 0x3fffffff;
/** A fragmented datagram message has 2..MAX_FRAGMENTS fragments. */
export const MAX_FRAGMENTS = 256;
/** Largest message an unreliable channel carries, fragmented or not. */
export const MAX_DATAGRAM_MESSAGE_SIZE = 256 * 1024;
/** Default cap on one message of a reliable channel (StreamMessageParser's default). */
export const DEFAULT_MAX_STREAM_MESSAGE_SIZE = 1024 * 1024;
/** Channel names are 1..255 bytes of UTF-8. */
export const MAX_CHANNEL_NAME_LENGTH = 255;

// One reader reused by every decoder here: decoding is synchronous and never re-entrant.
const reader = new ByteReader(new Uint8Array(0), 0, 0, TransportErrorCode.CHANNEL_ENCODING_ERROR);

function chErr(message: string): never {
  throw new PetrelWireError(TransportErrorCode.CHANNEL_ENCODING_ERROR, message);
}

function checkChannelId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_CHANNEL_ID) chErr(`channel id out of range: ${id}`);
}

function checkField(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) chErr(`${what} out of range: ${v}`);
}

// ---------------------------------------------------------------------------------------------
// DATAGRAM payloads
// ---------------------------------------------------------------------------------------------

/** Kind byte flags. 0x00 alone = raw application datagram. Bits 0xf8 are reserved and must be 0. */
export const DatagramKind = {
  RAW: 0x00,
  CHANNEL: 0x01,
  SEQUENCED: 0x02,
  FRAGMENT: 0x04,
} as const;
const KIND_RESERVED = 0xf8;

export interface FragmentInfo {
  /** Per-channel message id; all fragments of one message share it. */
  messageId: number;
  /** 0 .. count - 1. */
  index: number;
  /** 2 .. MAX_FRAGMENTS. */
  count: number;
}

export type ChannelDatagramHeader =
  | { kind: 'raw' }
  | {
      kind: 'channel';
      channelId: number;
      /** Present on unreliable-sequenced channels: receivers drop a message whose sequence is not above the last delivered. */
      sequence?: number;
      fragment?: FragmentInfo;
    };

export type DecodedChannelDatagram = ChannelDatagramHeader & {
  /** View into the decoded bytes: the message, or this fragment of it. */
  payload: Uint8Array;
};

function checkFragment(f: FragmentInfo): void {
  checkField(f.messageId, 'message id');
  if (!Number.isInteger(f.count) || f.count < 2 || f.count > MAX_FRAGMENTS) chErr(`fragment count ${f.count} not in 2..${MAX_FRAGMENTS}`);
  if (!Number.isInteger(f.index) || f.index < 0 || f.index >= f.count) chErr(`fragment index ${f.index} not below count ${f.count}`);
}

/** Bytes the channel header takes in front of the payload. */
export function channelDatagramHeaderSize(h: ChannelDatagramHeader): number {
  if (h.kind === 'raw') return 1;
  let n = 1 + varintSize(h.channelId);
  if (h.sequence !== undefined) n += varintSize(h.sequence);
  if (h.fragment) n += varintSize(h.fragment.messageId) + varintSize(h.fragment.index) + varintSize(h.fragment.count);
  return n;
}

/**
 * Writes kind byte | [channel id] | [sequence] | [message id, fragment index, fragment count] | payload.
 * The result is the whole DATAGRAM frame payload.
 */
export function encodeChannelDatagram(w: ByteWriter, h: ChannelDatagramHeader, payload: Uint8Array): void {
  if (h.kind === 'raw') {
    w.u8(DatagramKind.RAW);
    w.bytes(payload);
    return;
  }
  checkChannelId(h.channelId);
  let kind = DatagramKind.CHANNEL as number;
  if (h.sequence !== undefined) {
    checkField(h.sequence, 'sequence');
    kind |= DatagramKind.SEQUENCED;
  }
  if (h.fragment) {
    checkFragment(h.fragment);
    kind |= DatagramKind.FRAGMENT;
  }
  w.u8(kind);
  w.varint(h.channelId);
  if (h.sequence !== undefined) w.varint(h.sequence);
  if (h.fragment) {
    w.varint(h.fragment.messageId);
    w.varint(h.fragment.index);
    w.varint(h.fragment.count);
  }
  w.bytes(payload);
}

/** Decodes one DATAGRAM frame payload. The payload is a view into `bytes`. */
export function decodeChannelDatagram(bytes: Uint8Array): DecodedChannelDatagram {
  const r = reader.reset(bytes);
  const kind = r.u8();
  if (kind === DatagramKind.RAW) return { kind: 'raw', payload: r.rest() };
  if (kind & KIND_RESERVED) chErr(`reserved datagram kind bits set: 0x${kind.toString(16)}`);
  if (!(kind & DatagramKind.CHANNEL)) chErr(`datagram kind 0x${kind.toString(16)} without a channel`);
  const channelId = r.varint();
  checkChannelId(channelId);
  const out: DecodedChannelDatagram = { kind: 'channel', channelId, payload: EMPTY };
  if (kind & DatagramKind.SEQUENCED) out.sequence = r.varint();
  if (kind & DatagramKind.FRAGMENT) {
    const fragment = { messageId: r.varint(), index: r.varint(), count: r.varint() };
    checkFragment(fragment);
    out.fragment = fragment;
  }
  out.payload = r.rest();
  return out;
}

const EMPTY = new Uint8Array(0);

/**
 * Message bytes one fragment can carry when the DATAGRAM payload is limited to `maxDatagramPayload`.
 * Index and count are budgeted at their largest (2 bytes each), so every fragment of a message uses
 * the same size whatever its index.
 */
export function maxChannelFragmentPayload(maxDatagramPayload: number, header: { channelId: number; sequence?: number; messageId: number }): number {
  const base = 1 + varintSize(header.channelId) + (header.sequence !== undefined ? varintSize(header.sequence) : 0);
  return maxDatagramPayload - base - varintSize(header.messageId) - 2 * varintSize(MAX_FRAGMENTS);
}

/**
 * Plans how a message of `messageLength` bytes is sent on an unreliable channel. `count` 1 means one
 * unfragmented datagram; otherwise fragment i carries bytes [i * fragmentSize, min(len, (i + 1) * fragmentSize)):
 * sizes are balanced and the last fragment is never empty. Throws
 * CHANNEL_ENCODING_ERROR when the message is above MAX_DATAGRAM_MESSAGE_SIZE or needs more than
 * MAX_FRAGMENTS fragments.
 */
export function fragmentMessage(
  messageLength: number,
  maxDatagramPayload: number,
  header: { channelId: number; sequence?: number; messageId: number },
): { count: number; fragmentSize: number } {
  checkField(messageLength, 'message length');
  if (messageLength > MAX_DATAGRAM_MESSAGE_SIZE) chErr(`message of ${messageLength} bytes above ${MAX_DATAGRAM_MESSAGE_SIZE}`);
  const whole = channelDatagramHeaderSize({ kind: 'channel', channelId: header.channelId, sequence: header.sequence });
  if (whole + messageLength <= maxDatagramPayload) return { count: 1, fragmentSize: messageLength };
  const room = maxChannelFragmentPayload(maxDatagramPayload, header);
  if (room < 1) chErr(`datagram payload of ${maxDatagramPayload} bytes cannot carry a fragment`);
  const count = Math.ceil(messageLength / room);
  if (count > MAX_FRAGMENTS) chErr(`message needs ${count} fragments, above ${MAX_FRAGMENTS}`);
  return { count, fragmentSize: Math.ceil(messageLength / count) };
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/** First byte of every application stream (spec §Game channels, stream preamble). */
export const StreamKind = {
  /** The application's own byte stream; nothing else follows. */
  RAW: 0x00,
  /** All messages of one reliable-ordered channel, in order. Followed by the channel id. */
  ORDERED: 0x01,
  /** One or more messages of a reliable-unordered channel. Followed by the channel id. */
  UNORDERED: 0x02,
  /** The sender's channel declarations. */
  CONTROL: 0x03,
} as const;

export type StreamPreamble = { kind: 'raw' } | { kind: 'control' } | { kind: 'ordered' | 'unordered'; channelId: number };

/** Writes a stream preamble. */
export function encodeStreamPreamble(w: ByteWriter, p: StreamPreamble): void {
  switch (p.kind) {
    case 'raw':
      w.u8(StreamKind.RAW);
      return;
    case 'control':
      w.u8(StreamKind.CONTROL);
      return;
    default:
      checkChannelId(p.channelId);
      w.u8(p.kind === 'ordered' ? StreamKind.ORDERED : StreamKind.UNORDERED);
      w.varint(p.channelId);
  }
}

/**
 * Reads the preamble at the start of a stream's bytes. Returns null while the bytes received so far
 * do not hold all of it (at most 5 bytes); `length` is where the stream's messages (or raw bytes) begin.
 */
export function readStreamPreamble(bytes: Uint8Array): { preamble: StreamPreamble; length: number } | null {
  if (bytes.length === 0) return null;
  const kind = bytes[0]!;
  if (kind === StreamKind.RAW) return { preamble: { kind: 'raw' }, length: 1 };
  if (kind === StreamKind.CONTROL) return { preamble: { kind: 'control' }, length: 1 };
  if (kind !== StreamKind.ORDERED && kind !== StreamKind.UNORDERED) chErr(`unknown stream kind 0x${kind.toString(16)}`);
  if (bytes.length < 2 || bytes.length < 1 + varintLengthFromFirstByte(bytes[1]!)) return null;
  const r = reader.reset(bytes, 1);
  const channelId = r.varint();
  checkChannelId(channelId);
  return { preamble: { kind: kind === StreamKind.ORDERED ? 'ordered' : 'unordered', channelId }, length: r.pos };
}

/** Writes the length prefix of a stream message (the message bytes follow). */
export function encodeStreamMessageHeader(w: ByteWriter, length: number): void {
  checkField(length, 'message length');
  w.varint(length);
}

/**
 * Splits a stream's bytes (after the preamble), pushed in arbitrary chunks, into messages.
 * Each returned message is a fresh copy, safe to keep. A length above `maxMessageSize` throws
 * CHANNEL_ENCODING_ERROR as soon as it is read; after any throw the parser must be discarded.
 */
export class StreamMessageParser {
  readonly maxMessageSize: number;
  private readonly lenBuf = new Uint8Array(8);
  private lenHave = 0;
  private lenNeed = 0;
  private body: Uint8Array | null = null;
  private bodyHave = 0;

  constructor(maxMessageSize: number = DEFAULT_MAX_STREAM_MESSAGE_SIZE) {
    if (!Number.isSafeInteger(maxMessageSize) || maxMessageSize < 0) {
      throw new PetrelWireError(TransportErrorCode.VALUE_OUT_OF_RANGE, `maxMessageSize out of range: ${maxMessageSize}`);
    }
    this.maxMessageSize = maxMessageSize;
  }

  /** True between messages (a FIN here is clean). */
  get atBoundary(): boolean {
    return this.body === null && this.lenHave === 0;
  }

  /** Consumes `chunk`; returns the messages it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.body === null) {
        if (this.lenHave === 0) this.lenNeed = varintLengthFromFirstByte(chunk[i]!);
        const take = Math.min(this.lenNeed - this.lenHave, n - i);
        this.lenBuf.set(chunk.subarray(i, i + take), this.lenHave);
        this.lenHave += take;
        i += take;
        if (this.lenHave < this.lenNeed) break;
        const len = reader.reset(this.lenBuf, 0, this.lenNeed).varint();
        this.lenHave = 0;
        if (len > this.maxMessageSize) chErr(`stream message of ${len} bytes above ${this.maxMessageSize}`);
        if (len === 0) {
          out.push(new Uint8Array(0));
          continue;
        }
        if (n - i >= len) {
          // Whole message inside this chunk: one copy, no state.
          out.push(chunk.slice(i, i + len));
          i += len;
          continue;
        }
        this.body = new Uint8Array(len);
        this.bodyHave = 0;
      }
      const body = this.body;
      const take = Math.min(body.length - this.bodyHave, n - i);
      body.set(chunk.subarray(i, i + take), this.bodyHave);
      this.bodyHave += take;
      i += take;
      if (this.bodyHave === body.length) {
        out.push(body);
        this.body = null;
      }
    }
    return out;
  }

  /** Call at the stream's FIN: throws CHANNEL_ENCODING_ERROR when it ends inside a message. */
  finish(): void {
    if (!this.atBoundary) chErr('stream ended inside a message');
  }
}

// ---------------------------------------------------------------------------------------------
// Control stream: channel declarations
// ---------------------------------------------------------------------------------------------

export const ControlMessageType = {
  DECLARE: 0x01,
} as const;

export interface ChannelDeclaration {
  channelId: number;
  mode: ChannelMode;
  name: string;
}

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the name instead of silently dropping it.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Writes one framed DECLARE message for the control stream:
 * length | 0x01 | channel id | mode (1 byte) | name (UTF-8, the rest of the message).
 */
export function encodeChannelDeclaration(w: ByteWriter, d: ChannelDeclaration): void {
  checkChannelId(d.channelId);
  const mode = MODES.indexOf(d.mode);
  if (mode < 0) chErr(`unknown channel mode ${String(d.mode)}`);
  const name = utf8Encoder.encode(d.name);
  if (name.length === 0 || name.length > MAX_CHANNEL_NAME_LENGTH) chErr(`channel name of ${name.length} bytes not in 1..${MAX_CHANNEL_NAME_LENGTH}`);
  w.varint(1 + varintSize(d.channelId) + 1 + name.length);
  w.varint(ControlMessageType.DECLARE);
  w.varint(d.channelId);
  w.u8(mode);
  w.bytes(name);
}

/**
 * Decodes one control-stream message (as StreamMessageParser delivers it, length prefix removed).
 * Returns null for a message type this version does not know (skipped, for extensibility).
 */
export function decodeControlMessage(msg: Uint8Array): ChannelDeclaration | null {
  const r = reader.reset(msg);
  const type = r.varint();
  if (type !== ControlMessageType.DECLARE) return null;
  const channelId = r.varint();
  checkChannelId(channelId);
  const modeCode = r.u8();
  const mode = MODES[modeCode];
  if (mode === undefined) chErr(`unknown channel mode ${modeCode}`);
  const nameBytes = r.rest();
  if (nameBytes.length === 0 || nameBytes.length > MAX_CHANNEL_NAME_LENGTH) chErr(`channel name of ${nameBytes.length} bytes`);
  let name: string;
  try {
    name = utf8Decoder.decode(nameBytes);
  } catch {
    chErr('channel name is not valid UTF-8');
  }
  return { channelId, mode, name };
}
