/**
 * The page script of the browser test (bundled with lib/browser by esbuild, platform browser). It connects over
 * WebSocket, exchanges stream data both ways and channel messages with a Node client through the server, and
 * leaves what it saw in window.__petrel for the test to check.
 */
import { connect, type BrowserStream } from '../../lib/browser/index.js';

interface Result {
  transport?: string;
  sentHash?: string;
  streamReply?: string;
  chatFromNode?: unknown;
  serverStreamHash?: string;
  serverStreamBytes?: number;
  datagramEcho?: number[];
  closed?: boolean;
  error?: string;
}

/** The page's globals (this file is type-checked with the Node lib, not the DOM one). */
const page = globalThis as unknown as { location: { search: string }; __petrel?: Result };

async function sha256hex(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function run(): Promise<Result> {
  const out: Result = {};
  const params = new URLSearchParams(page.location.search);
  const conn = await connect({ url: params.get('ws')!, serverKey: params.get('key')!, timeout: 10_000 });
  out.transport = conn.transport;
  // The server opens a stream to us once our chat message arrived; catch it whenever it comes.
  const serverStream = new Promise<BrowserStream>((r) => conn.once('stream', r));
  // 1. A stream to the server: 300 kB up, the server answers with its SHA-256.
  const data = new Uint8Array(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
  out.sentHash = await sha256hex(data);
  const s = await conn.openStream();
  await s.end(data);
  out.streamReply = new TextDecoder().decode(await s.readAll());
  // 2. A channel message to the Node client (relayed by the server) and its answer back.
  const chat = conn.channel<{ from: string; text: string }>('chat');
  const reply = new Promise<unknown>((r) => chat.once('message', r));
  chat.send({ from: 'browser', text: 'hello from chromium' });
  out.chatFromNode = await reply;
  // 3. The server's stream to us.
  const got = await (await serverStream).readAll();
  out.serverStreamBytes = got.length;
  out.serverStreamHash = await sha256hex(got);
  // 4. Datagrams, echoed by the server.
  const echoes: number[] = [];
  conn.on('datagram', (d) => echoes.push(d[0]!));
  for (let i = 0; i < 5; i++) conn.sendDatagram(new Uint8Array([i, 42]));
  const until = performance.now() + 3000;
  while (echoes.length < 5 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
  out.datagramEcho = echoes.sort((a, b) => a - b);
  await conn.close();
  out.closed = true;
  return out;
}

run().then(
  (r) => (page.__petrel = r),
  (e: unknown) => (page.__petrel = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }),
);
