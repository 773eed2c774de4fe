/**
 * Cost of pacing on real sockets: a 64 MiB loopback upload through the public API (insecure, one stream),
 * paced vs unpaced, three runs each interleaved; prints MB/s and the ratio of medians.
 * Run: node --import tsx tools/bench/pacing-cost.ts
 */
import { connect, listen } from '../../lib/api/index.js';
async function run(pacing: boolean): Promise<number> {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, pacing });
  server.on('connection', (c) =>
    c.on('stream', (s) => {
      s.on('data', () => {});
      s.on('end', () => s.end());
    }),
  );
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, pacing });
  const s = await conn.openStream();
  const total = 64 * 1024 * 1024,
    chunk = Buffer.alloc(64 * 1024);
  const t0 = performance.now();
  const done = new Promise<void>((res) => {
    s.on('end', () => res());
    s.resume();
  });
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  }
  s.end();
  await done;
  const ms = performance.now() - t0;
  await conn.close();
  await server.close();
  return total / 1e6 / (ms / 1000);
}
const res: Record<string, number[]> = { on: [], off: [] };
for (let i = 0; i < 3; i++) {
  res.off.push(await run(false));
  res.on.push(await run(true));
}
const med = (a: number[]) => a.sort((x, y) => x - y)[1]!;
console.log(
  'MB/s paced',
  res.on.map((x) => x.toFixed(1)).join(' '),
  'unpaced',
  res.off.map((x) => x.toFixed(1)).join(' '),
  'ratio(median)',
  (med(res.on) / med(res.off)).toFixed(3),
);
