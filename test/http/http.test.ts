/** End to end over real loopback connections: requests and responses through request() and serveHttp(). */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import { HttpErrorCode, httpClient, request, serveHttp, type HttpServerHandle, type RequestHandler } from '../../lib/http/index.js';
import { hashStream, pattern, sha, within } from '../api/helpers.js';

interface Pair {
  server: PetrelServer;
  conn: PetrelConnection;
  peer: PetrelConnection;
  http: HttpServerHandle;
}

const open: Pair[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) {
    await p.conn.close().catch(() => {});
    await p.server.close({ force: true }).catch(() => {});
  }
});

async function pair(handler: RequestHandler): Promise<Pair> {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
  const served = new Promise<{ peer: PetrelConnection; http: HttpServerHandle }>((r) =>
    server.once('connection', (peer) => r({ peer, http: serveHttp(peer, handler) })),
  );
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
  const { peer, http } = await served;
  const p = { server, conn, peer, http };
  open.push(p);
  return p;
}

async function text(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += c;
  return s;
}

describe('HTTP over Petrel', () => {
  it('answers a GET with status, headers, body and trailers', async () => {
    const p = await pair(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-path': req.path, 'x-method': req.method });
      res.write('hello ');
      await res.end('world', { 'x-checksum': 'abc' });
    });
    const r = await within(request(p.conn, { method: 'GET', path: '/greet?x=1', headers: { 'user-agent': 'petrel-test' } }), 10_000, 'response');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['x-path']).toBe('/greet?x=1');
    expect(r.headers['x-method']).toBe('GET');
    expect(await text(r.body)).toBe('hello world');
    expect(await r.trailers).toEqual({ 'x-checksum': 'abc' });
  });

  it('conn.request() (the method form) streams a body both ways and shares the HTTP session with request(conn, …)', async () => {
    const up = pattern(300_000 + 3, 7);
    const p = await pair(async (req, res) => {
      const got = await hashStream(req.body);
      res.writeHead(200, { 'x-upload-sha': got.hash, 'x-method': req.method, 'x-n': req.headers['x-n'] ?? '' });
      await res.end(up.subarray(0, 1000 + Number(req.headers['x-n'])));
    });
    const r1 = await within(p.conn.request({ method: 'POST', path: '/m', headers: { 'x-n': 1 } }, up), 10_000, 'method form');
    expect(r1.status).toBe(200);
    expect(r1.headers['x-upload-sha']).toBe(sha(up));
    expect(r1.headers['x-method']).toBe('POST');
    expect((await hashStream(r1.body)).hash).toBe(sha(up.subarray(0, 1001)));
    const ep = httpClient(p.conn);
    // The function form on the same connection uses the same session (one control stream, one QPACK table).
    const r2 = await within(request(p.conn, { method: 'POST', path: '/m', headers: { 'x-n': 2 } }, up.subarray(0, 10)), 10_000, 'function form');
    expect(r2.headers['x-upload-sha']).toBe(sha(up.subarray(0, 10)));
    expect((await hashStream(r2.body)).hash).toBe(sha(up.subarray(0, 1002)));
    expect(httpClient(p.conn)).toBe(ep);
    // One HTTP session per connection on the server too: both requests came on its one endpoint.
    expect(p.http.endpoint.session.decoder.insertCount).toBeGreaterThan(0);
  });

  it('streams large bodies both ways, every byte hashed, with request trailers', async () => {
    const up = pattern(3 * 1024 * 1024 + 17, 1);
    const down = pattern(2 * 1024 * 1024 + 5, 2);
    const p = await pair(async (req, res) => {
      const got = await hashStream(req.body);
      const t = await req.trailers;
      res.writeHead(200, { 'x-upload-sha': got.hash, 'x-upload-bytes': String(got.bytes), 'x-trailer': t['x-sent'] ?? '' });
      for (let i = 0; i < down.length; i += 50_000) if (!res.write(down.subarray(i, i + 50_000))) await res.drain();
      await res.end();
    });
    const chunks = Array.from({ length: Math.ceil(up.length / 65_536) }, (_, i) => up.subarray(i * 65_536, (i + 1) * 65_536));
    const r = await within(
      request(p.conn, { method: 'POST', path: '/upload', trailers: { 'x-sent': 'yes' } }, Readable.from(chunks)),
      30_000,
      'response',
    );
    expect(r.headers['x-upload-sha']).toBe(sha(up));
    expect(r.headers['x-upload-bytes']).toBe(String(up.length));
    expect(r.headers['x-trailer']).toBe('yes');
    const got = await within(hashStream(r.body), 30_000, 'download');
    expect(got.bytes).toBe(down.length);
    expect(got.hash).toBe(sha(down));
  });

  it('runs many concurrent requests on one connection, compressing repeated headers', async () => {
    const p = await pair(async (req, res) => {
      const body = await text(req.body);
      res.writeHead(201, { 'x-echo-id': req.headers['x-id']!, 'cache-control': 'private, max-age=60', server: 'petrel-test-server' });
      await res.end(`${req.path}:${body}`);
    });
    const n = 200;
    const common = {
      'user-agent': 'Mozilla/5.0 (petrel load test) Gecko/20100101',
      accept: 'application/json',
      cookie: 'session=0123456789abcdef0123456789abcdef',
    };
    const results = await within(
      Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const r = await request(p.conn, { method: 'PUT', path: `/item/${i}`, headers: { ...common, 'x-id': String(i) } }, `payload-${i}`);
          return { r, body: await text(r.body) };
        }),
      ),
      30_000,
      'all responses',
    );
    results.forEach(({ r, body }, i) => {
      expect(r.status).toBe(201);
      expect(r.headers['x-echo-id']).toBe(String(i));
      expect(body).toBe(`/item/${i}:payload-${i}`);
    });
    // The QPACK dynamic table was used both ways.
    expect(p.http.endpoint.session.decoder.insertCount).toBeGreaterThan(0);
  });

  it('sends GOAWAY on graceful shutdown: in-flight requests finish, new ones are refused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const p = await pair(async (req, res) => {
      if (req.path === '/slow') await gate;
      await res.end(`done ${req.path}`);
    });
    const slow = request(p.conn, { path: '/slow' });
    await new Promise((r) => setTimeout(r, 50));
    expect(p.http.inFlight).toBe(1);
    const closing = p.http.close();
    // Wait for the client to see GOAWAY, then a new request is refused locally with a typed error.
    const { httpClient } = await import('../../lib/http/node.js');
    const ep = httpClient(p.conn);
    await within(
      (async () => {
        while (ep.session.peerGoaway === null) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'GOAWAY',
    );
    expect(ep.session.peerGoaway).toBe(4); // the first request id (0) was accepted; 4 onwards are not
    await expect(request(p.conn, { path: '/late' })).rejects.toMatchObject({ code: 'H3_REQUEST_REJECTED' });
    release();
    const r = await within(slow, 5000, 'slow response');
    expect(await text(r.body)).toBe('done /slow');
    await within(closing, 5000, 'server close');
    const closed = await within(p.conn.closed, 5000, 'client closed');
    expect(closed.code).toBe(HttpErrorCode.H3_NO_ERROR);
  });

  it('works when the client starts HTTP late: SETTINGS and the dynamic table in both directions', async () => {
    const p = await pair(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': 'petrel-test-server', 'x-req': req.headers['x-req']! });
      await res.end('ok');
    });
    await new Promise((r) => setTimeout(r, 200)); // the connection idles before the first request
    for (let i = 0; i < 5; i++) {
      const r = await within(
        request(p.conn, { path: '/seq', headers: { 'user-agent': 'petrel-test-agent', 'x-req': String(i) } }),
        5000,
        `request ${i}`,
      );
      expect(r.headers['x-req']).toBe(String(i));
      expect(await text(r.body)).toBe('ok');
    }
    const { httpClient } = await import('../../lib/http/node.js');
    const client = httpClient(p.conn).session;
    expect(client.peerSettings).not.toBeNull();
    expect(client.decoder.insertCount).toBeGreaterThan(0); // the server's encoder stream reached us
    expect(p.http.endpoint.session.decoder.insertCount).toBeGreaterThan(0);
  });

  it('answers 500 when the handler throws, and keeps the connection', async () => {
    const p = await pair(async (req, res) => {
      if (req.path === '/boom') throw new Error('boom');
      await res.end('fine');
    });
    const bad = await request(p.conn, { path: '/boom' });
    expect(bad.status).toBe(500);
    await text(bad.body);
    const ok = await request(p.conn, { path: '/ok' });
    expect(await text(ok.body)).toBe('fine');
  });
});

describe('HTTP over Petrel: a broken or hostile client', () => {
  async function rawPair(): Promise<Pair> {
    return pair(async (_req, res) => {
      await res.end('unreachable?');
    });
  }

  it('a control stream that does not start with SETTINGS closes the connection with H3_MISSING_SETTINGS', async () => {
    const p = await rawPair();
    const ctrl = await p.conn.openStream({ unidirectional: true });
    ctrl.write(Uint8Array.of(0x00, 0x07, 0x01, 0x00)); // control stream type, then GOAWAY
    const closed = await within(p.conn.closed, 5000, 'close');
    expect(closed.code).toBe(HttpErrorCode.H3_MISSING_SETTINGS);
  });

  it('a malformed request (no :method) is reset with H3_MESSAGE_ERROR and the connection stays up', async () => {
    const p = await rawPair();
    const s = await p.conn.openStream();
    s.on('error', () => {});
    // HEADERS: empty prefix, then :path '/' (static index 1) only.
    s.end(Uint8Array.of(0x01, 0x03, 0x00, 0x00, 0xc1));
    await within(new Promise<void>((resolve) => s.once('close', () => resolve())), 5000, 'stream reset');
    expect(s.peerError?.message).toMatch(new RegExp(`code ${HttpErrorCode.H3_MESSAGE_ERROR}\\b`));
    // A well-formed request on the same connection still works.
    const r = await within(request(p.conn, { path: '/ok' }), 5000, 'response');
    expect(r.status).toBe(200);
  });

  it('a reserved (grease) unidirectional stream type is stopped with H3_STREAM_CREATION_ERROR and ignored', async () => {
    const p = await rawPair();
    const r0 = await within(request(p.conn, { path: '/first' }), 5000, 'first response');
    await text(r0.body);
    const g = await p.conn.openStream({ unidirectional: true });
    g.on('error', () => {});
    g.write(Uint8Array.of(0x40, 0x40, 1, 2, 3, 4, 5)); // stream type 0x40 = 0x1f * 1 + 0x21, then junk
    await within(
      (async () => {
        while (g.peerError === null) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'STOP_SENDING',
    );
    expect(g.peerError?.message).toMatch(new RegExp(`code ${HttpErrorCode.H3_STREAM_CREATION_ERROR}\\b`));
    const r = await within(request(p.conn, { path: '/after' }), 5000, 'response');
    expect(r.status).toBe(200);
    expect(await text(r.body)).toBe('unreachable?');
  });

  it('a QPACK encoder stream with garbage closes the connection with QPACK_ENCODER_STREAM_ERROR', async () => {
    const p = await rawPair();
    const enc = await p.conn.openStream({ unidirectional: true });
    enc.write(Uint8Array.of(0x02, 0x3f, 0xff, 0xff, 0xff, 0x7f)); // encoder stream, capacity far above 4096
    const closed = await within(p.conn.closed, 5000, 'close');
    expect(closed.code).toBe(HttpErrorCode.QPACK_ENCODER_STREAM_ERROR);
  });
});
