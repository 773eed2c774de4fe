import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { connect, listen } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelStream } from '../../lib/api/index.js';
import { appendChecksum } from '../../lib/wire/datagram.js';
import { PETREL_VERSION, patchLongHeaderLength, writeLongHeader } from '../../lib/wire/packet.js';
import { expectNoLeaks, pattern, readAll, resources, sha, waitFor, within } from './helpers.js';

/** A UDP relay between one client and the server that records what the client sends. */
class Relay {
  readonly front = dgram.createSocket('udp4'); // the client talks to this
  readonly back = dgram.createSocket('udp4'); // the server sees this address
  readonly c2s: Buffer[] = [];
  private client: dgram.RemoteInfo | null = null;

  async start(serverPort: number): Promise<number> {
    await Promise.all([this.front, this.back].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
    this.front.on('message', (msg, rinfo) => {
      this.client = rinfo;
      this.c2s.push(Buffer.from(msg));
      this.back.send(msg, serverPort, '127.0.0.1');
    });
    this.back.on('message', (msg) => {
      if (this.client) this.front.send(msg, this.client.port, this.client.address);
    });
    return this.front.address().port;
  }

  close(): Promise<void> {
    return Promise.all([this.front, this.back].map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  }
}

function send(sock: dgram.Socket, data: Uint8Array, port: number): Promise<void> {
  return new Promise((resolve, reject) => sock.send(data, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

/** Runs an echo exchange on a stream and a channel; resolves true when both came back intact. */
async function exchange(c: PetrelConnection, salt: number): Promise<boolean> {
  const data = pattern(20_000, salt);
  const s = await c.openStream();
  s.end(data);
  const ch = c.channel<number>('echo');
  const reply = new Promise<number>((r) => ch.once('message', r));
  ch.send(salt);
  return (await readAll(s)).toString() === sha(data) && (await reply) === salt;
}

describe('a live server under garbage', () => {
  it('drops random, truncated, replayed and misaddressed datagrams, counts each exactly, and keeps serving', async () => {
    const base = resources();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const serverConns: PetrelConnection[] = [];
    server.on('connection', (conn) => {
      serverConns.push(conn);
      conn.on('stream', (s: PetrelStream) => void readAll(s).then((b) => s.end(sha(b))));
      const ch = conn.channel<number>('echo');
      ch.on('message', (v) => ch.send(v));
    });
    const port = server.address().port;
    const relay = new Relay();
    const relayPort = await relay.start(port);
    const proxied = await connect({ host: '127.0.0.1', port: relayPort, insecure: true });
    const direct = await Promise.all([1, 2, 3].map(() => connect({ host: '127.0.0.1', port, insecure: true })));
    await waitFor(() => serverConns.length === 4, 5000, 'server-side connections');
    const proxiedAtServer = serverConns.find((c) => c.remotePort === relay.back.address().port)!;
    expect(proxiedAtServer).toBeDefined();
    // Some recorded traffic of the proxied client, then quiet so its packet numbers stand still.
    expect(await exchange(proxied, 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));

    const attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', () => r()));
    const before = server.stats().drops;
    const connBefore = proxiedAtServer.stats().drops;
    const otherBefore = serverConns.filter((c) => c !== proxiedAtServer).map((c) => sum(c.stats().drops));

    // Clients keep working while the garbage flows.
    const traffic = Promise.all(direct.map((c, i) => exchange(c, 10 + i)));

    const shortHeader = relay.c2s.filter((d) => (d[0]! & 0x80) === 0);
    const recent = shortHeader.slice(-20);
    expect(recent.length).toBe(20);
    const counts = { random: 50, truncated: 30, replayedSamePath: 20, replayedOtherAddress: 20, unknownCid: 10, smallInitial: 10 };
    // 1. Random bytes from an unknown address: the CRC-32 trailer does not match.
    for (let i = 0; i < counts.random; i++) await send(attacker, randomBytes(20 + ((i * 97) % 1300)), port);
    // 2. Truncated copies of real datagrams: cut inside, so the trailer is gone.
    for (let i = 0; i < counts.truncated; i++) {
      const d = relay.c2s[i % relay.c2s.length]!;
      await send(attacker, d.subarray(0, 6 + ((i * 31) % (d.length - 7))), port);
    }
    // 3. Replays of the proxied client's latest packets from its own address: duplicates.
    for (const d of recent) await send(relay.back, d, port);
    // 4. The same packets from an unknown address: not the connection's path.
    for (const d of recent) await send(attacker, d, port);
    // 5. Well-formed short-header datagrams for connection ids nobody owns.
    for (let i = 0; i < counts.unknownCid; i++) {
      const b = new Uint8Array(64);
      b.set(randomBytes(60));
      b[0] = 0x40 | (b[0]! & 0x07); // short header, fixed bit, reserved bits clear
      await send(
        attacker,
        b.subarray(
          0,
          appendChecksum(b, 60, (x) => crc32(x)),
        ),
        port,
      );
    }
    // 6. Initials under 1200 bytes: never answered (no amplification), never a connection.
    for (let i = 0; i < counts.smallInitial; i++) {
      const b = new Uint8Array(200);
      const h = writeLongHeader(b, 0, {
        type: 'initial',
        version: PETREL_VERSION,
        dcid: randomBytes(8),
        scid: randomBytes(8),
        token: new Uint8Array(0),
        pnLength: 1,
        truncatedPn: 0,
      });
      patchLongHeaderLength(b, h.lengthOffset, 100 - h.pnOffset);
      await send(
        attacker,
        b.subarray(
          0,
          appendChecksum(b, 100, (x) => crc32(x)),
        ),
        port,
      );
    }
    const expected = {
      checksum: counts.random + counts.truncated,
      unknown_connection: counts.unknownCid,
      initial_too_small: counts.smallInitial,
    };
    const delta = () => {
      const now = server.stats().drops;
      const out: Record<string, number> = {};
      for (const k of new Set([...Object.keys(now), ...Object.keys(before)])) {
        const d = (now[k] ?? 0) - (before[k] ?? 0);
        if (d !== 0) out[k] = d;
      }
      return out;
    };
    const connDelta = () => {
      const now = proxiedAtServer.stats().drops;
      const out: Record<string, number> = {};
      for (const k of Object.keys(now)) if (now[k] !== (connBefore[k] ?? 0)) out[k] = now[k]! - (connBefore[k] ?? 0);
      return out;
    };
    const replays = counts.replayedSamePath + counts.replayedOtherAddress;
    await waitFor(() => sum(delta()) >= sum(expected) && sum(connDelta()) >= replays, 5000, 'drop counters');
    expect(delta()).toEqual(expected);
    // Every replay is dropped by the connection: same-path ones as duplicates; those from the attacker's address
    // as duplicates too (the core authenticates before it looks at the path) or as an unknown path.
    const cd = connDelta();
    expect(Object.keys(cd).filter((k) => k !== 'duplicate' && k !== 'unknown_path')).toEqual([]);
    expect(sum(cd)).toBe(replays);
    expect(cd.duplicate).toBeGreaterThanOrEqual(counts.replayedSamePath);
    // Replays from another address never move the connection there.
    expect(proxiedAtServer.core.remote).toEqual({ host: '127.0.0.1', port: relay.back.address().port });
    expect(server.stats().connectionsAccepted).toBe(4);

    // The clients were not disturbed.
    expect(await within(traffic, 20_000, 'client traffic')).toEqual([true, true, true]);
    expect(await exchange(proxied, 2)).toBe(true);
    expect([proxied, ...direct].every((c) => c.isOpen)).toBe(true);
    expect(serverConns.filter((c) => c !== proxiedAtServer).map((c) => sum(c.stats().drops))).toEqual(otherBefore);
    for (const c of [proxied, ...direct]) expect(c.stats().drops).toEqual({});

    await Promise.all([proxied, ...direct].map((c) => c.close()));
    await server.close();
    await relay.close();
    await new Promise<void>((r) => attacker.close(() => r()));
    await expectNoLeaks(base);
  });
});
