/**
 * `petrel attack --target host:port --kind <kind> [--rate R] [--duration S] [--server-key FP | --insecure]`:
 * the tool a server operator runs against their own deployment (like msquic's attack tool). Refuses targets
 * that are not loopback unless --i-own-this-host. Prints what the server paid: replies, bytes, time.
 */
import { isIP } from 'node:net';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { parseFingerprint } from '../../lib/crypto/handshake/index.js';
import { KINDS, runAttack, type AttackKind } from './run.js';

const HELP = `Usage: petrel attack --target host:port --kind <kind> [options]

Kinds: ${KINDS.join(', ')}

  --rate R             datagrams per second (default 1000, at most 100000)
  --duration S         seconds (default 5, at most 600)
  --server-key FP      the server's fingerprint (kinds that complete a handshake: stream-frag,
                       path-challenge, cid-flood)
  --insecure           the server runs with insecure: true
  --i-own-this-host    allow a target that is not loopback (only hosts you operate)
  --json               print the report as JSON
`;

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function parseTarget(v: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(v);
  if (!m) throw new Error(`--target: expected host:port, got '${v}'`);
  const port = Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new Error(`--target: bad port '${m[2]}'`);
  return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1]!, port };
}

export async function main(argv: string[]): Promise<number> {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    const t = get('--target');
    const kind = get('--kind') as AttackKind | undefined;
    if (!t || !kind) throw new Error('--target and --kind are required');
    if (!KINDS.includes(kind)) throw new Error(`--kind: one of ${KINDS.join(', ')}`);
    const target = parseTarget(t);
    if (!isLoopback(target.host) && !argv.includes('--i-own-this-host')) {
      throw new Error(`${target.host} is not loopback: attack only hosts you operate, and say so with --i-own-this-host`);
    }
    const rate = Number(get('--rate') ?? 1000);
    const duration = Number(get('--duration') ?? 5);
    if (!(rate > 0 && rate <= 100_000)) throw new Error('--rate: 1..100000 datagrams per second');
    if (!(duration > 0 && duration <= 600)) throw new Error('--duration: 1..600 seconds');
    const key = get('--server-key');
    const needsKey = kind === 'stream-frag' || kind === 'path-challenge' || kind === 'cid-flood';
    if (needsKey && !key && !argv.includes('--insecure')) throw new Error(`--kind ${kind} completes a handshake: give --server-key or --insecure`);
    const crypto = argv.includes('--insecure')
      ? insecureCrypto
      : secureCrypto({
          provider: nodeCryptoProvider,
          client: { serverKey: key ? parseFingerprint(key) : new Uint8Array(32), now: () => Date.now() },
        });
    const r = await runAttack({ kind, target, rate, duration, crypto });
    if (argv.includes('--json')) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      process.stdout.write(
        `petrel attack ${r.kind} -> ${target.host}:${target.port}\n` +
          `  sent     ${r.datagramsSent} datagrams, ${r.bytesSent} bytes in ${(r.elapsedMs / 1000).toFixed(1)} s\n` +
          `  replies  ${r.repliesReceived} datagrams, ${r.replyBytes} bytes (${r.amplification.toFixed(3)}x of what was sent)\n` +
          `  ${r.note}\n`,
      );
    }
    return 0;
  } catch (e) {
    process.stderr.write(`petrel attack: ${(e as Error).message}\n`);
    return 2;
  }
}
