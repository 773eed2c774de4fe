/**
 * Mutation corpus for the frame decoder: every outcome must be a Frame[] or a PetrelWireError
 * (FRAME_ENCODING_ERROR with a frame type), decoding must always make progress, and anything that
 * decodes must re-encode and decode to the same frames.
 */
import { readFileSync } from 'node:fs';
import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteReader, ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { decodeFrame, decodeFrames, encodeFrame, frameSize } from '../../lib/wire/frames.js';
import { varintSize, writeVarint } from '../../lib/wire/varint.js';

interface FrameVector {
  name: string;
  hex: string;
  value?: unknown;
}
const vectors = JSON.parse(readFileSync(new URL('../../spec/vectors/frames.json', import.meta.url), 'utf8')) as FrameVector[];
const validInputs = vectors.filter((v) => v.value !== undefined).map((v) => ({ name: v.name, bytes: fromHex(v.hex) }));
const allInputs = vectors.map((v) => ({ name: v.name, bytes: fromHex(v.hex) }));

// Most inputs are rejected; capturing a stack for each of those errors would dominate the run time.
let savedStackLimit = Error.stackTraceLimit;
beforeAll(() => {
  savedStackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
});
afterAll(() => {
  Error.stackTraceLimit = savedStackLimit;
});

type Outcome = { ok: true; frames: Frame[] } | { ok: false; error: PetrelWireError };

/** Plain assertion: vitest's expect is too slow for a 100,000-input loop. */
function assert(cond: boolean, what: string, input: Uint8Array): void {
  if (!cond) throw new Error(`${what} (input ${toHex(input)})`);
}

/**
 * Decodes frame by frame with a loop guard (each frame consumes at least one byte, so there can
 * be at most input.length frames), then checks decodeFrames agrees and the frames re-encode.
 */
function check(input: Uint8Array): Outcome {
  const r = new ByteReader(input);
  const frames: Frame[] = [];
  let outcome: Outcome | undefined;
  let iterations = 0;
  while (r.pos < r.end) {
    assert(++iterations <= input.length, 'decoder made no progress', input);
    const before = r.pos;
    try {
      frames.push(decodeFrame(r));
    } catch (e) {
      assert(e instanceof PetrelWireError, `threw a non-PetrelWireError: ${String(e)}`, input);
      const err = e as PetrelWireError;
      assert(err.errorCode === TransportErrorCode.FRAME_ENCODING_ERROR, `error code ${err.errorCode}`, input);
      assert(typeof err.frameType === 'number', 'error without a frame type', input);
      assert(r.pos === before, 'reader moved on error', input);
      outcome = { ok: false, error: err };
      break;
    }
    assert(r.pos > before, 'frame consumed no bytes', input);
  }
  outcome ??= { ok: true, frames };

  // decodeFrames gives the same verdict.
  let viaAll: Outcome;
  try {
    viaAll = { ok: true, frames: decodeFrames(input) };
  } catch (e) {
    assert(e instanceof PetrelWireError, `decodeFrames threw a non-PetrelWireError: ${String(e)}`, input);
    viaAll = { ok: false, error: e as PetrelWireError };
  }
  assert(viaAll.ok === outcome.ok, 'decodeFrames disagrees with decodeFrame', input);
  if (outcome.ok) {
    assert(viaAll.ok && sameValue(viaAll.frames, frames), 'decodeFrames gave other frames', input);
    reencode(frames, input);
  } else if (!viaAll.ok) {
    assert(viaAll.error.frameType === outcome.error.frameType, 'decodeFrames blamed another frame type', input);
  }
  return outcome;
}

/** Decoded frames are valid frames: they re-encode (never longer than the input) and decode back equal. */
function reencode(frames: Frame[], input: Uint8Array): void {
  let total = 0;
  for (const f of frames) total += frameSize(f);
  assert(total <= input.length, 're-encoding is longer than the input', input);
  const w = new ByteWriter(new Uint8Array(total));
  for (const f of frames) encodeFrame(w, f);
  assert(w.pos === total, 'frameSize disagrees with encodeFrame', input);
  assert(sameValue(decodeFrames(w.buf), frames), 're-encoded frames decode differently', input);
}

/** Structural equality over the shapes frames use: plain objects, arrays, Uint8Array, primitives. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

describe('mutations of the valid frame vectors', () => {
  it('has a valid-vector corpus to mutate', () => {
    expect(validInputs.length).toBeGreaterThanOrEqual(40);
  });

  it('truncated at every offset', () => {
    let cases = 0;
    for (const { bytes } of allInputs) {
      for (let cut = 0; cut < bytes.length; cut++) {
        check(bytes.subarray(0, cut));
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(500);
  });

  it('with every single bit flipped', () => {
    let cases = 0;
    for (const { bytes } of allInputs) {
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const m = bytes.slice();
        m[bit >> 3]! ^= 0x80 >> (bit & 7);
        check(m);
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(4000);
  });

  it('with every byte replaced by 0x00, 0x3f, 0x40, 0x7f, 0xbf, 0xff', () => {
    let cases = 0;
    for (const { bytes } of allInputs) {
      for (let i = 0; i < bytes.length; i++) {
        for (const v of [0x00, 0x3f, 0x40, 0x7f, 0xbf, 0xff]) {
          const m = bytes.slice();
          m[i] = v;
          check(m);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(3000);
  });

  it('with length fields inflated: always FRAME_ENCODING_ERROR', () => {
    let cases = 0;
    for (const { name, bytes } of validInputs) {
      const frame = decodeFrames(bytes)[0]!;
      for (const field of lengthFields(frame, bytes)) {
        for (const inflated of field.inflate) {
          const m = splice(bytes, field.at, field.size, inflated);
          const out = check(m);
          expect(out.ok, `${name}: length ${field.value} -> ${inflated.join(',')}`).toBe(false);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(50);
  });

  it('concatenated pairs of vectors (frames after frames)', () => {
    let cases = 0;
    for (const a of validInputs) {
      for (const b of allInputs) {
        const m = new Uint8Array(a.bytes.length + b.bytes.length);
        m.set(a.bytes);
        m.set(b.bytes, a.bytes.length);
        check(m);
        cases++;
      }
    }
    expect(cases).toBe(validInputs.length * allInputs.length);
  });
});

interface LengthField {
  at: number;
  size: number;
  value: number;
  /** Replacement encodings of the field that claim more bytes than exist. */
  inflate: number[][];
}

function varintBytes(v: number, size?: 1 | 2 | 4 | 8): number[] {
  const buf = new Uint8Array(8);
  return Array.from(buf.subarray(0, writeVarint(buf, 0, v, size)));
}

/** Finds the explicit length fields of a decoded vector (byte fields are views, so their offset is known). */
function lengthFields(f: Frame, input: Uint8Array): LengthField[] {
  const out: LengthField[] = [];
  const varintBefore = (data: Uint8Array) => {
    const size = varintSize(data.length);
    const at = data.byteOffset - input.byteOffset - size;
    expect(new ByteReader(input, at).varint()).toBe(data.length);
    const n = data.length;
    out.push({
      at,
      size,
      value: n,
      inflate: [
        varintBytes(n + 1),
        varintBytes(n + 1, 8),
        varintBytes(n + 1000),
        varintBytes(2 ** 53 - 1),
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ],
    });
  };
  switch (f.type) {
    case 'crypto':
    case 'datagram':
    case 'stream':
      if (!('implicitLength' in f) || !f.implicitLength) varintBefore(f.data);
      break;
    case 'new_token':
      varintBefore(f.token);
      break;
    case 'connection_close':
      varintBefore(f.reason);
      break;
    case 'new_connection_id': {
      const at = f.connectionId.byteOffset - input.byteOffset - 1;
      const n = f.connectionId.length;
      out.push({ at, size: 1, value: n, inflate: [[n + 1], [n + 16], [0xff]].filter((x) => x[0]! <= 0xff) });
      break;
    }
    case 'ack': {
      // Range count follows Largest Acknowledged and ACK Delay.
      const r = new ByteReader(input, 1);
      r.varint();
      r.varint();
      const at = r.pos;
      const count = r.varint();
      out.push({ at, size: r.pos - at, value: count, inflate: [varintBytes(count + 2), varintBytes(count + 1000), varintBytes(2 ** 53 - 1)] });
      break;
    }
    default:
      break;
  }
  return out;
}

function splice(src: Uint8Array, at: number, size: number, replacement: number[]): Uint8Array {
  const out = new Uint8Array(src.length - size + replacement.length);
  out.set(src.subarray(0, at));
  out.set(replacement, at);
  out.set(src.subarray(at + size), at + replacement.length);
  return out;
}

describe('random byte strings (seeded)', () => {
  // Frame type prefixes that steer random bodies into every decoder branch.
  const prefixes = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x30, 0x31, 0x40,
  ];

  it('100,000 inputs decode to frames or a PetrelWireError, always making progress', () => {
    const rng = xoroshiro128plus(0x5eed);
    const int = (lo: number, hi: number) => unsafeUniformIntDistribution(lo, hi, rng);
    const buf = new Uint8Array(96);
    let ok = 0;
    let rejected = 0;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const len = int(0, buf.length);
      const input = buf.subarray(0, len);
      for (let j = 0; j < len; j++) {
        // Mostly small bytes: small varints and lengths keep inputs from failing on the first field.
        input[j] = int(0, 3) === 0 ? int(0, 255) : int(0, 0x3f);
      }
      if (len > 0 && i % 2 === 0) input[0] = prefixes[int(0, prefixes.length - 1)]!;
      if (len > 1 && input[0] === 0x40) input[1] = 0xaf; // ACK_FREQUENCY
      if (check(input).ok) ok++;
      else rejected++;
    }
    expect(ok + rejected).toBe(N);
    // Both verdicts are well represented, so the corpus reaches past the first byte.
    expect(ok).toBeGreaterThan(N / 20);
    expect(rejected).toBeGreaterThan(N / 20);
  });
});
