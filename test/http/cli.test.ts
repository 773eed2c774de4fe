/** `petrel qpack` through bin/petrel.mjs on corpus files, and main() for usage and errors. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../tools/qpack/cli.js';
import { CORPUS } from './corpus.js';

const BIN = join(import.meta.dirname, '../../bin/petrel.mjs');
const stripComments = (s: string): string =>
  s
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');

function run(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'qpack', ...args], { timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('petrel qpack', () => {
  it('decodes a corpus file (nghttp3, blocking allowed, acks) to its QIF, then encodes and decodes it back', () => {
    const file = join(CORPUS, 'encoded/qpack-05/nghttp3/netbsd.out.256.100.1');
    const qif = readFileSync(join(CORPUS, 'qifs/netbsd.qif'), 'latin1');
    const dec = run(['decode', '--table-size', '256', '--max-blocked', '100', '--ack', file]);
    expect(dec.stderr).toMatch(/decoder stream: \d+ bytes/);
    expect(dec.status).toBe(0);
    const out = dec.stdout.toString('latin1');
    expect(out.startsWith('# stream 1\n:method\tGET\n')).toBe(true);
    expect(stripComments(out)).toBe(stripComments(qif));

    const dir = mkdtempSync(join(tmpdir(), 'qpack-cli-'));
    try {
      const enc = join(dir, 'netbsd.out');
      expect(run(['encode', '--table-size', '256', '--max-blocked', '100', '--ack', join(CORPUS, 'qifs/netbsd.qif'), '-o', enc]).status).toBe(0);
      const back = run(['decode', '--table-size', '256', '--max-blocked', '100', enc]);
      expect(back.status).toBe(0);
      expect(stripComments(back.stdout.toString('latin1'))).toBe(stripComments(qif));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a malformed file with its typed error and exit code 1, and usage errors with 2', () => {
    const lines: string[] = [];
    const io = { out: { write: (s: string | Uint8Array) => lines.push(String(s)) }, err: { write: (s: string) => lines.push(s) } };
    expect(main(['decode', '--table-size', '4096', '--max-blocked', '100', join(CORPUS, 'encoded/errors/err11')], io)).toBe(1);
    expect(lines.join('')).toMatch(/QPACK_ENCODER_STREAM_ERROR/);
    expect(main(['decode', '--max-blocked', '1', 'x'], io)).toBe(2);
    expect(main(['decode', '--table-size', 'big', '--max-blocked', '1', 'x'], io)).toBe(2);
    expect(main(['frobnicate'], io)).toBe(2);
    expect(main(['--help'], io)).toBe(0);
  });
});
