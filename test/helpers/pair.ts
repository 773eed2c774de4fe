/**
 * A minimal lossless driver for two sans-IO endpoints under a virtual clock (the full simulator with
 * impairments lives in lib/sim). Delivery is instantaneous plus `latency` ms each way; a `drop`
 * filter lets a test remove chosen datagrams.
 */
import { crc32 } from 'node:zlib';
import { xoroshiro128plus, unsafeUniformIntDistribution } from 'pure-rand';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';

export function seededEnv(seed: number): CoreEnv {
  const rng = xoroshiro128plus(seed);
  return {
    randomFill(out: Uint8Array) {
      for (let i = 0; i < out.length; i++) out[i] = unsafeUniformIntDistribution(0, 255, rng);
    },
    crc32: (d: Uint8Array) => crc32(d),
  };
}

interface InFlight {
  at: number;
  seq: number;
  data: Uint8Array;
  from: PeerAddress;
  to: 'client' | 'server';
}

export class Pair {
  now = 0;
  readonly clientAddr: PeerAddress = { host: '10.0.0.1', port: 5000 };
  readonly serverAddr: PeerAddress = { host: '10.0.0.2', port: 4433 };
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly clientConn: Connection;
  serverConn: Connection | null = null;
  readonly clientEvents: EndpointEvent[] = [];
  readonly serverEvents: EndpointEvent[] = [];
  latency: number;
  /** When > 0, virtual time advances at least this often, so `onStep` can act on a schedule. */
  stepMs = 0;
  /** Return true to drop a datagram (index counts datagrams per direction). */
  drop: (dir: 'c2s' | 's2c', index: number, data: Uint8Array) => boolean = () => false;
  private readonly counts = { c2s: 0, s2c: 0 };
  private queue: InFlight[] = [];
  private seq = 0;
  private readonly buf = new Uint8Array(2048);

  constructor(opts: { seed?: number; latency?: number; client?: ConnectionOptions; server?: ConnectionOptions; crypto?: CryptoConfig } = {}) {
    this.latency = opts.latency ?? 10;
    const crypto = opts.crypto ?? insecureCrypto;
    this.client = new Endpoint({ env: seededEnv(opts.seed ?? 1) });
    this.server = new Endpoint({ env: seededEnv((opts.seed ?? 1) + 1000), server: { crypto, options: opts.server } });
    this.clientConn = this.client.connect({ remote: this.serverAddr, crypto, options: opts.client, now: 0 });
  }

  private flush(): boolean {
    let sent = false;
    for (const [ep, dir] of [
      [this.client, 'c2s'],
      [this.server, 's2c'],
    ] as const) {
      for (let t = ep.pollTransmit(this.now, this.buf); t; t = ep.pollTransmit(this.now, this.buf)) {
        const data = this.buf.slice(0, t.length);
        const index = this.counts[dir]++;
        sent = true;
        if (this.drop(dir, index, data)) continue;
        this.queue.push({
          at: this.now + this.latency,
          seq: this.seq++,
          data,
          from: dir === 'c2s' ? this.clientAddr : this.serverAddr,
          to: dir === 'c2s' ? 'server' : 'client',
        });
      }
    }
    this.collectEvents();
    return sent;
  }

  private collectEvents(): void {
    for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) this.clientEvents.push(e);
    for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) {
      if (e.kind === 'accept') this.serverConn = e.connection;
      this.serverEvents.push(e);
    }
  }

  /** Runs until `until()` holds or nothing is left to do or `maxTime` passes. Returns whether `until` held. */
  run(until: () => boolean, maxTime = 60_000, onStep?: () => void): boolean {
    for (let guard = 0; guard < 5_000_000; guard++) {
      this.flush();
      onStep?.();
      this.flush();
      if (until()) return true;
      // Next event: a delivery or a timer.
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      const tc = this.client.pollTimeout();
      const ts = this.server.pollTimeout();
      let t = next ? next.at : Infinity;
      if (tc !== null && tc < t) t = tc;
      if (ts !== null && ts < t) t = ts;
      if (this.stepMs > 0 && this.now + this.stepMs < t) t = this.now + this.stepMs;
      if (t === Infinity || t > maxTime) {
        // Nothing due before the bound: time still passes up to it (a quiet period is part of the test).
        if (Number.isFinite(maxTime) && maxTime > this.now) {
          this.now = maxTime;
          this.client.handleTimeout(this.now);
          this.server.handleTimeout(this.now);
          this.flush();
        }
        return until();
      }
      this.now = Math.max(this.now, t);
      while (this.queue.length && this.queue[0]!.at <= this.now) {
        const d = this.queue.shift()!;
        (d.to === 'server' ? this.server : this.client).handleDatagram(d.data, d.from, this.now);
      }
      this.client.handleTimeout(this.now);
      this.server.handleTimeout(this.now);
    }
    throw new Error('pair: step guard exceeded');
  }

  connected(): boolean {
    return (
      this.clientEvents.some((e) => e.kind === 'connection' && e.event.type === 'connected') &&
      this.serverEvents.some((e) => e.kind === 'connection' && e.event.type === 'connected')
    );
  }
}
