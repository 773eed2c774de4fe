/**
 * What a conformance case is, and the context it runs in.
 *
 * Verdicts (h2spec / Autobahn style):
 * - PASS: the implementation did what the quoted requirement says.
 * - FAIL: it did something else (a wrong error code counts as a failure, not only silence).
 * - NON-STRICT: acceptable but not what the spec recommends (for "should"-level statements).
 * - UNSUPPORTED: the case needs something the implementation does not offer (a Retry, a client command
 *   that exits 127, a feature the peer did not advertise).
 */
import type { CryptoConfig } from '../../lib/connection/types.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { TransportErrorCode, transportErrorName } from '../../lib/errors.js';
import { Probe, type ProbeOptions } from './probe.js';
import type { WireLog } from './wire-log.js';

export type Verdict = 'PASS' | 'FAIL' | 'NON-STRICT' | 'UNSUPPORTED';

export interface Outcome {
  verdict: Verdict;
  detail: string;
}

export interface CaseContext {
  host: string;
  port: number;
  /** A fresh client CryptoConfig per connection (secure with the pinned key, or insecure). */
  crypto: () => CryptoConfig;
  insecure: boolean;
  /** The server key fingerprint given to the runner (secure mode). */
  keyFingerprint?: string;
  alpn: readonly string[];
  serverName?: string;
  log: WireLog;
  /** Opens a probe (socket bound, session created) that the runner closes after the case. */
  probe(o?: Partial<ProbeOptions>): Promise<Probe>;
  /** A probe whose handshake completed; throws Unsupported when it cannot connect. */
  connected(o?: Partial<ProbeOptions>): Promise<Probe>;
}

export interface Case {
  /** `<spec file>/<section slug>/<n>`, e.g. `transport/anti-amplification/1`. */
  id: string;
  /** The spec file (under spec/) and section heading the requirement is quoted from. */
  spec: { file: string; section: string };
  /** The requirement, quoted verbatim from that section (a test checks the quote). */
  requirement: string;
  /** Which role of the implementation under test the case checks. */
  role: 'server' | 'client';
  run(ctx: CaseContext): Promise<Outcome>;
}

export class Unsupported extends Error {}

export const pass = (detail: string): Outcome => ({ verdict: 'PASS', detail });
export const fail = (detail: string): Outcome => ({ verdict: 'FAIL', detail });
export const nonStrict = (detail: string): Outcome => ({ verdict: 'NON-STRICT', detail });
export const unsupported = (detail: string): Outcome => ({ verdict: 'UNSUPPORTED', detail });

export function codeName(code: number): string {
  return `${transportErrorName(code)} (0x${code.toString(16)})`;
}

/**
 * The common judgement for "this input closes the connection with code X": waits for the peer's
 * CONNECTION_CLOSE and compares its code.
 */
export async function expectClose(p: Probe, code: number, what: string, ms = 2000): Promise<Outcome> {
  const close = await p.waitClose(ms);
  if (!close) return fail(`${what}: no CONNECTION_CLOSE within ${ms} ms (expected ${codeName(code)})`);
  if (close.application) return fail(`${what}: application close 0x${close.errorCode.toString(16)}, expected transport ${codeName(code)}`);
  if (close.errorCode !== code) return fail(`${what}: closed with ${codeName(close.errorCode)}, expected ${codeName(code)}`);
  return pass(`${what}: closed with ${codeName(code)}`);
}

/** "Nothing is sent in reply": waits `ms` and checks that no datagram arrived after `mark`. */
export async function expectSilence(p: Probe, mark: number, what: string, ms = 500): Promise<Outcome> {
  await p.waitFor(() => p.datagrams.length > mark, ms);
  const got = p.datagrams.length - mark;
  return got === 0 ? pass(`${what}: no reply in ${ms} ms`) : fail(`${what}: ${got} datagram(s) in reply`);
}

export const Code = TransportErrorCode;

export function frameOf<T extends Frame['type']>(frames: readonly Frame[], type: T): Extract<Frame, { type: T }> | undefined {
  return frames.find((f) => f.type === type) as Extract<Frame, { type: T }> | undefined;
}
