/**
 * Network scenarios (quic-interop-runner style): a Petrel client reaches the server under test through
 * the impairment proxy (tools/impair) and echoes a stream; the server must deliver every byte intact
 * under loss, reordering, a small MTU and a NAT rebinding. Needs a server that echoes bidirectional
 * streams (the runner's test-endpoint contract); one that returns nothing is UNSUPPORTED.
 */
import { createHash } from 'node:crypto';
import { connect } from '../../../lib/api/connect.js';
import { ImpairProxy, type LinkConfig } from '../../../tools/impair/proxy.js';
import { fail, pass, unsupported, type Case, type CaseContext, type Outcome } from '../case.js';

const SIZE = 192 * 1024;

const dropped = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

function payload(): Buffer {
  const b = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) b[i] = (i * 31 + (i >>> 8)) & 0xff;
  return b;
}

async function echoThrough(
  ctx: CaseContext,
  link: LinkConfig,
  o: { idleTimeout?: number; pauseMs?: number; rebinds?: boolean } = {},
): Promise<Outcome> {
  const proxy = new ImpairProxy({
    listen: { host: '127.0.0.1', port: 0 },
    target: { host: ctx.host, port: ctx.port },
    seed: 7,
    upstream: link,
    downstream: link,
    idleTimeout: o.idleTimeout ?? 0,
  });
  const addr = await proxy.start();
  const data = payload();
  const want = createHash('sha256').update(data).digest('hex');
  const started = Date.now();
  try {
    const serverKey = ctx.insecure ? undefined : ctx.keyFingerprint;
    const conn = await connect({
      host: addr.host,
      port: addr.port,
      ...(ctx.insecure ? { insecure: true } : { serverKey }),
      alpn: ctx.alpn.length ? [...ctx.alpn] : undefined,
      timeout: 10_000,
    });
    try {
      const s = await conn.openStream();
      const got = createHash('sha256');
      let n = 0;
      const done = (async () => {
        for await (const c of s.iterator({ destroyOnReturn: false })) {
          got.update(c as Buffer);
          n += (c as Buffer).length;
        }
      })();
      s.write(data.subarray(0, SIZE / 2));
      if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
      s.end(data.subarray(SIZE / 2));
      const finished = await Promise.race([done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 12_000))]);
      if (n === 0) return unsupported('the server returned nothing on the stream (it does not echo)');
      if (!finished) return fail(`only ${n} of ${SIZE} bytes came back in 12 s`);
      const hash = got.digest('hex');
      const st = proxy.stats();
      const what = `${SIZE} bytes echoed in ${Date.now() - started} ms (proxy dropped ${dropped(st.upstream.dropped) + dropped(st.downstream.dropped)} datagrams)`;
      if (o.rebinds && st.clientsTotal < 2) return fail(`the proxy never rebound the client (${st.clientsTotal} mapping): scenario not exercised`);
      return hash === want && n === SIZE ? pass(what) : fail(`${n} bytes came back, hash ${hash === want ? 'matches' : 'differs'}`);
    } finally {
      await conn.close();
    }
  } catch (err) {
    return fail(`${(err as Error).message}`);
  } finally {
    await proxy.stop();
  }
}

const LOSS = { file: 'transport.md', section: 'Loss recovery' };
const LOSS_REQ =
  "STREAM | bytes marked acknowledged; the stream's send side is done once everything is; else stream_writable | bytes re-queued (if the stream still sends)";

export const scenarioCases: Case[] = [
  {
    id: 'recovery/scenario-loss/1',
    spec: LOSS,
    requirement: LOSS_REQ,
    role: 'server',
    run: (ctx) => echoThrough(ctx, { loss: 0.05, delay: 10 }),
  },
  {
    id: 'recovery/scenario-reorder/1',
    spec: LOSS,
    requirement: LOSS_REQ,
    role: 'server',
    run: (ctx) => echoThrough(ctx, { delay: 10, jitter: 8, reorder: 0.1, reorderDelay: 15 }),
  },
  {
    id: 'transport/scenario-mtu/1',
    spec: { file: 'wire.md', section: 'Sizes' },
    requirement: "A datagram is never larger than the path MTU allows, the peer's max_udp_payload_size, nor the limit above for its IP version.",
    role: 'server',
    run: (ctx) => echoThrough(ctx, { delay: 5, mtu: 1280 }),
  },
  {
    id: 'transport/scenario-rebinding/1',
    spec: { file: 'transport.md', section: 'Migration' },
    requirement: 'What Petrel handles is a peer whose address changes under it: a NAT rebinding (usually a new port), or a host change.',
    role: 'server',
    // The proxy forgets a client silent for 200 ms: after the pause the server sees a new source port.
    run: (ctx) => echoThrough(ctx, { delay: 5 }, { idleTimeout: 200, pauseMs: 1200, rebinds: true }),
  },
];
