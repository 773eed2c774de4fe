/**
 * The two crypto providers interoperate: node:crypto on one side, the browser provider (pure JS) on the other,
 * in both roles and with both AEAD suites, through the same core; and the browser client build, run on Node
 * over the `ws` package's DOM-style WebSocket, talks to a Node server.
 */
import { crc32 } from 'node:zlib';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { generateIdentity, listen } from '../../lib/api/index.js';
import { connect as browserConnect } from '../../lib/browser/index.js';
import { crc32 as jsCrc32 } from '../../lib/browser/crc32.js';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import { browserCryptoProvider } from '../../lib/crypto/browser-provider.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { CipherSuite, CryptoProvider } from '../../lib/crypto/provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { pattern, readAll, sha } from '../api/helpers.js';

const env = { randomFill: (b: Uint8Array) => b.set(nodeCryptoProvider.randomBytes(b.length)), crc32: (d: Uint8Array) => crc32(d) };

/** A handshake and a 100 kB stream each way between two in-memory endpoints with the given providers. */
function runPair(clientP: CryptoProvider, serverP: CryptoProvider, suite: CipherSuite): { up: string; down: string } {
  const id = nodeCryptoProvider.ed25519Generate();
  const server = new Endpoint({ env, server: { crypto: secureCrypto({ provider: serverP, server: { identity: id, suites: [suite] } }) } });
  const client = new Endpoint({ env });
  const cc = client.connect({
    remote: { host: 's', port: 1 },
    crypto: secureCrypto({ provider: clientP, client: { serverKey: id.publicKey, suites: [suite], now: () => Date.now() } }),
    now: 0,
  });
  let sc: Connection | null = null;
  const buf = new Uint8Array(2048);
  let now = 0;
  const step = (): void => {
    for (const [from, to, addr] of [
      [client, server, { host: 'c', port: 2 }],
      [server, client, { host: 's', port: 1 }],
    ] as const) {
      for (let t = from.pollTransmit(now, buf); t; t = from.pollTransmit(now, buf)) to.handleDatagram(buf.slice(0, t.length), addr, now);
    }
    for (let e = server.pollEvent(); e; e = server.pollEvent()) if (e.kind === 'accept') sc = e.connection;
    while (client.pollEvent());
    now += 1;
    client.handleTimeout(now);
    server.handleTimeout(now);
  };
  const upData = pattern(100_000, 9);
  const downData = pattern(100_000, 10);
  for (let i = 0; i < 200 && cc.state !== 'established'; i++) step();
  expect(cc.state).toBe('established');
  const sid = cc.openStream(true)!;
  cc.streamWrite(sid, upData, true);
  const got: Uint8Array[] = [];
  const back: Uint8Array[] = [];
  let answered = false;
  for (let i = 0; i < 5000 && !(cc.streamFinished(sid) && answered); i++) {
    step();
    if (sc === null) continue;
    const s = sc as Connection;
    for (let d = s.streamRead(sid); d; d = s.streamRead(sid)) got.push(d);
    if (!answered && s.streamFinished(sid)) {
      s.streamWrite(sid, downData, true);
      answered = true;
    }
    for (let d = cc.streamRead(sid); d; d = cc.streamRead(sid)) back.push(d);
  }
  return { up: sha(Buffer.concat(got)) === sha(upData) ? 'ok' : 'corrupt', down: sha(Buffer.concat(back)) === sha(downData) ? 'ok' : 'corrupt' };
}

describe('node and browser crypto providers interoperate', () => {
  for (const suite of ['AES_128_GCM_SHA256', 'CHACHA20_POLY1305_SHA256'] as const) {
    it(`${suite}: browser client ↔ node server, and node client ↔ browser server`, () => {
      expect(runPair(browserCryptoProvider, nodeCryptoProvider, suite)).toEqual({ up: 'ok', down: 'ok' });
      expect(runPair(nodeCryptoProvider, browserCryptoProvider, suite)).toEqual({ up: 'ok', down: 'ok' });
    });
  }

  it('the browser CRC-32 is zlib’s', () => {
    for (const n of [0, 1, 7, 1200, 1472]) {
      const d = pattern(n, n);
      expect(jsCrc32(d)).toBe(crc32(d));
    }
  });
});

describe('the browser client build against a Node server', () => {
  it('over a DOM-style WebSocket: secure handshake, stream both ways, channel message', async () => {
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket = had ?? WebSocket; // Node 20 has no global WebSocket; the ws package implements the DOM API
    const identity = generateIdentity();
    const server = await listen({ host: '127.0.0.1', port: 0, identity, websocket: { port: 0 } });
    try {
      server.on('connection', (c) => {
        c.on('stream', (s) => void readAll(s).then((b) => s.end(sha(b))));
        const ch = c.channel<string>('chat');
        ch.on('message', (m) => ch.send(`node: ${m}`));
      });
      const conn = await browserConnect({ url: `ws://127.0.0.1:${server.websocketAddress()!.port}/`, serverKey: identity.fingerprint });
      const data = pattern(300_000, 11);
      const s = await conn.openStream();
      await s.end(data);
      expect(new TextDecoder().decode(await s.readAll())).toBe(sha(data));
      const ch = conn.channel<string>('chat');
      const reply = new Promise((r) => ch.once('message', r));
      ch.send('hi');
      expect(await reply).toBe('node: hi');
      await conn.close();
      expect(await conn.closed).toMatchObject({ initiator: 'local', code: 0 });
    } finally {
      await server.close();
      g.WebSocket = had;
    }
  });
});
