/**
 * Checks every vector in the files this layer owns (spec/wire.md §Test vectors): packet-number.json,
 * packets.json, crc.json, transport-params.json, channel.json. Decoding must give `value` or throw a
 * PetrelWireError named `error`; encoding `value` must give `hex` back unless the vector is decodeOnly.
 */
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  decodeChannelDatagram,
  decodeControlMessage,
  encodeChannelDatagram,
  encodeChannelDeclaration,
  encodeStreamMessageHeader,
  encodeStreamPreamble,
  readStreamPreamble,
  StreamMessageParser,
  type ChannelDatagramHeader,
  type ChannelDeclaration,
  type StreamPreamble,
} from '../../lib/wire/channel.js';
import { CRC_LENGTH, statelessResetToken, verifyChecksum } from '../../lib/wire/datagram.js';
import { decodePacketNumber, encodePacketNumber } from '../../lib/wire/packet-number.js';
import {
  packetNumberLength,
  parsePacketHeader,
  patchLongHeaderLength,
  readPacketNumber,
  writeLongHeader,
  writeRetry,
  writeShortHeader,
  writeVersionNegotiation,
  type ParsedHeader,
  type PacketNumberLength,
} from '../../lib/wire/packet.js';
import { decodeTransportParameters, encodeTransportParameters, type TransportParameters } from '../../lib/wire/transport-params.js';

interface Vector<V> {
  name: string;
  hex: string;
  value?: V;
  error?: string;
  decodeOnly?: boolean;
}

function load<V>(file: string): Vector<V>[] {
  return JSON.parse(readFileSync(new URL(`../../spec/vectors/${file}`, import.meta.url), 'utf8')) as Vector<V>[];
}

function expectError(f: () => unknown, name: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelWireError);
    expect((e as PetrelWireError).errorCode).toBe(TransportErrorCode[name as keyof typeof TransportErrorCode]);
    return;
  }
  expect.unreachable(`expected ${name}`);
}

function checkShape(v: Vector<unknown>): void {
  expect(typeof v.name).toBe('string');
  expect(typeof v.hex).toBe('string');
  expect((v.value !== undefined) !== (v.error !== undefined)).toBe(true);
}

// ---------------------------------------------------------------------------------------------

interface PnValue {
  fullPn: number;
  largestAcked?: number;
  largestReceived?: number;
  pnLength?: PacketNumberLength;
}

describe('spec/vectors/packet-number.json', () => {
  const vectors = load<PnValue>('packet-number.json');
  it('has vectors including the RFC 9000 Appendix A examples', () => {
    expect(vectors.filter((v) => v.name.startsWith('RFC 9000')).length).toBe(3);
  });
  for (const v of vectors) {
    it(v.name, () => {
      const val = v.value!;
      if (v.error) {
        expectError(() => encodePacketNumber(val.fullPn, val.largestAcked!), v.error);
        return;
      }
      const bytes = fromHex(v.hex);
      expect(bytes.length).toBe(val.pnLength);
      const truncated = readPacketNumber(bytes, 0, bytes.length);
      if (val.largestAcked !== undefined) {
        expect(encodePacketNumber(val.fullPn, val.largestAcked)).toEqual({ truncated, length: val.pnLength });
      }
      if (val.largestReceived !== undefined) {
        expect(decodePacketNumber(val.largestReceived, truncated, 8 * bytes.length)).toBe(val.fullPn);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

interface HeaderValue {
  form: ParsedHeader['form'];
  type?: 'initial' | '0rtt' | 'handshake';
  version?: number;
  dcid: string;
  scid?: string;
  token?: string;
  integrityTag?: string;
  versions?: number[];
  firstByte?: number;
  pnOffset?: number;
  end: number;
  pnLength?: PacketNumberLength;
  truncatedPn?: number;
  spin?: boolean;
  keyPhase?: boolean;
  unused?: number;
}
type PacketValue = HeaderValue | { coalesced: HeaderValue[] };
type PacketVector = Vector<PacketValue> & { shortDcidLength?: number };

/** The parsed header as the vector's JSON shape (bytes as hex). */
function headerJson(h: ParsedHeader, buf: Uint8Array): HeaderValue {
  const out: HeaderValue = { form: h.form, dcid: toHex(h.dcid), end: h.end };
  switch (h.form) {
    case 'long':
      Object.assign(out, {
        type: h.type,
        version: h.version,
        scid: toHex(h.scid),
        token: toHex(h.token),
        firstByte: h.firstByte,
        pnOffset: h.pnOffset,
      });
      out.pnLength = packetNumberLength(h.firstByte);
      out.truncatedPn = readPacketNumber(buf, h.pnOffset, out.pnLength);
      break;
    case 'short':
      Object.assign(out, { firstByte: h.firstByte, pnOffset: h.pnOffset, spin: (h.firstByte & 0x20) !== 0, keyPhase: (h.firstByte & 0x04) !== 0 });
      out.pnLength = packetNumberLength(h.firstByte);
      out.truncatedPn = readPacketNumber(buf, h.pnOffset, out.pnLength);
      break;
    case 'retry':
      Object.assign(out, { version: h.version, scid: toHex(h.scid), token: toHex(h.token), integrityTag: toHex(h.integrityTag) });
      break;
    case 'version_negotiation':
      Object.assign(out, { scid: toHex(h.scid), versions: h.versions });
      break;
    case 'unsupported_version':
      Object.assign(out, { version: h.version, scid: toHex(h.scid), firstByte: h.firstByte });
      break;
  }
  return out;
}

/** Re-writes a header from its vector value at `off`; returns the bytes the writer produced. */
function rewrite(v: HeaderValue, bytes: Uint8Array, off: number): Uint8Array {
  const buf = new Uint8Array(bytes.length + 64);
  const dcid = fromHex(v.dcid);
  switch (v.form) {
    case 'long': {
      const r = writeLongHeader(buf, off, {
        type: v.type!,
        version: v.version!,
        dcid,
        scid: fromHex(v.scid!),
        token: fromHex(v.token!),
        pnLength: v.pnLength!,
        truncatedPn: v.truncatedPn!,
      });
      patchLongHeaderLength(buf, r.lengthOffset, v.end - v.pnOffset!);
      expect(r.pnOffset).toBe(v.pnOffset);
      return buf.slice(off, r.payloadOffset);
    }
    case 'short': {
      const r = writeShortHeader(buf, off, { dcid, spin: v.spin!, keyPhase: v.keyPhase!, pnLength: v.pnLength!, truncatedPn: v.truncatedPn! });
      expect(r.pnOffset).toBe(v.pnOffset);
      return buf.slice(off, r.payloadOffset);
    }
    case 'retry':
      return buf.slice(
        off,
        writeRetry(buf, off, { version: v.version!, dcid, scid: fromHex(v.scid!), token: fromHex(v.token!), integrityTag: fromHex(v.integrityTag!) }),
      );
    case 'version_negotiation':
      return buf.slice(off, writeVersionNegotiation(buf, off, { dcid, scid: fromHex(v.scid!), versions: v.versions!, unused: v.unused! }));
    default:
      throw new Error(`no writer for ${v.form}`);
  }
}

describe('spec/vectors/packets.json', () => {
  const vectors = load<PacketValue>('packets.json') as PacketVector[];
  for (const v of vectors) {
    it(v.name, () => {
      checkShape(v);
      const bytes = fromHex(v.hex);
      if (v.error) {
        expectError(() => parsePacketHeader(bytes, 0, bytes.length, v.shortDcidLength), v.error);
        return;
      }
      const expected = 'coalesced' in v.value! ? v.value.coalesced : [v.value!];
      let off = 0;
      for (const want of expected) {
        const h = parsePacketHeader(bytes, off, bytes.length, v.shortDcidLength);
        const { unused: _unused, ...comparable } = want;
        expect(headerJson(h, bytes)).toEqual(comparable);
        if (!v.decodeOnly && want.form !== 'unsupported_version') {
          const w = rewrite(want, bytes, off);
          expect(toHex(w)).toBe(toHex(bytes.subarray(off, off + w.length)));
        }
        off = h.end;
      }
      expect(off).toBe(bytes.length);
    });
  }
});

// ---------------------------------------------------------------------------------------------

interface CrcValue {
  crc?: number;
  valid?: boolean;
  resetToken?: string | null;
}

describe('spec/vectors/crc.json', () => {
  const vectors = load<CrcValue>('crc.json');
  for (const v of vectors) {
    it(v.name, () => {
      checkShape(v);
      const bytes = fromHex(v.hex);
      const val = v.value!;
      if (val.crc !== undefined) {
        expect(crc32(bytes)).toBe(val.crc);
        return;
      }
      expect(verifyChecksum(bytes, bytes.length, (d) => crc32(d))).toBe(val.valid);
      const token = statelessResetToken(bytes, bytes.length);
      expect(token === null ? null : toHex(token)).toBe(val.resetToken);
      if (val.valid && bytes.length > CRC_LENGTH) expect(crc32(bytes.subarray(0, bytes.length - 4))).toBe(readU32(bytes, bytes.length - 4));
    });
  }
});

function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

// ---------------------------------------------------------------------------------------------

type TpJson = Record<string, number | boolean | string>;
const TP_BYTES = ['originalDestinationConnectionId', 'statelessResetToken', 'initialSourceConnectionId', 'retrySourceConnectionId'];

function tpToJson(p: TransportParameters): TpJson {
  const out: TpJson = {};
  for (const [k, val] of Object.entries(p)) {
    if (val !== undefined) out[k] = val instanceof Uint8Array ? toHex(val) : (val as number | boolean);
  }
  return out;
}

function tpFromJson(j: TpJson): TransportParameters {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(j)) out[k] = TP_BYTES.includes(k) ? fromHex(val as string) : val;
  return out as unknown as TransportParameters;
}

describe('spec/vectors/transport-params.json', () => {
  const vectors = load<TpJson>('transport-params.json') as (Vector<TpJson> & { sender: 'client' | 'server' })[];
  for (const v of vectors) {
    it(v.name, () => {
      checkShape(v);
      const bytes = fromHex(v.hex);
      if (v.error) {
        expectError(() => decodeTransportParameters(bytes, v.sender), v.error);
        return;
      }
      expect(tpToJson(decodeTransportParameters(bytes, v.sender))).toEqual(v.value);
      if (!v.decodeOnly) {
        const w = new ByteWriter(new Uint8Array(512));
        encodeTransportParameters(tpFromJson(v.value!), w, v.sender);
        expect(toHex(w.buf.subarray(0, w.pos))).toBe(v.hex);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------

type ChannelVector = Vector<unknown> & { codec: 'datagram' | 'preamble' | 'messages' | 'control'; maxMessageSize?: number };
interface DatagramJson {
  kind: 'raw' | 'channel';
  channelId?: number;
  sequence?: number;
  fragment?: { messageId: number; index: number; count: number };
  payload: string;
}

function parseMessages(bytes: Uint8Array, max?: number): string[] {
  const p = new StreamMessageParser(max);
  const out = p.push(bytes).map(toHex);
  p.finish();
  return out;
}

describe('spec/vectors/channel.json', () => {
  const vectors = load<unknown>('channel.json') as ChannelVector[];
  for (const v of vectors) {
    it(`${v.codec}: ${v.name}`, () => {
      expect(typeof v.name).toBe('string');
      expect('value' in v !== 'error' in v).toBe(true);
      const bytes = fromHex(v.hex);
      const w = new ByteWriter(new Uint8Array(1024));
      switch (v.codec) {
        case 'datagram': {
          if (v.error) return expectError(() => decodeChannelDatagram(bytes), v.error);
          const d = decodeChannelDatagram(bytes);
          expect({ ...d, payload: toHex(d.payload) }).toEqual(v.value);
          const { payload, ...header } = v.value as DatagramJson;
          encodeChannelDatagram(w, header as ChannelDatagramHeader, fromHex(payload));
          break;
        }
        case 'preamble': {
          if (v.error) return expectError(() => readStreamPreamble(bytes), v.error);
          const r = readStreamPreamble(bytes);
          expect(r === null ? null : r.preamble).toEqual(v.value);
          if (r) expect(r.length).toBe(bytes.length);
          if (v.value !== null) encodeStreamPreamble(w, v.value as StreamPreamble);
          break;
        }
        case 'messages': {
          if (v.error) return expectError(() => parseMessages(bytes, v.maxMessageSize), v.error);
          const msgs = (v.value as { messages: string[] }).messages;
          expect(parseMessages(bytes, v.maxMessageSize)).toEqual(msgs);
          for (const m of msgs) {
            encodeStreamMessageHeader(w, m.length / 2);
            w.bytes(fromHex(m));
          }
          break;
        }
        case 'control': {
          const decode = () => {
            const msgs = new StreamMessageParser().push(bytes);
            expect(msgs.length).toBe(1);
            return decodeControlMessage(msgs[0]!);
          };
          if (v.error) return expectError(decode, v.error);
          expect(decode()).toEqual(v.value);
          if (v.value !== null) encodeChannelDeclaration(w, v.value as ChannelDeclaration);
          break;
        }
      }
      if (!v.decodeOnly) expect(toHex(w.buf.subarray(0, w.pos))).toBe(v.hex);
    });
  }
});
