/**
 * The chat server's HTTP side for the web page client (examples/chat/web-server.ts), without a browser: the three
 * paths it serves, what it refuses, and that the page's WebSocket path reaches the same rooms as UDP. The page itself
 * runs in a real browser in test/browser/chat.test.ts.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, generateIdentity } from '../../lib/api/index.js';
import { ChatClient } from '../../examples/chat/client.js';
import { CHAT_ALPN, WEBSOCKET_PATH, type ServerMessage } from '../../examples/chat/protocol.js';
import { ChatServer } from '../../examples/chat/server.js';
import { waitFor } from '../api/helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close().catch(() => {});
});

/** A raw HTTP upgrade request; resolves with the status line the server answers. */
function upgrade(url: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, url), {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      timeout: 5000,
    });
    req.on('response', (res) => {
      resolve(`${res.statusCode}`);
      res.resume();
    });
    req.on('upgrade', (res, socket) => {
      resolve(`${res.statusCode}`);
      socket.destroy();
    });
    req.on('timeout', () => reject(new Error('no answer to the upgrade')));
    req.on('error', reject);
    req.end();
  });
}

describe('chat server --web', () => {
  it('serves the page, its script and the config to pin; refuses every other path, method and upgrade path', async () => {
    const identity = generateIdentity();
    const s = await ChatServer.start({ identity, web: { port: 0 } });
    open.push(s);
    const url = s.webUrl()!;
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="app.js"></script>');
    const script = await fetch(url + 'app.js');
    expect(script.status).toBe(200);
    const js = await script.text();
    expect(js.length).toBeGreaterThan(10_000); // the page and Petrel's browser client, bundled
    expect(js).not.toMatch(/from\s*["']node:/);
    expect(await (await fetch(url + 'config.json')).json()).toEqual({ path: WEBSOCKET_PATH, key: identity.fingerprint, insecure: false });
    expect((await fetch(url + 'app.ts')).status).toBe(404);
    expect((await fetch(url + '../server.ts')).status).toBe(404);
    expect((await fetch(url + '%2e%2e/server.ts')).status).toBe(404);
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(405);
    const head = await fetch(url + 'config.json', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(await upgrade(url, '/elsewhere')).toBe('404');
    expect(await upgrade(url, WEBSOCKET_PATH)).toBe('101');
    expect(s.stats().rejected).toBe(0);
  });

  it('Petrel over the page WebSocket joins the same rooms as UDP; close() stops the HTTP side too', async () => {
    const s = await ChatServer.start({ insecure: true, web: { port: 0 } });
    const udp = await ChatClient.connect({ ...s.address(), nick: 'udp', insecure: true });
    open.push(udp);
    const url = s.webUrl()!;
    const ws = await connect({ transport: 'websocket', url: `ws://${new URL(url).host}${WEBSOCKET_PATH}`, insecure: true, alpn: CHAT_ALPN });
    open.push(ws);
    expect(ws.transport).toBe('websocket');
    const chat = ws.channel<unknown>('chat', { mode: 'reliable-ordered' });
    const got: ServerMessage[] = [];
    chat.on('message', (m) => got.push(m as ServerMessage));
    chat.send({ t: 'hello', nick: 'web', room: 'lobby' });
    chat.send({ t: 'say', seq: 1, text: 'over websocket' });
    const heard: string[] = [];
    udp.on('line', (l) => heard.push(`${l.from}: ${l.text}`));
    await waitFor(() => heard.length === 1, 5000, 'the udp user hears the websocket user');
    expect(heard).toEqual(['web: over websocket']);
    expect(got[0]).toMatchObject({ t: 'welcome', nick: 'web', room: 'lobby', members: ['udp', 'web'] });
    await s.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});
