/**
 * The benchmarks in tools/bench, run as a user runs them (node --import tsx, a child process) in their
 * tiny --quick mode: each must exit 0, print its table, and end with a `key=value` line carrying its
 * result keys as numbers. Timings are the benchmarks' business and are never asserted here.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseResultLine } from '../../tools/bench/common.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function bench(script: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `tools/bench/${script}.ts`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The final line as a map; fails the test when it is not all `key=value` pairs. */
function finalLine(out: string): Map<string, string> {
  const lines = out.trimEnd().split('\n');
  const last = lines[lines.length - 1]!;
  expect(last).toMatch(/^([a-z0-9_.]+=\S+)( [a-z0-9_.]+=\S+)*$/);
  return parseResultLine(last);
}

/** Every listed key is present and holds a finite, non-negative number. */
function expectNumbers(result: Map<string, string>, keys: readonly string[]): void {
  for (const k of keys) {
    const v = result.get(k);
    expect(v, `missing ${k}`).toBeDefined();
    expect(Number.isFinite(Number(v)) && Number(v) >= 0, `${k}=${v}`).toBe(true);
  }
}

const HANDSHAKE_KEYS = [
  'legacy_aes_pinned',
  'aes_pinned',
  'chacha_pinned',
  'aes_ca',
  'chacha_ca',
  'sodium_chacha_pinned',
  'insecure',
  'session_aes_pinned',
  'session_chacha_ca',
  'session_sodium_chacha_pinned',
].flatMap((m) => [`${m}_server_cpu_us_p50`, `${m}_server_cpu_us_p90`, `${m}_server_wall_us_p50`, `${m}_client_cpu_us_p50`]);
const PROTECTION_KEYS = ['aes', 'chacha'].flatMap((s) => [
  `${s}_petrel_seal_us`,
  `${s}_petrel_open_us`,
  `${s}_petrel_send_us`,
  `${s}_petrel_receive_us`,
  `${s}_raw_seal_us`,
  `${s}_raw_open_us`,
  `${s}_ratio_seal_vs_raw_seal`,
  `${s}_ratio_open_vs_raw_open`,
]);
const THROUGHPUT_KEYS = [
  'udp_mbps',
  'udp_loss_pct',
  'tcp_64k_mbps',
  'tcp_1472_mbps',
  'petrel_insecure_mbps',
  'petrel_secure_mbps',
  'ratio_petrel_secure_udp',
  'ratio_petrel_secure_tcp_64k',
  'ratio_petrel_insecure_udp',
  'ratio_petrel_secure_petrel_insecure',
];

describe('tools/bench in --quick mode', () => {
  it('handshake: exits 0 with a table and every mode’s server CPU figures', async () => {
    const r = await bench('handshake', ['--quick']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('| endpoint: node, AES-128-GCM, pinned key');
    expect(r.out).toContain('| endpoint: sodium, ChaCha20-Poly1305, pinned key');
    const res = finalLine(r.out);
    expectNumbers(res, [...HANDSHAKE_KEYS, 'x25519_us', 'ed25519_sign_us', 'sodium_x25519_us', 'server_primitive_floor_us']);
    expect(res.get('handshakes')).toBe('20');
  });

  it('protection, through run-all: exits 0 with the table, and run-all merges the final line under a prefix', async () => {
    const r = await bench('run-all', ['--quick', '--bench', 'protection']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('=== protection ===');
    expect(r.out).not.toContain('=== handshake ===');
    expect(r.out).toContain('| aes: Petrel seal + header protection');
    const res = finalLine(r.out);
    expectNumbers(
      res,
      [...PROTECTION_KEYS, 'crc32_us', 'chacha_over_aes'].map((k) => `protection.${k}`),
    );
    expect([...res.keys()].every((k) => k.startsWith('protection.'))).toBe(true);
  });

  it('throughput: exits 0 after moving the whole quick payload in every mode', async () => {
    const r = await bench('throughput', ['--quick']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('| Petrel secure (AES-128-GCM), 1 stream, 64 KiB writes');
    const res = finalLine(r.out);
    expectNumbers(res, THROUGHPUT_KEYS);
    // --quick moves 1 MiB per mode, all of it (TCP and Petrel check received === sent themselves).
    for (const m of ['tcp_64k', 'tcp_1472', 'petrel_insecure', 'petrel_secure']) expect(res.get(`${m}_mib`)).toBe('1');
  });

  it('conn-ctor: builds connections in a child process per library and prints CPU and heap per construction', async () => {
    const lib = `${ROOT}lib/index.ts`;
    const r = await bench('conn-ctor', ['--lib', lib, '--reps', '1', '--n', '50', '--rounds', '2']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/CPU µs per construction [0-9.]+ .*heap B per fresh connection [0-9.]+/);
  });

  it('api-cost: two processes through listen()/connect(), A/B of two library entry points, exits 0 with the figures', async () => {
    const lib = `${ROOT}lib/index.ts`;
    const r = await bench('api-cost', ['--quick', '--insecure', '--lib', `${lib},${lib}`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('server CPU µs/handshake');
    const res = finalLine(r.out);
    expectNumbers(res, ['lib0_server_cpu_us_per_handshake', 'lib1_server_cpu_us_per_handshake']);
    // Ten idle connections: a GC can leave a memory delta below zero, so only finiteness is checked.
    for (const k of ['lib0_heap_bytes_per_conn', 'lib1_heap_bytes_per_conn', 'lib0_external_bytes_per_conn', 'lib1_external_bytes_per_conn']) {
      expect(Number.isFinite(Number(res.get(k))), `${k}=${res.get(k)}`).toBe(true);
    }
    expect(Number(res.get('lib0_server_cpu_us_per_handshake'))).toBeGreaterThan(0);
    expect(res.get('handshakes')).toBe('10');
  });

  it('rejects a malformed option with exit code 2', async () => {
    const [a, b] = await Promise.all([bench('handshake', ['--n', 'lots']), bench('run-all', ['--bench', 'nope'])]);
    expect(a.code).toBe(2);
    expect(a.err).toContain('--n must be a positive number');
    expect(b.code).toBe(2);
    expect(b.err).toContain('unknown benchmark(s): nope');
  });

  it('two-process bench (npx petrel bench --quick --json): fresh peers per case, every case measured', async () => {
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['bin/petrel.mjs', 'bench', '--quick', '--json', '--no-pin', '--tests', 'bulk,rtt', '--cases', 'udp,petrel_default'],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.code, r.err).toBe(0);
    const { results } = JSON.parse(r.out) as {
      results: Array<{ test: string; key: string; samples: Array<Record<string, number>>; error?: string }>;
    };
    expect(results.map((x) => `${x.test}:${x.key}`).sort()).toEqual(
      ['bulk:petrel_default', 'bulk:udp', 'rtt:petrel_default/channel', 'rtt:petrel_default/datagram', 'rtt:petrel_default/stream', 'rtt:udp'].sort(),
    );
    for (const x of results) {
      expect(x.error, `${x.key}: ${x.error}`).toBeUndefined();
      expect(x.samples).toHaveLength(1);
      for (const v of Object.values(x.samples[0]!)) expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    const bulk = results.find((x) => x.key === 'petrel_default' && x.test === 'bulk')!;
    expect(bulk.samples[0]!.delivered_pct).toBe(100);
  }, 180_000);
});
