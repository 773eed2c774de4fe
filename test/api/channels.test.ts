import { describe, expect, it } from 'vitest';
import { connect, listen } from './transport.js';
import type { ChannelMode, PetrelConnection, PetrelServer } from '../../lib/api/index.js';
import { expectNoLeaks, pattern, resources, sha, waitFor } from './helpers.js';

async function pair(opts: Parameters<typeof listen>[0] = {}): Promise<{ server: PetrelServer; client: PetrelConnection; peer: PetrelConnection }> {
  const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, ...opts });
  const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
  const client = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
  return { server, client, peer: await accepted };
}

async function shutdown(p: { server: PetrelServer; client: PetrelConnection }): Promise<void> {
  await p.client.close();
  await p.server.close();
}

describe('datagrams end to end', () => {
  it('delivers datagrams both ways and refuses oversize ones with a typed error', async () => {
    const base = resources();
    const p = await pair();
    const got: number[] = [];
    p.peer.on('datagram', (d) => {
      got.push(d[0]!);
      p.peer.sendDatagram(new Uint8Array([d[0]! + 100]));
    });
    const back: number[] = [];
    p.client.on('datagram', (d) => back.push(d[0]!));
    for (let i = 0; i < 20; i++) expect(p.client.sendDatagram(new Uint8Array([i, 1, 2]))).toBe(true);
    await waitFor(() => back.length === 20, 5000, 'echoed datagrams');
    expect(got.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    const max = p.client.maxDatagramSize;
    expect(max).toBeGreaterThan(1000);
    expect(() => p.client.sendDatagram(new Uint8Array(max + 1))).toThrow(expect.objectContaining({ code: 'DATAGRAM_TOO_LARGE' }));
    // A full send queue drops the oldest and counts it.
    const q = await pair({}); // fresh pair so the queue is empty
    const c2 = await connect({ host: '127.0.0.1', port: q.server.address().port, insecure: true, datagramQueueLength: 4 });
    for (let i = 0; i < 10; i++) c2.sendDatagram(new Uint8Array(10));
    expect(c2.stats().datagramsDropped).toBe(6);
    await c2.close();
    await shutdown(q);
    await shutdown(p);
    await expectNoLeaks(base);
  });
});

describe('channels end to end', () => {
  const modes: ChannelMode[] = ['reliable-ordered', 'reliable-unordered', 'unreliable', 'unreliable-sequenced'];
  for (const mode of modes) {
    it(`${mode}: MessagePack values both ways, small and large`, async () => {
      const p = await pair();
      const small = Array.from({ length: 50 }, (_, i) => ({ seq: i, name: `player-${i}`, pos: [i, i * 2.5, -i - 1], alive: i % 2 === 0 }));
      const large = { blob: pattern(100_000, 5), tag: 'snapshot' };
      const serverCh = p.peer.channel<unknown>('game', { mode });
      const clientCh = p.client.channel<unknown>('game', { mode });
      const atServer: unknown[] = [];
      serverCh.on('message', (v) => {
        atServer.push(v);
        serverCh.send({ ack: atServer.length });
      });
      const atClient: unknown[] = [];
      clientCh.on('message', (v) => atClient.push(v));
      for (const m of small) {
        clientCh.send(m);
        // Sequenced lanes keep only the newest message: pace them so none is overtaken on loopback.
        if (mode === 'unreliable-sequenced') await waitFor(() => atServer.length === small.indexOf(m) + 1, 5000, 'sequenced message');
      }
      await waitFor(() => atServer.length === small.length, 10_000, 'small messages');
      clientCh.send(large);
      await waitFor(() => atServer.length === small.length + 1, 10_000, 'large message');
      if (mode === 'reliable-ordered' || mode === 'unreliable-sequenced') expect(atServer.slice(0, 50)).toEqual(small);
      else expect([...atServer.slice(0, 50)].sort((a, b) => (a as { seq: number }).seq - (b as { seq: number }).seq)).toEqual(small);
      const big = atServer[50] as { blob: Uint8Array; tag: string };
      expect(big.tag).toBe('snapshot');
      expect(sha(big.blob)).toBe(sha(large.blob));
      await waitFor(() => atClient.length === 51, 10_000, 'replies');
      expect(clientCh.stats()).toEqual({ sent: 51, received: 51, decodeErrors: 0 });
      expect(p.peer.stats().channels.messagesReceived).toBe(51);
      await shutdown(p);
    });
  }

  it('raw codec carries bytes untouched; a custom codec is used as given', async () => {
    const p = await pair();
    const raw = p.client.channel<Uint8Array>('bytes', { mode: 'reliable-ordered', codec: 'raw' });
    const text = { encode: (s: string) => new TextEncoder().encode(s), decode: (b: Uint8Array) => new TextDecoder().decode(b) };
    const chat = p.client.channel<string>('chat', { mode: 'reliable-unordered', codec: text });
    const gotRaw: Uint8Array[] = [];
    const gotText: string[] = [];
    p.peer.channel<Uint8Array>('bytes', { codec: 'raw' }).on('message', (b) => gotRaw.push(b));
    p.peer.channel<string>('chat', { mode: 'reliable-unordered', codec: text }).on('message', (s) => gotText.push(s));
    raw.send(new Uint8Array([0, 255, 7]));
    chat.send('héllo');
    await waitFor(() => gotRaw.length === 1 && gotText.length === 1, 5000, 'messages');
    expect(Array.from(gotRaw[0]!)).toEqual([0, 255, 7]);
    expect(gotText).toEqual(['héllo']);
    expect(() => raw.send('no' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ENCODE_ERROR' }));
    expect(() => p.client.channel('bytes', { mode: 'unreliable' })).toThrow(expect.objectContaining({ code: 'CHANNEL_MODE_MISMATCH' }));
    await shutdown(p);
  });

  it('rejects messages nested too deep or too large on receipt (counted, connection unharmed)', async () => {
    const p = await pair();
    // The sender uses raw bytes to craft MessagePack the receiver's limits refuse.
    const sender = p.client.channel<Uint8Array>('lim', { codec: 'raw' });
    const recv = p.peer.channel<unknown>('lim', { maxDepth: 8, maxMessageSize: 1000 });
    const values: unknown[] = [];
    const invalid: string[] = [];
    recv.on('message', (v) => values.push(v));
    recv.on('invalid', (e) => invalid.push(e.code));
    const deep = new Uint8Array(100_001).fill(0x91); // 100,000 nested one-element arrays
    deep[100_000] = 0xc0;
    sender.send(deep);
    sender.send(new Uint8Array([0x91, 0x91, 0x91, 0x01])); // depth 3: fine
    sender.send(new Uint8Array(2000).fill(0x01)); // above 1000 bytes
    sender.send(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])); // array of 4 billion items in 5 bytes
    await waitFor(() => values.length + invalid.length === 4, 5000, 'four messages');
    expect(values).toEqual([[[[1]]]]);
    expect(invalid).toEqual(['DECODE_ERROR', 'DECODE_ERROR', 'DECODE_ERROR']);
    expect(recv.stats().decodeErrors).toBe(3);
    expect(p.peer.isOpen).toBe(true);
    await shutdown(p);
  });

  it('holds messages for a channel the receiver has not opened yet and announces its name', async () => {
    const p = await pair();
    const announced: Array<[string, string]> = [];
    p.peer.on('channel', (name, mode) => announced.push([name, mode]));
    const ch = p.client.channel<number>('late', { mode: 'reliable-ordered' });
    for (let i = 0; i < 5; i++) ch.send(i);
    await waitFor(() => announced.length === 1 && p.peer.stats().channels.messagesReceived === 5, 5000, 'announcement');
    expect(announced).toEqual([['late', 'reliable-ordered']]);
    const got: number[] = [];
    p.peer.channel<number>('late').on('message', (v) => got.push(v));
    // Held messages arrive once the listener is attached (a microtask after channel() returns).
    await waitFor(() => got.length === 5, 5000, 'held messages');
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await shutdown(p);
  });

  it('reports CHANNELS_UNAVAILABLE when the peer does not speak channels', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, channels: false });
    const client = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    expect(() => client.channel('x')).toThrow(expect.objectContaining({ code: 'CHANNELS_UNAVAILABLE' }));
    await client.close();
    await server.close();
  });
});
