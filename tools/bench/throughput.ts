/**
 * Loopback goodput of the public API (one connection, one stream) next to raw node:dgram and node:net TCP,
 * all measured in the same run and the same process.
 *
 *   node --import tsx tools/bench/throughput.ts [--mib 256] [--seconds 30] [--only udp,tcp_64k,...] [--quick]
 *
 * Modes (each moves --mib MiB or stops sending after --seconds, whichever comes first):
 * - udp: a self-clocked window sender (W = 128 datagrams of 1472 B in flight, 4 MiB receive buffer, the
 *   receiver acknowledges every 16th datagram with its count) — peers.md row 1's best lossless setup. A
 *   window that makes no progress for 20 ms is written off as lost and refilled.
 * - tcp_64k / tcp_1472: node:net, writes of 64 KiB / 1472 B honouring backpressure.
 * - petrel_insecure / petrel_secure: listen() + connect() on 127.0.0.1, openStream(), 64 KiB writes
 *   honouring backpressure; the secure mode uses the default (AES-128-GCM) with a pinned key.
 * Goodput = payload bytes received / (last byte received - first byte sent), MB = 10^6 bytes. CPU% is the
 * process's user+system time over the same interval (both ends share this one Node thread, so 100% means
 * one core is saturated; the kernel's loopback work is counted in the syscalls that trigger it).
 *
 * Unlike peers.md (sender and receiver in two processes pinned to two cores), both ends run here in one
 * process: the figures measure software cost per byte on one core, and the ratios compare like with like.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';
import { arg, environmentLine, flag, fmt, numberArg, Results, table } from './common.js';

const USAGE = `usage: node --import tsx tools/bench/throughput.ts [--mib N] [--seconds S] [--only MODES] [--quick]
  --mib      payload per mode, MiB (default 256; --quick: 1)
  --seconds  stop sending after this long, per mode (default 30, at most 60; --quick: 10)
  --only     comma-separated subset of: udp,tcp_64k,tcp_1472,petrel_insecure,petrel_secure`;

if (flag('help')) {
  console.log(USAGE);
  process.exit(0);
}

const quick = flag('quick');
const TOTAL = Math.round(numberArg('mib', quick ? 1 : 256) * 1024 * 1024);
const SECONDS = Math.min(60, numberArg('seconds', quick ? 10 : 30));
/** After sending stops, how long a mode may take to deliver the rest before it counts as stalled. */
const DRAIN_GRACE_MS = 30_000;
const DATAGRAM = 1472;
const WINDOW = 128;
const ACK_EVERY = 16;
const STALL_MS = 20;
const UDP_BUFFER = 4 * 1024 * 1024;
const CHUNK_64K = 64 * 1024;

interface ModeResult {
  bytes: number;
  ms: number;
  cpuPct: number;
  /** Mode-specific extra: loss % (udp) or packets lost (petrel). */
  note: string;
  extra: Record<string, number>;
}

/** Measures CPU and wall time from `start()` to `stop()`. */
class Clock {
  private t0 = 0;
  private c0 = process.cpuUsage();
  start(): void {
    this.c0 = process.cpuUsage();
    this.t0 = performance.now();
  }
  stop(endAt: number): { ms: number; cpuPct: number } {
    const c = process.cpuUsage(this.c0);
    const wall = performance.now() - this.t0;
    return { ms: endAt - this.t0, cpuPct: ((c.user + c.system) / 1000 / wall) * 100 };
  }
  get start0(): number {
    return this.t0;
  }
}

/** Resolves `p` or rejects when the mode overruns its send bound plus the drain grace. */
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what} did not finish within ${SECONDS} s + ${DRAIN_GRACE_MS / 1000} s`)),
        SECONDS * 1000 + DRAIN_GRACE_MS,
      );
    }),
  ]);
}

/** Writes `total` bytes in `chunk`-sized writes (or until the deadline), honouring backpressure, then ends. */
async function writeAll(w: Writable, chunk: Buffer, total: number, deadline: number): Promise<number> {
  let sent = 0;
  while (sent < total && performance.now() < deadline) {
    const n = Math.min(chunk.length, total - sent);
    const ok = w.write(n === chunk.length ? chunk : chunk.subarray(0, n));
    sent += n;
    if (!ok) await once(w, 'drain');
  }
  w.end();
  return sent;
}

// ───────────────────────────── raw UDP ─────────────────────────────

async function bindUdp(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

async function rawUdp(): Promise<ModeResult> {
  const rx = await bindUdp();
  const tx = await bindUdp();
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  const payload = Buffer.alloc(DATAGRAM, 0x5a);
  const totalDatagrams = Math.ceil(TOTAL / DATAGRAM);
  const clock = new Clock();
  let sent = 0;
  let acked = 0;
  /** Datagrams written off by stall recovery (lost, or their ack is). */
  let forgiven = 0;
  let received = 0;
  let rxBytes = 0;
  let lastRx = 0;
  let senderDone = false;
  let deadline = 0;
  let progressMark = -1;
  let stalls = 0;
  const ack = Buffer.alloc(4);
  let timer: NodeJS.Timeout | undefined;

  const pump = (): void => {
    if (senderDone) return;
    if (performance.now() >= deadline) senderDone = true;
    while (!senderDone && sent - acked - forgiven < WINDOW) {
      if (sent >= totalDatagrams) {
        senderDone = true;
        break;
      }
      tx.send(payload);
      sent++;
    }
  };
  const finished = new Promise<void>((resolve) => {
    rx.on('message', (msg, rinfo) => {
      received++;
      rxBytes += msg.length;
      lastRx = performance.now();
      if (received % ACK_EVERY === 0) {
        ack.writeUInt32BE(received >>> 0);
        rx.send(ack, rinfo.port, rinfo.address);
      }
      if (senderDone && received >= sent) resolve();
    });
    tx.on('message', (msg) => {
      const v = msg.readUInt32BE(0);
      if (v > acked) acked = v;
      pump();
    });
    // Stall recovery and the end of a lossy run: no progress for STALL_MS.
    timer = setInterval(() => {
      const mark = received + acked;
      if (mark === progressMark) {
        if (senderDone) {
          resolve();
          return;
        }
        stalls++;
        forgiven = sent - acked;
        pump();
      }
      progressMark = mark;
    }, STALL_MS);
  });
  clock.start();
  deadline = clock.start0 + SECONDS * 1000;
  pump();
  await bounded(finished, 'udp').finally(() => clearInterval(timer));
  const { ms, cpuPct } = clock.stop(lastRx);
  rx.close();
  tx.close();
  const loss = sent === 0 ? 0 : ((sent - received) / sent) * 100;
  return { bytes: rxBytes, ms, cpuPct, note: `loss ${fmt(loss)}%, ${stalls} stalls`, extra: { loss_pct: loss } };
}

// ───────────────────────────── TCP ─────────────────────────────

async function tcp(chunkSize: number): Promise<ModeResult> {
  let received = 0;
  let lastRx = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const server = net.createServer((sock) => {
    sock.on('data', (d: Buffer) => {
      received += d.length;
      lastRx = performance.now();
    });
    sock.on('end', () => {
      sock.end();
      resolveDone();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const chunk = Buffer.alloc(chunkSize, 0x5a);
  const clock = new Clock();
  clock.start();
  const sent = await bounded(writeAll(client, chunk, TOTAL, clock.start0 + SECONDS * 1000), `tcp ${chunkSize}`);
  await bounded(done, `tcp ${chunkSize}`);
  const { ms, cpuPct } = clock.stop(lastRx);
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  if (received !== sent) throw new Error(`tcp: received ${received} of ${sent} bytes`);
  return { bytes: received, ms, cpuPct, note: '', extra: {} };
}

// ───────────────────────────── Petrel ─────────────────────────────

async function petrel(secure: boolean): Promise<ModeResult> {
  const id = secure ? generateIdentity() : undefined;
  const server = await listen({ host: '127.0.0.1', port: 0, ...(id ? { identity: id } : { insecure: true }) });
  let received = 0;
  let lastRx = 0;
  const done = new Promise<void>((resolve) => {
    server.on('connection', (c) =>
      c.on('stream', (s) => {
        s.on('data', (d: Buffer) => {
          received += d.length;
          lastRx = performance.now();
        });
        s.on('end', () => resolve());
      }),
    );
  });
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, ...(id ? { serverKey: id.fingerprint } : { insecure: true }) });
  const stream = await conn.openStream();
  const chunk = Buffer.alloc(CHUNK_64K, 0x5a);
  const clock = new Clock();
  clock.start();
  const name = secure ? 'petrel secure' : 'petrel insecure';
  const sent = await bounded(writeAll(stream, chunk, TOTAL, clock.start0 + SECONDS * 1000), name);
  await bounded(done, name);
  const { ms, cpuPct } = clock.stop(lastRx);
  const st = conn.stats();
  await conn.close();
  await server.close();
  if (received !== sent) throw new Error(`${name}: received ${received} of ${sent} bytes`);
  const overhead = ((st.bytesSent - received) / received) * 100;
  return {
    bytes: received,
    ms,
    cpuPct,
    note: `${st.packetsLost} packets lost, ${fmt(overhead)}% bytes on wire over payload`,
    extra: { packets_lost: st.packetsLost, wire_overhead_pct: overhead },
  };
}

// ───────────────────────────── run ─────────────────────────────

const MODES: Array<{ key: string; label: string; peers: string; run: () => Promise<ModeResult> }> = [
  { key: 'udp', label: `raw dgram, self-clocked W=${WINDOW}, 4 MiB rcvbuf`, peers: '520', run: rawUdp },
  { key: 'tcp_64k', label: 'node:net TCP, 64 KiB writes', peers: '1571', run: () => tcp(CHUNK_64K) },
  { key: 'tcp_1472', label: 'node:net TCP, 1472 B writes', peers: '575', run: () => tcp(DATAGRAM) },
  { key: 'petrel_insecure', label: 'Petrel insecure, 1 stream, 64 KiB writes', peers: '', run: () => petrel(false) },
  { key: 'petrel_secure', label: 'Petrel secure (AES-128-GCM), 1 stream, 64 KiB writes', peers: '', run: () => petrel(true) },
];

async function main(): Promise<void> {
  const only = arg('only')?.split(',');
  const unknown = only?.filter((k) => !MODES.some((m) => m.key === k)) ?? [];
  if (unknown.length) {
    console.error(`unknown mode(s): ${unknown.join(', ')}\n${USAGE}`);
    process.exit(2);
  }
  const modes = MODES.filter((m) => !only || only.includes(m.key));
  console.log('# Petrel loopback throughput: one connection, one stream, against raw UDP and TCP');
  console.log(`${environmentLine()}; ${fmt(TOTAL / 1048576)} MiB or ${SECONDS} s per mode; one process\n`);
  const results = new Results();
  const mbps = new Map<string, number>();
  const rows: string[][] = [];
  for (const m of modes) {
    const r = await m.run();
    const rate = r.bytes / 1e6 / (r.ms / 1000);
    mbps.set(m.key, rate);
    rows.push([m.label, fmt(rate), fmt(r.bytes / 1048576), fmt(r.ms / 1000), fmt(r.cpuPct), r.note, m.peers]);
    results.set(`${m.key}_mbps`, rate);
    results.set(`${m.key}_mib`, r.bytes / 1048576);
    results.set(`${m.key}_cpu_pct`, r.cpuPct);
    for (const [k, v] of Object.entries(r.extra)) results.set(`${m.key}_${k}`, v);
  }
  console.log(table(['Mode', 'MB/s', 'MiB', 's', 'CPU %', 'notes', 'peers.md MB/s (2 procs)'], rows));
  const ratioRows: string[][] = [];
  for (const p of ['petrel_secure', 'petrel_insecure']) {
    for (const base of ['udp', 'tcp_64k', 'tcp_1472']) {
      const a = mbps.get(p);
      const b = mbps.get(base);
      if (a === undefined || b === undefined) continue;
      ratioRows.push([`${p} / ${base}`, `${(a / b).toFixed(2)}×`]);
      results.set(`ratio_${p}_${base}`, a / b);
    }
  }
  const s = mbps.get('petrel_secure');
  const i = mbps.get('petrel_insecure');
  if (s !== undefined && i !== undefined) {
    ratioRows.push(['petrel_secure / petrel_insecure', `${(s / i).toFixed(2)}×`]);
    results.set('ratio_petrel_secure_petrel_insecure', s / i);
  }
  if (ratioRows.length) {
    console.log('');
    console.log(table(['Ratio (goodput)', 'Value'], ratioRows));
  }
  console.log(results.line());
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
