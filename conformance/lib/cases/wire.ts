/** Cases from spec/wire.md: datagram checksum and sizes, versions, frame decoding rules. */
import { ByteWriter } from '../../../lib/wire/buffer.js';
import type { Frame } from '../../../lib/wire/frame-types.js';
import { Code, expectClose, expectSilence, fail, pass, type Case } from '../case.js';

/** A 1-RTT payload that starts with `bytes` (an invalid frame) followed by PADDING. */
function rawFrameBytes(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

export const wireCases: Case[] = [
  {
    id: 'wire/crc-32-trailer/1',
    spec: { file: 'wire.md', section: 'CRC-32 trailer' },
    requirement: 'Nothing is ever sent in reply to a datagram with a bad CRC.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const out = p.session.pollOutput();
      if (!out) return fail('the runner produced no ClientHello');
      const d = p.buildPacket('initial', [{ type: 'crypto', offset: 0, data: out.data } as Frame], { padTo: 1200 });
      d[d.length - 1] ^= 0xff;
      const mark = p.mark();
      p.sendRaw(d, 'initial with a corrupted CRC');
      return expectSilence(p, mark, 'Initial with a bad CRC', 700);
    },
  },
  {
    id: 'wire/crc-32-trailer/2',
    spec: { file: 'wire.md', section: 'CRC-32 trailer' },
    requirement: 'Every Petrel datagram ends with 4 bytes of CRC-32, big-endian, computed over every preceding byte of the datagram as sent',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const ok = await p.handshake();
      if (p.datagrams.length === 0) return fail('no reply to a valid Initial');
      const bad = p.datagrams.filter((d) => !d.crcOk).length;
      if (bad > 0) return fail(`${bad} of ${p.datagrams.length} datagrams from the server have a wrong CRC`);
      return ok ? pass(`${p.datagrams.length} datagrams, all with a valid CRC`) : fail('handshake did not complete');
    },
  },
  {
    id: 'wire/sizes/1',
    spec: { file: 'wire.md', section: 'Sizes' },
    requirement: 'A server drops smaller datagrams that carry a client Initial',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const out = p.session.pollOutput();
      if (!out) return fail('the runner produced no ClientHello');
      const d = p.buildPacket('initial', [{ type: 'crypto', offset: 0, data: out.data } as Frame], { padTo: 1199 });
      if (d.length >= 1200) return fail(`runner built a ${d.length}-byte datagram`);
      const mark = p.mark();
      p.sendRaw(d, `short Initial (${d.length} bytes)`);
      return expectSilence(p, mark, `${d.length}-byte Initial datagram`, 700);
    },
  },
  {
    id: 'wire/sizes/2',
    spec: { file: 'wire.md', section: 'Sizes' },
    requirement: 'pads datagrams carrying its own ack-eliciting Initial packets the same way',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      await p.handshake();
      const withInitial = p.datagrams.filter((d) =>
        d.packets.some((x) => x.space === 'initial' && x.frames?.some((f) => f.type !== 'ack' && f.type !== 'padding')),
      );
      if (withInitial.length === 0) return fail('no ack-eliciting Initial received');
      const small = withInitial.filter((d) => d.bytes.length < 1200);
      return small.length === 0
        ? pass(`${withInitial.length} datagram(s) with ack-eliciting Initials, all ≥ 1200 bytes`)
        : fail(`datagram(s) of ${small.map((d) => d.bytes.length).join(', ')} bytes carry an ack-eliciting Initial`);
    },
  },
  {
    id: 'wire/sizes/3',
    spec: { file: 'wire.md', section: 'Sizes' },
    requirement: 'Never exceeded over IPv4 (1500-byte MTU − 20 IP − 8 UDP).',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Ask for a lot of data on a stream the server has to answer: open a stream and send a ping so the
      // server has reason to send; any datagram it sends must be ≤ 1472 bytes.
      p.send('app', [{ type: 'ping' } as Frame]);
      await p.waitAny(300);
      const big = p.datagrams.filter((d) => d.bytes.length > 1472);
      return big.length === 0
        ? pass(`${p.datagrams.length} datagrams, largest ${Math.max(...p.datagrams.map((d) => d.bytes.length))} bytes`)
        : fail(`datagram of ${big[0]!.bytes.length} bytes`);
    },
  },
  {
    id: 'wire/versions/1',
    spec: { file: 'wire.md', section: 'Versions' },
    requirement: 'A server answers with Version Negotiation only when the datagram is at least MIN_INITIAL_DATAGRAM (1200) bytes',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const mark = p.mark();
      p.sendRaw(p.buildPacket('initial', [{ type: 'ping' } as Frame], { padTo: 1200, version: 0x1a2a3a4a }), 'Initial of version 0x1a2a3a4a');
      const got = await p.waitFor(() => p.datagrams.length > mark, 1000);
      if (!got) return fail('no Version Negotiation for a 1200-byte datagram of an unknown version');
      const vn = p.datagrams[mark]!.packets.find((x) => x.space === 'version_negotiation');
      if (!vn) return fail(`reply is not Version Negotiation (${p.datagrams[mark]!.bytes.length} bytes)`);
      if (!vn.versions!.includes(0x50540001)) {
        return fail(`Version Negotiation lists ${vn.versions!.map((v) => v.toString(16)).join(',')} without 0x50540001`);
      }
      if (p.datagrams[mark]!.bytes.length >= 1200) return fail('Version Negotiation is not smaller than its trigger');
      const mark2 = p.mark();
      p.sendRaw(p.buildPacket('initial', [{ type: 'ping' } as Frame], { padTo: 600, version: 0x1a2a3a4a }), '600-byte Initial of version 0x1a2a3a4a');
      const small = await expectSilence(p, mark2, '600-byte datagram of an unknown version', 500);
      if (small.verdict !== 'PASS') return small;
      return pass('Version Negotiation listing 0x50540001 for 1200 bytes, smaller than the trigger; none for 600 bytes');
    },
  },
  {
    id: 'wire/common-rules/1',
    spec: { file: 'wire.md', section: 'Common rules' },
    requirement: 'Unknown frame types are errors.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [], { rawPayload: rawFrameBytes(0x21, 0x01, 0x02) });
      return expectClose(p, Code.FRAME_ENCODING_ERROR, 'frame type 0x21');
    },
  },
  {
    id: 'wire/common-rules/2',
    spec: { file: 'wire.md', section: 'Common rules' },
    requirement: 'Frame type must be minimally encoded.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [], { rawPayload: rawFrameBytes(0x40, 0x01) });
      return expectClose(p, Code.FRAME_ENCODING_ERROR, 'PING encoded as 0x4001');
    },
  },
  {
    id: 'wire/common-rules/3',
    spec: { file: 'wire.md', section: 'Common rules' },
    requirement: 'A length field that announces more bytes than remain is an error.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // STREAM with LEN bit, stream 0, length 60 but only 3 bytes follow (the rest of the packet is the tag).
      const w = new ByteWriter(new Uint8Array(16));
      w.u8(0x0a);
      w.varint(0);
      w.varint(60);
      w.bytes(Uint8Array.of(1, 2, 3));
      p.send('app', [], { rawPayload: w.buf.slice(0, w.pos) });
      return expectClose(p, Code.FRAME_ENCODING_ERROR, 'STREAM frame whose length runs past the payload');
    },
  },
  {
    id: 'wire/common-rules/4',
    spec: { file: 'wire.md', section: 'Common rules' },
    requirement: 'Field values above 2^53 − 1 are errors',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // MAX_DATA (0x10) of 2^53 in the 8-byte varint form: a valid varint, not a valid Petrel field.
      const over = Uint8Array.of(0x10, 0xc0, 0x20, 0, 0, 0, 0, 0, 0);
      p.send('app', [], { rawPayload: over });
      return expectClose(p, Code.FRAME_ENCODING_ERROR, 'MAX_DATA of 2^53');
    },
  },
  {
    id: 'wire/connection-close-0x1c-transport-0x1d-application/1',
    spec: { file: 'wire.md', section: 'CONNECTION_CLOSE (0x1c transport, 0x1d application)' },
    requirement: 'Only 0x1c may appear in Initial and Handshake packets.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      // The ClientHello, then an application close in the same Initial space: a frame the space forbids.
      p.flushCrypto();
      if (!(await p.waitFor(() => p.spaces.handshake.read !== null, 2000))) return fail('no ServerHello');
      p.send('initial', [{ type: 'connection_close', application: true, errorCode: 5, frameType: 0, reason: new Uint8Array(0) } as Frame]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'CONNECTION_CLOSE 0x1d in an Initial packet');
    },
  },
  {
    id: 'transport/stream-limits/4',
    spec: { file: 'transport.md', section: 'Stream limits' },
    requirement: 'a MAX_STREAMS above 2^60 is FRAME_ENCODING_ERROR',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // 2^61 in the 8-byte varint form, written by hand (the codec refuses to encode it).
      const big = Uint8Array.of(0x12, 0xe0, 0, 0, 0, 0, 0, 0, 0);
      p.send('app', [], { rawPayload: big });
      return expectClose(p, Code.FRAME_ENCODING_ERROR, 'MAX_STREAMS of 2^61');
    },
  },
];
