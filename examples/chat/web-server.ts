/**
 * The HTTP side of the web page client: one HTTP server serves the page (web/index.html), its script (web/app.js,
 * Petrel's browser client and the page bundled for the browser) and /config.json (where to connect and which key to
 * pin), and carries Petrel's WebSocket upgrades on WEBSOCKET_PATH (the chat server's listen() attaches to it).
 * Nothing else is served: three fixed paths (and an empty /favicon.ico), GET/HEAD only, no file system lookups from a request.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WEBSOCKET_PATH, type WebPageConfig } from './protocol.js';

export interface WebFrontOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
}

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // The page's own script and its own host's WebSocket; styles are inline in index.html.
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'",
};

/** The page script. Built (`npm run build`, and in the package): web/app.js next to this module in dist/. From a
 *  checkout without a build: bundled from web/app.ts on first request with esbuild (a declared devDependency;
 *  never needed by the package). */
async function loadScript(): Promise<string> {
  const built = fileURLToPath(new URL('./web/app.js', import.meta.url));
  if (existsSync(built)) return readFile(built, 'utf8');
  // The name is a variable so that bundling this module (tsup) leaves esbuild out.
  const esbuildName = 'esbuild';
  type Build = (o: Record<string, unknown>) => Promise<{ outputFiles: Array<{ text: string }> }>;
  const { build } = (await import(esbuildName)) as { build: Build };
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./web/app.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

export class WebFront {
  readonly http: http.Server;
  private config: WebPageConfig = { path: WEBSOCKET_PATH, key: null, insecure: false };
  private readonly page: Promise<string>;
  private script: Promise<string> | null = null;

  private constructor() {
    this.page = readFile(fileURLToPath(new URL('./web/index.html', import.meta.url)), 'utf8');
    this.page.catch(() => {}); // reported per request
    this.http = http.createServer((req, res) => void this.serve(req, res));
    this.http.headersTimeout = 10_000;
    this.http.requestTimeout = 10_000;
    // Petrel answers upgrades on its own path; any other upgrade is refused here rather than left hanging.
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      if ((req.url ?? '').split('?')[0] === WEBSOCKET_PATH) return;
      socket.on('error', () => {});
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  static async start(o: WebFrontOptions): Promise<WebFront> {
    const f = new WebFront();
    await new Promise<void>((resolve, reject) => {
      f.http.once('error', reject);
      f.http.listen(o.port, o.host, () => {
        f.http.off('error', reject);
        resolve();
      });
    });
    return f;
  }

  /** What the page is told: the key to pin (the page is only as trustworthy as the origin that served it). */
  setKey(key: string | null, insecure: boolean): void {
    this.config = { path: WEBSOCKET_PATH, key, insecure };
  }

  address(): { host: string; port: number } {
    const a = this.http.address();
    if (a === null || typeof a === 'string') throw new Error('web server not listening');
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    this.http.closeAllConnections();
    return new Promise((resolve) => this.http.close(() => resolve()));
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...HEADERS }).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    try {
      switch (path) {
        case '/':
        case '/index.html':
          return this.send(req, res, 'text/html; charset=utf-8', await this.page);
        case '/app.js':
          return this.send(req, res, 'text/javascript; charset=utf-8', await (this.script ??= loadScript()));
        case '/config.json':
          return this.send(req, res, 'application/json', JSON.stringify(this.config));
        case '/favicon.ico': // none, and no 404 in the browser's console
          res.writeHead(204, HEADERS).end();
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain', ...HEADERS }).end('not found\n');
      }
    } catch (e) {
      if (path === '/app.js') this.script = null; // try again next time
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain', ...HEADERS });
      res.end(`the chat page could not be served: ${(e as Error).message}\n`);
    }
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, type: string, body: string): void {
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
