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
