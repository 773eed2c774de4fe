/**
 * Two sans-IO endpoints with a ChannelLayer on each connection, under a virtual clock (the approach of
 * test/helpers/pair.ts, plus the layers' reassembly deadlines in the schedule). Every core event goes
 * through the layer; the layer's events are collected per side.
 */
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { ChannelLayer, type ChannelLayerEvent, type ChannelLayerOptions } from '../../lib/channel/channel-layer.js';
import { seededEnv } from '../helpers/pair.js';

interface InFlight {
  at: number;
  seq: number;
  data: Uint8Array;
  from: PeerAddress;
  to: 'client' | 'server';
}

export class LayerPair {
  now = 0;
  readonly clientAddr: PeerAddress = { host: '10.0.0.1', port: 5000 };
  readonly serverAddr: PeerAddress = { host: '10.0.0.2', port: 4433 };
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly clientConn: Connection;
  serverConn: Connection | null = null;
  readonly clientLayer: ChannelLayer;
  serverLayer: ChannelLayer | null = null;
  readonly clientEvents: ChannelLayerEvent[] = [];
  readonly serverEvents: ChannelLayerEvent[] = [];
  latency: number;
  drop: (dir: 'c2s' | 's2c', index: number, data: Uint8Array) => boolean = () => false;
  /** Extra one-way delay for a datagram (reordering), on top of `latency`. */
  delay: (dir: 'c2s' | 's2c', data: Uint8Array) => number = () => 0;
  private readonly counts = { c2s: 0, s2c: 0 };
  private queue: InFlight[] = [];
  private seq = 0;
  private readonly buf = new Uint8Array(2048);
  private readonly layerOptions: { client?: ChannelLayerOptions; server?: ChannelLayerOptions };

  constructor(
    opts: {
      latency?: number;
      client?: ConnectionOptions;
      server?: ConnectionOptions;
      clientLayer?: ChannelLayerOptions;
      serverLayer?: ChannelLayerOptions;
    } = {},
  ) {
    this.latency = opts.latency ?? 10;
    this.layerOptions = { client: opts.clientLayer, server: opts.serverLayer };
    this.client = new Endpoint({ env: seededEnv(7) });
    this.server = new Endpoint({ env: seededEnv(1007), server: { crypto: insecureCrypto, options: opts.server } });
    this.clientConn = this.client.connect({ remote: this.serverAddr, crypto: insecureCrypto, options: opts.client, now: 0 });
    this.clientLayer = new ChannelLayer(this.clientConn, opts.clientLayer);
  }

  private flush(): void {
    for (const [ep, dir] of [
      [this.client, 'c2s'],
      [this.server, 's2c'],
    ] as const) {
      for (let t = ep.pollTransmit(this.now, this.buf); t; t = ep.pollTransmit(this.now, this.buf)) {
        const data = this.buf.slice(0, t.length);
        const index = this.counts[dir]++;
        if (this.drop(dir, index, data)) continue;
        this.queue.push({
          at: this.now + this.latency + this.delay(dir, data),
          seq: this.seq++,
          data,
          from: dir === 'c2s' ? this.clientAddr : this.serverAddr,
          to: dir === 'c2s' ? 'server' : 'client',
        });
      }
    }
    this.route();
  }

  /** Core events into the layers, layer events into the per-side logs. */
  private route(): void {
    for (let e = this.client.pollEvent(); e; e = this.client.pollEvent()) {
      if (e.kind === 'connection') this.clientLayer.handleEvent(e.event, this.now);
    }
    for (let e = this.server.pollEvent(); e; e = this.server.pollEvent()) {
      if (e.kind === 'accept') {
        this.serverConn = e.connection;
        this.serverLayer = new ChannelLayer(e.connection, this.layerOptions.server);
      } else this.serverLayer!.handleEvent(e.event, this.now);
    }
    for (let e = this.clientLayer.pollEvent(); e; e = this.clientLayer.pollEvent()) this.clientEvents.push(e);
    if (this.serverLayer) for (let e = this.serverLayer.pollEvent(); e; e = this.serverLayer.pollEvent()) this.serverEvents.push(e);
  }

  run(until: () => boolean, maxTime = 60_000, onStep?: () => void): boolean {
    for (let guard = 0; guard < 2_000_000; guard++) {
      this.flush();
      onStep?.();
      this.flush();
      if (until()) return true;
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      let t = this.queue[0]?.at ?? Infinity;
      for (const d of [
        this.client.pollTimeout(),
        this.server.pollTimeout(),
        this.clientLayer.pollTimeout(),
        this.serverLayer?.pollTimeout() ?? null,
      ]) {
        if (d !== null && d < t) t = d;
      }
      if (t === Infinity || t > maxTime) return until();
      this.now = Math.max(this.now, t);
      while (this.queue.length && this.queue[0]!.at <= this.now) {
        const d = this.queue.shift()!;
        (d.to === 'server' ? this.server : this.client).handleDatagram(d.data, d.from, this.now);
      }
      this.client.handleTimeout(this.now);
      this.server.handleTimeout(this.now);
      this.clientLayer.handleTimeout(this.now);
      this.serverLayer?.handleTimeout(this.now);
    }
    throw new Error('layer pair: step guard exceeded');
  }

  connected(): boolean {
    const c = this.clientEvents.some((e) => e.type === 'connected');
    const s = this.serverEvents.some((e) => e.type === 'connected');
    return c && s;
  }

  /** Messages received by one side, in arrival order. */
  messages(side: 'client' | 'server', channel?: string): Uint8Array[] {
    const evs = side === 'client' ? this.clientEvents : this.serverEvents;
    const out: Uint8Array[] = [];
    for (const e of evs) if (e.type === 'message' && (channel === undefined || e.channel === channel)) out.push(e.data);
    return out;
  }
}

export { pattern } from '../api/helpers.js';
