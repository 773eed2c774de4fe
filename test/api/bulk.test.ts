import { describe, expect, it } from 'vitest';
import { connect, listen } from './transport.js';
import type { PetrelStream } from '../../lib/api/index.js';
import { expectNoLeaks, hashStream, pattern, resources, sha, within } from './helpers.js';

const PER_STREAM = 2 * 1024 * 1024; // 4 streams x 2 MiB = 8 MiB each way

describe('bulk transfer through the public API', () => {
  it('moves 8 MiB on four streams each way with equal SHA-256 at both ends', async () => {
    const base = resources();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
    const upload = [0, 1, 2, 3].map((i) => pattern(PER_STREAM, i + 1));
    const download = [0, 1, 2, 3].map((i) => pattern(PER_STREAM, i + 101));
    const serverGot = new Map<number, { hash: string; bytes: number }>();
    server.on('connection', (conn) => {
      conn.on('stream', (s: PetrelStream) => {
        void (async () => {
          const got = await hashStream(s);
          const i = upload.findIndex((u) => sha(u) === got.hash);
          serverGot.set(s.id, got);
          // Answer on the same stream with this stream's download data (or nothing if the upload was corrupt).
          s.end(i >= 0 ? download[i] : Buffer.alloc(0));
        })();
      });
    });
    const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    const results = await within(
      Promise.all(
        upload.map(async (data) => {
          const s = await conn.openStream();
          expect(s.bidirectional).toBe(true);
          s.end(data);
          return hashStream(s);
        }),
      ),
      60_000,
      'bulk transfer',
    );
    // Upload: the server saw every stream whole.
    expect([...serverGot.values()].map((g) => g.hash).sort()).toEqual(upload.map(sha).sort());
    expect([...serverGot.values()].every((g) => g.bytes === PER_STREAM)).toBe(true);
    // Download: each stream got back the data matching what it sent.
    expect(results.map((r) => r.hash)).toEqual(download.map(sha));
    const st = conn.stats();
    expect(st.bytesReceived).toBeGreaterThan(4 * PER_STREAM);
    expect(st.bytesSent).toBeGreaterThan(4 * PER_STREAM);
    await conn.close();
    await server.close();
    expect((await conn.closed).initiator).toBe('local');
    await expectNoLeaks(base);
  });
});
