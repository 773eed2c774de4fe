/**
 * Game traffic under loss (issue 12): snapshot age p50/p99 and loss for 16 clients, 20 Hz 3.9 KB msgpack
 * snapshots on unreliable-sequenced, 30 Hz inputs and reliable-ordered chat, at 100 ms RTT with 0 %, 1 %,
 * 5 % random loss and a 5 %-loss burst model (Gilbert–Elliott, bursts of 3 datagrams on average).
 *
 *   node --import tsx tools/bench/game.ts [--only sim,proxy] [--seconds 15] [--cc cubic|newreno] [--max-age MS]
 *                                         [--max-send-rate BYTES_PER_S] [--quick]
 *
 * - sim: the deterministic simulator (tools/sim/game-scenario.ts), seed 1, virtual time (fast).
 * - proxy: the public API (listen/connect, encrypted) on 127.0.0.1 through the real-socket impairment proxy
 *   (tools/impair/proxy.ts), 50 ms each way, in real time; every end in this one process (one clock).
 *
 * Snapshot age = receive time − the server's send time of each delivered snapshot. Staleness = time since the
 * newest snapshot's send, sampled at every tick (what a player sees). Loss = snapshots of the measured window
 * never delivered, whether dropped by the sender (superseded, expired) or by the network. Chat: every client
 * receives the server's relay of everybody's chat exactly once and in order (SHA-256 per client), and the
 * server receives each client's lines in order. Aims: p99 age ≤ 2×RTT + 2 ticks (300 ms) at 1 %, ≤ 3×RTT + 2
 * ticks (400 ms) at 5 %.
 */
import { performance } from 'node:perf_hooks';
import { broadcast, connect, generateIdentity, listen, prepare, rawCodec } from '../../lib/api/index.js';
import type { PetrelChannel, PetrelConnection, TransportOptions } from '../../lib/api/index.js';
import type { GilbertElliott, LinkConfig } from '../../lib/sim/link.js';
import { ImpairProxy } from '../impair/proxy.js';
import { BURST_5, runGameScenario, type GameScenarioResult } from '../sim/game-scenario.js';
import {
  ClientMetrics,
  GAME,
  ServerMetrics,
  decodeInput,
  decodeSnapshot,
  encodeInput,
  encodeSnapshot,
  gameFigures,
  type GameFigures,
} from '../sim/game-workload.js';
import { arg, environmentLine, flag, fmt, numberArg, Results, table } from './common.js';

const RTT = 100;
const RAW = rawCodec({ maxMessageSize: 1 << 20 });
const lost = (d: { dropped: Record<string, number> }): number => Object.values(d.dropped).reduce((a, b) => a + b, 0);
const TICK = 1000 / GAME.snapshotHz;
const CONDITIONS: Array<{ name: string; loss: number; burst: GilbertElliott | null; aim: number }> = [
  { name: 'loss0', loss: 0, burst: null, aim: 2 * RTT + 2 * TICK },
  { name: 'loss1', loss: 0.01, burst: null, aim: 2 * RTT + 2 * TICK },
  { name: 'loss5', loss: 0.05, burst: null, aim: 3 * RTT + 2 * TICK },
  { name: 'burst5', loss: 0, burst: BURST_5, aim: 3 * RTT + 2 * TICK },
];

const quick = flag('quick');
const only = (arg('only') ?? 'sim,proxy').split(',');
const seconds = numberArg('seconds', quick ? 2 : 15);
const cc = arg('cc') as TransportOptions['congestionControl'] | undefined;
const maxAge = arg('max-age') === undefined ? 2 * TICK : numberArg('max-age', 2 * TICK);
const maxSendRate = arg('max-send-rate') === undefined ? undefined : numberArg('max-send-rate', 1);
const clients = quick ? 4 : 16;

interface Row extends GameFigures {
  where: string;
  condition: string;
  aim: number;
  extra: string;
}

function connectionOptions(): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (cc) o.congestionControl = cc;
  if (maxSendRate !== undefined) o.maxSendRate = maxSendRate;
  return o;
}

function simRow(c: (typeof CONDITIONS)[number]): Row {
  const r: GameScenarioResult = runGameScenario({
    clients,
    rtt: RTT,
    loss: c.loss,
    burst: c.burst,
    duration: seconds * 1000,
    warmup: 3000,
    snapshotMaxAge: maxAge,
    connection: connectionOptions(),
  });
  const drops = Object.entries({ ...r.senderDrops, ...r.coreDrops })
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  return {
    ...r,
    where: 'sim',
    condition: c.name,
    aim: c.aim,
    extra: `cwnd mean ${Math.round(r.meanCwnd)} B; queue max ${r.maxQueuedDatagrams} dgrams/${r.maxQueuedBytes} B; drops ${drops || '-'}`,
  };
}

async function proxyRow(c: (typeof CONDITIONS)[number]): Promise<Row> {
  const identity = generateIdentity();
  const opts = connectionOptions() as TransportOptions;
  const server = await listen({ host: '127.0.0.1', port: 0, identity, ...opts });
  const link: LinkConfig = { delay: RTT / 2, loss: c.loss, burst: c.burst };
  const proxy = new ImpairProxy({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: '127.0.0.1', port: server.address().port },
    seed: 7,
    upstream: link,
    downstream: link,
  });
  const at = await proxy.start();
  const sm = new ServerMetrics();
  const states = new Map<PetrelConnection, PetrelChannel<unknown>>();
  const chats = new Map<PetrelConnection, PetrelChannel<string>>();
  let windowStart = Infinity;
  let windowEnd = Infinity;
  server.on('connection', (conn) => {
    states.set(conn, conn.channel('state', { mode: 'unreliable-sequenced', codec: 'raw', maxAge }) as PetrelChannel<unknown>);
    const chat = conn.channel<string>('chat');
    chats.set(conn, chat);
    conn.channel<Uint8Array>('input', { mode: 'unreliable-sequenced', codec: 'raw' }).on('message', (b) => {
      const v = decodeInput(b);
      sm.onInput(connIndex.get(conn.remotePort) ?? -1, v.seq, v.ts, performance.now(), windowStart, windowEnd);
    });
    chat.on('message', (line) => {
      const k = Number(/^player (\d+)/.exec(line)?.[1] ?? -1);
      let from = sm.chatFrom.get(k);
      if (!from) sm.chatFrom.set(k, (from = []));
      from.push(line);
      sm.chatOut.push(line);
      const msg = prepare(line);
      for (const [c, ch] of chats) {
        const k = connIndex.get(c.remotePort);
        if (k === undefined || !c.isOpen) continue;
        ch.sendPrepared(msg);
        let to = sm.relayedTo.get(k);
        if (!to) sm.relayedTo.set(k, (to = []));
        to.push(line);
      }
    });
    conn.on('close', () => {
      states.delete(conn);
      chats.delete(conn);
    });
  });
  // The proxy opens one socket toward the server per client; the server sees those ports, not the clients'.
  const connIndex = new Map<number, number>();
  const metrics: ClientMetrics[] = [];
  const chatSent: string[][] = [];
  const conns: PetrelConnection[] = [];
  for (let i = 0; i < clients; i++) {
    const before = new Set(Array.from(server.connections, (x) => x.remotePort));
    const conn = await connect({ host: at.host, port: at.port, serverKey: identity.fingerprint, timeout: 10_000, ...opts });
    conns.push(conn);
    for (let k = 0; k < 100 && server.connections.size <= before.size; k++) await new Promise((r) => setTimeout(r, 10));
    for (const x of server.connections) if (!before.has(x.remotePort)) connIndex.set(x.remotePort, i);
    const m = new ClientMetrics();
    metrics.push(m);
    chatSent.push([]);
    conn.channel<Uint8Array>('state', { mode: 'unreliable-sequenced', codec: 'raw' }).on('message', (b) => {
      const s = decodeSnapshot(b);
      m.onSnapshot(s.tick, s.ts, performance.now(), windowStart, windowEnd);
    });
    conn.channel<string>('chat').on('message', (line) => m.chatIn.push(line));
  }
  const t0 = performance.now();
  windowStart = t0 + 2000;
  windowEnd = windowStart + seconds * 1000;
  let tick = 0;
  let snapshotsInWindow = 0;
  let snapshotBytes = 0;
  const timers: NodeJS.Timeout[] = [];
  await new Promise<void>((resolve) => {
    // Server ticks: sample what each player sees, then one snapshot prepared once and broadcast.
    const serverTimer = setInterval(() => {
      const now = performance.now();
      if (now >= windowEnd) {
        clearInterval(serverTimer);
        resolve();
        return;
      }
      if (now >= windowStart) for (const m of metrics) if (m.newestTick >= 0) m.sample(now);
      const bytes = encodeSnapshot(tick++, now);
      snapshotBytes = bytes.length;
      broadcast(states.values(), prepare(bytes, { codec: RAW }));
      if (now >= windowStart) snapshotsInWindow++;
    }, TICK);
    conns.forEach((conn, i) => {
      const input = conn.channel<Uint8Array>('input', { mode: 'unreliable-sequenced', codec: 'raw' });
      const chat = conn.channel<string>('chat');
      let seq = 0;
      timers.push(
        setInterval(() => {
          const now = performance.now();
          if (now >= windowEnd || !conn.isOpen) return;
          input.send(encodeInput(seq++, now));
          if (now >= windowStart) sm.inputsSentInWindow++;
        }, 1000 / GAME.inputHz),
      );
      let k = 0;
      timers.push(
        setInterval(() => {
          if (performance.now() >= windowEnd || !conn.isOpen) return;
          const line = `player ${i} line ${k}: ${'gg '.repeat(1 + (k % 20))}`;
          k++;
          chatSent[i]!.push(line);
          chat.send(line);
        }, 1000 / GAME.chatHz),
      );
    });
  });
  for (const t of timers) clearInterval(t);
  // Let chat finish (bounded).
  const total = (): number => chatSent.reduce((a, l) => a + l.length, 0);
  const deadline = performance.now() + 10_000;
  while (
    performance.now() < deadline &&
    !(sm.chatOut.length === total() && metrics.every((m, i) => m.chatIn.length === (sm.relayedTo.get(i)?.length ?? 0)))
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  let maxQueued = 0;
  const drops: Record<string, number> = {};
  for (const conn of server.connections) {
    const s = conn.stats() as unknown as { datagramQueue?: { messages: number }; channels: { messagesDropped: Record<string, number> } };
    maxQueued = Math.max(maxQueued, s.datagramQueue?.messages ?? NaN);
    for (const [k, v] of Object.entries(s.channels.messagesDropped)) drops[k] = (drops[k] ?? 0) + v;
  }
  for (const conn of conns) await conn.close();
  await server.close({ force: true });
  const ps = proxy.stats();
  await proxy.stop();
  const fig = gameFigures({ clients: metrics, server: sm, snapshotsInWindow, chatSent, snapshotBytes });
  const dropText = Object.entries(drops)
    .map(([k, v]) => `${k}:${v}`)
    .join(',');
  return {
    ...fig,
    where: 'proxy',
    condition: c.name,
    aim: c.aim,
    extra: `proxy lost ${lost(ps.downstream)} down/${lost(ps.upstream)} up of ${ps.downstream.sent}/${ps.upstream.sent}; queue max ${maxQueued}; sender drops ${dropText || '-'}`,
  };
}

async function main(): Promise<void> {
  console.log(
    `# Game traffic: ${clients} clients, ${GAME.snapshotHz} Hz snapshots, ${GAME.inputHz} Hz inputs, chat; RTT ${RTT} ms; ${seconds} s measured`,
  );
  console.log(environmentLine());
  console.log(`congestion control ${cc ?? 'cubic (default)'}, snapshot maxAge ${maxAge} ms, maxSendRate ${maxSendRate ?? 'none'}\n`);
  const rows: Row[] = [];
  const res = new Results();
  for (const c of CONDITIONS) {
    if (only.includes('sim')) rows.push(simRow(c));
    if (only.includes('proxy')) rows.push(await proxyRow(c));
  }
  console.log(
    table(
      ['run', 'age p50 ms', 'age p99 ms', 'aim p99', 'staleness p99', 'snapshot loss', 'input loss', 'chat', 'notes'],
      rows.map((r) => [
        `${r.where} ${r.condition}`,
        fmt(r.snapshotAge.p50),
        fmt(r.snapshotAge.p99),
        `${r.snapshotAge.p99 <= r.aim ? '≤' : '>'} ${r.aim}`,
        fmt(r.staleness.p99),
        `${fmt(r.snapshotLoss * 100)} %`,
        `${fmt(r.inputLoss * 100)} %`,
        r.chatOk ? `ok (${r.chatLines})` : 'FAIL',
        r.extra,
      ]),
    ),
  );
  for (const r of rows) {
    const k = `${r.where}_${r.condition}`;
    res.set(`${k}_age_p50_ms`, r.snapshotAge.p50);
    res.set(`${k}_age_p99_ms`, r.snapshotAge.p99);
    res.set(`${k}_staleness_p99_ms`, r.staleness.p99);
    res.set(`${k}_loss_pct`, r.snapshotLoss * 100);
    res.set(`${k}_chat_ok`, r.chatOk ? 1 : 0);
  }
  console.log(`\n${res.line()}`);
}

void main();
