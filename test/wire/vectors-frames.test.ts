import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode, type TransportErrorName } from '../../lib/errors.js';
import { ByteReader, ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import { FrameType, type Frame } from '../../lib/wire/frame-types.js';
import { decodeFrame, decodeFrames, encodeFrame, frameSize } from '../../lib/wire/frames.js';

/** spec/wire-frames.md §Test vectors. */
interface FrameVector {
  name: string;
  hex: string;
  value?: Record<string, unknown>;
  canonicalHex?: string;
  error?: TransportErrorName;
}

const vectors = JSON.parse(readFileSync(new URL('../../spec/vectors/frames.json', import.meta.url), 'utf8')) as FrameVector[];
const valid = vectors.filter((v) => v.value !== undefined);
const invalid = vectors.filter((v) => v.error !== undefined);

const BYTE_FIELDS = new Set(['data', 'token', 'connectionId', 'resetToken', 'reason']);

/** JSON value → Frame: byte fields are hex strings in the file. */
function toFrame(value: Record<string, unknown>): Frame {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = BYTE_FIELDS.has(k) ? fromHex(v as string) : v;
  return out as unknown as Frame;
}

/** The wire type of a vector's first frame, with the STREAM family folded onto 0x08. */
function family(type: number): number {
  return type >= 0x08 && type <= 0x0f ? FrameType.STREAM : type;
}

function firstType(bytes: Uint8Array): number {
  return new ByteReader(bytes).varint();
}

describe('frame vectors (spec/vectors/frames.json)', () => {
  it('every vector has exactly one of value / error, and a non-trivial corpus', () => {
    for (const v of vectors) expect((v.value === undefined) !== (v.error === undefined), v.name).toBe(true);
    expect(valid.length).toBeGreaterThanOrEqual(40);
    expect(invalid.length).toBeGreaterThanOrEqual(40);
  });

  it('covers every frame type with at least one valid and one invalid vector', () => {
    const validTypes = new Set(valid.map((v) => family(firstType(fromHex(v.hex)))));
    const invalidTypes = new Set<number>();
    for (const v of invalid) {
      try {
        decodeFrames(fromHex(v.hex));
      } catch (e) {
        if (e instanceof PetrelWireError && e.frameType !== undefined) invalidTypes.add(family(e.frameType));
      }
    }
    for (const t of new Set(Object.values(FrameType).map(family))) {
      expect(validTypes.has(t), `valid vector for 0x${t.toString(16)}`).toBe(true);
      expect(invalidTypes.has(t), `invalid vector for 0x${t.toString(16)}`).toBe(true);
    }
  });

  describe.each(valid.map((v) => [v.name, v] as const))('valid: %s', (_name, v) => {
    const bytes = fromHex(v.hex);
    const expected = toFrame(v.value!);

    it('decodes to the listed value, consuming every byte', () => {
      expect(decodeFrames(bytes)).toEqual([expected]);
      const r = new ByteReader(bytes);
      decodeFrame(r);
      expect(r.pos).toBe(bytes.length);
    });

    it('byte fields are views into the input, not copies', () => {
      const f = decodeFrames(bytes)[0]! as unknown as Record<string, unknown>;
      for (const k of BYTE_FIELDS) {
        const field = f[k];
        if (field instanceof Uint8Array) expect(field.buffer).toBe(bytes.buffer);
      }
    });

    it('re-encodes to the canonical bytes, with frameSize matching', () => {
      const want = v.canonicalHex ?? v.hex;
      const w = new ByteWriter(new Uint8Array(want.length / 2 + 8));
      encodeFrame(w, expected);
      expect(toHex(w.buf.subarray(0, w.pos))).toBe(want);
      expect(frameSize(expected)).toBe(want.length / 2);
    });
  });

  describe.each(invalid.map((v) => [v.name, v] as const))('invalid: %s', (_name, v) => {
    it(`is rejected with ${v.error}`, () => {
      let caught: unknown;
      try {
        decodeFrames(fromHex(v.hex));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(PetrelWireError);
      const err = caught as PetrelWireError;
      expect(err.errorCode).toBe(TransportErrorCode[v.error!]);
      expect(typeof err.frameType).toBe('number');
    });
  });
});
