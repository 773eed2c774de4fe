import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, listen } from '../../lib/api/index.js';

const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
server.on('connection', (conn) => {
  // Upload sink: hash everything, answer with the digest.
  conn.on('stream', async (stream) => {
    const hash = createHash('sha256');
    await pipeline(stream.iterator({ destroyOnReturn: false }), async function* (chunks) {
      for await (const c of chunks) hash.update(c as Buffer);
    });
    stream.end(hash.digest('hex'));
  });
});

const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, streamHighWaterMark: 256 * 1024 });
const upload = await conn.openStream();
const chunks = Array.from({ length: 256 }, (_, i) => Buffer.alloc(4096, i)); // 1 MiB
// pipeline() respects backpressure: write() waits while too much is unacknowledged.
await pipeline(Readable.from(chunks), upload);
let digest = '';
for await (const c of upload) digest += c;
assert.equal(digest, createHash('sha256').update(Buffer.concat(chunks)).digest('hex'));

await conn.close();
await server.close();
