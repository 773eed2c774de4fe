/**
 * The transports the two-process benchmark compares, each behind one small interface: a server that sinks,
 * echoes or just accepts, and a client that sends bulk bytes, measures 64-byte round trips, runs handshakes
 * or holds idle connections. Same work for every kind: bulk is 64 KiB writes honouring backpressure (raw
 * UDP: 1472-byte datagrams under a self-clocked window), a round trip is `size` bytes there and back.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, generateIdentity, listen, type PetrelConnection, type PetrelServer } from '../../../lib/index.js';

const HOST = '127.0.0.1';
const CHUNK = 64 * 1024;
export const DATAGRAM = 1472;
const UDP_BUFFER = 4 * 1024 * 1024;
const UDP_WINDOW = 128;
const UDP_ACK_EVERY = 16;
const UDP_STALL_MS = 20;

export type Lane = 'datagram' | 'stream' | 'channel' | 'plain';
export type ServerMode = 'sink' | 'echo' | 'accept';

export interface Transport {
  fingerprint?: string;
  listen(mode: ServerMode): Promise<number>;
  /** Client: bind what must be known to the server before connecting (udx); returns our port or 0. */
  prepare(): Promise<number>;
  /** Server: the client's port (udx streams are connected from both ends). */
  peer(port: number): Promise<void>;
  connect(port: number, fingerprint?: string): Promise<void>;
  /** Server: resolves once `bytes` in all were received, or nothing arrived for stallMs. */
  expect(bytes: number, stallMs: number): Promise<{ bytes: number; lastRxMs: number }>;
  /** Client: sends `bytes` (resolves when written; raw UDP: when acknowledged or written off). */
  send(bytes: number): Promise<number>;
  /** Client: round-trip times in µs of `n` sequential `size`-byte messages after `warm` unmeasured ones. */
  rtt(lane: Lane, n: number, warm: number, size: number): Promise<number[]>;
  handshakes(n: number, concurrency: number): Promise<number>;
  idle(n: number, concurrency: number): Promise<number>;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

const epochMs = (): number => performance.timeOrigin + performance.now();

/** Received-byte accounting shared by the servers. */
class Sink {
  bytes = 0;
  lastRxMs = 0;
  private waiter: { target: number; resolve: () => void } | null = null;

  add(n: number): void {
    this.bytes += n;
    this.lastRxMs = epochMs();
    if (this.waiter && this.bytes >= this.waiter.target) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve();
    }
  }

  async expect(target: number, stallMs: number): Promise<{ bytes: number; lastRxMs: number }> {
    if (this.bytes < target) {
      await new Promise<void>((resolve) => {
        this.waiter = { target, resolve };
        let mark = this.bytes;
        const t = setInterval(() => {
          if (this.bytes === mark) {
            this.waiter = null;
            resolve();
          }
          mark = this.bytes;
        }, stallMs);
        const done = resolve;
        this.waiter.resolve = () => {
          clearInterval(t);
          done();
        };
      });
    }
    return { bytes: this.bytes, lastRxMs: this.lastRxMs };
  }
}

/** Writes `total` bytes in 64 KiB writes honouring backpressure. */
async function writeAll(w: Duplex, total: number): Promise<number> {
  const chunk = Buffer.alloc(CHUNK, 0x5a);
  let sent = 0;
  while (sent < total) {
    const n = Math.min(CHUNK, total - sent);
    const ok = w.write(n === CHUNK ? chunk : chunk.subarray(0, n));
    sent += n;
    if (!ok) await once(w, 'drain');
  }
  return sent;
}

/** Sequential round trips: `once` sends one message and resolves when its echo is back. */
async function timeRoundTrips(n: number, warm: number, once1: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warm; i++) await once1();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once1();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** Resolves with the next `size` bytes read from a byte stream (echo of one message). */
function bytesReader(s: Duplex): (size: number) => Promise<void> {
  let have = 0;
  let want = 0;
  let resolve: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    have += d.length;
    if (resolve && have >= want) {
      have -= want;
      const r = resolve;
      resolve = null;
      r();
    }
  });
  return (size) =>
    new Promise<void>((r) => {
      want = size;
      if (have >= want) {
        have -= want;
        r();
      } else resolve = r;
    });
}

function unsupported(what: string): never {
  throw new Error(`not measured for this transport: ${what}`);
}

// ───────────────────────────── raw UDP ─────────────────────────────

async function bindUdp(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER });
  await new Promise<void>((resolve) => s.bind(0, HOST, resolve));
  return s;
}

class UdpTransport implements Transport {
  private sock!: dgram.Socket;
  private sink = new Sink();
  private lost = 0;

  async listen(mode: ServerMode): Promise<number> {
    this.sock = await bindUdp();
    let received = 0;
    const ack = Buffer.alloc(4);
    this.sock.on('message', (msg, r) => {
      if (mode === 'echo') {
        this.sock.send(msg, r.port, r.address);
        return;
      }
      this.sink.add(msg.length);
      if (++received % UDP_ACK_EVERY === 0) {
        ack.writeUInt32BE(received >>> 0);
        this.sock.send(ack, r.port, r.address);
      }
    });
    return this.sock.address().port;
  }
  prepare = async (): Promise<number> => 0;
  peer = async (): Promise<void> => undefined;
  async connect(port: number): Promise<void> {
    this.sock = await bindUdp();
    this.sock.connect(port, HOST);
    await once(this.sock, 'connect');
  }
  expect(bytes: number, stallMs: number) {
    return this.sink.expect(bytes, stallMs);
  }
  /** Datagrams sent, acknowledged (the receiver's cumulative count) and written off, over the socket's life. */
  private sentEver = 0;
  private ackedEver = 0;
  private forgivenEver = 0;

  /** Self-clocked: at most UDP_WINDOW datagrams unacknowledged; a window stalled for 20 ms is written off. */
  async send(bytes: number): Promise<number> {
    const payload = Buffer.alloc(DATAGRAM, 0x5a);
    const goal = this.sentEver + Math.ceil(bytes / DATAGRAM);
    const first = this.sentEver;
    await new Promise<void>((resolve) => {
      const outstanding = (): number => this.sentEver - this.ackedEver - this.forgivenEver;
      const pump = (): void => {
        while (this.sentEver < goal && outstanding() < UDP_WINDOW) {
          this.sock.send(payload);
          this.sentEver++;
        }
        // The last partial batch of UDP_ACK_EVERY is never acknowledged: done once only it is left.
        if (this.sentEver >= goal && outstanding() < UDP_ACK_EVERY) finish();
      };
      const onAck = (msg: Buffer): void => {
        this.ackedEver = Math.max(this.ackedEver, msg.readUInt32BE(0));
        pump();
      };
      let mark = -1;
      const stall = setInterval(() => {
        if (this.ackedEver === mark) {
          const n = outstanding();
          this.forgivenEver += n;
          this.lost += n;
          pump();
        }
        mark = this.ackedEver;
      }, UDP_STALL_MS);
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearInterval(stall);
        this.sock.off('message', onAck);
        resolve();
      };
      this.sock.on('message', onAck);
      pump();
    });
    return (this.sentEver - first) * DATAGRAM;
  }
  async rtt(_lane: Lane, n: number, warm: number, size: number): Promise<number[]> {
    const msg = Buffer.alloc(size, 1);
    return timeRoundTrips(n, warm, async () => {
      this.sock.send(msg);
      await once(this.sock, 'message');
    });
  }
  handshakes = async (): Promise<number> => unsupported('handshakes');
  idle = async (): Promise<number> => unsupported('idle connections');
  stats = (): Record<string, number> => ({ written_off_datagrams: this.lost });
  async close(): Promise<void> {
    this.sock?.close();
  }
}

// ───────────────────────────── node:net ─────────────────────────────

class TcpTransport implements Transport {
  private server?: net.Server;
  private sock?: net.Socket;
  private sink = new Sink();
  private read?: (size: number) => Promise<void>;

  async listen(mode: ServerMode): Promise<number> {
    this.server = net.createServer((s) => {
      s.setNoDelay(true);
      if (mode === 'echo') s.on('data', (d: Buffer) => s.write(d));
      else s.on('data', (d: Buffer) => this.sink.add(d.length));
    });
    this.server.listen(0, HOST);
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }
  prepare = async (): Promise<number> => 0;
  peer = async (): Promise<void> => undefined;
  async connect(port: number): Promise<void> {
    this.sock = net.connect(port, HOST);
    this.sock.setNoDelay(true);
    await once(this.sock, 'connect');
  }
  expect(bytes: number, stallMs: number) {
    return this.sink.expect(bytes, stallMs);
  }
  send = (bytes: number): Promise<number> => writeAll(this.sock!, bytes);
  async rtt(_lane: Lane, n: number, warm: number, size: number): Promise<number[]> {
    this.read ??= bytesReader(this.sock!);
    const msg = Buffer.alloc(size, 1);
    return timeRoundTrips(n, warm, () => {
      this.sock!.write(msg);
      return this.read!(size);
    });
  }
  handshakes = async (): Promise<number> => unsupported('handshakes');
  idle = async (): Promise<number> => unsupported('idle connections');
  stats = (): Record<string, number> => ({});
  async close(): Promise<void> {
    this.sock?.destroy();
    this.server?.close();
  }
}

// ───────────────────────────── ws ─────────────────────────────

class WsTransport implements Transport {
  private server?: WebSocketServer;
  private ws?: WebSocket;
  private sink = new Sink();

  async listen(mode: ServerMode): Promise<number> {
    this.server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false, maxPayload: 1 << 20 });
    this.server.on('connection', (ws) => {
      if (mode === 'echo') ws.on('message', (d: Buffer) => ws.send(d));
      else ws.on('message', (d: Buffer) => this.sink.add(d.length));
    });
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }
  prepare = async (): Promise<number> => 0;
  peer = async (): Promise<void> => undefined;
  async connect(port: number): Promise<void> {
    this.ws = new WebSocket(`ws://${HOST}:${port}`, { perMessageDeflate: false });
    await once(this.ws, 'open');
  }
  expect(bytes: number, stallMs: number) {
    return this.sink.expect(bytes, stallMs);
  }
  /** ws has no 'drain': keep at most 4 MiB buffered, waiting on the send callbacks beyond that. */
  async send(bytes: number): Promise<number> {
    const chunk = Buffer.alloc(CHUNK, 0x5a);
    let sent = 0;
    let pending: Promise<void> = Promise.resolve();
    while (sent < bytes) {
      const n = Math.min(CHUNK, bytes - sent);
      pending = new Promise<void>((r) => this.ws!.send(n === CHUNK ? chunk : chunk.subarray(0, n), () => r()));
      sent += n;
      if (this.ws!.bufferedAmount > 4 * 1024 * 1024) await pending;
    }
    await pending;
    return sent;
  }
  async rtt(_lane: Lane, n: number, warm: number, size: number): Promise<number[]> {
    const msg = Buffer.alloc(size, 1);
    return timeRoundTrips(n, warm, async () => {
      this.ws!.send(msg);
      await once(this.ws!, 'message');
    });
  }
  handshakes = async (): Promise<number> => unsupported('handshakes');
  idle = async (): Promise<number> => unsupported('idle connections');
  stats = (): Record<string, number> => ({});
  async close(): Promise<void> {
    this.ws?.terminate();
    this.server?.close();
  }
}

// ───────────────────────────── udx-native ─────────────────────────────

interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { port: number };
  close(): Promise<void>;
}
interface UdxStream extends Duplex {
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
}
interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number): UdxStream;
}

function loadUdx(): Udx {
  const req = createRequire(import.meta.url);
  const UDX = req('udx-native') as new () => Udx;
  return new UDX();
}

/** udx streams have ids at both ends: the server's is 1, the client's 2. */
class UdxTransport implements Transport {
  private udx = loadUdx();
  private sock?: UdxSocket;
  private stream?: UdxStream;
  private mode: ServerMode = 'sink';
  private sink = new Sink();
  private read?: (size: number) => Promise<void>;

  async listen(mode: ServerMode): Promise<number> {
    this.mode = mode;
    this.sock = this.udx.createSocket();
    this.sock.bind(0, HOST);
    return this.sock.address().port;
  }
  async prepare(): Promise<number> {
    this.sock = this.udx.createSocket();
    this.sock.bind(0, HOST);
    return this.sock.address().port;
  }
  async peer(port: number): Promise<void> {
    const s = this.udx.createStream(1);
    s.connect(this.sock!, 2, port, HOST);
    if (this.mode === 'echo') s.on('data', (d: Buffer) => s.write(d));
    else s.on('data', (d: Buffer) => this.sink.add(d.length));
    s.on('error', () => undefined);
    this.stream = s;
  }
  async connect(port: number): Promise<void> {
    this.stream = this.udx.createStream(2);
    this.stream.connect(this.sock!, 1, port, HOST);
    this.stream.on('error', () => undefined);
  }
  expect(bytes: number, stallMs: number) {
    return this.sink.expect(bytes, stallMs);
  }
  send = (bytes: number): Promise<number> => writeAll(this.stream!, bytes);
  async rtt(_lane: Lane, n: number, warm: number, size: number): Promise<number[]> {
    this.read ??= bytesReader(this.stream!);
    const msg = Buffer.alloc(size, 1);
    return timeRoundTrips(n, warm, () => {
      this.stream!.write(msg);
      return this.read!(size);
    });
  }
  handshakes = async (): Promise<number> => unsupported('handshakes');
  idle = async (): Promise<number> => unsupported('idle connections');
  stats = (): Record<string, number> => ({});
  async close(): Promise<void> {
    this.stream?.destroy();
    await this.sock?.close();
  }
}

// ───────────────────────────── Petrel ─────────────────────────────

class PetrelTransport implements Transport {
  fingerprint?: string;
  private server?: PetrelServer;
  private conn?: PetrelConnection;
  private port = 0;
  private sink = new Sink();
  private held: PetrelConnection[] = [];

  constructor(private readonly insecure: boolean) {}

  private trust(): { insecure: true } | { serverKey: string } {
    return this.insecure ? { insecure: true } : { serverKey: this.fingerprint! };
  }

  async listen(mode: ServerMode): Promise<number> {
    const id = this.insecure ? undefined : generateIdentity();
    this.fingerprint = id?.fingerprint;
    this.server = await listen({ host: HOST, port: 0, maxConnections: 100_000, ...(id ? { identity: id } : { insecure: true }) });
    this.server.on('connection', (c: PetrelConnection) => {
      if (mode === 'accept') return;
      if (mode === 'sink') {
        c.on('stream', (s) => s.on('data', (d: Buffer) => this.sink.add(d.length)));
        return;
      }
      c.on('datagram', (d: Uint8Array) => c.sendDatagram(d));
      c.on('stream', (s) => s.on('data', (d: Buffer) => s.write(d)));
      const ch = c.channel<Uint8Array>('rtt', { codec: 'raw', mode: 'reliable-ordered' });
      ch.on('message', (m) => ch.send(m));
    });
    return this.server.address().port;
  }
  prepare = async (): Promise<number> => 0;
  peer = async (): Promise<void> => undefined;
  async connect(port: number, fingerprint?: string): Promise<void> {
    this.port = port;
    this.fingerprint = fingerprint;
    this.conn = await connect({ host: HOST, port, ...this.trust() });
  }
  expect(bytes: number, stallMs: number) {
    return this.sink.expect(bytes, stallMs);
  }
  async send(bytes: number): Promise<number> {
    const s = await this.conn!.openStream();
    return writeAll(s, bytes);
  }
  async rtt(lane: Lane, n: number, warm: number, size: number): Promise<number[]> {
    const c = this.conn!;
    const msg = new Uint8Array(size).fill(1);
    if (lane === 'datagram') {
      // A lost datagram is sent again after 200 ms; such samples stay in (they are the tail).
      return timeRoundTrips(n, warm, async () => {
        for (;;) {
          c.sendDatagram(msg);
          let timer!: NodeJS.Timeout;
          const got = await Promise.race([
            once(c, 'datagram').then(() => true),
            new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 200))),
          ]);
          clearTimeout(timer);
          if (got) return;
        }
      });
    }
    if (lane === 'channel') {
      const ch = c.channel<Uint8Array>('rtt', { codec: 'raw', mode: 'reliable-ordered' });
      return timeRoundTrips(n, warm, async () => {
        ch.send(msg);
        await once(ch, 'message');
      });
    }
    const s = await c.openStream();
    const read = bytesReader(s);
    return timeRoundTrips(n, warm, () => {
      s.write(msg);
      return read(size);
    });
  }
  async handshakes(n: number, concurrency: number): Promise<number> {
    let next = 0;
    let ok = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        const c = await connect({ host: HOST, port: this.port, ...this.trust() });
        ok++;
        // Not awaited: close() waits out the closing period, which is latency, not handshake work.
        c.close().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return ok;
  }
  async idle(n: number, concurrency: number): Promise<number> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        this.held.push(await connect({ host: HOST, port: this.port, ...this.trust(), idleTimeout: 120_000 }));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return this.held.length;
  }
  stats = (): Record<string, number> => ({ connections: this.held.length });
  async close(): Promise<void> {
    await Promise.all(this.held.map((c) => c.close().catch(() => undefined)));
    await this.conn?.close().catch(() => undefined);
    await this.server?.close({ force: true }).catch(() => undefined);
  }
}

export function makeTransport(kind: string, o: { insecure: boolean }): Transport {
  switch (kind) {
    case 'udp':
      return new UdpTransport();
    case 'tcp':
      return new TcpTransport();
    case 'ws':
      return new WsTransport();
    case 'udx':
      return new UdxTransport();
    case 'petrel':
      return new PetrelTransport(o.insecure);
    default:
      throw new Error(`unknown transport kind ${kind}`);
  }
}
