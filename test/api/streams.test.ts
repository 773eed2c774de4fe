import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { connect, listen } from './transport.js';
import type { PetrelConnection, PetrelServer, PetrelStream } from '../../lib/api/index.js';
import { hashStream, pattern, readAll, sha, waitFor, within } from './helpers.js';

async function pair(server: Parameters<typeof listen>[0] = {}, client: Partial<Parameters<typeof connect>[0]> = {}) {
  const srv: PetrelServer = await listen({ host: '127.0.0.1', port: 0, insecure: true, ...server });
  const accepted = new Promise<PetrelConnection>((r) => srv.once('connection', r));
  const conn = await connect({ host: '127.0.0.1', port: srv.address().port, insecure: true, ...client });
  const peer = await accepted;
  const streams: PetrelStream[] = [];
  peer.on('stream', (s) => streams.push(s));
  return {
    server: srv,
    conn,
    peer,
    streams,
    async close() {
      await conn.close();
      await srv.close();
    },
  };
}

describe('PetrelStream', () => {
  it('applies backpressure: write() waits while too much is unacknowledged, then everything arrives', async () => {
    const p = await pair({}, { streamHighWaterMark: 64 * 1024 });
    const s = await p.conn.openStream();
    const data = pattern(4 * 1024 * 1024, 3);
    const chunk = 16 * 1024;
    let accepted = 0;
    // Write until Node says stop; the peer is not reading, so flow control stalls delivery.
    while (accepted < data.length && s.write(data.subarray(accepted, accepted + chunk))) accepted += chunk;
    accepted += chunk;
    await waitFor(() => p.streams.length === 1, 5000, 'peer stream');
    await new Promise((r) => setTimeout(r, 100));
    // What the core holds unacknowledged stays near the high-water mark, the rest waits in the Writable.
    expect(s.bufferedBytes).toBeLessThanOrEqual(64 * 1024 + chunk);
    expect(accepted).toBeLessThan(data.length);
    const reading = hashStream(p.streams[0]!);
    const writing = (async () => {
      while (accepted < data.length) {
        if (!s.write(data.subarray(accepted, accepted + chunk))) await new Promise((r) => s.once('drain', r));
        accepted += chunk;
      }
      s.end();
    })();
    await within(writing, 30_000, 'writes');
    expect((await within(reading, 30_000, 'reads')).hash).toBe(sha(data));
    await p.close();
  });

  it('works with stream.pipeline in both directions', async () => {
    const p = await pair();
    const parts = Array.from({ length: 64 }, (_, i) => pattern(10_000 + i, i));
    const s = await p.conn.openStream();
    await within(pipeline(Readable.from(parts), s), 20_000, 'pipeline out');
    await waitFor(() => p.streams.length === 1, 5000, 'peer stream');
    const echo = p.streams[0]!;
    const back = readAll(s);
    await within(
      pipeline(
        echo.iterator({ destroyOnReturn: false }),
        async function* (src) {
          for await (const c of src) yield Buffer.from(c as Buffer).map((x) => x ^ 0x5a); // chunking-independent
        },
        echo,
      ),
      20_000,
      'pipeline back',
    );
    const got = await within(back, 20_000, 'echo');
    expect(sha(got)).toBe(sha(Buffer.concat(parts).map((x) => x ^ 0x5a)));
    await p.close();
  });

  it('unidirectional streams are write-only at the opener and read-only at the peer', async () => {
    const p = await pair();
    const s = await p.conn.openStream({ unidirectional: true, priority: 3 });
    expect(s.bidirectional).toBe(false);
    expect(s.readable).toBe(false);
    expect(s.priority).toBe(3);
    s.end(Buffer.from('one way'));
    await waitFor(() => p.streams.length === 1, 5000, 'peer stream');
    const r = p.streams[0]!;
    expect(r.writable).toBe(false);
    expect(r.initiator).toBe('peer');
    expect((await readAll(r)).toString()).toBe('one way');
    await p.close();
  });

  it('waits for the peer stream limit instead of failing, and opens when streams close', async () => {
    const p = await pair({ maxStreamsBidi: 2 });
    p.peer.on('stream', (s) => void readAll(s).then(() => s.end('ok')));
    const opened = Array.from({ length: 6 }, () => p.conn.openStream());
    const replies = opened.map(async (o) => {
      const s = await o;
      s.end('hi');
      return (await readAll(s)).toString();
    });
    expect(await within(Promise.all(replies), 20_000, 'six streams through a limit of two')).toEqual(Array(6).fill('ok'));
    await p.close();
  });

  it('surfaces a peer reset as a typed error, and never crashes without an error listener', async () => {
    const p = await pair();
    const a = await p.conn.openStream();
    a.write('partial');
    const b = await p.conn.openStream();
    b.write('partial');
    await waitFor(() => p.streams.length === 2, 5000, 'peer streams');
    const [ra, rb] = p.streams;
    const errors: string[] = [];
    ra!.on('error', (e) => errors.push((e as Error & { code: string }).code));
    ra!.resume();
    rb!.resume(); // no 'error' listener on this one
    a.reset(7);
    b.reset(8);
    await waitFor(() => ra!.destroyed && rb!.destroyed, 5000, 'resets');
    expect(errors).toEqual(['STREAM_RESET']);
    expect(ra!.peerError?.message).toContain('code 7');
    expect(rb!.peerError?.code).toBe('STREAM_RESET');
    expect(p.conn.isOpen).toBe(true);
    await p.close();
  });

  it('ends open streams with CONNECTION_CLOSED when the connection closes', async () => {
    const p = await pair();
    const s = await p.conn.openStream();
    s.write('x');
    await waitFor(() => p.streams.length === 1, 5000, 'peer stream');
    const r = p.streams[0]!;
    await p.conn.close({ code: 3, reason: 'bye' });
    await waitFor(() => r.destroyed, 5000, 'peer stream end');
    expect(r.peerError?.code).toBe('CONNECTION_CLOSED');
    expect(r.peerError?.message).toContain('bye');
    expect(s.destroyed).toBe(true);
    await expect(p.conn.openStream()).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(await p.peer.closed).toEqual({ code: 3, reason: 'bye', initiator: 'peer', application: true });
    await p.server.close();
  });
});
