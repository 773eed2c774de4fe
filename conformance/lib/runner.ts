/**
 * Runs conformance cases against a server (the runner is the client) and collects verdicts.
 * Each case gets fresh probes, its own wire log and a time bound; a case that throws is a FAIL with the
 * error, never a crash of the runner.
 */
import type { CryptoConfig } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { RetryIntegrity } from '../../lib/crypto/retry.js';
import { parseFingerprint } from '../../lib/crypto/handshake/index.js';
import { Unsupported, type Case, type CaseContext, type Outcome, type Verdict } from './case.js';
import { Probe, type ProbeOptions } from './probe.js';
import { WireLog } from './wire-log.js';
import { wireCases } from './cases/wire.js';
import { transportCases } from './cases/transport.js';
import { streamCases } from './cases/streams.js';
import { handshakeCases } from './cases/handshake.js';
import { scenarioCases } from './cases/scenarios.js';

/** Every server-role case, in spec order. */
export const SERVER_CASES: readonly Case[] = [...wireCases, ...transportCases, ...streamCases, ...handshakeCases, ...scenarioCases];

export interface ServerRunOptions {
  host: string;
  port: number;
  /** The server's Ed25519 key fingerprint (or 32 raw bytes); required unless insecure. */
  serverKey?: string | Uint8Array;
  insecure?: boolean;
  alpn?: readonly string[];
  serverName?: string;
  /** Only cases whose id matches. */
  filter?: RegExp;
  /** Upper bound per case (ms). */
  caseTimeout?: number;
  /** Called after each case (progress output). */
  onResult?: (r: CaseResult) => void;
}

export interface CaseResult {
  id: string;
  spec: { file: string; section: string };
  requirement: string;
  role: 'server' | 'client';
  verdict: Verdict;
  detail: string;
  durationMs: number;
  log: WireLog;
}

export function clientCrypto(o: { serverKey?: string | Uint8Array; insecure?: boolean }): () => CryptoConfig {
  if (o.insecure) return () => insecureCrypto;
  if (o.serverKey === undefined) throw new Error('a server key (--server-key) is needed unless --insecure');
  const key = typeof o.serverKey === 'string' ? parseFingerprint(o.serverKey) : o.serverKey;
  return () => secureCrypto({ provider: nodeCryptoProvider, client: { serverKey: key, now: () => Date.now() } });
}

export async function runServerCases(opts: ServerRunOptions, cases: readonly Case[] = SERVER_CASES): Promise<CaseResult[]> {
  const crypto = clientCrypto(opts);
  const results: CaseResult[] = [];
  for (const c of cases) {
    if (opts.filter && !opts.filter.test(c.id)) continue;
    const r = await runOne(c, opts, crypto);
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}

const retryIntegrity = new RetryIntegrity(nodeCryptoProvider);

async function runOne(c: Case, opts: ServerRunOptions, crypto: () => CryptoConfig): Promise<CaseResult> {
  const log = new WireLog();
  const probes: Probe[] = [];
  const started = Date.now();
  const ctx: CaseContext = {
    host: opts.host,
    port: opts.port,
    crypto,
    insecure: opts.insecure === true,
    keyFingerprint: typeof opts.serverKey === 'string' ? opts.serverKey : undefined,
    alpn: opts.alpn ?? [],
    serverName: opts.serverName,
    log,
    async probe(o: Partial<ProbeOptions> = {}) {
      const p = new Probe({
        host: opts.host,
        port: opts.port,
        crypto: crypto(),
        alpn: opts.alpn,
        serverName: opts.serverName,
        log,
        retryIntegrity,
        ...o,
      });
      probes.push(p);
      await p.open();
      return p;
    },
    async connected(o: Partial<ProbeOptions> = {}) {
      const p = await ctx.probe(o);
      if (!(await p.handshake(3000))) {
        throw new Unsupported(`could not complete a handshake${p.peerClose ? ` (closed 0x${p.peerClose.errorCode.toString(16)})` : ''}`);
      }
      return p;
    },
  };
  let outcome: Outcome;
  const limit = opts.caseTimeout ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    outcome = await Promise.race([
      c.run(ctx),
      new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve({ verdict: 'FAIL', detail: `case did not finish in ${limit} ms` }), limit);
      }),
    ]);
  } catch (err) {
    outcome =
      err instanceof Unsupported
        ? { verdict: 'FAIL', detail: `no connection for this case: ${err.message}` }
        : { verdict: 'FAIL', detail: `runner error: ${(err as Error).stack ?? String(err)}` };
  } finally {
    clearTimeout(timer);
    for (const p of probes) p.close();
  }
  log.note(Date.now() - started, `${outcome.verdict}: ${outcome.detail}`);
  return { id: c.id, spec: c.spec, requirement: c.requirement, role: c.role, ...outcome, durationMs: Date.now() - started, log };
}
