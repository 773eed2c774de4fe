/**
 * HTTP over Petrel: requests per second and latency for small requests on one connection, with the server in a
 * separate process (child_process.fork on 127.0.0.1), and the header bytes QPACK saves on the corpus's fb-req list.
 *
 *   node --import tsx tools/bench/http.ts [--seconds 5] [--concurrency 1,16,64] [--insecure] [--qif PATH] [--quick]
 *
 * Each request: GET with a few headers, 13-byte response body; latency = request() call to the end of the body.
 * The last line is `key=value ...` (see README.md).
 */
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';
import { request, serveHttp } from '../../lib/http/index.js';
import { QpackDecoder, QpackEncoder, parseQif, type Field } from '../../lib/http/qpack/index.js';
import { Results, arg, environmentLine, flag, fmt, numberArg, quantile, si, table } from './common.js';

const self = fileURLToPath(import.meta.url);

async function serverMain(): Promise<void> {
  const insecure = process.argv.includes('--insecure');
  const identity = generateIdentity();
  const server = await listen({ host: '127.0.0.1', port: 0, alpn: ['h3-petrel', 'bare'], ...(insecure ? { insecure: true } : { identity }) });
  server.on('connection', (conn) => {
    // The baseline connection (ALPN 'bare'): a bare stream per request, answered with the same 13 bytes.
    if (conn.alpn === 'bare') {
      conn.on('stream', async (s) => {
        for await (const _ of s.iterator({ destroyOnReturn: false })) void _;
        s.end('hello, petrel');
      });
      return;
    }
    serveHttp(conn, async (req, res) => {
      for await (const _ of req.body) void _;
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', server: 'petrel-bench' });
      await res.end('hello, petrel');
    });
  });
  process.send!({ port: server.address().port, fingerprint: identity.fingerprint });
  process.on('message', async (m) => {
    if (m === 'stop') {
      await server.close({ force: true });
      process.exit(0);
    }
  });
}

async function clientMain(): Promise<void> {
  const quick = flag('quick');
  const seconds = numberArg('seconds', quick ? 0.5 : 5);
  const levels = (arg('concurrency') ?? (quick ? '1,8' : '1,16,64')).split(',').map(Number);
  const insecure = flag('insecure');
  console.log(`# HTTP over Petrel (${insecure ? 'insecure' : 'encrypted'}), server in a child process on 127.0.0.1\n${environmentLine()}\n`);
  const child = fork(self, ['--server', ...(insecure ? ['--insecure'] : [])], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const info = await new Promise<{ port: number; fingerprint: string }>((r) =>
    child.once('message', (m) => r(m as { port: number; fingerprint: string })),
  );
  const conn = await connect({
    host: '127.0.0.1',
    port: info.port,
    alpn: 'h3-petrel',
    ...(insecure ? { insecure: true } : { serverKey: info.fingerprint }),
  });
  const headers = { 'user-agent': 'petrel-bench/1.0', accept: 'text/plain', 'accept-encoding': 'gzip, deflate, br' };
  const one = async (i: number): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const r = await request(conn, { method: 'GET', path: `/item/${i % 100}`, headers });
    let n = 0;
    for await (const c of r.body) n += (c as Buffer).length;
    if (r.status !== 200 || n !== 13) throw new Error(`bad response ${r.status} ${n}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // Baseline in the same run: the same exchange on bare Petrel streams (stream per request, no HTTP framing),
  // on a second connection to the same server process.
  const bare = await connect({
    host: '127.0.0.1',
    port: info.port,
    alpn: 'bare',
    ...(insecure ? { insecure: true } : { serverKey: info.fingerprint }),
  });
  const plain = async (): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const s = await bare.openStream();
    s.end('GET /item');
    let n = 0;
    for await (const c of s) n += (c as Buffer).length;
    if (n !== 13) throw new Error('bad bare response');
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  // Warm-up (JIT, QPACK table, congestion window).
  for (let i = 0; i < (quick ? 20 : 500); i++) {
    await one(i);
    await plain();
  }
  // Rounds alternate HTTP and bare segments so that load drift on a shared machine hits both alike.
  const rounds = quick ? 1 : 4;
  const results = new Results();
  const rows: string[][] = [];
  let i = 0;
  const segment = async (c: number, fn: (i: number) => Promise<number>, lat: number[]): Promise<number> => {
    const end = performance.now() + (seconds * 1000) / rounds;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() < end) lat.push(await fn(i++));
      }),
    );
    return performance.now() - t0;
  };
  for (const c of levels) {
    const h: number[] = [];
    const b: number[] = [];
    let th = 0;
    let tb = 0;
    for (let r = 0; r < rounds; r++) {
      th += await segment(c, one, h);
      tb += await segment(c, plain, b);
    }
    for (const [name, lat, ms] of [
      ['http', h, th],
      ['bare', b, tb],
    ] as const) {
      const rps = lat.length / (ms / 1000);
      rows.push([
        `${name === 'http' ? 'HTTP' : 'bare stream'}, ${c}`,
        String(lat.length),
        si(rps),
        fmt(quantile(lat, 0.5)),
        fmt(quantile(lat, 0.99)),
      ]);
      const k = name === 'http' ? `c${c}` : `bare_c${c}`;
      results.set(`${k}_requests_per_s`, rps);
      results.set(`${k}_latency_ms_p50`, quantile(lat, 0.5));
      results.set(`${k}_latency_ms_p99`, quantile(lat, 0.99));
    }
  }
  await bare.close();
  console.log(table(['exchange, concurrency', 'requests', 'req/s', 'p50 ms', 'p99 ms'], rows));
  await conn.close();
  child.send('stop');
  await new Promise((r) => child.once('exit', r));

  const qif =
    arg('qif') ??
    [join(self, '../../../../shared/corpora/qifs/qifs/fb-req.qif'), join(self, '../../../../../shared/corpora/qifs/qifs/fb-req.qif')].find(
      existsSync,
    );
  if (qif !== undefined) {
    const lists = parseQif(readFileSync(qif, 'latin1'));
    const raw = lists.reduce((n, l) => n + l.reduce((m, [k, v]) => m + k.length + v.length + 4, 0), 0); // "name: value\r\n"
    const sizes = (tableSize: number, blocked: number): number => headerBytes(lists, tableSize, blocked);
    const staticOnly = sizes(0, 0);
    const live = sizes(4096, 16);
    console.log(`\n## Header bytes on fb-req (${lists.length} requests; QPACK with acknowledgements as on a live connection)\n`);
    console.log(
      table(
        ['encoding', 'bytes', 'vs HTTP/1.1 text'],
        [
          ['HTTP/1.1 text (name: value CRLF)', String(raw), '100%'],
          ['QPACK, static table + Huffman only', String(staticOnly), `${((staticOnly / raw) * 100).toFixed(1)}%`],
          ['QPACK, 4096-byte table, 16 blocked streams', String(live), `${((live / raw) * 100).toFixed(1)}%`],
        ],
      ),
    );
    results.set('fbreq_raw_bytes', raw);
    results.set('fbreq_qpack_static_bytes', staticOnly);
    results.set('fbreq_qpack_4096_bytes', live);
    results.set('fbreq_saved_pct', (1 - live / raw) * 100);
  } else console.log('\n(fb-req.qif not found: pass --qif PATH for the header-bytes figure)');
  console.log(results.line());
}

/** Section bytes plus encoder-stream bytes for the lists, decoded back and checked, with immediate acks. */
function headerBytes(lists: Field[][], tableSize: number, blocked: number): number {
  const enc = new QpackEncoder({ maxTableCapacity: tableSize, maxBlockedStreams: blocked, tableCapacity: tableSize });
  const dec = new QpackDecoder({ maxTableCapacity: tableSize, maxBlockedStreams: blocked, maxFieldSectionSize: 1 << 20 });
  let total = 0;
  lists.forEach((fields, i) => {
    const section = enc.encodeSection(i * 4, fields);
    const es = enc.takeEncoderStreamData();
    total += section.length + es.length;
    dec.encoderStreamData(es);
    const got = dec.decodeSection(i * 4, section);
    if (JSON.stringify(got) !== JSON.stringify(fields)) throw new Error(`list ${i} did not round-trip`);
    enc.decoderStreamData(dec.takeDecoderStreamData());
  });
  return total;
}

if (process.argv.includes('--server')) {
  void serverMain();
} else {
  clientMain().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
