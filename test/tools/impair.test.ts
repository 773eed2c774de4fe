import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SimRandom } from '../../lib/sim/random.js';
import { HELP, UsageError, main, parseArgs } from '../../tools/impair/cli.js';
import { ImpairProxy } from '../../tools/impair/proxy.js';
import type { ImpairDirectionStats, ImpairEndpoint, ImpairProxyOptions } from '../../tools/impair/proxy.js';

const LOOPBACK = '127.0.0.1';

// ---- helpers: every socket and proxy is registered and closed after each test ----

const openSockets = new Set<Socket>();
const openProxies = new Set<ImpairProxy>();

function udpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
}

/** Closed handles leave the active list in the loop's close phase; two turns of the check phase get past it. */
async function handlesReleased(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `cond` holds; fails after ~timeoutMs (bounded loop). */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (let i = 0; i < timeoutMs / 2; i++) {
    if (cond()) return;
    await sleep(2);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function bindSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  openSockets.add(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, LOOPBACK, () => resolve());
  });
  return s;
}

function closeSocket(s: Socket): Promise<void> {
  openSockets.delete(s);
  return new Promise((r) => s.close(() => r()));
}

interface Echo {
  port: number;
  /** datagrams echoed */
  count: number;
  /** distinct source ports seen (one per proxy session) */
  sources: Set<number>;
}

async function echoServer(): Promise<Echo> {
  const s = await bindSocket();
  const echo: Echo = { port: s.address().port, count: 0, sources: new Set() };
  s.on('message', (m, r) => {
    echo.count++;
    echo.sources.add(r.port);
    s.send(m, r.port, r.address);
  });
  return echo;
}

interface Client {
  socket: Socket;
  inbox: Buffer[];
}

async function client(): Promise<Client> {
  const socket = await bindSocket();
  const c: Client = { socket, inbox: [] };
  socket.on('message', (m) => c.inbox.push(m));
  return c;
}

async function proxyFor(echo: Echo, opts: Partial<ImpairProxyOptions> = {}): Promise<{ proxy: ImpairProxy; at: ImpairEndpoint }> {
  const proxy = new ImpairProxy({ listen: { host: LOOPBACK, port: 0 }, target: { host: LOOPBACK, port: echo.port }, seed: 1, ...opts });
  openProxies.add(proxy);
  const at = await proxy.start();
  return { proxy, at };
}

function droppedTotal(s: ImpairDirectionStats): number {
  const d = s.dropped;
  return d.loss + d.burst + d.queue + d.mtu + d.down;
}

/** Nothing left anywhere in the pipe: the proxy saw everything sent, the echo answered everything it got, and the
 *  client holds every reply the proxy delivered. */
function quiet(proxy: ImpairProxy, echo: Echo, clients: Client[], sentSoFar: number): boolean {
  const s = proxy.stats();
  const received = clients.reduce((n, c) => n + c.inbox.length, 0);
  return (
    s.upstream.sent === sentSoFar &&
    s.upstream.inFlight === 0 &&
    s.downstream.sent === echo.count &&
    echo.count === s.upstream.delivered &&
    s.downstream.inFlight === 0 &&
    received === s.downstream.delivered
  );
}

/** Send payloads in batches, letting the pipe drain between batches so no kernel buffer overflows. */
async function sendPaced(proxy: ImpairProxy, at: ImpairEndpoint, echo: Echo, c: Client, payloads: Uint8Array[], batch = 100): Promise<void> {
  const base = proxy.stats().upstream.sent;
  for (let i = 0; i < payloads.length; i += batch) {
    const end = Math.min(i + batch, payloads.length);
    for (let j = i; j < end; j++) c.socket.send(payloads[j]!, at.port, at.host);
    await waitFor(() => quiet(proxy, echo, [c], base + end), `batch ending at ${end}`);
  }
}

/** Datagram i: a 4-byte big-endian index then seeded filler, `size(i)` bytes in all. */
function numbered(n: number, size: (i: number) => number = () => 64, seed = 99): Uint8Array[] {
  const rng = new SimRandom(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const d = rng.bytes(Math.max(4, size(i)));
    new DataView(d.buffer).setUint32(0, i);
    out.push(d);
  }
  return out;
}

function indexOf(d: Uint8Array): number {
  return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);
}

function hamming(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    let x = a[i]! ^ b[i]!;
    for (; x !== 0; x &= x - 1) n++;
  }
  return n;
}

let udpAtStart = 0;
beforeAll(() => {
  udpAtStart = udpHandles();
});

afterEach(async () => {
  await Promise.all([...openProxies].map((p) => p.stop()));
  openProxies.clear();
  await Promise.all([...openSockets].map((s) => closeSocket(s)));
  await handlesReleased();
});

afterAll(async () => {
  await handlesReleased();
  expect(udpHandles()).toBe(udpAtStart);
});

// ---- the proxy over real loopback sockets ----

describe('ImpairProxy', () => {
  it('with no impairment returns every datagram intact and in order', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo);
    const sent = numbered(500, (i) => 1 + ((i * 37) % 1200));
    await sendPaced(proxy, at, echo, c, sent);

    expect(c.inbox.length).toBe(500);
    for (let i = 0; i < 500; i++) expect(new Uint8Array(c.inbox[i]!)).toEqual(sent[i]);
    const bytes = sent.reduce((n, d) => n + d.length, 0);
    const s = await proxy.stop();
    for (const dir of [s.upstream, s.downstream]) {
      expect(dir).toMatchObject({
        sent: 500,
        delivered: 500,
        duplicated: 0,
        corrupted: 0,
        reordered: 0,
        bytesSent: bytes,
        bytesDelivered: bytes,
        inFlight: 0,
        sendErrors: 0,
      });
      expect(droppedTotal(dir)).toBe(0);
    }
    expect(s.clientsTotal).toBe(1);
  });

  it('loss 0.2 delivers about 80% of 2,000 datagrams and accounts for every drop', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { seed: 5, upstream: { loss: 0.2 } });
    await sendPaced(
      proxy,
      at,
      echo,
      c,
      numbered(2000, () => 32),
      200,
    );

    const s = proxy.stats();
    const fraction = c.inbox.length / 2000;
    expect(fraction).toBeGreaterThan(0.76); // mean 0.8, sd ≈ 0.009
    expect(fraction).toBeLessThan(0.84);
    expect(s.upstream.sent).toBe(2000);
    expect(s.upstream.dropped.loss).toBe(s.upstream.sent - s.upstream.delivered);
    expect(droppedTotal(s.upstream)).toBe(s.upstream.sent - s.upstream.delivered);
    expect(s.upstream.delivered).toBe(c.inbox.length);
    expect(s.downstream).toMatchObject({ sent: c.inbox.length, delivered: c.inbox.length });
    expect(new Set(c.inbox.map(indexOf)).size).toBe(c.inbox.length); // nothing invented
  });

  it('duplication delivers extra copies and counts them', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { seed: 3, upstream: { duplicate: 0.25 } });
    await sendPaced(proxy, at, echo, c, numbered(400));

    const s = proxy.stats().upstream;
    expect(s.duplicated).toBeGreaterThan(60); // mean 100, sd ≈ 8.7
    expect(s.duplicated).toBeLessThan(140);
    expect(s.delivered).toBe(400 + s.duplicated);
    expect(c.inbox.length).toBe(400 + s.duplicated);
    const seen = new Map<number, number>();
    for (const m of c.inbox) seen.set(indexOf(m), (seen.get(indexOf(m)) ?? 0) + 1);
    expect(seen.size).toBe(400);
    expect([...seen.values()].filter((n) => n === 2).length).toBe(s.duplicated);
    expect([...seen.values()].every((n) => n === 1 || n === 2)).toBe(true);
  });

  it('corruption flips 1..corruptBits bits of the datagrams it counts', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { seed: 11, upstream: { corrupt: 0.5, corruptBits: 3 } });
    const sent = numbered(300, () => 100);
    await sendPaced(proxy, at, echo, c, sent);

    expect(c.inbox.length).toBe(300); // no loss, no reordering: replies line up with what was sent
    let changed = 0;
    for (let i = 0; i < 300; i++) {
      const got = new Uint8Array(c.inbox[i]!);
      expect(got.length).toBe(100);
      const bits = hamming(got, sent[i]!);
      if (bits > 0) {
        changed++;
        expect(bits).toBeLessThanOrEqual(3);
      }
    }
    const s = proxy.stats();
    expect(changed).toBe(s.upstream.corrupted);
    expect(changed).toBeGreaterThan(100); // mean 150
    expect(changed).toBeLessThan(200);
    expect(s.downstream.corrupted).toBe(0);
  });

  it('delay adds at least the configured one-way delays to each round trip', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { upstream: { delay: 30, jitter: 5 }, downstream: { delay: 20, jitter: 5 } });
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      c.socket.send(numbered(1)[0]!, at.port, at.host);
      await waitFor(() => c.inbox.length === i + 1, `reply ${i}`);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(50);
    }
    expect(proxy.stats().downstream.delivered).toBe(8);
  });

  it('a rate cap bounds throughput', async () => {
    const echo = await echoServer();
    const c = await client();
    const rate = 1_000_000; // 1 Mbit/s: 8 ms per 1000-byte datagram
    const { proxy, at } = await proxyFor(echo, { upstream: { rate } });
    const n = 60;
    const t0 = performance.now();
    for (const d of numbered(n, () => 1000)) c.socket.send(d, at.port, at.host);
    await waitFor(() => c.inbox.length === n, 'all replies');
    const elapsed = performance.now() - t0;
    const bitsPerSecond = (n * 1000 * 8) / (elapsed / 1000);
    expect(bitsPerSecond).toBeLessThanOrEqual(rate * 1.05);
    expect(proxy.stats().upstream.dropped.queue).toBe(0);
  });

  it('a full drop-tail queue drops what does not fit', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { upstream: { rate: 1_000_000, queueBytes: 5000 } });
    for (const d of numbered(40, () => 1000)) c.socket.send(d, at.port, at.host);
    await waitFor(() => quiet(proxy, echo, [c], 40), 'the burst to drain');
    const s = proxy.stats().upstream;
    // one datagram serializing + 5000 bytes waiting are admitted at the very least
    expect(s.delivered).toBeGreaterThanOrEqual(6);
    expect(s.dropped.queue).toBeGreaterThan(0);
    expect(s.delivered + s.dropped.queue).toBe(40);
    expect(c.inbox.length).toBe(s.delivered);
  });

  it('drops datagrams larger than the MTU', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { upstream: { mtu: 1000 } });
    const sizes = [500, 1000, 1001, 1400];
    await sendPaced(
      proxy,
      at,
      echo,
      c,
      numbered(4, (i) => sizes[i]!),
    );
    expect(c.inbox.map((m) => m.length).sort((a, b) => a - b)).toEqual([500, 1000]);
    expect(proxy.stats().upstream.dropped.mtu).toBe(2);
  });

  it('set() changes impairments at run time and validates them', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo);
    proxy.set('upstream', { down: true });
    expect(proxy.config('upstream').down).toBe(true);
    expect(proxy.config('downstream').down).toBe(false);
    await sendPaced(proxy, at, echo, c, numbered(20));
    expect(c.inbox.length).toBe(0);
    expect(proxy.stats().upstream.dropped.down).toBe(20);

    proxy.set('both', { down: false });
    await sendPaced(proxy, at, echo, c, numbered(20));
    expect(c.inbox.length).toBe(20);
    expect(() => proxy.set('downstream', { loss: 2 })).toThrow(RangeError);
  });

  it("maps each client's replies back to that client", async () => {
    const echo = await echoServer();
    const a = await client();
    const b = await client();
    const { proxy, at } = await proxyFor(echo, { upstream: { delay: 5, jitter: 5 }, downstream: { delay: 5, jitter: 5 } });
    const enc = new TextEncoder();
    for (let i = 0; i < 100; i++) {
      a.socket.send(enc.encode(`A:${i}`), at.port, at.host);
      b.socket.send(enc.encode(`B:${i}`), at.port, at.host);
    }
    await waitFor(() => quiet(proxy, echo, [a, b], 200), 'all replies');
    const text = (c: Client): string[] => c.inbox.map((m) => m.toString()).sort();
    const expected = (tag: string): string[] => Array.from({ length: 100 }, (_, i) => `${tag}:${i}`).sort();
    expect(text(a)).toEqual(expected('A'));
    expect(text(b)).toEqual(expected('B'));
    expect(echo.sources.size).toBe(2); // the target saw one peer per client
    expect(proxy.stats()).toMatchObject({ clients: 2, clientsTotal: 2, ignored: 0 });
  });

  it('a client back after the idle timeout reaches the target from a new port', async () => {
    const echo = await echoServer();
    const c = await client();
    const { proxy, at } = await proxyFor(echo, { idleTimeout: 50 });
    await sendPaced(proxy, at, echo, c, numbered(3));
    expect(echo.sources.size).toBe(1);
    await sleep(80);
    await sendPaced(proxy, at, echo, c, numbered(3));
    expect(c.inbox.length).toBe(6);
    expect(echo.sources.size).toBe(2);
    expect(proxy.stats()).toMatchObject({ clients: 1, clientsTotal: 2 });
  });

  it('the same seed makes the same decisions for the same datagrams', async () => {
    const echo = await echoServer();
    const run = async (seed: number): Promise<string[]> => {
      const c = await client();
      const { proxy, at } = await proxyFor(echo, { seed, upstream: { loss: 0.3, duplicate: 0.2, corrupt: 0.1 } });
      await sendPaced(
        proxy,
        at,
        echo,
        c,
        numbered(300, () => 16),
      );
      await proxy.stop();
      await closeSocket(c.socket);
      echo.count = 0;
      return c.inbox.map((m) => m.toString('hex'));
    };
    const first = await run(7);
    const again = await run(7);
    const other = await run(8);
    expect(first.length).toBeGreaterThan(150);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('stop() releases every socket and the timer, and reports what was still in flight', async () => {
    const echo = await echoServer();
    const clients = [await client(), await client(), await client()];
    const before = udpHandles();
    const { proxy, at } = await proxyFor(echo);
    for (const c of clients) c.socket.send(numbered(1)[0]!, at.port, at.host);
    await waitFor(() => quiet(proxy, echo, clients, 3), 'three replies');
    expect(udpHandles()).toBe(before + 4); // listen socket + one per client

    // the proxy's timer is the only one armed minutes ahead (waitFor polls every 2 ms)
    const armed = vi.spyOn(globalThis, 'setTimeout');
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    try {
      proxy.set('upstream', { delay: 60_000 });
      for (let i = 0; i < 5; i++) clients[0]!.socket.send(numbered(1)[0]!, at.port, at.host);
      await waitFor(() => proxy.stats().upstream.sent === 8, 'the proxy to take the delayed datagrams');
      const long = armed.mock.calls.flatMap((call, i) => ((call[1] ?? 0) > 1000 ? [armed.mock.results[i]!.value as unknown] : []));
      expect(long.length).toBe(1); // one timer for all five

      const s = await proxy.stop();
      expect(cleared.mock.calls.some((call) => call[0] === long[0])).toBe(true);
      expect(s.upstream).toMatchObject({ sent: 8, delivered: 3, inFlight: 5 });
      expect(s.clientsTotal).toBe(3);
      expect(udpHandles()).toBe(before);
      expect(await proxy.stop()).toBe(s);
      expect(proxy.stats()).toBe(s);
    } finally {
      armed.mockRestore();
      cleared.mockRestore();
    }
  });

  it('start() rejects when the listen address is taken, leaving no socket behind', async () => {
    const echo = await echoServer();
    const taken = await bindSocket();
    const before = udpHandles();
    const p = new ImpairProxy({ listen: { host: LOOPBACK, port: taken.address().port }, target: { host: LOOPBACK, port: echo.port } });
    await expect(p.start()).rejects.toThrow(/EADDRINUSE/);
    await p.stop();
    expect(udpHandles()).toBe(before);
  });
});

// ---- command line ----

describe('impair CLI', () => {
  it('parses units, per-direction overrides and outages', () => {
    const o = parseArgs([
      '--listen',
      '9000',
      '--target',
      '[::1]:4433',
      '--loss',
      '5%',
      '--up-loss',
      '0.1',
      '--delay',
      '10',
      '--down-delay',
      '1.5s',
      '--jitter=250us',
      '--rate',
      '10mbit',
      '--up-rate',
      '512kbit',
      '--queue',
      '64kb',
      '--mtu',
      '1400',
      '--burst',
      '0.01,0.3',
      '--down-burst',
      '0.02,0.5,0.1,0.9',
      '--preserve-order',
      '--seed',
      '42',
      '--duration',
      '30s',
      '--outage',
      '10s+2s',
      '--down-outage',
      '1m+500ms',
      '--corrupt-bits',
      '4',
      '--reorder',
      '1%',
    ]);
    expect(o.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(o.target).toEqual({ host: '::1', port: 4433 });
    expect(o.seed).toBe(42);
    expect(o.duration).toBe(30_000);
    expect(o.upstream).toEqual({
      loss: 0.1,
      delay: 10,
      jitter: 0.25,
      rate: 512_000,
      queueBytes: 65536,
      mtu: 1400,
      burst: { p: 0.01, r: 0.3 },
      preserveOrder: true,
      corruptBits: 4,
      reorder: 0.01,
    });
    expect(o.downstream).toEqual({
      loss: 0.05,
      delay: 1500,
      jitter: 0.25,
      rate: 10_000_000,
      queueBytes: 65536,
      mtu: 1400,
      burst: { p: 0.02, r: 0.5, lossGood: 0.1, lossBad: 0.9 },
      preserveOrder: true,
      corruptBits: 4,
      reorder: 0.01,
    });
    expect(o.outages).toEqual([
      { direction: 'both', at: 10_000, length: 2000 },
      { direction: 'downstream', at: 60_000, length: 500 },
    ]);
  });

  it('rejects bad input with a usage error', () => {
    const base = ['--listen', '127.0.0.1:9000', '--target', '127.0.0.1:4433'];
    for (const bad of [
      ['--loss', '2'],
      ['--rate', '10mbps'],
      ['--duration', '30'],
      ['--queue', 'lots'],
      ['--burst', '0.1'],
      ['--bogus', '1'],
      ['--up-seed', '1'],
      ['--preserve-order=yes'],
      ['--delay'],
    ]) {
      expect(() => parseArgs([...base, ...bad]), bad.join(' ')).toThrow(UsageError);
    }
    expect(() => parseArgs(['--listen', '9000'])).toThrow(/--target is required/);
    expect(() => parseArgs(['--listen', 'nohost', '--target', '1'])).toThrow(UsageError);
  });

  it('--help documents every option', () => {
    expect(parseArgs(['--help']).help).toBe(true);
    const names = [
      'listen',
      'target',
      'loss',
      'burst',
      'delay',
      'jitter',
      'jitter-dist',
      'preserve-order',
      'reorder',
      'reorder-delay',
      'duplicate',
      'corrupt',
      'corrupt-bits',
      'rate',
      'queue',
      'mtu',
      'outage',
      'seed',
      'duration',
      'idle-timeout',
      'trace',
      'quiet',
      'help',
    ];
    // each option starts a line of its own (so --jitter is not satisfied by --jitter-dist)
    for (const n of names) expect(HELP, n).toMatch(new RegExp(`^ {2}(-h, )?--${n}(?![\\w-])`, 'm'));
    expect(HELP).toContain('--up-');
    expect(HELP).toContain('--down-');
  });

  it('main() runs the proxy, applies outages and prints a table per direction', async () => {
    const echo = await echoServer();
    const c = await client();
    let out = '';
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const run = main(['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${echo.port}`, '--down-outage', '0ms+1m', '--seed', '3'], {
      out: { write: (s: string) => (out += s) },
      err: { write: (s: string) => (out += s) },
      stop: stopped,
    });
    await waitFor(() => /127\.0\.0\.1:(\d+) ->/.test(out), 'the start line');
    const port = Number(/127\.0\.0\.1:(\d+) ->/.exec(out)![1]);
    // the outage timers were armed right after the start line was written; this later, longer sleep fires after them
    await sleep(20);
    for (let i = 0; i < 4; i++) c.socket.send(numbered(1)[0]!, port, LOOPBACK);
    await waitFor(() => echo.count === 4, 'the echo to answer');
    stop();
    expect(await run).toBe(0);
    expect(c.inbox.length).toBe(0);
    expect(out).toMatch(/^sent\s+4\s+4$/m);
    expect(out).toMatch(/^ {2}down\s+0\s+4$/m);
    expect(out).toMatch(/^delivered\s+4\s+0$/m);
  });

  it('bin/petrel.mjs dispatches `impair` and stops cleanly on SIGTERM', async () => {
    const echo = await echoServer();
    const c = await client();
    const bin = fileURLToPath(new URL('../../bin/petrel.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'impair', '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${echo.port}`, '--up-delay', '5ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => /127\.0\.0\.1:(\d+) ->/.test(out), 'the child to start', 15_000);
      const port = Number(/127\.0\.0\.1:(\d+) ->/.exec(out)![1]);
      for (let i = 0; i < 5; i++) c.socket.send(numbered(1)[0]!, port, LOOPBACK);
      await waitFor(() => c.inbox.length === 5, 'five replies');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('stopped (SIGTERM)');
    expect(out).toMatch(/^sent\s+5\s+5$/m);
  });
});
