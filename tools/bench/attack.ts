/**
 * What attacks cost a Petrel server (issue 11), measured; not a test. Five figures:
 *  1. server CPU per junk Initial (CRC-valid, does not authenticate): sans-IO endpoint, process CPU time;
 *  2. server CPU per spoofed ClientHello, with Retry ('always') and without ('never');
 *  3. heap per half-open connection (needs --expose-gc for a stable figure);
 *  4. connect time of a real client while a child process floods the server with junk Initials at --flood/s;
 *  5. how long a client of a crashed server takes to learn it is gone once the server restarts with the same
 *     statelessResetKey (and, for contrast, with a different key: it waits for its idle timeout).
 *
 *   node --expose-gc --import tsx tools/bench/attack.ts [--n 2000] [--flood 5000] [--connects 20] [--quick]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { PeerAddress } from '../../lib/connection/types.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { RetryIntegrity } from '../../lib/crypto/retry.js';
import { generateIdentity as generateKeyPair } from '../../lib/crypto/handshake/index.js';
import { AddressTokens } from '../../lib/endpoint/retry-token.js';
import { connect, listen, identityFromPrivateKey } from '../../lib/api/index.js';
import { junkInitial } from '../attack/craft.js';
import { flag, fmt, median, numberArg, quantile } from './common.js';

const rnd = (b: Uint8Array): void => void randomFillSync(b);
const env = { randomFill: rnd, crc32: (d: Uint8Array) => crc32(d) };
const SELF = fileURLToPath(import.meta.url);

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const kp = generateKeyPair(nodeCryptoProvider);
const serverCrypto = secureCrypto({ provider: nodeCryptoProvider, server: { identity: kp } });
const clientCrypto = secureCrypto({ provider: nodeCryptoProvider, client: { serverKey: kp.publicKey, now: () => Date.now() } });
const SERVER: PeerAddress = { host: '192.0.2.1', port: 4433 };

function server(retry: 'always' | 'never', maxHalfOpen = 1_000_000): Endpoint {
  return new Endpoint({
    env,
    server: {
      crypto: serverCrypto,
      retry,
      maxHalfOpen,
      maxHalfOpenPerPrefix: maxHalfOpen,
      maxConnections: maxHalfOpen,
      tokens: new AddressTokens({ hmacSha256: nodeCryptoProvider.hmacSha256, key: new Uint8Array(32).fill(3), clock: Date.now }),
      retryIntegrity: new RetryIntegrity(nodeCryptoProvider),
    },
  });
}

function hellos(n: number): Array<{ data: Uint8Array; from: PeerAddress }> {
  const out: Array<{ data: Uint8Array; from: PeerAddress }> = [];
  const buf = new Uint8Array(2048);
  for (let i = 0; i < n; i++) {
    const ep = new Endpoint({ env });
    ep.connect({ remote: SERVER, crypto: clientCrypto, now: 0 });
    const t = ep.pollTransmit(0, buf)!;
    out.push({ data: buf.slice(0, t.length), from: { host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1000 + (i % 60000) } });
  }
  return out;
}

/** CPU µs per datagram for the server to take each datagram and send everything it then wants to. */
function serverCpuPer(ep: Endpoint, input: Array<{ data: Uint8Array; from: PeerAddress }>): number {
  const buf = new Uint8Array(2048);
  const copies = input.map((d) => d.data.slice());
  const t0 = cpuUs();
  for (let i = 0; i < input.length; i++) {
    ep.handleDatagram(copies[i]!, input[i]!.from, 0);
    while (ep.pollTransmit(0, buf));
  }
  return (cpuUs() - t0) / input.length;
}

async function connectTimes(port: number, fp: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await connect({ host: '127.0.0.1', port, serverKey: fp, timeout: 20_000 });
    times.push(performance.now() - t0);
    await c.close();
  }
  return times;
}

function child(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

function firstLine(p: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    p.stdout!.on('data', (d: Buffer) => {
      acc += d.toString();
      const nl = acc.indexOf('\n');
      if (nl >= 0) resolve(acc.slice(0, nl));
    });
    p.on('exit', () => reject(new Error('child exited early')));
  });
}

/** Child role: a server with a given identity and reset key on a given port; prints "ready". */
async function serveRole(): Promise<void> {
  const i = process.argv.indexOf('--serve');
  const [port, seedHex, keyHex] = process.argv.slice(i + 1, i + 4) as [string, string, string];
  const identity = identityFromPrivateKey(new Uint8Array(Buffer.from(seedHex, 'hex')));
  const s = await listen({ host: '127.0.0.1', port: Number(port), identity, statelessResetKey: new Uint8Array(Buffer.from(keyHex, 'hex')) });
  s.on('connection', (c) => c.on('stream', (st) => st.resume()));
  process.stdout.write('ready\n');
}

/** Child role: junk Initials at `rate`/s to a port for `seconds`. */
async function floodRole(): Promise<void> {
  const i = process.argv.indexOf('--flood-child');
  const [port, rate, seconds] = process.argv.slice(i + 1, i + 4).map(Number) as [number, number, number];
  const dgram = await import('node:dgram');
  const s = dgram.createSocket('udp4');
  const start = performance.now();
  let sent = 0;
  process.stdout.write('flooding\n');
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (sent < due) {
      s.send(
        junkInitial(rnd, (d) => crc32(d)),
        port,
        '127.0.0.1',
      );
      sent++;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  process.stderr.write(`flood: ${sent} datagrams in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  s.close();
}

async function restartFigure(sameKey: boolean, idleTimeout: number): Promise<number> {
  const seed = Buffer.alloc(32, 9).toString('hex');
  const key = Buffer.alloc(32, 5).toString('hex');
  const other = Buffer.alloc(32, 6).toString('hex');
  const fp = identityFromPrivateKey(new Uint8Array(Buffer.alloc(32, 9))).fingerprint;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const a = child(['--serve', String(port), seed, key]);
  await firstLine(a);
  const conn = await connect({ host: '127.0.0.1', port, serverKey: fp, idleTimeout });
  const stream = await conn.openStream();
  stream.write(new Uint8Array(100));
  await new Promise((r) => setTimeout(r, 100));
  // A crash (no CONNECTION_CLOSE) while the client is quiet (so no ICMP refusal tells it), then a restart.
  a.kill('SIGKILL');
  await new Promise((r) => a.once('exit', r));
  const b = child(['--serve', String(port), seed, sameKey ? key : other]);
  await firstLine(b);
  // The client speaks again: the time until it knows its connection is gone.
  const restarted = performance.now();
  const writer = setInterval(() => stream.write(new Uint8Array(100)), 20);
  stream.write(new Uint8Array(100));
  const info = await conn.closed;
  const t = performance.now() - restarted;
  clearInterval(writer);
  b.kill('SIGKILL');
  if (sameKey && info.initiator !== 'reset') throw new Error(`expected a stateless reset, got ${JSON.stringify(info)}`);
  return t;
}

async function main(): Promise<void> {
  const quick = flag('quick');
  const n = quick ? 100 : numberArg('n', 2000);
  const flood = numberArg('flood', 5000);
  const connects = quick ? 3 : numberArg('connects', 20);

  // 1. Junk Initials.
  const junk = Array.from({ length: n * 5 }, (_, i) => ({
    data: junkInitial(rnd, (d) => crc32(d)),
    from: { host: `10.0.${(i >> 8) & 255}.${i & 255}`, port: 5000 },
  }));
  serverCpuPer(server('never'), junk.slice(0, 200)); // warm-up
  const junkUs = serverCpuPer(server('never'), junk);

  // 2. Spoofed ClientHellos.
  const hs = hellos(n);
  serverCpuPer(server('never'), hellos(50));
  const noRetry = server('never');
  const helloUs = serverCpuPer(noRetry, hs);
  const helloRetryUs = serverCpuPer(server('always'), hs);

  // 3. Heap per half-open connection.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const holder = server('never');
  const more = hellos(n);
  serverCpuPer(holder, more);
  gc?.();
  const perHalfOpen = (process.memoryUsage().heapUsed - before) / holder.halfOpenCount;

  console.log('| figure | value |\n|---|---|');
  console.log(`| server CPU per junk Initial | ${fmt(junkUs)} µs |`);
  console.log(`| server CPU per spoofed ClientHello, no Retry | ${fmt(helloUs)} µs |`);
  console.log(`| server CPU per spoofed ClientHello, Retry | ${fmt(helloRetryUs)} µs |`);
  console.log(
    `| heap per half-open connection${gc ? '' : ' (no --expose-gc: rough)'} | ${fmt(perHalfOpen / 1024)} KiB (${holder.halfOpenCount} held) |`,
  );

  // 4. Connect during a junk flood.
  const seed = Buffer.alloc(32, 9).toString('hex');
  const fp = identityFromPrivateKey(new Uint8Array(Buffer.alloc(32, 9))).fingerprint;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const srv = child(['--serve', String(port), seed, Buffer.alloc(32, 1).toString('hex')]);
  await firstLine(srv);
  const quiet = await connectTimes(port, fp, connects);
  const flooder = child(['--flood-child', String(port), String(flood), String(quick ? 3 : 15)]);
  const flooderDone = new Promise((r) => flooder.once('exit', r));
  await firstLine(flooder);
  await new Promise((r) => setTimeout(r, 500));
  const loaded = await connectTimes(port, fp, connects);
  await flooderDone;
  srv.kill('SIGKILL');
  console.log(`| connect time, quiet (p50 / max of ${connects}) | ${fmt(median(quiet))} / ${fmt(Math.max(...quiet))} ms |`);
  console.log(
    `| connect time during ${flood}/s junk flood (p50 / p90 / max) | ${fmt(median(loaded))} / ${fmt(quantile(loaded, 0.9))} / ${fmt(Math.max(...loaded))} ms |`,
  );

  // 5. Restarted server.
  const same = await restartFigure(true, 10_000);
  const diff = quick ? NaN : await restartFigure(false, 5_000);
  console.log(`| client of a crashed server learns it is gone after restart, same statelessResetKey | ${fmt(same)} ms |`);
  console.log(`| same, different key (idle timeout 5 s) | ${fmt(diff)} ms |`);
  console.log(
    `junk_initial_cpu_us=${fmt(junkUs)} hello_cpu_us=${fmt(helloUs)} hello_retry_cpu_us=${fmt(helloRetryUs)} half_open_heap_kib=${fmt(perHalfOpen / 1024)} ` +
      `connect_quiet_ms_p50=${fmt(median(quiet))} connect_flood_ms_p50=${fmt(median(loaded))} connect_flood_ms_max=${fmt(Math.max(...loaded))} ` +
      `restart_reset_ms=${fmt(same)} restart_other_key_ms=${fmt(diff)}`,
  );
  process.exit(0);
}

if (process.argv.includes('--serve')) void serveRole();
else if (process.argv.includes('--flood-child')) void floodRole().then(() => process.exit(0));
else void main();
