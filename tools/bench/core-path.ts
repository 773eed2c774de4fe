/**
 * Petrel's own CPU per packet, without sockets: a client and a server sans-IO Endpoint in one process
 * under a virtual clock (0.5 ms one way, no loss, no bandwidth limit), so the figure is the core's JS and
 * crypto alone — what two processes on loopback add on top is the socket (node:dgram and the kernel).
 *
 *   node --import tsx tools/bench/core-path.ts [--mib 16] [--rounds 5] [--rtt-n 2000] [--quick]
 *   node --expose-gc --max-semi-space-size=128 --import tsx tools/bench/core-path.ts   # also bytes allocated
 *
 * bulk: the client writes --mib MiB on one stream (keeping 1 MiB buffered), the server reads it all;
 * CPU µs per 1472 B of payload for each side (process.cpuUsage deltas around that side's calls, so time
 * the process spent preempted by other load does not count) and the whole process's CPU per 1472 B
 * (both sides and the loop). rtt: 64-byte DATAGRAM echoes one at a time; µs of both sides' work per
 * round trip. Modes: insecure and the runtime provider's default suite, interleaved per round. With --expose-gc,
 * also the heap bytes allocated per packet and per round trip (measured between GCs): unlike CPU time on a
 * shared machine, that figure does not move with other load.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { CryptoConfig, PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { runtimeCryptoProvider } from '../../lib/crypto/runtime-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { generateIdentity } from '../../lib/crypto/handshake/index.js';
import { nodeEnv } from '../../lib/transport/udp-endpoint.js';
import { environmentLine, flag, median, numberArg } from './common.js';

const quick = flag('quick');
const MIB = numberArg('mib', quick ? 1 : 16);
const ROUNDS = Math.round(numberArg('rounds', quick ? 1 : 5));
const RTT_N = Math.round(numberArg('rtt-n', quick ? 50 : 2000));
const ONE_WAY_MS = 0.5;
const BUFFERED = 1024 * 1024;
const CHUNK = new Uint8Array(64 * 1024).fill(0x5a);
const ALPN = ['bench'];

const env = nodeEnv();
const clientAddr: PeerAddress = { host: '10.0.0.1', port: 50000 };
const serverAddr: PeerAddress = { host: '10.0.0.2', port: 4433 };

interface Mode {
  key: string;
  crypto: () => { client: CryptoConfig; server: CryptoConfig };
}
const provider = runtimeCryptoProvider();
const identity = generateIdentity(provider);
const MODES: Mode[] = [
  { key: 'insecure', crypto: () => ({ client: insecureCrypto, server: insecureCrypto }) },
  {
    key: 'default',
    crypto: () => ({
      client: secureCrypto({ provider, client: { serverKey: identity.publicKey, serverName: 'bench', now: () => Date.now() } }),
      server: secureCrypto({ provider, server: { identity } }),
    }),
  },
];

/** CPU µs spent inside one side's calls (process.cpuUsage deltas: preemption by other processes is not counted). */
class Meter {
  us = 0;
  run<T>(fn: () => T): T {
    const c0 = process.cpuUsage();
    try {
      return fn();
    } finally {
      const c = process.cpuUsage(c0);
      this.us += c.user + c.system;
    }
  }
}

interface Wire {
  at: number;
  data: Uint8Array;
  toServer: boolean;
}

/** A connected pair and a loop that moves datagrams between them on the virtual clock. */
class Pair {
  readonly sEp: Endpoint;
  readonly cEp: Endpoint;
  readonly client: Connection;
  server: Connection | null = null;
  now = 0;
  packets = 0;
  private readonly queue: Wire[] = [];
  private readonly buf = new Uint8Array(2048);
  readonly cm = new Meter();
  readonly sm = new Meter();
  onServerEvent: (e: EndpointEvent) => void = () => {};
  onClientEvent: (e: EndpointEvent) => void = () => {};

  constructor(mode: Mode) {
    const c = mode.crypto();
    this.sEp = new Endpoint({ env, server: { crypto: c.server, options: { alpn: ALPN } } });
    this.cEp = new Endpoint({ env });
    this.client = this.cEp.connect({ remote: serverAddr, crypto: c.client, options: { alpn: ALPN }, now: 0 });
  }

  private turn(ep: Endpoint, toServer: boolean, onEvent: (e: EndpointEvent) => void): number | null {
    const q = this.queue;
    let w = 0;
    for (let i = 0; i < q.length; i++) {
      const d = q[i]!;
      if (d.toServer === toServer && d.at <= this.now) ep.handleDatagram(d.data, toServer ? clientAddr : serverAddr, this.now);
      else q[w++] = d;
    }
    q.length = w;
    ep.handleTimeout(this.now);
    for (;;) {
      for (let t = ep.pollTransmit(this.now, this.buf); t; t = ep.pollTransmit(this.now, this.buf)) {
        q.push({ at: this.now + ONE_WAY_MS, data: this.buf.slice(0, t.length), toServer: !toServer });
        this.packets++;
      }
      let any = false;
      for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
        any = true;
        if (e.kind === 'accept') this.server = e.connection;
        onEvent(e);
      }
      if (!any) break;
    }
    return ep.pollTimeout();
  }

  /** Runs until `done()` or nothing is left to happen. */
  run(done: () => boolean): void {
    for (let guard = 0; guard < 50_000_000; guard++) {
      const tc = this.cm.run(() => this.turn(this.cEp, false, this.onClientEvent));
      const ts = this.sm.run(() => this.turn(this.sEp, true, this.onServerEvent));
      if (done()) return;
      let next = Infinity;
      for (const d of this.queue) if (d.at < next) next = d.at;
      if (tc !== null && tc < next) next = tc;
      if (ts !== null && ts < next) next = ts;
      if (next === Infinity) throw new Error('stalled');
      this.now = Math.max(this.now, next);
    }
    throw new Error('did not finish');
  }
}

function connected(mode: Mode): Pair {
  const p = new Pair(mode);
  p.run(() => p.server !== null && p.client.state === 'established' && p.server.state === 'established');
  return p;
}

function bulk(mode: Mode, bytes: number): { clientUs: number; serverUs: number; cpuUs: number } {
  const p = connected(mode);
  const id = p.client.openStream()!;
  let written = 0;
  let received = 0;
  const fill = (): void => {
    while (written < bytes && p.client.streamBufferedBytes(id) < BUFFERED) {
      const n = Math.min(CHUNK.length, bytes - written);
      p.client.streamWrite(id, n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      written += n;
    }
  };
  p.onClientEvent = (e) => {
    if (e.kind === 'connection' && e.event.type === 'stream_writable') fill();
  };
  p.onServerEvent = (e) => {
    if (e.kind === 'connection' && e.event.type === 'stream_readable') {
      for (let d = p.server!.streamRead(e.event.streamId); d; d = p.server!.streamRead(e.event.streamId)) received += d.length;
    }
  };
  const c0 = process.cpuUsage();
  p.cm.us = 0;
  p.sm.us = 0;
  p.cm.run(fill);
  p.run(() => received >= bytes);
  const cpu = process.cpuUsage(c0);
  const units = bytes / 1472;
  return { clientUs: p.cm.us / units, serverUs: p.sm.us / units, cpuUs: (cpu.user + cpu.system) / units };
}

/** A connected pair whose server echoes every DATAGRAM; `got` counts the echoes back at the client. */
function echoPair(mode: Mode): { p: ReturnType<typeof connected>; msg: Uint8Array; got: number } {
  const p = connected(mode);
  const e = { p, msg: new Uint8Array(64).fill(1), got: 0 };
  p.onServerEvent = (ev) => {
    if (ev.kind === 'connection' && ev.event.type === 'datagram') p.server!.sendDatagram(ev.event.data);
  };
  p.onClientEvent = (ev) => {
    if (ev.kind === 'connection' && ev.event.type === 'datagram') e.got++;
  };
  return e;
}

function rtt(mode: Mode, n: number): { clientUs: number; serverUs: number; packets: number } {
  const e = echoPair(mode);
  const { p, msg } = e;
  const warm = Math.max(20, n / 5);
  for (let i = 0; i < warm + n; i++) {
    if (i === warm) {
      p.cm.us = 0;
      p.sm.us = 0;
      p.packets = 0;
    }
    const want = e.got + 1;
    p.cm.run(() => p.client.sendDatagram(msg));
    p.run(() => e.got >= want);
  }
  return { clientUs: p.cm.us / n, serverUs: p.sm.us / n, packets: p.packets / n };
}

/**
 * Heap bytes allocated by `fn` (both sides and the loop): young-generation growth with no GC in between, so the process
 * needs --expose-gc and a young generation larger than the batch (--max-semi-space-size=128). null when a GC ran.
 */
function allocated(fn: () => void): number | null {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const g0 = gcCount;
  const h0 = youngBytes();
  fn();
  const h1 = youngBytes();
  return gcCount === g0 ? h1 - h0 : null;
}
let gcCount = 0;
/** Bytes in the young generation (where short-lived allocations land; old-space sweeping does not move it). */
function youngBytes(): number {
  let n = 0;
  for (const sp of getHeapSpaceStatistics()) if (sp.space_name === 'new_space' || sp.space_name === 'new_large_object_space') n += sp.space_used_size;
  return n;
}

/** Bytes allocated per 1472 B of bulk payload, on a connection whose window is already open (8 MiB sent first). */
function allocBulk(mode: Mode): number | null {
  const p = connected(mode);
  const id = p.client.openStream()!;
  let written = 0;
  let received = 0;
  let goal = 8 * 1024 * 1024;
  const fill = (): void => {
    while (written < goal && p.client.streamBufferedBytes(id) < BUFFERED) {
      p.client.streamWrite(id, CHUNK);
      written += CHUNK.length;
    }
  };
  p.onClientEvent = (e) => {
    if (e.kind === 'connection' && e.event.type === 'stream_writable') fill();
  };
  p.onServerEvent = (e) => {
    if (e.kind === 'connection' && e.event.type === 'stream_readable') {
      for (let d = p.server!.streamRead(e.event.streamId); d; d = p.server!.streamRead(e.event.streamId)) received += d.length;
    }
  };
  fill();
  p.run(() => received >= goal);
  const bytes = 2 * 1024 * 1024;
  const a = allocated(() => {
    goal += bytes;
    fill();
    p.run(() => received >= goal);
  });
  return a === null ? null : a / (bytes / 1472);
}

/** Bytes allocated per 64-byte DATAGRAM echo (both sides), after 300 unmeasured ones. */
function allocRtt(mode: Mode): number | null {
  const e = echoPair(mode);
  const { p, msg } = e;
  const trips = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const want = e.got + 1;
      p.client.sendDatagram(msg);
      p.run(() => e.got >= want);
    }
  };
  trips(300);
  const a = allocated(() => trips(500));
  return a === null ? null : a / 500;
}

const ALLOC = typeof (globalThis as { gc?: unknown }).gc === 'function';
if (ALLOC) new PerformanceObserver((l) => (gcCount += l.getEntries().length)).observe({ entryTypes: ['gc'] });

const out: Record<string, number[]> = {};
const push = (k: string, v: number): void => void (out[k] ??= []).push(v);
bulk(MODES[0]!, 1024 * 1024); // JIT warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const m of MODES) {
    const b = bulk(m, MIB * 1024 * 1024);
    push(`${m.key}_bulk_client_us_per_1472B`, b.clientUs);
    push(`${m.key}_bulk_server_us_per_1472B`, b.serverUs);
    push(`${m.key}_bulk_cpu_us_per_1472B`, b.cpuUs);
    const t = rtt(m, RTT_N);
    push(`${m.key}_rtt_client_us`, t.clientUs);
    push(`${m.key}_rtt_server_us`, t.serverUs);
    push(`${m.key}_rtt_packets`, t.packets);
    if (ALLOC) {
      const ab = allocBulk(m);
      if (ab !== null) push(`${m.key}_bulk_alloc_B_per_1472B`, ab);
      const ar = allocRtt(m);
      if (ar !== null) push(`${m.key}_rtt_alloc_B_per_rt`, ar);
    }
  }
}
console.log(environmentLine());
console.log(`sans-IO core path, ${MIB} MiB bulk and ${RTT_N} datagram round trips per round, ${ROUNDS} rounds, medians [min–max]\n`);
for (const [k, v] of Object.entries(out)) {
  console.log(`${k.padEnd(36)} ${median(v).toFixed(2)} [${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}]`);
}
console.log(
  Object.entries(out)
    .map(([k, v]) => `${k}=${median(v).toFixed(3)}`)
    .join(' '),
);
