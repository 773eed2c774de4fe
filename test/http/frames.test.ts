/** The HTTP layer's sans-IO parts: spec/vectors/http.json, the session's stream rules, request-stream framing. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FrameParser,
  HttpError,
  HttpSession,
  RequestStreamParser,
  decodeGoawayPayload,
  decodeSettingsPayload,
  encodeFrame,
  encodeGoawayPayload,
  encodeSettingsPayload,
  FrameType,
  QpackDecoder,
  QpackEncoder,
  type FrameEvent,
  type MessageEvent,
} from '../../lib/http/index.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength, latin1Bytes } from '../../lib/http/qpack/index.js';
import { ByteSink, readPrefixInt, writePrefixInt } from '../../lib/http/qpack/prefix-int.js';

const V = JSON.parse(readFileSync(join(import.meta.dirname, '../../spec/vectors/http.json'), 'utf8'));
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('spec/vectors/http.json', () => {
  it('frames: parse to their type and payload (reserved and unknown types skipped), and encode back', () => {
    for (const v of V.frames) {
      const evs = new FrameParser(1 << 16).push(hex(v.hex));
      if (v.skipped) expect(evs, v.name).toEqual([]);
      else if (v.type === FrameType.DATA) {
        const data = evs
          .filter((e): e is Extract<FrameEvent, { kind: 'data' }> => e.kind === 'data')
          .map((e) => toHex(e.chunk))
          .join('');
        expect(data, v.name).toBe(v.payload);
        expect(evs.at(-1)).toEqual({ kind: 'data-end' });
      } else expect(evs, v.name).toEqual([{ kind: 'frame', type: v.type, payload: hex(v.payload) }]);
      if (!v.nonMinimal) expect(toHex(encodeFrame(v.type, hex(v.payload))), v.name).toBe(v.hex);
      // Byte by byte gives the same result.
      const p = new FrameParser(1 << 16);
      const one: FrameEvent[] = [];
      for (const b of hex(v.hex)) p.push(Uint8Array.of(b), one);
      expect(one.filter((e) => e.kind === 'frame')).toEqual(evs.filter((e) => e.kind === 'frame'));
      expect(p.midFrame).toBe(false);
    }
  });

  it('settings and GOAWAY payloads', () => {
    for (const v of V.settings) {
      if (v.error) {
        expect(
          code(() => decodeSettingsPayload(hex(v.payload))),
          v.why,
        ).toBe(v.error);
      } else expect(decodeSettingsPayload(hex(v.payload))).toEqual(v.settings);
    }
    expect(toHex(encodeSettingsPayload(V.settings[0].settings, 1))).toBe(V.settings[0].payload);
    for (const v of V.goaway) {
      if (v.error) {
        expect(
          code(() => decodeGoawayPayload(hex(v.payload))),
          v.why,
        ).toBe(v.error);
      } else expect(decodeGoawayPayload(hex(v.payload))).toBe(v.id);
    }
    expect(toHex(encodeGoawayPayload(8))).toBe('08');
  });

  it('stream errors', () => {
    for (const v of V.streamErrors) {
      expect(
        code(() => new FrameParser(v.maxPayload).push(hex(v.hex))),
        v.name,
      ).toBe(v.error);
    }
  });

  it('QPACK integers and Huffman strings', () => {
    for (const v of V.qpack.integers) {
      const w = new ByteSink();
      writePrefixInt(w, 0, v.prefixBits, v.value);
      const b = w.take();
      expect(toHex(b)).toBe(v.hex);
      const c = { pos: 0, value: 0 };
      readPrefixInt(b, b.length, c, v.prefixBits, 'QPACK_DECOMPRESSION_FAILED');
      expect(c.value).toBe(v.value);
    }
    for (const v of V.qpack.huffman) {
      const raw = latin1Bytes(v.text);
      const out = new Uint8Array(huffmanEncodedLength(raw));
      huffmanEncode(raw, out, 0);
      expect(toHex(out)).toBe(v.hex);
      expect(huffmanDecode(out, 0, out.length, 1000)).toBe(v.text);
    }
    for (const v of V.qpack.huffmanInvalid) expect(huffmanDecode(hex(v.hex), 0, v.hex.length / 2, 1000), v.why).toBeNull();
  });

  it('QPACK: the RFC 9204 Appendix B exchange, step by step', () => {
    const d = new QpackDecoder({ maxTableCapacity: V.qpack.appendixB.maxTableCapacity });
    for (const step of V.qpack.appendixB.steps) {
      if (step.encoderStream) d.encoderStreamData(hex(step.encoderStream));
      if (step.section) {
        const f = d.decodeSection(step.section.stream, hex(step.section.hex));
        if (step.blocked) expect(f).toBeNull();
        else expect(f).toEqual(step.fields);
      }
      if (step.cancel !== undefined) d.cancelStream(step.cancel);
      if (step.tableSize !== undefined) expect(d.tableSize).toBe(step.tableSize);
      if (step.decoderStream !== undefined) expect(toHex(d.takeDecoderStreamData())).toBe(step.decoderStream);
    }
  });

  it('QPACK errors', () => {
    for (const v of V.qpack.sectionErrors) {
      expect(
        code(() => new QpackDecoder({ maxTableCapacity: v.tableSize }).decodeSection(0, hex(v.hex))),
        v.why,
      ).toBe(v.error);
    }
    for (const v of V.qpack.encoderStreamErrors) {
      expect(
        code(() => new QpackDecoder({ maxTableCapacity: v.tableSize }).encoderStreamData(hex(v.hex))),
        v.why,
      ).toBe(v.error);
    }
    for (const v of V.qpack.decoderStreamErrors) {
      expect(
        code(() => new QpackEncoder({ maxTableCapacity: 4096, maxBlockedStreams: 1 }).decoderStreamData(hex(v.hex))),
        v.why,
      ).toBe(v.error);
    }
  });
});

/** Two sessions wired together in memory: what one writes on its uni streams the other reads. */
function linked(): { client: HttpSession; server: HttpSession; pump: () => void } {
  const client = new HttpSession({ role: 'client' });
  const server = new HttpSession({ role: 'server' });
  // Client uni stream ids 2, 6, 10; server's 3, 7, 11 (control, encoder, decoder).
  server.uniData(2, client.opening('control'));
  server.uniData(6, client.opening('encoder'));
  server.uniData(10, client.opening('decoder'));
  client.uniData(3, server.opening('control'));
  client.uniData(7, server.opening('encoder'));
  client.uniData(11, server.opening('decoder'));
  const pump = (): void => {
    server.uniData(2, client.takeControl());
    server.uniData(6, client.takeEncoder());
    server.uniData(10, client.takeDecoder());
    client.uniData(3, server.takeControl());
    client.uniData(7, server.takeEncoder());
    client.uniData(11, server.takeDecoder());
  };
  return { client, server, pump };
}

describe('HttpSession', () => {
  it('exchanges SETTINGS (skipping the grease) and then compresses with the dynamic table', () => {
    const { client, server, pump } = linked();
    expect(client.peerSettings).toEqual(server.localSettings);
    expect(server.peerSettings).toEqual(client.localSettings);
    const fields: Array<[string, string]> = [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':authority', 'example.net'],
      [':path', '/a'],
      ['x-custom', 'value-1'],
    ];
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const frame = client.encodeHeaders(i * 4, fields);
      sizes.push(frame.length);
      // Encoder stream first, as the glue writes it.
      server.uniData(6, client.takeEncoder());
      const evs = new RequestStreamParser(server, i * 4).push(frame);
      expect(evs).toEqual([{ type: 'headers', fields }]);
      client.uniData(11, server.takeDecoder());
      pump();
    }
    expect(sizes[3]!).toBeLessThan(sizes[0]!);
  });

  it('holds a request whose HEADERS arrive before the inserts they need, then delivers it in order', () => {
    const { client, server } = linked();
    const fields: Array<[string, string]> = [
      [':method', 'POST'],
      [':scheme', 'https'],
      [':authority', 'example.net'],
      [':path', '/b'],
      ['x-new', 'abc'],
    ];
    const frame = client.encodeHeaders(0, fields);
    const enc = client.takeEncoder();
    expect(enc.length).toBeGreaterThan(0);
    const p = new RequestStreamParser(server, 0);
    const evs: MessageEvent[] = p.push(frame);
    evs.push(...p.push(encodeFrame(FrameType.DATA, Uint8Array.of(1, 2, 3))));
    evs.push(...p.end());
    expect(evs).toEqual([]);
    expect(p.isBlocked).toBe(true);
    const unblocked = server.uniData(6, enc);
    expect(unblocked).toEqual([{ type: 'unblocked', streamId: 0, fields }]);
    expect(p.unblocked(fields)).toEqual([{ type: 'headers', fields }, { type: 'data', chunk: Uint8Array.of(1, 2, 3) }, { type: 'end' }]);
  });

  it('enforces the control-stream rules with their codes', () => {
    const s = (): HttpSession => new HttpSession({ role: 'client' });
    const settings = encodeFrame(FrameType.SETTINGS, new Uint8Array(0));
    expect(code(() => s().uniData(3, Uint8Array.of(0, ...encodeFrame(FrameType.GOAWAY, hex('00')))))).toBe('H3_MISSING_SETTINGS');
    expect(code(() => s().uniData(3, Uint8Array.of(0, ...settings, ...settings)))).toBe('H3_FRAME_UNEXPECTED');
    expect(code(() => s().uniData(3, Uint8Array.of(0, ...settings, ...encodeFrame(FrameType.DATA, hex('00')))))).toBe('H3_FRAME_UNEXPECTED');
    expect(code(() => s().uniData(3, Uint8Array.of(0, ...settings, ...encodeFrame(FrameType.HEADERS, hex('0000')))))).toBe('H3_FRAME_UNEXPECTED');
    expect(code(() => s().uniData(3, Uint8Array.of(0, ...settings, ...encodeFrame(FrameType.GOAWAY, hex('01')))))).toBe('H3_ID_ERROR');
    const twice = s();
    twice.uniData(3, Uint8Array.of(0, ...settings));
    expect(code(() => twice.uniData(7, Uint8Array.of(0)))).toBe('H3_STREAM_CREATION_ERROR');
    expect(code(() => twice.uniEnd(3))).toBe('H3_CLOSED_CRITICAL_STREAM');
    const grow = s();
    grow.uniData(3, Uint8Array.of(0, ...settings, ...encodeFrame(FrameType.GOAWAY, hex('08'))));
    expect(grow.peerGoaway).toBe(8);
    expect(code(() => grow.uniData(3, encodeFrame(FrameType.GOAWAY, hex('0c'))))).toBe('H3_ID_ERROR');
    expect(code(() => s().uniData(3, Uint8Array.of(1)))).toBe('H3_ID_ERROR'); // push stream
    // A reserved stream type is ignored, whatever it carries.
    expect(s().uniData(3, Uint8Array.of(0x40, 0x40, 9, 9, 9))).toEqual([{ type: 'ignore-stream', streamId: 3 }]);
    // An oversized control frame is refused before it is buffered.
    expect(code(() => s().uniData(3, Uint8Array.of(0, 0x04, 0x80, 0x10, 0, 0)))).toBe('H3_EXCESSIVE_LOAD');
  });

  it('enforces request-stream framing with its codes', () => {
    const srv = new HttpSession({ role: 'server' });
    const cli = new HttpSession({ role: 'client' });
    const headers = cli.encodeHeaders(0, [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/'],
    ]);
    const data = encodeFrame(FrameType.DATA, Uint8Array.of(7));
    const p = (): RequestStreamParser => new RequestStreamParser(srv, 0);
    expect(code(() => p().push(data))).toBe('H3_FRAME_UNEXPECTED');
    expect(code(() => p().push(encodeFrame(FrameType.SETTINGS, new Uint8Array(0))))).toBe('H3_FRAME_UNEXPECTED');
    expect(code(() => p().push(encodeFrame(FrameType.GOAWAY, hex('00'))))).toBe('H3_FRAME_UNEXPECTED');
    const trailersThenData = p();
    trailersThenData.push(headers);
    trailersThenData.push(headers);
    expect(code(() => trailersThenData.push(data))).toBe('H3_FRAME_UNEXPECTED');
    const cut = p();
    cut.push(headers.subarray(0, 2));
    expect(code(() => cut.end())).toBe('H3_FRAME_ERROR');
    expect(code(() => p().end())).toBe('H3_REQUEST_INCOMPLETE');
    // Unknown frames anywhere are skipped.
    const ok = p();
    const evs = [
      ...ok.push(encodeFrame(0x21, hex('ffff'))),
      ...ok.push(headers),
      ...ok.push(encodeFrame(0x5f, hex('00'))),
      ...ok.push(data),
      ...ok.end(),
    ];
    expect(evs.map((e) => e.type)).toEqual(['headers', 'data', 'end']);
  });

  it("refuses to send a field section above the peer's SETTINGS_MAX_FIELD_SECTION_SIZE", () => {
    const cli = new HttpSession({ role: 'client' });
    cli.uniData(
      3,
      Uint8Array.of(
        0,
        ...encodeFrame(FrameType.SETTINGS, encodeSettingsPayload({ qpackMaxTableCapacity: 0, qpackBlockedStreams: 0, maxFieldSectionSize: 100 })),
      ),
    );
    expect(code(() => cli.encodeHeaders(0, [['x-big', 'a'.repeat(100)]]))).toBe('H3_EXCESSIVE_LOAD');
  });
});
