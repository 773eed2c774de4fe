/**
 * A real browser: Debian's chromium (installed by scripts/ensure-chromium.sh when missing), driven headless by
 * playwright-core, loads a page served here, connects to a Petrel server over WebSocket with the browser build
 * (bundled for platform browser, so a Node built-in would fail the build), and exchanges stream data, channel
 * messages and datagrams with a Node client through that server. Both sides are checked.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import { pattern, readAll, sha, waitFor, within } from '../api/helpers.js';
import { ensureChromium, launchChromium } from './chromium.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

let bundle = '';

beforeAll(ensureChromium, 300_000);

describe('browser client in headless chromium', () => {
  let page: http.Server;
  afterAll(() => page?.close());

  it('connects over WebSocket, moves stream data both ways, channel messages and datagrams with a Node peer', async () => {
    const t0 = performance.now();
    const built = await build({
      entryPoints: [`${root}test/browser/page.ts`],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    bundle = built.outputFiles[0]!.text;
    expect(bundle).not.toMatch(/from\s*["']node:/);

    const identity = generateIdentity();
    const server: PetrelServer = await listen({ host: '127.0.0.1', port: 0, identity, websocket: { port: 0, host: '127.0.0.1' } });
    const toBrowser = pattern(150_000, 77);
    const seen: { browserHash?: string; browserChat?: unknown; browserTransport?: string; datagrams: number } = { datagrams: 0 };
    let nodeClientAtServer: PetrelConnection | null = null;
    let browserAtServer: PetrelConnection | null = null;
    server.on('connection', (c) => {
      const chat = c.channel<unknown>('chat');
      if (c.transport === 'udp') {
        nodeClientAtServer = c;
        // The Node client's answers go to the browser.
        chat.on('message', (m) => browserAtServer?.channel<unknown>('chat').send(m));
        return;
      }
      browserAtServer = c;
      seen.browserTransport = c.transport;
      c.on('stream', (s) => void readAll(s).then((b) => ((seen.browserHash = sha(b)), s.end(sha(b)))));
      c.on('datagram', (d) => {
        seen.datagrams++;
        c.sendDatagram(d);
      });
      chat.on('message', (m) => {
        seen.browserChat = m;
        nodeClientAtServer?.channel<unknown>('chat').send(m);
        // Then a stream from the server to the browser.
        void c.openStream().then((s) => s.end(toBrowser));
      });
    });
    // The Node peer: a plain UDP client that answers every chat message it gets from the browser.
    const nodeClient = await connect({ host: '127.0.0.1', port: server.address().port, serverKey: identity.fingerprint });
    const nodeChat = nodeClient.channel<{ from: string; text: string }>('chat');
    const nodeGot: unknown[] = [];
    nodeChat.on('message', (m) => {
      nodeGot.push(m);
      nodeChat.send({ from: 'node', text: `node saw: ${m.text}` });
    });
    await waitFor(() => nodeClientAtServer !== null, 5000, 'node client at the server');

    page = http.createServer((req, res) => {
      if (req.url?.startsWith('/page.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>petrel</title><script type="module" src="/page.js"></script>');
      }
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    const pagePort = (page.address() as AddressInfo).port;

    const browser = await launchChromium();
    try {
      const tab = await browser.newPage();
      const logs: string[] = [];
      tab.on('console', (m) => logs.push(m.text()));
      tab.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
      const ws = `ws://127.0.0.1:${server.websocketAddress()!.port}/`;
      await tab.goto(`http://127.0.0.1:${pagePort}/?ws=${encodeURIComponent(ws)}&key=${encodeURIComponent(identity.fingerprint)}`);
      const handle = await within(
        tab.waitForFunction(() => (globalThis as unknown as { __petrel?: unknown }).__petrel, undefined, { timeout: 60_000, polling: 50 }),
        65_000,
        'browser result',
      );
      const r = (await handle.jsonValue()) as Record<string, unknown>;
      expect(r.error, `${String(r.error)}\n${logs.join('\n')}`).toBeUndefined();
      // Browser side.
      expect(r.transport).toBe('websocket');
      expect(r.streamReply).toBe(r.sentHash);
      expect(r.chatFromNode).toEqual({ from: 'node', text: 'node saw: hello from chromium' });
      expect(r.serverStreamBytes).toBe(toBrowser.length);
      expect(r.serverStreamHash).toBe(sha(toBrowser));
      expect(r.datagramEcho).toEqual([0, 1, 2, 3, 4]);
      expect(r.closed).toBe(true);
      // Server and Node side.
      expect(seen.browserTransport).toBe('websocket');
      expect(seen.browserHash).toBe(r.sentHash);
      expect(seen.browserChat).toEqual({ from: 'browser', text: 'hello from chromium' });
      expect(nodeGot).toEqual([{ from: 'browser', text: 'hello from chromium' }]);
      expect(seen.datagrams).toBe(5);
      const closed = await within(browserAtServer!.closed, 5000, 'browser connection closed at the server');
      expect(closed).toMatchObject({ initiator: 'peer', code: 0, application: true });
    } finally {
      await browser.close();
      await nodeClient.close();
      await server.close();
    }
    console.log(`browser test: ${(performance.now() - t0).toFixed(0)} ms (bundle, chromium launch, handshake and exchanges)`);
  }, 120_000);
});
