/**
 * Stress script (not a test): a tight X25519 generate + derive loop, the handshake's key handling, run in a
 * child process per variant with a watchdog, to show which variants can freeze Node 20.
 *
 *   node --import tsx tools/bench/keygen-stress.ts [--seconds 20] [--variants provider-node,provider-sodium,jwk-export]
 *
 * Variants:
 *   provider-node    nodeCryptoProvider.x25519Generate + x25519 (random bytes + raw import; no key-generation job)
 *   provider-sodium  the libsodium provider (no node:crypto key objects at all)
 *   jwk-export       the old path: generateKeyPairSync('x25519') then privateKey.export({ format: 'jwk' })
 *
 * On Node 20 the jwk-export variant can deadlock inside node:crypto (a GC finaliser of the key-generation job
 * takes a mutex the export holds; issue 11): the child then stops reporting progress, the watchdog kills it
 * after --stall seconds and the variant is reported FROZE. A variant that keeps reporting until --seconds
 * ends is reported ok with its rate. Freezing is probabilistic (about 1 in 20 loaded process launches was
 * seen), so `--runs N` launches each variant N times. A child that never reports within 60 s also counts as FROZE.
 */
import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';
import { arg, flag, numberArg } from './common.js';

type Variant = 'provider-node' | 'provider-sodium' | 'jwk-export';

function loop(variant: Variant, seconds: number): void {
  const peer = nodeCryptoProvider.x25519Generate().publicKey;
  const provider: CryptoProvider | null = variant === 'provider-sodium' ? sodiumCryptoProvider() : nodeCryptoProvider;
  if (!provider) {
    process.send!({ error: 'sodium-native not loadable' });
    process.exit(0);
  }
  const step =
    variant === 'jwk-export'
      ? () => {
          const { privateKey } = generateKeyPairSync('x25519');
          const jwk = privateKey.export({ format: 'jwk' });
          nodeCryptoProvider.x25519(new Uint8Array(Buffer.from(jwk.d!, 'base64url')), peer);
        }
      : () => {
          const kp = provider.x25519Generate();
          provider.x25519(kp.privateKey, peer);
        };
  const end = Date.now() + seconds * 1000;
  let n = 0;
  let last = Date.now();
  while (Date.now() < end) {
    for (let i = 0; i < 200; i++) step();
    n += 200;
    if (Date.now() - last >= 250) {
      // Synchronous progress on the IPC channel: a frozen loop stops sending it.
      process.send!({ n });
      last = Date.now();
    }
  }
  process.send!({ n, done: true }, () => process.exit(0));
}

async function runChild(variant: Variant, seconds: number, stallS: number): Promise<{ status: 'ok' | 'FROZE' | 'error'; n: number; rate: number }> {
  return new Promise((resolve) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', variant, '--seconds', String(seconds)], { execArgv: ['--import', 'tsx'] });
    const t0 = Date.now();
    let n = 0;
    // Startup (tsx, module loading) on a loaded machine can take seconds: the stall clock starts at the first report.
    let lastProgress = Date.now() + 60_000;
    let status: 'ok' | 'FROZE' | 'error' = 'error';
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > stallS * 1000) {
        status = 'FROZE';
        child.kill('SIGKILL');
      }
    }, 250);
    child.on('message', (m: { n?: number; done?: boolean; error?: string }) => {
      if (m.error) status = 'error';
      if (m.n !== undefined) n = m.n;
      if (m.done) status = 'ok';
      lastProgress = Date.now();
    });
    child.on('exit', () => {
      clearInterval(watchdog);
      resolve({ status, n, rate: n / ((Date.now() - t0) / 1000) });
    });
  });
}

async function main(): Promise<void> {
  const childIdx = process.argv.indexOf('--child');
  const seconds = numberArg('seconds', 20);
  if (childIdx >= 0) return loop(process.argv[childIdx + 1] as Variant, seconds);
  if (flag('help')) {
    console.log(
      'usage: node --import tsx tools/bench/keygen-stress.ts [--seconds 20] [--runs 1] [--stall 5] [--variants provider-node,provider-sodium,jwk-export]',
    );
    return;
  }
  const variants = (arg('variants') ?? 'provider-node,provider-sodium,jwk-export').split(',') as Variant[];
  const runs = numberArg('runs', 1);
  const stall = numberArg('stall', 5);
  console.log(
    `# X25519 generate + derive stress, node ${process.version}, ${seconds} s per launch, ${runs} launch(es) per variant, stall limit ${stall} s\n`,
  );
  console.log('| variant | launch | status | generate+derive done | per second |');
  console.log('|---|---:|---|---:|---:|');
  const frozen: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const res = await runChild(v, seconds, stall);
      if (res.status === 'FROZE') frozen[v] = (frozen[v] ?? 0) + 1;
      console.log(`| ${v} | ${r + 1} | ${res.status} | ${res.n} | ${Math.round(res.rate)} |`);
    }
  }
  console.log(`\n${variants.map((v) => `${v.replace(/-/g, '_')}_frozen=${frozen[v] ?? 0}`).join(' ')} runs=${runs}`);
}

await main();
