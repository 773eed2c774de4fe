/**
 * The first server a Node user writes: read the request with a plain `for await`, then `stream.end(reply)`.
 * Reading to the end must leave the writable side usable; leaving the loop early must still destroy the stream.
 */
import { describe, expect, it } from 'vitest';
import { connect, listen } from '../../lib/api/index.js';
import type { PetrelConnection, PetrelStream } from '../../lib/api/index.js';
import { pattern, sha, waitFor, within } from './helpers.js';

async function pair() {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
  const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
  const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
  return { server, conn, peer: await accepted };
}

describe('for await over a PetrelStream', () => {
  it('reading to the end keeps the writable side: `for await (...) ...; stream.end(reply)` answers', async () => {
    const { server, conn, peer } = await pair();
    const request = pattern(300_000, 7); // several packets, so the loop really iterates
    peer.on('stream', async (stream) => {
      const h = sha; // the exact shape a user writes:
      const parts: Buffer[] = [];
      for await (const chunk of stream) parts.push(chunk);
      stream.end(h(Buffer.concat(parts)));
    });
    const s = await conn.openStream();
    s.end(request);
    let reply = '';
    for await (const chunk of s) reply += chunk;
    expect(reply).toBe(sha(request));
    expect(s.peerError).toBeNull();
    await conn.close();
    await server.close();
  });

  it('an early break destroys the stream and the peer hears about it', async () => {
    const { server, conn, peer } = await pair();
    const streams: PetrelStream[] = [];
    peer.on('stream', (s) => streams.push(s));
    const s = await conn.openStream();
    s.write(pattern(1000, 1));
    await waitFor(() => streams.length === 1, 5000, 'peer stream');
    const theirs = streams[0]!;
    // The peer keeps sending; we stop after the first chunk.
    theirs.write(pattern(200_000, 2));
    for await (const chunk of s) {
      expect((chunk as Buffer).length).toBeGreaterThan(0);
      break;
    }
    expect(s.destroyed).toBe(true);
    // Our STOP_SENDING / RESET_STREAM reach the peer: its stream fails with a typed error.
    await waitFor(() => theirs.destroyed, 5000, 'peer stream destroyed');
    expect(['STREAM_STOPPED', 'STREAM_RESET']).toContain(theirs.peerError?.code);
    await conn.close();
    await server.close();
  });

  it('a throw out of the loop destroys the stream too', async () => {
    const { server, conn, peer } = await pair();
    peer.on('stream', (s) => s.end(pattern(50_000, 3)));
    const s = await conn.openStream();
    s.write('x');
    const loop = (async () => {
      for await (const _ of s) throw new Error('app bug');
    })();
    await expect(within(loop, 5000, 'loop')).rejects.toThrow('app bug');
    expect(s.destroyed).toBe(true);
    await conn.close();
    await server.close();
  });
});
