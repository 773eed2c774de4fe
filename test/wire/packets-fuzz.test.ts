/**
 * Mutation corpus for the packet-layer decoders: parsePacketHeader, decodeTransportParameters,
 * decodeChannelDatagram, the stream preamble / message parser and control messages. Every input must
 * give a value or a PetrelWireError with that decoder's code, never another exception, and what
 * decodes must satisfy the decoder's invariants (bounds, progress, re-encoding).
 */
import { readFileSync } from 'node:fs';
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  decodeChannelDatagram,
  decodeControlMessage,
  encodeChannelDatagram,
  readStreamPreamble,
  StreamMessageParser,
  type ChannelDatagramHeader,
} from '../../lib/wire/channel.js';
import { MIN_PN_AND_PAYLOAD, parsePacketHeader, RETRY_INTEGRITY_TAG_LENGTH } from '../../lib/wire/packet.js';
import { decodeTransportParameters, encodeTransportParameters } from '../../lib/wire/transport-params.js';

function assert(cond: boolean, what: string, input: Uint8Array): void {
  if (!cond) throw new Error(`${what} (input ${toHex(input)})`);
}

/** Runs `f`; a throw must be a PetrelWireError with `code`. Returns whether it decoded. */
function guard(f: () => void, code: number, input: Uint8Array): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (!(e instanceof PetrelWireError)) throw new Error(`threw a non-PetrelWireError: ${String(e)} (input ${toHex(input)})`);
    assert(e.errorCode === code, `error code ${e.errorCode}, wanted ${code}: ${e.message}`, input);
    return false;
  }
}

function within(view: Uint8Array, input: Uint8Array): boolean {
  return view.buffer === input.buffer && view.byteOffset >= input.byteOffset && view.byteOffset + view.length <= input.byteOffset + input.length;
}

/** Parses every packet of a datagram body the way an endpoint walks coalesced packets. */
function checkPackets(input: Uint8Array): boolean {
  let ok = false;
  for (const dcidLen of [8, 0]) {
    ok =
      guard(
        () => {
          let off = 0;
          let n = 0;
          while (off < input.length) {
            assert(++n <= input.length, 'coalesced walk made no progress', input);
            const h = parsePacketHeader(input, off, input.length, dcidLen);
            assert(h.end > off && h.end <= input.length, `end ${h.end} out of bounds`, input);
            assert(within(h.dcid, input), 'dcid not a view of the input', input);
            if (h.form === 'long') {
              assert(h.pnOffset > off && h.end - h.pnOffset >= MIN_PN_AND_PAYLOAD, 'long: pn offset', input);
              assert(h.dcid.length <= 20 && h.scid.length <= 20, 'long: cid length', input);
            } else if (h.form === 'short') {
              assert(h.dcid.length === dcidLen && h.pnOffset === off + 1 + dcidLen && h.end === input.length, 'short: layout', input);
            } else if (h.form === 'retry') {
              assert(h.integrityTag.length === RETRY_INTEGRITY_TAG_LENGTH && h.token.length > 0 && h.end === input.length, 'retry: layout', input);
            } else if (h.form === 'version_negotiation') {
              assert(h.versions.length > 0 && h.end === input.length, 'VN: layout', input);
            }
            off = h.end;
          }
        },
        TransportErrorCode.PACKET_ENCODING_ERROR,
        input,
      ) || ok;
  }
  return ok;
}

const tpWriter = new ByteWriter(new Uint8Array(4096));
function checkTransportParameters(input: Uint8Array): boolean {
  let ok = false;
  for (const sender of ['client', 'server'] as const) {
    ok =
      guard(
        () => {
          const p = decodeTransportParameters(input, sender);
          // Whatever decodes re-encodes (canonically) and decodes to the same parameters.
          tpWriter.reset(tpWriter.buf);
          encodeTransportParameters(p, tpWriter, sender);
          assert(tpWriter.pos <= input.length, 'canonical re-encoding longer than the input', input);
          const again = decodeTransportParameters(tpWriter.buf.subarray(0, tpWriter.pos), sender);
          assert(canonical(again) === canonical(p), 'transport parameters changed on re-encoding', input);
        },
        TransportErrorCode.TRANSPORT_PARAMETER_ERROR,
        input,
      ) || ok;
  }
  return ok;
}

function hexReplacer(_k: string, v: unknown): unknown {
  return v instanceof Uint8Array ? toHex(v) : v;
}

/** JSON with sorted keys: decoded objects list their keys in wire order. */
function canonical(o: object): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))), hexReplacer);
}

const chWriter = new ByteWriter(new Uint8Array(4096));
function checkChannel(input: Uint8Array): boolean {
  const ok = guard(
    () => {
      const d = decodeChannelDatagram(input);
      assert(within(d.payload, input), 'payload not a view of the input', input);
      const { payload, ...header } = d;
      chWriter.reset(chWriter.buf);
      encodeChannelDatagram(chWriter, header as ChannelDatagramHeader, payload);
      assert(chWriter.pos <= input.length, 're-encoding longer than the input', input);
      const again = decodeChannelDatagram(chWriter.buf.subarray(0, chWriter.pos));
      assert(canonical(again) === canonical(d), 'datagram changed on re-encoding', input);
    },
    TransportErrorCode.CHANNEL_ENCODING_ERROR,
    input,
  );
  guard(() => void readStreamPreamble(input), TransportErrorCode.CHANNEL_ENCODING_ERROR, input);
  guard(() => void decodeControlMessage(input), TransportErrorCode.CHANNEL_ENCODING_ERROR, input);
  guard(
    () => {
      const p = new StreamMessageParser(64);
      let total = 0;
      // Byte by byte and whole must agree.
      for (let i = 0; i < input.length; i++) for (const m of p.push(input.subarray(i, i + 1))) total += m.length;
      const whole = new StreamMessageParser(64);
      let total2 = 0;
      for (const m of whole.push(input)) total2 += m.length;
      assert(total === total2 && p.atBoundary === whole.atBoundary, 'chunking changed the messages', input);
    },
    TransportErrorCode.CHANNEL_ENCODING_ERROR,
    input,
  );
  return ok;
}

interface AnyVector {
  name: string;
  hex: string;
  value?: unknown;
  codec?: string;
}
const load = (f: string) => JSON.parse(readFileSync(new URL(`../../spec/vectors/${f}`, import.meta.url), 'utf8')) as AnyVector[];
const valid = (vs: AnyVector[]) => vs.filter((v) => v.value !== undefined && v.hex.length > 0).map((v) => fromHex(v.hex));

const corpora = [
  { name: 'packets', inputs: valid(load('packets.json')), check: checkPackets },
  { name: 'transport parameters', inputs: valid(load('transport-params.json')), check: checkTransportParameters },
  { name: 'channels', inputs: valid(load('channel.json')), check: checkChannel },
];

const counts: Record<string, number> = {};
function count(name: string, n: number): void {
  counts[name] = (counts[name] ?? 0) + n;
}

describe('mutations of every valid vector', () => {
  for (const c of corpora) {
    it(`${c.name}: truncated at every offset and with every single bit flipped`, () => {
      expect(c.inputs.length).toBeGreaterThan(5);
      let n = 0;
      for (const bytes of c.inputs) {
        c.check(bytes);
        for (let cut = 0; cut < bytes.length; cut++) {
          c.check(bytes.subarray(0, cut));
          n++;
        }
        for (let bit = 0; bit < bytes.length * 8; bit++) {
          const m = bytes.slice();
          m[bit >> 3] ^= 0x80 >> (bit & 7);
          c.check(m);
          n++;
        }
      }
      count(c.name, n + c.inputs.length);
      expect(n).toBeGreaterThan(c.inputs.length * 8);
    });
  }
});

/** A random input: pure noise, or a valid vector with a few random edits (so deep paths are reached). */
function randomInput(rng: RandomGenerator, bases: Uint8Array[]): Uint8Array {
  const int = (lo: number, hi: number) => unsafeUniformIntDistribution(lo, hi, rng);
  if (int(0, 3) === 0) {
    const out = new Uint8Array(int(0, 80));
    for (let i = 0; i < out.length; i++) out[i] = int(0, 255);
    return out;
  }
  let m = Array.from(bases[int(0, bases.length - 1)]!);
  const edits = int(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = m.length === 0 ? 0 : int(0, m.length - 1);
    switch (int(0, 4)) {
      case 0: // random byte
        if (m.length) m[at] = int(0, 255);
        break;
      case 1: // varint-ish byte
        if (m.length) m[at] = [0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff][int(0, 7)]!;
        break;
      case 2: // truncate
        m = m.slice(0, at);
        break;
      case 3: // insert
        m.splice(at, 0, ...Array.from({ length: int(1, 8) }, () => int(0, 255)));
        break;
      default: // delete a run
        m.splice(at, int(1, 8));
    }
  }
  return Uint8Array.from(m);
}

const RANDOM_INPUTS = 100_000;

describe(`${RANDOM_INPUTS} seeded random inputs per decoder`, () => {
  corpora.forEach((c, i) => {
    it(c.name, () => {
      const rng = xoroshiro128plus(0x50540001 + i);
      let decoded = 0;
      for (let k = 0; k < RANDOM_INPUTS; k++) if (c.check(randomInput(rng, c.inputs))) decoded++;
      count(c.name, RANDOM_INPUTS);
      // The corpus reaches past the first checks: a good share of inputs decode, a good share do not.
      expect(decoded).toBeGreaterThan(RANDOM_INPUTS * 0.05);
      expect(decoded).toBeLessThan(RANDOM_INPUTS * 0.95);
    });
  });

  it('corpus size', () => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`packets-fuzz corpus: ${JSON.stringify(counts)}, total ${total}`);
    expect(total).toBeGreaterThanOrEqual(3 * RANDOM_INPUTS);
  });
});
