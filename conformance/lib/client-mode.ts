/**
 * Client mode: the runner starts its own Petrel server (an echo server) behind a recording UDP relay and
 * launches the client implementation under test once per case with `{host} {port} {key}` filled in.
 *
 * The client command's contract: connect (pinning {key}, a fingerprint, unless the runner runs
 * insecure), open a bidirectional stream, send `petrel-conformance`, end it, read the reply to its end,
 * exit 0 when the reply is the same bytes, non-zero otherwise, and 127 when it cannot do this at all.
 */
import { spawn } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { crc32 } from 'node:zlib';
import { listen, type PetrelServer } from '../../lib/api/server.js';
import { generateIdentity } from '../../lib/api/identity.js';
import { parsePacketHeader, writeVersionNegotiation } from '../../lib/wire/packet.js';
import { appendChecksum, verifyChecksum } from '../../lib/wire/datagram.js';
import type { CaseResult } from './runner.js';
import { WireLog } from './wire-log.js';
import type { Outcome } from './case.js';

const crc = (d: Uint8Array): number => crc32(d);

interface Recorded {
  time: number;
  bytes: Uint8Array;
}

/** A relay in front of the runner's server that records what the client sends (and can answer VN itself). */
class Relay {
  readonly fromClient: Recorded[] = [];
  private sock!: Socket;
  private upstream = new Map<string, Socket>();
  private readonly t0 = Date.now();
  versionNegotiation = false;

  constructor(
    private readonly serverPort: number,
    private readonly log: WireLog,
  ) {}

  async start(): Promise<number> {
    this.sock = createSocket('udp4');
    this.sock.on('message', (m, r) => this.fromClientMsg(new Uint8Array(m), r));
    await new Promise<void>((res) => this.sock.bind(0, '127.0.0.1', res));
    return this.sock.address().port;
  }

  private fromClientMsg(bytes: Uint8Array, r: RemoteInfo): void {
    const time = Date.now() - this.t0;
    this.fromClient.push({ time, bytes });
    this.log.received(time, bytes, 'from client');
    if (this.versionNegotiation) {
      const h = parseLong(bytes);
      if (!h) return;
      const buf = new Uint8Array(128);
      const end = writeVersionNegotiation(buf, 0, { dcid: h.scid, scid: h.dcid, versions: [0x1a2a3a4a], unused: 0x15 });
      const out = buf.slice(0, end + 4);
      appendChecksum(out, end, crc);
      this.log.sent(time, out, 'Version Negotiation listing only 0x1a2a3a4a');
      this.sock.send(out, r.port, r.address);
      return;
    }
    const key = `${r.address}:${r.port}`;
    let up = this.upstream.get(key);
    if (!up) {
      up = createSocket('udp4');
      up.on('message', (m) => {
        this.log.sent(Date.now() - this.t0, new Uint8Array(m), 'from server');
        this.sock.send(m, r.port, r.address);
      });
      up.bind(0, '127.0.0.1');
      this.upstream.set(key, up);
    }
    up.send(bytes, this.serverPort, '127.0.0.1');
  }

  close(): void {
    this.sock.close();
    for (const u of this.upstream.values()) u.close();
  }
}

function parseLong(bytes: Uint8Array): { dcid: Uint8Array; scid: Uint8Array; type: string } | null {
  if (bytes.length < 5 || !verifyChecksum(bytes, bytes.length, crc)) return null;
  try {
    const h = parsePacketHeader(bytes, 0, bytes.length - 4, 8);
    if (h.form === 'long') return { dcid: h.dcid, scid: h.scid, type: h.type };
    if (h.form === 'unsupported_version') return { dcid: h.dcid, scid: h.scid, type: 'unknown' };
  } catch {
    return null;
  }
  return null;
}

interface ClientCase {
  id: string;
  spec: { file: string; section: string };
  requirement: string;
  versionNegotiation?: boolean;
  judge(run: { exit: number | null; relay: Relay; accepted: number; durationMs: number }): Outcome;
}

const CLIENT_CASES: ClientCase[] = [
  {
    id: 'wire/sizes/client-1',
    spec: { file: 'wire.md', section: 'Sizes' },
    requirement: 'A client pads every datagram that carries an Initial packet to at least this size',
    judge({ relay }) {
      const initials = relay.fromClient.filter((d) => parseLong(d.bytes)?.type === 'initial');
      if (initials.length === 0) return { verdict: 'FAIL', detail: 'the client sent no Initial' };
      const small = initials.filter((d) => d.bytes.length < 1200);
      return small.length === 0
        ? { verdict: 'PASS', detail: `${initials.length} Initial datagram(s), all ≥ 1200 bytes` }
        : { verdict: 'FAIL', detail: `Initial datagram(s) of ${small.map((d) => d.bytes.length).join(', ')} bytes` };
    },
  },
  {
    id: 'wire/crc-32-trailer/client-1',
    spec: { file: 'wire.md', section: 'CRC-32 trailer' },
    requirement: 'Every Petrel datagram ends with 4 bytes of CRC-32, big-endian, computed over every preceding byte of the datagram as sent',
    judge({ relay }) {
      const bad = relay.fromClient.filter((d) => !verifyChecksum(d.bytes, d.bytes.length, crc)).length;
      if (relay.fromClient.length === 0) return { verdict: 'FAIL', detail: 'the client sent nothing' };
      return bad === 0
        ? { verdict: 'PASS', detail: `${relay.fromClient.length} datagrams, all with a valid CRC` }
        : { verdict: 'FAIL', detail: `${bad} datagram(s) with a bad CRC` };
    },
  },
  {
    id: 'handshake/handshake-flow/client-1',
    spec: { file: 'handshake.md', section: 'Handshake flow' },
    requirement: "Petrel's secure handshake is TLS 1.3's full handshake (RFC 8446 §2) as QUIC carries it (RFC 9001)",
    judge({ exit, accepted }) {
      if (exit === 0 && accepted > 0) return { verdict: 'PASS', detail: 'handshake completed and the stream echo matched' };
      return { verdict: 'FAIL', detail: `client exit ${exit}, ${accepted} connection(s) accepted by the runner's server` };
    },
  },
  {
    id: 'transport/version-negotiation/client-1',
    spec: { file: 'transport.md', section: 'Version negotiation' },
    requirement:
      'A client that receives Version Negotiation before it has authenticated any long-header packet from the server ends the attempt at once with UNSUPPORTED_VERSION',
    versionNegotiation: true,
    judge({ exit, relay, durationMs }) {
      if (exit === 0) return { verdict: 'FAIL', detail: 'the client reported success against a server that speaks no common version' };
      const first = relay.fromClient[0];
      if (!first) return { verdict: 'FAIL', detail: 'the client sent nothing' };
      const after = relay.fromClient.filter((d) => d.time > first.time + 300).length;
      if (after > 0) return { verdict: 'FAIL', detail: `${after} datagram(s) sent more than 300 ms after Version Negotiation` };
      return durationMs < 3000
        ? { verdict: 'PASS', detail: `the client stopped after Version Negotiation and exited ${exit} in ${durationMs} ms` }
        : { verdict: 'NON-STRICT', detail: `the client stopped sending but took ${durationMs} ms to give up` };
    },
  },
];

export interface ClientRunOptions {
  /** The client command with {host} {port} {key} placeholders. */
  command: string;
  insecure?: boolean;
  timeoutMs?: number;
  filter?: RegExp;
  onResult?: (r: CaseResult) => void;
}

function runCommand(cmd: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, { shell: true, stdio: 'ignore' });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.on('error', () => {
      clearTimeout(t);
      resolve(127);
    });
  });
}

export async function runClientCases(opts: ClientRunOptions): Promise<CaseResult[]> {
  const identity = generateIdentity();
  const results: CaseResult[] = [];
  for (const c of CLIENT_CASES) {
    if (opts.filter && !opts.filter.test(c.id)) continue;
    const log = new WireLog();
    let server: PetrelServer | null = null;
    let accepted = 0;
    const started = Date.now();
    let outcome: Outcome;
    const relayPort = { value: 0 };
    let relay: Relay | null = null;
    try {
      server = await listen({ host: '127.0.0.1', port: 0, identity, insecure: opts.insecure === true, idleTimeout: 5000 });
      server.on('connection', (conn) => {
        accepted++;
        conn.on('stream', (s) => {
          s.on('error', () => undefined);
          const chunks: Buffer[] = [];
          s.on('data', (d: Buffer) => chunks.push(d));
          s.on('end', () => s.end(Buffer.concat(chunks)));
        });
      });
      relay = new Relay(server.address().port, log);
      relay.versionNegotiation = c.versionNegotiation === true;
      relayPort.value = await relay.start();
      const cmd = opts.command
        .replaceAll('{host}', '127.0.0.1')
        .replaceAll('{port}', String(relayPort.value))
        .replaceAll('{key}', identity.fingerprint);
      const exit = await runCommand(cmd, opts.timeoutMs ?? 15_000);
      if (exit === 127) outcome = { verdict: 'UNSUPPORTED', detail: 'the client command exited 127' };
      else outcome = c.judge({ exit, relay, accepted, durationMs: Date.now() - started });
    } catch (err) {
      outcome = { verdict: 'FAIL', detail: `runner error: ${(err as Error).message}` };
    } finally {
      relay?.close();
      await server?.close({ force: true }).catch(() => undefined);
    }
    const r: CaseResult = { id: c.id, spec: c.spec, requirement: c.requirement, role: 'client', ...outcome, durationMs: Date.now() - started, log };
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}

export const CLIENT_CASE_IDS = CLIENT_CASES.map((c) => c.id);
