/**
 * The WebSocket carrier next to plain `ws`, measured in the same run and process, plus happy-eyeballs fallback
 * time and the cost of the browser crypto provider against node:crypto.
 *
 *   node --import tsx tools/bench/ws.ts [--mib 64] [--rtts 500] [--quick]
 *
 * - goodput: one stream (Petrel) or one socket (plain ws: 64 KiB binary messages, bufferedAmount ≤ 1 MiB),
 *   --mib MiB on 127.0.0.1; MB = 10^6 bytes over first byte sent → last byte received. Petrel over UDP as a
 *   reference line.
 * - rtt64: --rtts sequential 64-byte round trips (plain ws message echo; Petrel raw reliable-ordered channel
 *   echo, the same on UDP); median and p99.
 * - fallback: connect({ transport: 'auto' }) with the UDP port black-holed (bound, never answers), 5 runs,
 *   next to a direct WebSocket connect; the happy-eyeballs delay is 250 ms.
 * - crypto: one full secure handshake (both sides, in memory) and one 1472-byte seal+open, node:crypto vs the
 *   browser provider (@noble + tweetnacl), and WebCrypto's promise-based AES-GCM for the same packet.
 * Both ends share one Node thread: the figures compare software cost per byte, like with like.
 */
import dgram from 'node:dgram';
import { crc32 } from 'node:zlib';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import { browserCryptoProvider } from '../../lib/crypto/browser-provider.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { environmentLine, flag, fmt, median, numberArg, quantile, Results, table } from './common.js';

const quick = flag('quick');
const MIB = numberArg('mib', quick ? 2 : 64);
const TOTAL = Math.round(MIB * 1024 * 1024);
const RTTS = numberArg('rtts', quick ? 50 : 500);
const CHUNK = 64 * 1024;
const results = new Results();
const now = (): number => performance.now();

// ─────────────── goodput ───────────────

async function plainWsGoodput(): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 2 * CHUNK });
  await new Promise((r) => wss.once('listening', r));
  let got = 0;
  let tEnd = 0;
  const done = new Promise<void>((resolve) =>
    wss.on('connection', (s) =>
      s.on('message', (d: Buffer) => {
        got += d.length;
        if (got >= TOTAL) {
          tEnd = now();
          resolve();
        }
      }),
    ),
  );
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/`, { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  const chunk = Buffer.alloc(CHUNK, 7);
  const t0 = now();
  let sent = 0;
  while (sent < TOTAL) {
    if (ws.bufferedAmount > 1024 * 1024) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
    ws.send(chunk);
    sent += CHUNK;
  }
  await done;
  ws.close();
  await new Promise<void>((r) => wss.close(() => r()));
  return TOTAL / 1e6 / ((tEnd - t0) / 1000);
}

async function petrelGoodput(transport: 'udp' | 'websocket', secure: boolean): Promise<number> {
  const identity = generateIdentity();
  const server = await listen({ host: '127.0.0.1', port: 0, ...(secure ? { identity } : { insecure: true }), websocket: { port: 0 } });
  let tEnd = 0;
  const done = new Promise<void>((resolve) =>
    server.on('connection', (c) =>
      c.on('stream', async (s) => {
        let got = 0;
        for await (const d of s.iterator({ destroyOnReturn: false })) got += (d as Buffer).length;
        tEnd = now();
        if (got !== TOTAL) console.error(`short: ${got}`);
        resolve();
      }),
    ),
  );
  const conn = await connect({
    ...(secure ? { serverKey: identity.fingerprint } : { insecure: true }),
    ...(transport === 'udp'
      ? { host: '127.0.0.1', port: server.address().port }
      : { transport: 'websocket', url: `ws://127.0.0.1:${server.websocketAddress()!.port}/` }),
  });
  const s = await conn.openStream();
  const chunk = Buffer.alloc(CHUNK, 7);
  const t0 = now();
  for (let sent = 0; sent < TOTAL; sent += CHUNK) {
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await done;
  await conn.close();
  await server.close({ force: true });
  return TOTAL / 1e6 / ((tEnd - t0) / 1000);
}

// ─────────────── 64-byte round trips ───────────────

async function plainWsRtt(): Promise<number[]> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (s) => s.on('message', (d: Buffer) => s.send(d)));
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/`, { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  const msg = Buffer.alloc(64, 1);
  const out: number[] = [];
  for (let i = 0; i < RTTS; i++) {
    const t = now();
    ws.send(msg);
    await new Promise((r) => ws.once('message', r));
    out.push(now() - t);
  }
  ws.close();
  await new Promise<void>((r) => wss.close(() => r()));
  return out;
}

async function petrelRtt(transport: 'udp' | 'websocket'): Promise<number[]> {
  const identity = generateIdentity();
  const server: PetrelServer = await listen({ host: '127.0.0.1', port: 0, identity, websocket: { port: 0 } });
  server.on('connection', (c) => {
    const ch = c.channel<Uint8Array>('echo', { codec: 'raw' });
    ch.on('message', (m) => ch.send(m));
  });
  const conn: PetrelConnection = await connect({
    serverKey: identity.fingerprint,
    ...(transport === 'udp'
      ? { host: '127.0.0.1', port: server.address().port }
      : { transport: 'websocket', url: `ws://127.0.0.1:${server.websocketAddress()!.port}/` }),
  });
  const ch = conn.channel<Uint8Array>('echo', { codec: 'raw' });
  const msg = new Uint8Array(64).fill(1);
  const out: number[] = [];
  for (let i = 0; i < RTTS + 20; i++) {
    const t = now();
    const back = new Promise((r) => ch.once('message', r));
    ch.send(msg);
    await back;
    if (i >= 20) out.push(now() - t); // the first few declare the channel
  }
  await conn.close();
  await server.close({ force: true });
  return out;
}

// ─────────────── fallback ───────────────

async function fallbackTimes(): Promise<{ auto: number[]; direct: number[] }> {
  const { forgetTransports } = await import('../../lib/api/happy-eyeballs.js');
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, websocket: { port: 0, upgradesPerSecond: Infinity } });
  const url = `ws://127.0.0.1:${server.websocketAddress()!.port}/`;
  const hole = dgram.createSocket('udp4');
  await new Promise<void>((r) => hole.bind(0, '127.0.0.1', r));
  const auto: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < 5; i++) {
    forgetTransports();
    let t = now();
    const a = await connect({ transport: 'auto', host: '127.0.0.1', port: hole.address().port, url, insecure: true });
    auto.push(now() - t);
    if (a.transport !== 'websocket') throw new Error('fallback did not use websocket');
    t = now();
    const d = await connect({ transport: 'websocket', url, insecure: true });
    direct.push(now() - t);
    await Promise.all([a.close(), d.close()]);
  }
  await new Promise<void>((r) => hole.close(() => r()));
  await server.close({ force: true });
  return { auto, direct };
}

// ─────────────── crypto providers ───────────────

const env = { randomFill: (b: Uint8Array) => b.set(nodeCryptoProvider.randomBytes(b.length)), crc32: (d: Uint8Array) => crc32(d) };

function handshakeMs(p: CryptoProvider, n: number): number {
  const id = p.ed25519Generate();
  const serverCrypto = secureCrypto({ provider: p, server: { identity: id } });
  const clientCrypto = secureCrypto({ provider: p, client: { serverKey: id.publicKey, now: () => Date.now() } });
  const buf = new Uint8Array(2048);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = now();
    const server = new Endpoint({ env, server: { crypto: serverCrypto } });
    const client = new Endpoint({ env });
    const c = client.connect({ remote: { host: 's', port: 1 }, crypto: clientCrypto, now: 0 });
    for (let k = 0; k < 20 && c.state !== 'established'; k++) {
      for (let d = client.pollTransmit(0, buf); d; d = client.pollTransmit(0, buf)) {
        server.handleDatagram(buf.slice(0, d.length), { host: 'c', port: 2 }, 0);
      }
      for (let d = server.pollTransmit(0, buf); d; d = server.pollTransmit(0, buf)) {
        client.handleDatagram(buf.slice(0, d.length), { host: 's', port: 1 }, 0);
      }
    }
    if (c.state !== 'established') throw new Error('handshake did not complete');
    times.push(now() - t0);
  }
  return median(times);
}

function sealOpenUs(p: CryptoProvider, suite: 'AES_128_GCM_SHA256' | 'CHACHA20_POLY1305_SHA256', n: number): number {
  const key = p.randomBytes(suite === 'AES_128_GCM_SHA256' ? 16 : 32);
  const aead = p.createAead(suite, key);
  const hp = p.createHeaderProtection(suite, p.randomBytes(key.length));
  const buf = new Uint8Array(1472 + 16);
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(20);
  const mask = new Uint8Array(5);
  const t0 = now();
  for (let i = 0; i < n; i++) {
    nonce[11] = i & 0xff;
    const end = aead.seal(nonce, aad, buf, 0, 1472);
    hp(buf.subarray(4, 20), mask);
    if (aead.open(nonce, aad, buf, 0, end) < 0) throw new Error('open failed');
    hp(buf.subarray(4, 20), mask);
  }
  return ((now() - t0) * 1000) / n;
}

async function webCryptoSealOpenUs(n: number): Promise<number> {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey('raw', nodeCryptoProvider.randomBytes(16), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const data = new Uint8Array(1472);
  const iv = new Uint8Array(12);
  const t0 = now();
  for (let i = 0; i < n; i++) {
    iv[11] = i & 0xff;
    const ct = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array(20) }, key, data);
    await subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array(20) }, key, ct);
  }
  return ((now() - t0) * 1000) / n;
}

async function main(): Promise<void> {
  console.log(`# WebSocket carrier (${environmentLine()})\n`);
  const ws = await plainWsGoodput();
  const pw = await petrelGoodput('websocket', false);
  const pws = await petrelGoodput('websocket', true);
  const pu = await petrelGoodput('udp', true);
  console.log(`## goodput, ${MIB} MiB, one stream / socket\n`);
  console.log(
    table(
      ['mode', 'MB/s'],
      [
        ['plain ws (64 KiB messages)', fmt(ws)],
        ['petrel over ws, insecure', fmt(pw)],
        ['petrel over ws, secure', fmt(pws)],
        ['petrel over udp, secure (reference)', fmt(pu)],
      ],
    ),
  );
  results.set('plain_ws_goodput_mbps', ws);
  results.set('petrel_ws_insecure_goodput_mbps', pw);
  results.set('petrel_ws_secure_goodput_mbps', pws);
  results.set('petrel_udp_secure_goodput_mbps', pu);

  const r1 = await plainWsRtt();
  const r2 = await petrelRtt('websocket');
  const r3 = await petrelRtt('udp');
  console.log(`\n## 64-byte round trip, ${RTTS} sequential, ms\n`);
  const row = (name: string, v: number[]): string[] => [name, fmt(median(v)), fmt(quantile(v, 0.99))];
  console.log(
    table(
      ['mode', 'median', 'p99'],
      [row('plain ws echo', r1), row('petrel over ws (raw channel echo, secure)', r2), row('petrel over udp (same)', r3)],
    ),
  );
  results.set('plain_ws_rtt64_ms_p50', median(r1));
  results.set('petrel_ws_rtt64_ms_p50', median(r2));
  results.set('petrel_udp_rtt64_ms_p50', median(r3));
  results.set('plain_ws_rtt64_ms_p99', quantile(r1, 0.99));
  results.set('petrel_ws_rtt64_ms_p99', quantile(r2, 0.99));

  const fb = await fallbackTimes();
  console.log(`\n## fallback: auto with UDP black-holed (delay 250 ms), 5 runs, ms\n`);
  console.log(
    table(
      ['mode', 'median', 'max'],
      [
        ['auto → websocket', fmt(median(fb.auto)), fmt(Math.max(...fb.auto))],
        ['websocket direct', fmt(median(fb.direct)), fmt(Math.max(...fb.direct))],
      ],
    ),
  );
  results.set('fallback_auto_ms_p50', median(fb.auto));
  results.set('fallback_auto_ms_max', Math.max(...fb.auto));
  results.set('websocket_direct_connect_ms_p50', median(fb.direct));

  const hn = quick ? 3 : 20;
  const pn = quick ? 200 : 3000;
  const hNode = handshakeMs(nodeCryptoProvider, hn);
  const hJs = handshakeMs(browserCryptoProvider, hn);
  const aesNode = sealOpenUs(nodeCryptoProvider, 'AES_128_GCM_SHA256', pn);
  const aesJs = sealOpenUs(browserCryptoProvider, 'AES_128_GCM_SHA256', pn);
  const chaNode = sealOpenUs(nodeCryptoProvider, 'CHACHA20_POLY1305_SHA256', pn);
  const chaJs = sealOpenUs(browserCryptoProvider, 'CHACHA20_POLY1305_SHA256', pn);
  const webc = await webCryptoSealOpenUs(pn);
  console.log(`\n## crypto providers (in Node; both sides of a handshake, one 1472-byte seal+open with header protection)\n`);
  console.log(
    table(
      ['provider', 'handshake ms', 'AES-GCM µs', 'ChaCha µs'],
      [
        ['node:crypto', fmt(hNode), fmt(aesNode), fmt(chaNode)],
        ['browser (@noble, tweetnacl)', fmt(hJs), fmt(aesJs), fmt(chaJs)],
        ['WebCrypto subtle AES-GCM (async, no HP)', '-', fmt(webc), '-'],
      ],
    ),
  );
  results.set('node_handshake_ms', hNode);
  results.set('browser_handshake_ms', hJs);
  results.set('node_aes_seal_open_us', aesNode);
  results.set('browser_aes_seal_open_us', aesJs);
  results.set('node_chacha_seal_open_us', chaNode);
  results.set('browser_chacha_seal_open_us', chaJs);
  results.set('webcrypto_aes_seal_open_us', webc);
  console.log('');
  console.log(results.line());
}

await main();
