/**
 * Channel message codecs: MessagePack (msgpackr) by default, raw bytes, or the application's own.
 *
 * Decoding input from the network is guarded: a message above `maxMessageSize` is refused before it is
 * parsed, and a MessagePack message is first walked without recursion (`scanMsgpack`) to reject nesting deeper
 * than `maxDepth`, truncated or trailing bytes, and extension types other than timestamp (-1) and undefined (0)
 * — msgpackr has no depth option and recurses, so a 100,000-deep array would otherwise blow the stack, and its
 * other extensions (records, Error, Set…) could hide nesting inside opaque payloads. Failures are
 * PetrelError('DECODE_ERROR').
 */
import { FLOAT32_OPTIONS, Packr, Unpackr } from 'msgpackr';
import { PetrelError } from '../errors.js';

export interface Codec<T = unknown> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface CodecLimits {
  /** Largest encoded message accepted (bytes). */
  maxMessageSize: number;
  /** Deepest nesting of arrays and maps accepted (MessagePack only). */
  maxDepth: number;
}

export const DEFAULT_MAX_DEPTH = 32;

function decodeError(message: string, cause?: unknown): PetrelError {
  return new PetrelError('DECODE_ERROR', message, cause === undefined ? undefined : { cause });
}

/**
 * Walks one MessagePack value iteratively. Throws DECODE_ERROR on truncation, trailing bytes, the unused
 * type 0xc1, an extension other than -1/0, or nesting deeper than `maxDepth`. O(length), no recursion.
 */
export function scanMsgpack(b: Uint8Array, maxDepth: number): void {
  const n = b.length;
  let pos = 0;
  const open: number[] = []; // items still expected by each enclosing container
  let expect = 1;
  const need = (k: number): void => {
    if (pos + k > n) throw decodeError('truncated MessagePack');
  };
  const u8 = (): number => {
    need(1);
    return b[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = (b[pos]! << 8) | b[pos + 1]!;
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = b[pos]! * 0x1000000 + ((b[pos + 1]! << 16) | (b[pos + 2]! << 8) | b[pos + 3]!);
    pos += 4;
    return v;
  };
  const ext = (len: number): void => {
    need(1 + len);
    const type = b[pos]!;
    if (type !== 0xff && type !== 0x00) throw decodeError(`MessagePack extension type ${(type << 24) >> 24} not accepted`);
    pos += 1 + len;
  };
  for (;;) {
    if (expect === 0) {
      if (open.length === 0) break;
      expect = open.pop()!;
      continue;
    }
    expect--;
    const t = u8();
    let children = 0;
    if (t <= 0x7f || t >= 0xe0) continue; // fixints
    if (t <= 0x8f) children = (t & 0x0f) * 2;
    else if (t <= 0x9f) children = t & 0x0f;
    else if (t <= 0xbf) {
      need(t & 0x1f);
      pos += t & 0x1f;
    } else {
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xd9: {
          const l = u8();
          need(l);
          pos += l;
          break;
        }
        case 0xc5:
        case 0xda: {
          const l = u16();
          need(l);
          pos += l;
          break;
        }
        case 0xc6:
        case 0xdb: {
          const l = u32();
          need(l);
          pos += l;
          break;
        }
        case 0xc7:
          ext(u8());
          break;
        case 0xc8:
          ext(u16());
          break;
        case 0xc9:
          ext(u32());
          break;
        case 0xcc:
        case 0xd0:
          need(1);
          pos += 1;
          break;
        case 0xcd:
        case 0xd1:
          need(2);
          pos += 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          need(4);
          pos += 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          need(8);
          pos += 8;
          break;
        case 0xd4:
          ext(1);
          break;
        case 0xd5:
          ext(2);
          break;
        case 0xd6:
          ext(4);
          break;
        case 0xd7:
          ext(8);
          break;
        case 0xd8:
          ext(16);
          break;
        case 0xdc:
          children = u16();
          break;
        case 0xdd:
          children = u32();
          break;
        case 0xde:
          children = u16() * 2;
          break;
        case 0xdf:
          children = u32() * 2;
          break;
        default:
          throw decodeError(`invalid MessagePack type byte 0x${t.toString(16)}`);
      }
    }
    if (children > 0) {
      // Every item takes at least one byte: a count beyond the bytes left is a lie, refuse it before allocating.
      if (children > n - pos) throw decodeError('MessagePack container larger than its message');
      open.push(expect);
      if (open.length > maxDepth) throw decodeError(`MessagePack nesting deeper than ${maxDepth}`);
      expect = children;
    }
  }
  if (pos !== n) throw decodeError(`${n - pos} bytes after the MessagePack value`);
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
/**
 * Non-integer numbers below 2^31 in magnitude as 4-byte float32 (msgpackr's ALWAYS): positions, angles and
 * velocities of a game snapshot shrink from 9 to 5 bytes each and keep about 7 significant digits. Lossy by
 * design; integers (ids, ticks, timestamps in ms) are untouched, larger non-integers stay float64.
 */
const packrFloat32 = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, useFloat32: FLOAT32_OPTIONS.ALWAYS });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, moreTypes: false, structuredClone: false });

export interface MsgpackOptions {
  /** Encode non-integer numbers as float32 (about 7 significant digits, lossy; see above). Default false. */
  float32?: boolean;
}

/** MessagePack via msgpackr: plain objects, arrays, strings, numbers, booleans, null, Uint8Array, Date. */
export function msgpackCodec(limits: CodecLimits, options: MsgpackOptions = {}): Codec<unknown> {
  const p = options.float32 === true ? packrFloat32 : packr;
  return {
    encode(value: unknown): Uint8Array {
      let out: Uint8Array;
      try {
        out = p.pack(value);
      } catch (e) {
        throw new PetrelError('ENCODE_ERROR', (e as Error).message, { cause: e });
      }
      if (out.length > limits.maxMessageSize) {
        throw new PetrelError('MESSAGE_TOO_LARGE', `encoded message of ${out.length} bytes above ${limits.maxMessageSize}`);
      }
      return out;
    },
    decode(bytes: Uint8Array): unknown {
      if (bytes.length > limits.maxMessageSize) throw decodeError(`message of ${bytes.length} bytes above ${limits.maxMessageSize}`);
      scanMsgpack(bytes, limits.maxDepth);
      try {
        return unpackr.unpack(bytes);
      } catch (e) {
        throw decodeError((e as Error).message, e);
      }
    },
  };
}

/** Bytes in, bytes out (size limit only). */
export function rawCodec(limits: Pick<CodecLimits, 'maxMessageSize'>): Codec<Uint8Array> {
  return {
    encode(value: Uint8Array): Uint8Array {
      if (!(value instanceof Uint8Array)) throw new PetrelError('ENCODE_ERROR', 'raw channels send Uint8Array values');
      if (value.length > limits.maxMessageSize) {
        throw new PetrelError('MESSAGE_TOO_LARGE', `message of ${value.length} bytes above ${limits.maxMessageSize}`);
      }
      return value;
    },
    decode(bytes: Uint8Array): Uint8Array {
      if (bytes.length > limits.maxMessageSize) throw decodeError(`message of ${bytes.length} bytes above ${limits.maxMessageSize}`);
      return bytes;
    },
  };
}
