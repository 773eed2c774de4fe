/**
 * ws-style hostile input to a live Connection through its public sans-IO surface (handleDatagram): each case
 * is one crafted packet from a connected peer (sealed with its real 1-RTT key) or a first Initial (sealed with
 * the public Initial keys), and the exact transport error code the server closes with.
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import { TransportErrorCode as E } from '../../lib/errors.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { sealedInitial, sealedShort } from '../../tools/attack/craft.js';
import { Net, SERVER, connectedPair, env, serverConfig, serverCrypto } from './harness.js';

const crc = (d: Uint8Array): number => crc32(d);
const cid = (b: number): Uint8Array => new Uint8Array(8).fill(b);
const token = (b: number): Uint8Array => new Uint8Array(16).fill(b);

/** Sends 1-RTT packets with these frames from the connected client; returns the server's close code. */
function closeCodeAfter(packets: Array<{ frames?: Frame[]; raw?: Uint8Array }>): number | null {
  const p = connectedPair();
  let pn = 1 << 20;
  for (const pk of packets) {
    p.net.inject(
      sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames: pk.frames ?? [], raw: pk.raw }, crc),
      p.net.addrOf(p.client.ep),
    );
    p.net.run();
  }
  return p.net.closedInfo(p.server, p.serverConn)?.errorCode ?? null;
}

describe('hostile frames in 1-RTT packets: one per transport error code', () => {
  it('FLOW_CONTROL_ERROR: stream data past the stream window', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'stream', streamId: 0, offset: 256 * 1024, data: new Uint8Array(1), fin: false }] }])).toBe(
      E.FLOW_CONTROL_ERROR,
    );
  });
  it('FLOW_CONTROL_ERROR: RESET_STREAM final size past the window', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 10_000_000 }] }])).toBe(E.FLOW_CONTROL_ERROR);
  });
  it('STREAM_LIMIT_ERROR: a client stream beyond max_streams', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'stream', streamId: 4 * 100, offset: 0, data: new Uint8Array(1), fin: false }] }])).toBe(
      E.STREAM_LIMIT_ERROR,
    );
  });
  it("STREAM_STATE_ERROR: data on the server's own unidirectional stream", () => {
    expect(closeCodeAfter([{ frames: [{ type: 'stream', streamId: 3, offset: 0, data: new Uint8Array(1), fin: false }] }])).toBe(
      E.STREAM_STATE_ERROR,
    );
  });
  it('STREAM_STATE_ERROR: MAX_STREAM_DATA for a server stream never opened', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'max_stream_data', streamId: 1, maximum: 100 }] }])).toBe(E.STREAM_STATE_ERROR);
  });
  it('FINAL_SIZE_ERROR: data past an earlier FIN', () => {
    expect(
      closeCodeAfter([
        { frames: [{ type: 'stream', streamId: 0, offset: 0, data: new Uint8Array(10), fin: true }] },
        { frames: [{ type: 'stream', streamId: 0, offset: 10, data: new Uint8Array(10), fin: false }] },
      ]),
    ).toBe(E.FINAL_SIZE_ERROR);
  });
  it('FRAME_ENCODING_ERROR: a STREAM frame whose length runs past the packet', () => {
    // type 0x0a (OFF=0, LEN=1, FIN=0), stream 0, length 1000, then 3 bytes.
    expect(closeCodeAfter([{ raw: Uint8Array.of(0x0a, 0x00, 0x43, 0xe8, 1, 2, 3) }])).toBe(E.FRAME_ENCODING_ERROR);
  });
  it('FRAME_ENCODING_ERROR: MAX_STREAMS above 2^60', () => {
    expect(closeCodeAfter([{ raw: Uint8Array.of(0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1) }])).toBe(E.FRAME_ENCODING_ERROR);
  });
  it('PROTOCOL_VIOLATION: HANDSHAKE_DONE and NEW_TOKEN from a client', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'handshake_done' }] }])).toBe(E.PROTOCOL_VIOLATION);
    expect(closeCodeAfter([{ frames: [{ type: 'new_token', token: Uint8Array.of(1, 2, 3) }] }])).toBe(E.PROTOCOL_VIOLATION);
  });
  it('PROTOCOL_VIOLATION: an ACK of a packet number never sent', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'ack', ranges: [{ largest: 1_000_000, smallest: 999_990 }], ackDelay: 0 }] }])).toBe(
      E.PROTOCOL_VIOLATION,
    );
  });
  it('PROTOCOL_VIOLATION: too many fragments in one stream (reassembly bound)', () => {
    const packets = [];
    for (let k = 0; k < 40; k++) {
      const frames: Frame[] = [];
      for (let j = 0; j < 110; j++) {
        const off = 1 + 2 * (k * 110 + j);
        frames.push({ type: 'stream', streamId: 0, offset: off, data: Uint8Array.of(1), fin: false });
      }
      packets.push({ frames });
    }
    expect(closeCodeAfter(packets)).toBe(E.PROTOCOL_VIOLATION);
  });
  it('CONNECTION_ID_LIMIT_ERROR: more active ids than active_connection_id_limit', () => {
    // Sequences above the ids the client already issued (1..3), all active: 1 + 3 + 5 > 4.
    const frames: Frame[] = [10, 11, 12, 13, 14].map((s) => ({
      type: 'new_connection_id',
      sequence: s,
      retirePriorTo: 0,
      connectionId: cid(s),
      resetToken: token(s),
    }));
    expect(closeCodeAfter([{ frames }])).toBe(E.CONNECTION_ID_LIMIT_ERROR);
  });
  it('CRYPTO_BUFFER_EXCEEDED: CRYPTO data more than 64 KiB ahead', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'crypto', offset: 70_000, data: new Uint8Array(10) }] }])).toBe(E.CRYPTO_BUFFER_EXCEEDED);
  });
  it('DATAGRAM larger than max_datagram_frame_size is a PROTOCOL_VIOLATION', () => {
    expect(closeCodeAfter([{ frames: [{ type: 'datagram', data: new Uint8Array(1480) }] }])).toBe(E.PROTOCOL_VIOLATION);
  });
});

describe('frames not allowed in Initial packets close a fresh server connection with PROTOCOL_VIOLATION', () => {
  const forbidden: Frame[] = [
    { type: 'stream', streamId: 0, offset: 0, data: new Uint8Array(4), fin: false },
    { type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 0 },
    { type: 'stop_sending', streamId: 0, errorCode: 0 },
    { type: 'new_token', token: Uint8Array.of(1) },
    { type: 'max_data', maximum: 10 },
    { type: 'max_stream_data', streamId: 0, maximum: 10 },
    { type: 'max_streams', bidi: true, maximum: 10 },
    { type: 'data_blocked', limit: 10 },
    { type: 'stream_data_blocked', streamId: 0, limit: 10 },
    { type: 'streams_blocked', bidi: true, limit: 10 },
    { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: cid(1), resetToken: token(1) },
    { type: 'retire_connection_id', sequence: 0 },
    { type: 'path_challenge', data: new Uint8Array(8) },
    { type: 'path_response', data: new Uint8Array(8) },
    { type: 'connection_close', application: true, errorCode: 1, frameType: 0, reason: new Uint8Array(0) },
    { type: 'handshake_done' },
    { type: 'datagram', data: new Uint8Array(5) },
    { type: 'immediate_ack' },
    { type: 'ack_frequency', sequence: 0, ackElicitingThreshold: 1, requestMaxAckDelay: 25_000, reorderingThreshold: 1 },
  ];
  for (const f of forbidden) {
    it(f.type + (f.type === 'connection_close' ? ' (application)' : ''), () => {
      const net = new Net();
      const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig() }));
      const dcid = cid(0x42);
      const { write } = serverCrypto.initialProtectors(dcid, true);
      const from = { host: '198.51.100.30', port: 7000 };
      net.inject(sealedInitial({ write, dcid, scid: cid(0x24), pn: 0, frames: [f] }, crc), from);
      net.run();
      const conn = [...server.connections()][0];
      expect(conn).toBeDefined();
      expect(net.closedInfo(server, conn!)?.errorCode).toBe(E.PROTOCOL_VIOLATION);
      expect(net.sentTo.get('198.51.100.30|7000') ?? 0).toBeLessThanOrEqual(3 * net.receivedFrom.get('198.51.100.30|7000')!);
    });
  }
});
