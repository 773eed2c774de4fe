/**
 * One side of the two-process benchmark (tools/bench/cli.ts starts two of these, pinned to different cores
 * when taskset exists, and drives them over the IPC channel). A peer is a server or a client of one
 * transport `kind`; every operation answers with one message, so the driver sequences warm-up, marks and
 * timed phases without polling.
 *
 * Kinds: udp (raw node:dgram, self-clocked), tcp (node:net), ws, udx (udx-native), petrel (listen/connect;
 * secure or insecure, provider and suites through PETREL_CRYPTO_* in the environment).
 */
import { performance } from 'node:perf_hooks';
import type { Transport } from './transports.js';
import { makeTransport } from './transports.js';

export type Op =
  | { op: 'listen'; kind: string; insecure?: boolean; mode: 'sink' | 'echo' | 'accept' }
  | { op: 'prepare'; kind: string; insecure?: boolean }
  | { op: 'peer'; port: number }
  | { op: 'connect'; port: number; fingerprint?: string }
  | { op: 'expect'; bytes: number; stallMs: number }
  | { op: 'send'; bytes: number }
  | { op: 'rtt'; lane: 'datagram' | 'stream' | 'channel' | 'plain'; n: number; warm: number; size: number }
  | { op: 'handshakes'; n: number; concurrency: number }
  | { op: 'idle'; n: number; concurrency: number }
  | { op: 'mark' }
  | { op: 'usage'; gc?: boolean }
  | { op: 'exit' };

/** Milliseconds on a clock shared by the processes of one machine (epoch based, sub-ms resolution). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

let transport: Transport | null = null;
let cpuMark = process.cpuUsage();
let markAt = epochMs();

function cpuSinceMark(): number {
  const c = process.cpuUsage(cpuMark);
  return c.user + c.system;
}

function memory(gc: boolean): { heapUsed: number; rss: number; external: number; arrayBuffers: number } {
  const g = (globalThis as { gc?: () => void }).gc;
  if (gc && g) {
    g();
    g();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

async function handle(m: Op): Promise<unknown> {
  switch (m.op) {
    case 'listen':
      transport = makeTransport(m.kind, { insecure: m.insecure === true });
      return { port: await transport.listen(m.mode), fingerprint: transport.fingerprint };
    case 'prepare':
      transport = makeTransport(m.kind, { insecure: m.insecure === true });
      return { port: await transport.prepare() };
    case 'peer':
      await transport!.peer(m.port);
      return {};
    case 'connect':
      await transport!.connect(m.port, m.fingerprint);
      return {};
    case 'expect':
      return transport!.expect(m.bytes, m.stallMs);
    case 'send': {
      const t0 = epochMs();
      const c0 = process.cpuUsage();
      const sent = await transport!.send(m.bytes);
      const c = process.cpuUsage(c0);
      return { startMs: t0, endMs: epochMs(), sent, cpuUs: c.user + c.system };
    }
    case 'rtt': {
      const c0 = process.cpuUsage();
      const samplesUs = await transport!.rtt(m.lane, m.n, m.warm, m.size);
      const c = process.cpuUsage(c0);
      return { samplesUs, cpuUs: c.user + c.system };
    }
    case 'handshakes': {
      const t0 = epochMs();
      const ok = await transport!.handshakes(m.n, m.concurrency);
      return { ms: epochMs() - t0, ok };
    }
    case 'idle':
      return { open: await transport!.idle(m.n, m.concurrency) };
    case 'mark':
      cpuMark = process.cpuUsage();
      markAt = epochMs();
      return { mem: memory(true) };
    case 'usage':
      return { cpuUs: cpuSinceMark(), sinceMs: epochMs() - markAt, mem: memory(m.gc === true), stats: transport?.stats() ?? {} };
    case 'exit':
      await transport?.close();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (m: Op & { id: number }) => {
  handle(m).then(
    (result) => process.send!({ id: m.id, result }),
    (err: unknown) => process.send!({ id: m.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
