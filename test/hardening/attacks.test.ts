/**
 * The post-handshake attacks of issue 11, rebuilt against a server that also serves an honest client: the
 * attacked connection ends with the stated code (or the attack is absorbed) within a stated bound, and the
 * honest client's transfer completes intact meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Connection } from '../../lib/connection/connection.js';
import { TransportErrorCode as E } from '../../lib/errors.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { sealedShort } from '../../tools/attack/craft.js';
import { connectedPair } from './harness.js';

const crc = (d: Uint8Array): number => crc32(d);

/** Sends `size` pattern bytes from the honest client on a new stream; returns a function that checks delivery. */
function startTransfer(
  p: ReturnType<typeof connectedPair>,
  honest: ReturnType<ReturnType<typeof connectedPair>['net']['client']>,
  size: number,
): () => { got: number; ok: boolean } {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) & 0xff;
  const want = createHash('sha256').update(data).digest('hex');
  const id = honest.conn.openStream()!;
  honest.conn.streamWrite(id, data, true);
  const h = createHash('sha256');
  let got = 0;
  let serverSide: Connection | undefined;
  return () => {
    serverSide ??= [...p.server.connections()].find((c) => c.remote.host === p.net.addrOf(honest.ep).host);
    if (serverSide) {
      for (let chunk = serverSide.streamRead(id); chunk; chunk = serverSide.streamRead(id)) {
        h.update(chunk);
        got += chunk.length;
      }
    }
    return { got, ok: got === size && h.copy().digest('hex') === want };
  };
}

describe('post-handshake attacks with an honest client alongside', () => {
  it('stream-frag: 1-byte gapped STREAM frames stop at 4096 fragments with PROTOCOL_VIOLATION; the honest transfer completes', () => {
    const p = connectedPair();
    const honest = p.net.client({ host: '203.0.113.50', port: 9000 });
    p.net.advance(100, 5);
    const check = startTransfer(p, honest, 2 * 1024 * 1024);
    let pn = 1 << 20;
    let sentFrames = 0;
    const from = p.net.addrOf(p.client.ep);
    // ~4 MB of offsets at every other byte, as in the issue: the bound ends it long before.
    for (let k = 0; k < 20_000 && !p.net.closedInfo(p.server, p.serverConn); k++) {
      const frames: Frame[] = [];
      for (let j = 0; j < 110; j++, sentFrames++) {
        frames.push({ type: 'stream', streamId: 0, offset: 1 + 2 * sentFrames, data: Uint8Array.of(0x61), fin: false });
      }
      p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames }, crc), from);
      p.net.advance(1, 1);
    }
    expect(p.net.closedInfo(p.server, p.serverConn)?.errorCode).toBe(E.PROTOCOL_VIOLATION);
    expect(sentFrames).toBeLessThanOrEqual(4096 + 110);
    for (let i = 0; i < 400 && !check().ok; i++) p.net.advance(10, 2);
    expect(check()).toEqual({ got: 2 * 1024 * 1024, ok: true });
  });

  it('cid-flood: NEW_CONNECTION_IDs below an earlier retire_prior_to leave no reset-token entries', () => {
    const p = connectedPair();
    const from = p.net.addrOf(p.client.ep);
    let pn = 1 << 20;
    const tok = (n: number): Uint8Array => {
      const t = new Uint8Array(16);
      new DataView(t.buffer).setUint32(0, n);
      t[15] = 0xee;
      return t;
    };
    const cid = (n: number): Uint8Array => {
      const c = new Uint8Array(8);
      new DataView(c.buffer).setUint32(0, n);
      c[7] = 0xcc;
      return c;
    };
    const top = 200_000;
    p.net.inject(
      sealedShort(
        {
          write: p.write,
          dcid: p.client.conn.remoteCid,
          pn: pn++,
          frames: [{ type: 'new_connection_id', sequence: top, retirePriorTo: top, connectionId: cid(top), resetToken: tok(top) }],
        },
        crc,
      ),
      from,
    );
    p.net.run();
    let seq = 10;
    for (let k = 0; k < 1000; k++) {
      const frames: Frame[] = [];
      for (let j = 0; j < 30; j++, seq++) {
        frames.push({ type: 'new_connection_id', sequence: seq, retirePriorTo: 0, connectionId: cid(seq), resetToken: tok(seq) });
      }
      p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames }, crc), from);
    }
    p.net.run();
    expect(seq - 10).toBe(30_000);
    // At most the active ids' tokens (active_connection_id_limit 4, plus the server's own handshake token on the client side).
    expect(p.server.resetTokenCount).toBeLessThanOrEqual(5);
  });

  it('a connection that throws closes alone with INTERNAL_ERROR (counted); the honest transfer completes', () => {
    const p = connectedPair();
    const honest = p.net.client({ host: '203.0.113.60', port: 9100 });
    p.net.advance(100, 5);
    const check = startTransfer(p, honest, 512 * 1024);
    const victim = p.serverConn;
    const real = victim.pollTransmit.bind(victim);
    let armed = true;
    victim.pollTransmit = (now, buf) => {
      if (armed) {
        armed = false;
        throw new Error('injected bug');
      }
      return real(now, buf);
    };
    // The victim has something to send: the attacker's client pings it.
    p.client.conn.openStream();
    p.client.conn.sendDatagram(Uint8Array.of(1, 2, 3));
    p.net.advance(50, 5);
    expect(p.server.stats().internalErrors).toBe(1);
    expect(p.net.closedInfo(p.server, victim)?.errorCode).toBe(E.INTERNAL_ERROR);
    for (let i = 0; i < 400 && !check().ok; i++) p.net.advance(10, 2);
    expect(check().ok).toBe(true);
    // The endpoint sent the victim's CONNECTION_CLOSE, so the client learns the code too.
    p.net.advance(100, 5);
    expect(p.net.closedInfo(p.client.ep, p.client.conn)?.errorCode).toBe(E.INTERNAL_ERROR);
  });
});

describe('per-connection fragment budget', () => {
  it('fragments spread over many streams stop at the connection budget (16384) with PROTOCOL_VIOLATION', () => {
    const p = connectedPair();
    let pn = 1 << 20;
    const from = p.net.addrOf(p.client.ep);
    let sent = 0;
    // 3000 fragments on each of 8 streams: every stream stays under its own 4096, the total does not.
    for (let stream = 0; stream < 8 && !p.net.closedInfo(p.server, p.serverConn); stream++) {
      for (let k = 0; k < 3000 / 100 && !p.net.closedInfo(p.server, p.serverConn); k++) {
        const frames: Frame[] = [];
        for (let j = 0; j < 100; j++, sent++) {
          frames.push({ type: 'stream', streamId: stream * 4, offset: 1 + 2 * (k * 100 + j), data: Uint8Array.of(1), fin: false });
        }
        p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames }, crc), from);
        p.net.run();
      }
    }
    expect(p.net.closedInfo(p.server, p.serverConn)?.errorCode).toBe(E.PROTOCOL_VIOLATION);
    expect(sent).toBeGreaterThan(16_384);
    expect(sent).toBeLessThanOrEqual(16_384 + 100);
  });
});
