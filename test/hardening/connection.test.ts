/**
 * Hardening inside the connection (issue 11), through the public sans-IO API: a small CRYPTO window before the
 * ClientHello is complete, PATH_CHALLENGE answers within 3× of what the challenging address sent, no throw out
 * of pollTransmit whatever the room, no address change from a forgeable Initial, client Retry handling, and
 * NEW_CONNECTION_IDs retired on arrival registering nothing.
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import { TransportErrorCode as E } from '../../lib/errors.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { sealedInitial, sealedShort } from '../../tools/attack/craft.js';
import { Net, SERVER, connectedPair, env, serverConfig, serverCrypto } from './harness.js';

const crc = (d: Uint8Array): number => crc32(d);

describe('connection hardening', () => {
  it('crypto-frag: 1-byte CRYPTO fragments in spoofed Initials close the half-open connection with CRYPTO_BUFFER_EXCEEDED within 3× replies', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig() }));
    const dcid = new Uint8Array(8).fill(0x31);
    const { write } = serverCrypto.initialProtectors(dcid, true);
    const from = { host: '198.51.100.40', port: 4000 };
    let off = 1;
    let datagrams = 0;
    for (let pn = 0; pn < 200; pn++) {
      const frames: Frame[] = [];
      for (let k = 0; k < 150; k++, off += 2) frames.push({ type: 'crypto', offset: off, data: Uint8Array.of(0x16) });
      net.inject(sealedInitial({ write, dcid, scid: new Uint8Array(8).fill(2), pn, frames }, crc), from);
      datagrams++;
      net.run();
      const conn = [...server.connections()][0];
      if (conn && net.closedInfo(server, conn)) break;
    }
    const conn = [...server.connections()][0] ?? null;
    const info = conn
      ? net.closedInfo(server, conn)
      : (
          net.events.get(server)!.find((e) => e.kind === 'connection' && e.event.type === 'closed') as
            { event: { info: { errorCode: number } } } | undefined
        )?.event.info;
    expect(info?.errorCode).toBe(E.CRYPTO_BUFFER_EXCEEDED);
    // A ClientHello fits in 4 KiB: past that the connection ends, long before 187 datagrams.
    expect(datagrams).toBeLessThanOrEqual(16);
    expect(net.sentTo.get('198.51.100.40|4000') ?? 0).toBeLessThanOrEqual(3 * net.receivedFrom.get('198.51.100.40|4000')!);
  });

  it('path-challenge: a spoofed address gets at most 3× what it sent, however many challenges', () => {
    const p = connectedPair();
    const spoof = { host: '203.0.113.99', port: 31337 };
    let pn = 1 << 20;
    for (let i = 0; i < 200; i++) {
      const data = new Uint8Array(8).fill(i & 255);
      p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames: [{ type: 'path_challenge', data }] }, crc), spoof);
      p.net.run();
    }
    const sent = p.net.sentTo.get('203.0.113.99|31337') ?? 0;
    const received = p.net.receivedFrom.get('203.0.113.99|31337')!;
    expect(sent).toBeLessThanOrEqual(3 * received);
    expect(sent).toBeGreaterThan(0); // still answered, within the budget
    expect(p.net.closedInfo(p.server, p.serverConn)).toBeNull();
  });

  it('pollTransmit never throws, whatever room is left, with a stream owing every control frame', () => {
    for (let size = 24; size <= 160; size++) {
      const p = connectedPair();
      const c = p.client.conn;
      const id = c.openStream()!;
      c.streamWrite(id, new Uint8Array(3000));
      p.net.run();
      c.streamReset(id, 2 ** 53 - 1);
      c.streamStopSending(id, 2 ** 53 - 1);
      const buf = new Uint8Array(size);
      for (let k = 0; k < 8; k++) expect(() => c.pollTransmit(p.net.now, buf)).not.toThrow();
      // And with room again everything owed still goes out and the peer sees the reset.
      p.net.advance(100, 5);
      expect(p.net.closedInfo(p.client.ep, c)).toBeNull();
    }
  });

  it('before confirmation a forged Initial from another address gets that address only 3× its own bytes', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig() }));
    const honest = net.client({ host: '198.51.100.50', port: 5050 });
    // Deliver only the client's first datagram (the server then has 3 × 1200 bytes of budget), then a small
    // forged Initial (public keys) from a victim's address.
    const buf = new Uint8Array(2048);
    const first = honest.ep.pollTransmit(0, buf)!;
    const hello = buf.slice(0, first.length);
    net.inject(hello, { host: '198.51.100.50', port: 5050 });
    const conn = [...server.connections()][0]!;
    const dcidLen = hello[5]!;
    const dcid = hello.slice(6, 6 + dcidLen);
    const scid = hello.slice(7 + dcidLen, 7 + dcidLen + hello[6 + dcidLen]!);
    const { write } = serverCrypto.initialProtectors(dcid, true);
    const victim = { host: '203.0.113.66', port: 6666 };
    net.inject(sealedInitial({ write, dcid, scid, pn: 1, frames: [{ type: 'ping' }], padTo: 100 }, crc), victim);
    net.advance(3000, 10);
    // The server may follow (a real NAT rebinding must not deadlock the handshake), but the honest client's
    // bytes are not reflected to the victim: it gets at most 3× what came from its own address.
    expect(net.sentTo.get('203.0.113.66|6666') ?? 0).toBeLessThanOrEqual(3 * net.receivedFrom.get('203.0.113.66|6666')!);
    expect(conn.stats().bytesSent).toBeGreaterThan(0);
  });

  it('Retry: a client echoes the token, checks retry_source_connection_id, and connects; the server held nothing before', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig({ retry: 'always' }, () => Date.now()) }));
    const honest = net.client({ host: '198.51.100.60', port: 6060 });
    net.advance(300, 5);
    expect(net.connected(honest.ep, honest.conn)).toBe(true);
    expect(server.stats().retriesSent).toBe(1);
    expect(server.stats().connectionsAccepted).toBe(1);
    expect(server.stats().connectionsHalfOpen).toBe(0);
  });

  it('Retry: a forged tag, a second Retry and a Retry after the server answered are all dropped by the client', () => {
    const net = new Net();
    const server = net.add(SERVER, new Endpoint({ env: env(), server: serverConfig({ retry: 'always' }, () => Date.now()) }));
    const c = net.client({ host: '198.51.100.61', port: 6061 });
    const buf = new Uint8Array(2048);
    const t = c.ep.pollTransmit(0, buf)!;
    const hello = buf.slice(0, t.length);
    net.inject(hello, { host: '198.51.100.61', port: 6061 });
    // Capture the server's Retry instead of delivering it.
    const out = server.pollTransmit(0, buf)!;
    const retry = buf.slice(0, out.length);
    const forged = retry.slice();
    forged[out.length - 5]! ^= 1; // last tag byte
    const fixCrc = (d: Uint8Array): Uint8Array => {
      const v = crc32(d.subarray(0, d.length - 4));
      new DataView(d.buffer, d.byteOffset).setUint32(d.length - 4, v >>> 0);
      return d;
    };
    c.ep.handleDatagram(fixCrc(forged), SERVER, 0);
    expect(c.conn.stats().drops.retry_invalid).toBe(1);
    c.ep.handleDatagram(retry.slice(), SERVER, 0);
    c.ep.handleDatagram(retry.slice(), SERVER, 0);
    expect(c.conn.stats().drops.retry_unexpected).toBe(1);
    net.advance(300, 5);
    expect(net.connected(c.ep, c.conn)).toBe(true);
  });

  it('NEW_CONNECTION_IDs below retire_prior_to: no token reported, and the RETIRE backlog is bounded (CONNECTION_ID_LIMIT_ERROR)', () => {
    const p = connectedPair();
    let pn = 1 << 20;
    const from = p.net.addrOf(p.client.ep);
    const frame = (seq: number, rpt: number): Frame => ({
      type: 'new_connection_id',
      sequence: seq,
      retirePriorTo: rpt,
      connectionId: new Uint8Array(8).fill(seq & 255),
      resetToken: new Uint8Array(16).fill(seq & 255),
    });
    p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames: [frame(1000, 1000)] }, crc), from);
    p.net.run();
    // One packet at a time: each is answered with its RETIREs (the backlog stays below the bound) and
    // registers no token.
    for (let k = 0; k < 10; k++) {
      const frames: Frame[] = [];
      for (let j = 0; j < 30; j++) frames.push(frame(10 + k * 30 + j, 0));
      p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames }, crc), from);
      p.net.run();
    }
    expect(p.net.closedInfo(p.server, p.serverConn)).toBeNull();
    expect(p.server.resetTokenCount).toBe(1);
    expect(p.serverConn.peerResetTokens().length).toBe(1);
    // Two packets before we can answer: 60 RETIREs owed is past the bound.
    for (let k = 10; k < 12; k++) {
      const frames: Frame[] = [];
      for (let j = 0; j < 30; j++) frames.push(frame(10 + k * 30 + j, 0));
      p.net.inject(sealedShort({ write: p.write, dcid: p.client.conn.remoteCid, pn: pn++, frames }, crc), from);
    }
    p.net.run();
    expect(p.net.closedInfo(p.server, p.serverConn)?.errorCode).toBe(E.CONNECTION_ID_LIMIT_ERROR);
  });
});
