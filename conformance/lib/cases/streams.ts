/** Cases from spec/streams.md and transport.md §Flow control / §Stream limits. */
import type { Frame } from '../../../lib/wire/frame-types.js';
import { Code, expectClose, fail, pass, unsupported, type Case } from '../case.js';

const stream = (streamId: number, offset: number, n: number, fin = false): Frame =>
  ({ type: 'stream', streamId, offset, data: new Uint8Array(n).fill(0x61), fin }) as Frame;

export const streamCases: Case[] = [
  {
    id: 'transport/flow-control/1',
    spec: { file: 'transport.md', section: 'Flow control' },
    requirement:
      "Data beyond a stream's limit, a connection sum beyond the connection limit, or a RESET_STREAM final size beyond either, is FLOW_CONTROL_ERROR.",
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const limit = p.peerParams!.initialMaxStreamDataBidiRemote;
      p.send('app', [stream(0, limit, 1)]);
      return expectClose(p, Code.FLOW_CONTROL_ERROR, `one byte at offset ${limit} of stream 0 (limit ${limit})`);
    },
  },
  {
    id: 'transport/flow-control/2',
    spec: { file: 'transport.md', section: 'Flow control' },
    requirement:
      "Data beyond a stream's limit, a connection sum beyond the connection limit, or a RESET_STREAM final size beyond either, is FLOW_CONTROL_ERROR.",
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const pp = p.peerParams!;
      const perStream = pp.initialMaxStreamDataBidiRemote;
      const n = Math.floor(pp.initialMaxData / perStream) + 1;
      if (perStream === 0 || n > pp.initialMaxStreamsBidi) {
        return unsupported(`limits (${pp.initialMaxData}/${perStream}/${pp.initialMaxStreamsBidi}) do not allow the case`);
      }
      // The last byte of each stream's window: every stream stays inside its own limit, the sum does not.
      for (let i = 0; i < n; i++) p.send('app', [stream(4 * i, perStream - 1, 1)]);
      return expectClose(p, Code.FLOW_CONTROL_ERROR, `${n} streams each at their limit, sum ${n * perStream} > ${pp.initialMaxData}`);
    },
  },
  {
    id: 'transport/flow-control/3',
    spec: { file: 'transport.md', section: 'Flow control' },
    requirement:
      "Data beyond a stream's limit, a connection sum beyond the connection limit, or a RESET_STREAM final size beyond either, is FLOW_CONTROL_ERROR.",
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const limit = p.peerParams!.initialMaxStreamDataBidiRemote;
      p.send('app', [{ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: limit + 1000 } as Frame]);
      return expectClose(p, Code.FLOW_CONTROL_ERROR, `RESET_STREAM with final size ${limit + 1000} (limit ${limit})`);
    },
  },
  {
    id: 'transport/stream-limits/1',
    spec: { file: 'transport.md', section: 'Stream limits' },
    requirement: 'A peer frame naming a stream of index ≥ our limit is STREAM_LIMIT_ERROR.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const max = p.peerParams!.initialMaxStreamsBidi;
      p.send('app', [stream(4 * max, 0, 1)]);
      return expectClose(p, Code.STREAM_LIMIT_ERROR, `STREAM on client bidi stream index ${max} (limit ${max})`);
    },
  },
  {
    id: 'transport/stream-limits/2',
    spec: { file: 'transport.md', section: 'Stream limits' },
    requirement: 'A frame for one of our streams that was never opened is STREAM_STATE_ERROR',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Stream 4001 is the server's bidirectional stream of index 1000, which it has not opened.
      p.send('app', [{ type: 'max_stream_data', streamId: 4001, maximum: 100_000 } as Frame]);
      return expectClose(p, Code.STREAM_STATE_ERROR, 'MAX_STREAM_DATA for server stream 4001, never opened');
    },
  },
  {
    id: 'transport/stream-limits/3',
    spec: { file: 'transport.md', section: 'Stream limits' },
    requirement: 'a frame in the wrong direction on a unidirectional stream',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Stream 2 is the client's first unidirectional stream: the server can only receive on it.
      p.send('app', [stream(2, 0, 3)]);
      await p.waitAny(50);
      p.send('app', [{ type: 'stop_sending', streamId: 2, errorCode: 0 } as Frame]);
      return expectClose(p, Code.STREAM_STATE_ERROR, "STOP_SENDING on the client's own unidirectional stream");
    },
  },
  {
    id: 'streams/final-size/1',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement: 'a STREAM frame carries bytes at or beyond the known final size (end offset > final size)',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // One packet: the application cannot read (and retire) the stream between the two frames.
      p.send('app', [stream(8, 0, 10, true), stream(8, 10, 5)]);
      return expectClose(p, Code.FINAL_SIZE_ERROR, 'data past a FIN at 10');
    },
  },
  {
    id: 'streams/final-size/2',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement: "a RESET_STREAM's Final Size differs from a final size already known",
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [stream(12, 0, 10, true), { type: 'reset_stream', streamId: 12, errorCode: 7, finalSize: 6 } as Frame]);
      return expectClose(p, Code.FINAL_SIZE_ERROR, 'RESET_STREAM final size 6 after a FIN at 10');
    },
  },
  {
    id: 'streams/final-size/3',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement: 'a FIN arrives whose end offset is below the highest byte offset already received on the stream',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [stream(16, 100, 20), stream(16, 0, 50, true)]);
      return expectClose(p, Code.FINAL_SIZE_ERROR, 'FIN at 50 after bytes up to 120');
    },
  },
  {
    id: 'streams/final-size/5',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement: 'a FIN arrives whose end offset differs from the known final size',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [stream(28, 0, 10, true), stream(28, 0, 8, true)]);
      return expectClose(p, Code.FINAL_SIZE_ERROR, 'a second FIN at 8 after a FIN at 10');
    },
  },
  {
    id: 'streams/final-size/6',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement: "a RESET_STREAM's Final Size is below the highest byte offset already received.",
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [stream(32, 0, 20), { type: 'reset_stream', streamId: 32, errorCode: 3, finalSize: 10 } as Frame]);
      return expectClose(p, Code.FINAL_SIZE_ERROR, 'RESET_STREAM final size 10 after bytes up to 20');
    },
  },
  {
    id: 'transport/stream-limits/5',
    spec: { file: 'transport.md', section: 'Stream limits' },
    requirement: 'STOP_SENDING from the peer emits `stream_stop_sending` and answers with RESET_STREAM carrying the same error code',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Open client bidi stream 36 with a few bytes (no FIN), then ask the server to stop sending on it.
      p.send('app', [stream(36, 0, 5)]);
      await p.waitAny(50);
      const mark = p.mark();
      p.send('app', [{ type: 'stop_sending', streamId: 36, errorCode: 0x77 } as Frame]);
      const reset = (): Extract<Frame, { type: 'reset_stream' }> | undefined =>
        p
          .since(mark)
          .flatMap((d) => d.packets.flatMap((k) => k.frames ?? []))
          .find((f): f is Extract<Frame, { type: 'reset_stream' }> => f.type === 'reset_stream' && f.streamId === 36);
      await p.waitFor(() => reset() !== undefined || p.peerClose !== null, 1500);
      const r = reset();
      if (!r) {
        return fail(p.peerClose ? `closed with 0x${p.peerClose.errorCode.toString(16)} instead` : 'no RESET_STREAM for stream 36 within 1500 ms');
      }
      if (r.errorCode !== 0x77) return fail(`RESET_STREAM carries 0x${r.errorCode.toString(16)}, expected 0x77`);
      return pass('STOP_SENDING(0x77) on stream 36 answered with RESET_STREAM(0x77)');
    },
  },
  {
    id: 'transport/ack-frequency-and-immediate-ack-what-we-accept/1',
    spec: { file: 'transport.md', section: 'ACK_FREQUENCY and IMMEDIATE_ACK: what we accept' },
    requirement:
      'ACK_FREQUENCY when we did not announce `min_ack_delay` is a PROTOCOL_VIOLATION; so is a `request_max_ack_delay` below our `min_ack_delay` (1000 µs).',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const min = p.peerParams!.minAckDelay;
      // Without min_ack_delay any ACK_FREQUENCY is a violation; with it, one asking for less than it.
      const ask = min === undefined ? 25_000 : Math.max(0, min - 1);
      p.send('app', [{ type: 'ack_frequency', sequence: 1, ackElicitingThreshold: 1, requestMaxAckDelay: ask, reorderingThreshold: 1 } as Frame]);
      const what = min === undefined ? 'ACK_FREQUENCY without min_ack_delay announced' : `ACK_FREQUENCY asking ${ask} µs (min_ack_delay ${min} µs)`;
      return expectClose(p, Code.PROTOCOL_VIOLATION, what);
    },
  },
  {
    id: 'streams/final-size/4',
    spec: { file: 'streams.md', section: 'Final size' },
    requirement:
      'Repeating a FIN at the same final size, a zero-length FIN frame exactly at the highest offset received, late data inside the final size, and a repeated RESET_STREAM with the same final size are all fine.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [stream(20, 0, 10, true)]);
      p.send('app', [stream(20, 0, 10, true)]);
      p.send('app', [stream(20, 10, 0, true)]);
      p.send('app', [stream(20, 2, 3)]);
      p.send('app', [{ type: 'reset_stream', streamId: 24, errorCode: 1, finalSize: 9 } as Frame]);
      p.send('app', [{ type: 'reset_stream', streamId: 24, errorCode: 1, finalSize: 9 } as Frame]);
      const closed = await p.waitClose(700);
      if (closed) return fail(`closed with 0x${closed.errorCode.toString(16)} after allowed repetitions`);
      const mark = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const alive = await p.waitFor(() => p.datagrams.length > mark, 1000);
      return alive
        ? pass('repeated FIN, empty FIN at the end, late data and a repeated RESET_STREAM were accepted')
        : fail('no answer after the allowed repetitions');
    },
  },
  {
    id: 'transport/datagrams/1',
    spec: { file: 'transport.md', section: 'Datagrams' },
    requirement: 'A received DATAGRAM whose data is longer than our maxDatagramFrameSize, or any DATAGRAM when that is 0, is a PROTOCOL_VIOLATION.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const max = p.peerParams!.maxDatagramFrameSize;
      if (max === 0) {
        p.send('app', [{ type: 'datagram', data: new Uint8Array(10) } as Frame]);
        return expectClose(p, Code.PROTOCOL_VIOLATION, 'DATAGRAM to a peer that accepts none');
      }
      if (max > 1300) return unsupported(`max_datagram_frame_size ${max}: no datagram that fits a packet exceeds it`);
      p.send('app', [{ type: 'datagram', data: new Uint8Array(max + 1) } as Frame]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, `DATAGRAM of ${max + 1} bytes (limit ${max})`);
    },
  },
];
