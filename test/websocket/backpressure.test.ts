/**
 * The carrier driver under backpressure, with two CarrierEndpoints joined by in-memory links: while the link is
 * full nothing is pulled from the core; datagrams wait in the core's bounded queue, which drops its oldest
 * (counted), and stream data waits whole — after the link drains the stream arrives intact and in order, and
 * only the newest datagrams are delivered. Nothing unreliable is ever reordered into reliable data.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../lib/connection/connection.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { EndpointEvent } from '../../lib/endpoint/endpoint.js';
import { CarrierEndpoint, reliableCarrierOptions, type DatagramLink } from '../../lib/transport/carrier.js';
import { pattern, sha, waitFor } from '../api/helpers.js';

const env = { randomFill: (b: Uint8Array) => b.set(nodeCryptoProvider.randomBytes(b.length)), crc32: (d: Uint8Array) => crc32(d) };

class MemoryLink implements DatagramLink {
  buffered = 0;
  sent = 0;
  peer: CarrierEndpoint | null = null;
  private drained: (() => void) | null = null;
  send(d: Uint8Array): void {
    this.sent++;
    setImmediate(() => this.peer?.receive(d));
  }
  onceDrained(_low: number, cb: () => void): void {
    this.drained = cb;
  }
  close(): void {}
  /** The network took everything. */
  drain(): void {
    this.buffered = 0;
    const cb = this.drained;
    this.drained = null;
    cb?.();
  }
}

describe('carrier backpressure', () => {
  it('a full link stops output; datagrams drop oldest-first in the core, stream data arrives whole after the drain', async () => {
    const cLink = new MemoryLink();
    const sLink = new MemoryLink();
    const serverEvents: EndpointEvent[] = [];
    let serverConn: Connection | null = null;
    const server = new CarrierEndpoint(
      sLink,
      { onEvent: (ev) => (ev.kind === 'accept' ? (serverConn = ev.connection) : serverEvents.push(ev)) },
      {
        env,
        peer: { host: 'client', port: 1 },
        server: { crypto: insecureCrypto, options: reliableCarrierOptions({}) },
      },
    );
    let connected = false;
    const client = new CarrierEndpoint(
      cLink,
      { onEvent: (ev) => void (ev.kind === 'connection' && ev.event.type === 'connected' && (connected = true)) },
      { env, peer: { host: 'server', port: 2 } },
    );
    cLink.peer = server;
    sLink.peer = client;
    const conn = client.connect({
      remote: { host: 'server', port: 2 },
      crypto: insecureCrypto,
      options: reliableCarrierOptions({ datagramQueueLength: 8 }),
    });
    await waitFor(() => connected && serverConn !== null, 5000, 'handshake');
    await new Promise((r) => setTimeout(r, 20)); // let handshake stragglers (ACKs, HANDSHAKE_DONE) settle

    // The link is full: the driver must not pull anything from the core.
    cLink.buffered = 10 * 1024 * 1024;
    const sentBefore = cLink.sent;
    for (let i = 0; i < 100; i++) conn.sendDatagram(Uint8Array.of(i, 0xdd));
    const data = pattern(200_000, 21);
    const sid = conn.openStream(true)!;
    conn.streamWrite(sid, data, true);
    client.kick();
    await new Promise((r) => setTimeout(r, 50));
    expect(cLink.sent - sentBefore).toBe(0);
    expect(client.stats().backpressureStalls).toBeGreaterThan(0);
    expect(conn.stats().datagramsDropped).toBe(92);

    cLink.drain();
    const s = serverConn as unknown as Connection;
    const got: Uint8Array[] = [];
    const opened = (): boolean => serverEvents.some((e) => e.kind === 'connection' && e.event.type === 'stream_opened' && e.event.streamId === sid);
    await waitFor(
      () => {
        if (!opened()) return false; // an unknown stream counts as finished in the core
        for (let d = s.streamRead(sid); d; d = s.streamRead(sid)) got.push(d);
        return s.streamFinished(sid);
      },
      10_000,
      'stream after the drain',
    );
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    const datagrams = serverEvents.flatMap((e) => (e.kind === 'connection' && e.event.type === 'datagram' ? [e.event.data[0]!] : []));
    expect(datagrams).toEqual([92, 93, 94, 95, 96, 97, 98, 99]);
    client.close();
    server.close();
  });
});
