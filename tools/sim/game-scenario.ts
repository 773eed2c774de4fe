/**
 * The game-traffic scenario of issue 12 in the deterministic simulator: one authoritative server and N clients
 * (16 by default), each client on its own impaired path (RTT, random or bursty loss), the workload of
 * tools/sim/game-workload.ts, figures from both ends. Deterministic per seed; virtual time, so it runs as fast
 * as the CPU allows. Connections use the plaintext handshake (the packet sizes differ from the encrypted ones
 * only by the 16-byte tag, which does not change the fragment count of a snapshot).
 */
import { crc32 } from 'node:zlib';
import { ChannelLayer } from '../../lib/channel/channel-layer.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { GilbertElliott, LinkConfig } from '../../lib/sim/link.js';
import type { SimRandom } from '../../lib/sim/random.js';
import { Simulator } from '../../lib/sim/simulator.js';
import type { SimAddress, SimNode } from '../../lib/sim/types.js';
import {
  ClientMetrics,
  GAME,
  ServerMetrics,
  decodeChat,
  decodeInput,
  decodeSnapshot,
  encodeChat,
  encodeInput,
  encodeSnapshot,
  gameFigures,
  type GameFigures,
} from './game-workload.js';

export interface GameScenarioOptions {
  seed?: number;
  clients?: number;
  /** round-trip propagation delay, ms (split evenly) */
  rtt?: number;
  /** random loss per datagram, both directions */
  loss?: number;
  /** bursty loss instead (Gilbert–Elliott), both directions */
  burst?: GilbertElliott | null;
  /** bottleneck per direction of each client's path, bits/s (default unlimited) */
  rate?: number;
  /** ms of traffic measured after the warm-up */
  duration?: number;
  warmup?: number;
  /** core options of both ends (e.g. congestionControl, maxSendRate) */
  connection?: ConnectionOptions;
  /** maxAge (ms) of the snapshot and input channels; default 2 ticks of each */
  snapshotMaxAge?: number;
}

export interface GameScenarioResult extends GameFigures {
  /** largest datagram queue of any server connection, sampled every tick (messages, bytes) */
  maxQueuedDatagrams: number;
  maxQueuedBytes: number;
  /** server-side channel drops by reason, summed over connections */
  senderDrops: Record<string, number>;
  /** server connections' datagram drops by reason (core) */
  coreDrops: Record<string, number>;
  connected: number;
  /** mean congestion window of the server's connections, sampled every tick (bytes) */
  meanCwnd: number;
  chatProgress: { sent: number; relayed: number; leastReceived: number; endedAt: number };
}

/** 5 % mean loss in bursts of 3 datagrams on average (stationary P(bad) = p / (p + r) = 0.05). */
export const BURST_5: GilbertElliott = { p: 1 / 57, r: 1 / 3, lossGood: 0, lossBad: 1 };

function simEnv(rng: SimRandom): CoreEnv {
  return {
    randomFill(out: Uint8Array) {
      out.set(rng.bytes(out.length));
    },
    crc32: (d: Uint8Array) => crc32(d),
  };
}

/** An endpoint node whose channel layers' deadlines are part of its timer. */
class LayeredNode implements SimNode {
  readonly inner: EndpointNode;
  readonly layers = new Map<Connection, ChannelLayer>();
  constructor(inner: EndpointNode) {
    this.inner = inner;
  }
  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void {
    this.inner.handleDatagram(data, from, now);
  }
  pollTransmit(now: number): { data: Uint8Array; to: SimAddress } | null {
    return this.inner.pollTransmit(now);
  }
  pollTimeout(): number | null {
    let min = this.inner.pollTimeout();
    for (const l of this.layers.values()) {
      const t = l.pollTimeout();
      if (t !== null && (min === null || t < min)) min = t;
    }
    return min;
  }
  handleTimeout(now: number): void {
    for (const l of this.layers.values()) l.handleTimeout(now);
    this.inner.handleTimeout(now);
  }
}

export function runGameScenario(o: GameScenarioOptions = {}): GameScenarioResult {
  const n = o.clients ?? 16;
  const rtt = o.rtt ?? 100;
  const warmup = o.warmup ?? 3000;
  const duration = o.duration ?? 20_000;
  const windowStart = warmup;
  const windowEnd = warmup + duration;
  const snapTick = 1000 / GAME.snapshotHz;
  const inputTick = 1000 / GAME.inputHz;
  const snapMaxAge = o.snapshotMaxAge ?? 2 * snapTick;
  const link: LinkConfig = { delay: rtt / 2, loss: o.loss ?? 0, burst: o.burst ?? null, rate: o.rate ?? 0 };
  const sim = new Simulator({ seed: o.seed ?? 1, title: 'petrel game scenario' });
  const options: ConnectionOptions = { idleTimeout: 30_000, ...o.connection };

  const SERVER: SimAddress = { host: '10.0.0.1', port: 4433 };
  const serverEp = new Endpoint({ env: simEnv(sim.rng('server-env')), server: { crypto: insecureCrypto, options } });
  const serverNode = new LayeredNode(new EndpointNode(serverEp));
  sim.addNode(SERVER, serverNode);
  const serverMetrics = new ServerMetrics();
  /** server-side connection → client index (from the remote address) */
  const clientOf = new Map<Connection, number>();
  const serverCh = new Map<Connection, { state: number; chat: number }>();
  const chatSent: string[][] = [];
  const metrics: ClientMetrics[] = [];
  const clientCh: Array<{ input: number; chat: number } | null> = [];
  const clientLayers: ChannelLayer[] = [];
  let snapshotBytes = 0;

  const addrOf = (i: number): SimAddress => ({ host: `10.0.1.${i + 1}`, port: 5000 });

  serverNode.inner.app = (ev: EndpointEvent | null, now: number) => {
    if (ev === null) return drain(serverNode, now);
    if (ev.kind === 'accept') {
      serverNode.layers.set(ev.connection, new ChannelLayer(ev.connection));
      clientOf.set(ev.connection, Number(ev.connection.remote.host.split('.')[3]) - 1);
      return;
    }
    const layer = serverNode.layers.get(ev.connection);
    if (!layer) return;
    layer.handleEvent(ev.event, now);
    if (ev.event.type === 'connected') {
      serverCh.set(ev.connection, {
        state: layer.channel('state', 'unreliable-sequenced', 3, snapMaxAge),
        chat: layer.channel('chat', 'reliable-ordered'),
      });
    }
  };

  function drain(node: LayeredNode, now: number): void {
    for (const [conn, layer] of node.layers) {
      for (let e = layer.pollEvent(); e; e = layer.pollEvent()) {
        if (e.type !== 'message') continue;
        if (node === serverNode) {
          const i = clientOf.get(conn)!;
          if (e.channel === 'input') {
            const v = decodeInput(e.data);
            serverMetrics.onInput(i, v.seq, v.ts, now, windowStart, windowEnd);
          } else if (e.channel === 'chat') {
            const text = decodeChat(e.data);
            let from = serverMetrics.chatFrom.get(i);
            if (!from) serverMetrics.chatFrom.set(i, (from = []));
            from.push(text);
            serverMetrics.chatOut.push(text);
            const bytes = encodeChat(text);
            for (const [c, l] of serverNode.layers) {
              const ch = serverCh.get(c);
              if (!ch || c.state !== 'established') continue;
              l.send(ch.chat, bytes);
              const k = clientOf.get(c)!;
              let to = serverMetrics.relayedTo.get(k);
              if (!to) serverMetrics.relayedTo.set(k, (to = []));
              to.push(text);
            }
          }
        } else {
          const i = clientLayers.indexOf(layer);
          if (e.channel === 'state') {
            const s = decodeSnapshot(e.data);
            metrics[i]!.onSnapshot(s.tick, s.ts, now, windowStart, windowEnd);
          } else if (e.channel === 'chat') metrics[i]!.chatIn.push(decodeChat(e.data));
        }
      }
    }
  }

  const clientNodes: LayeredNode[] = [];
  for (let i = 0; i < n; i++) {
    const ep = new Endpoint({ env: simEnv(sim.rng(`client-env-${i}`)) });
    const node = new LayeredNode(new EndpointNode(ep));
    sim.addNode(addrOf(i), node);
    sim.link(addrOf(i), SERVER, link);
    const conn = ep.connect({ remote: SERVER, crypto: insecureCrypto, options, now: 0 });
    const layer = new ChannelLayer(conn);
    node.layers.set(conn, layer);
    clientLayers.push(layer);
    clientNodes.push(node);
    metrics.push(new ClientMetrics());
    chatSent.push([]);
    clientCh.push(null);
    node.inner.app = (ev, now) => {
      if (ev === null) return drain(node, now);
      if (ev.kind !== 'connection') return;
      layer.handleEvent(ev.event, now);
      if (ev.event.type === 'connected') {
        clientCh[i] = { input: layer.channel('input', 'unreliable-sequenced', 3, 2 * inputTick), chat: layer.channel('chat', 'reliable-ordered') };
      }
    };
  }

  let snapshotsInWindow = 0;
  let maxQueuedDatagrams = 0;
  let maxQueuedBytes = 0;
  let cwndSum = 0;
  let cwndSamples = 0;
  const stopAt = windowEnd;
  // Server ticks: sample what each player sees, then one snapshot encoded once and sent to everyone.
  const serverTick = (tick: number): void => {
    const t = tick * snapTick;
    if (t >= stopAt) return;
    sim.at(t, () => {
      const now = sim.now;
      if (now >= windowStart) for (const m of metrics) if (m.newestTick >= 0) m.sample(now);
      const bytes = encodeSnapshot(tick, now);
      snapshotBytes = bytes.length;
      let sent = false;
      for (const [conn, layer] of serverNode.layers) {
        const ch = serverCh.get(conn);
        if (!ch || conn.state !== 'established') continue;
        layer.send(ch.state, bytes, { now });
        sent = true;
        const q = queueOf(conn);
        cwndSum += conn.stats().cwnd;
        cwndSamples++;
        if (q.messages > maxQueuedDatagrams) maxQueuedDatagrams = q.messages;
        if (q.bytes > maxQueuedBytes) maxQueuedBytes = q.bytes;
      }
      if (sent && now >= windowStart) snapshotsInWindow++;
      serverTick(tick + 1);
    });
  };
  serverTick(0);
  for (let i = 0; i < n; i++) {
    const phase = (i * 7.3) % inputTick;
    const inputTickFn = (seq: number): void => {
      const t = phase + seq * inputTick;
      if (t >= stopAt) return;
      sim.at(t, () => {
        const ch = clientCh[i];
        const conn = [...clientNodes[i]!.layers.keys()][0]!;
        if (ch && conn.state === 'established') {
          clientLayers[i]!.send(ch.input, encodeInput(seq, sim.now), { now: sim.now });
          if (sim.now >= windowStart && sim.now < windowEnd) serverMetrics.inputsSentInWindow++;
        }
        inputTickFn(seq + 1);
      });
    };
    inputTickFn(0);
    const chatPhase = 500 + ((i * 61) % 1000);
    const chatFn = (k: number): void => {
      const t = chatPhase + (k * 1000) / GAME.chatHz;
      if (t >= stopAt) return;
      sim.at(t, () => {
        const ch = clientCh[i];
        const conn = [...clientNodes[i]!.layers.keys()][0]!;
        if (ch && conn.state === 'established') {
          const line = `player ${i} line ${k}: ${'gg '.repeat(1 + (k % 20))}`;
          chatSent[i]!.push(line);
          clientLayers[i]!.send(ch.chat, encodeChat(line));
        }
        chatFn(k + 1);
      });
    };
    chatFn(0);
  }
  // Let the reliable chat finish after the traffic stops (bounded).
  const chatDone = (): boolean => {
    if (sim.now < stopAt) return false;
    const total = chatSent.reduce((a, l) => a + l.length, 0);
    return serverMetrics.chatOut.length === total && metrics.every((m, i) => m.chatIn.length === (serverMetrics.relayedTo.get(i)?.length ?? 0));
  };
  sim.run({ maxTime: stopAt + 15_000, until: chatDone });

  const senderDrops: Record<string, number> = {};
  const coreDrops: Record<string, number> = {};
  for (const [conn, layer] of serverNode.layers) {
    for (const [k, v] of Object.entries(layer.stats().messagesDropped)) senderDrops[k] = (senderDrops[k] ?? 0) + v;
    for (const [k, v] of Object.entries(conn.stats().drops ?? {})) if (k.startsWith('datagram')) coreDrops[k] = (coreDrops[k] ?? 0) + v;
  }
  const figures = gameFigures({ clients: metrics, server: serverMetrics, snapshotsInWindow, chatSent, snapshotBytes });
  const total = chatSent.reduce((a, l) => a + l.length, 0);
  if (process.env.GAME_DEBUG) {
    for (const [conn, layer] of serverNode.layers) {
      const i = clientOf.get(conn)!;
      if (metrics[i]!.chatIn.length === (serverMetrics.relayedTo.get(i)?.length ?? 0)) continue;
      const st = conn.stats();
      console.error(
        'lagging client',
        i,
        metrics[i]!.chatIn.length,
        conn.state,
        JSON.stringify(layer.stats().sendQueues),
        st.cwnd,
        st.bytesInFlight,
        st.ptoCount,
        JSON.stringify(st.drops),
        st.smoothedRtt,
      );
      const cconn = [...clientNodes[i]!.layers.keys()][0]!;
      console.error('  client side', cconn.state, JSON.stringify(cconn.stats().drops), JSON.stringify(clientLayers[i]!.stats().messagesDropped));
    }
  }
  return {
    ...figures,
    maxQueuedDatagrams,
    maxQueuedBytes,
    senderDrops,
    coreDrops,
    connected: serverCh.size,
    meanCwnd: cwndSamples > 0 ? cwndSum / cwndSamples : NaN,
    chatProgress: {
      sent: total,
      relayed: serverMetrics.chatOut.length,
      leastReceived: Math.min(...metrics.map((m) => m.chatIn.length)),
      endedAt: sim.now,
    },
  };
}

/** The server connection's datagram queue as stats() reports it. */
function queueOf(conn: Connection): { messages: number; bytes: number } {
  const s = conn.stats() as unknown as { datagramQueue?: { messages: number; bytes: number } };
  return s.datagramQueue ?? { messages: NaN, bytes: NaN };
}
