/** The `petrel` bin as a user runs it: a child process, judged by its exit code and output. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createConnectionQlog } from '../../lib/qlog/adapter.js';

const BIN = fileURLToPath(new URL('../../bin/petrel.mjs', import.meta.url));

function petrel(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'petrel-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small trace written by the real qlog adapter: a header and three events. */
function validTrace(): string {
  const out: string[] = [];
  const { trace } = createConnectionQlog((r) => void out.push(r), { vantagePoint: 'client', odcid: '0a0b', referenceTime: 0 });
  trace('connectivity:connection_state_updated', { state: 'handshake' }, 1);
  trace('transport:packet_sent', { space: 'initial', pn: 0, size: 1200, frames: [{ k: 'ping' }] }, 2);
  trace('transport:packet_received', { space: 'initial', pn: 0, size: 1200 }, 3);
  return out.join('');
}

describe('bin/petrel.mjs qlog', () => {
  it('prints the validator help and exits 0', async () => {
    const r = await petrel(['qlog', '--help']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('Usage: validate FILE.sqlog')).toBe(true);
  });

  it('validates a good file (exit 0) and reports a bad one (exit 1)', async () => {
    const good = join(dir, 'good.sqlog');
    const bad = join(dir, 'bad.sqlog');
    writeFileSync(good, validTrace());
    writeFileSync(bad, validTrace() + '\x1e{"time":9,"name":"transport:nope","data":{}}\n');
    const [g, b] = await Promise.all([petrel(['qlog', good]), petrel(['qlog', bad])]);
    expect(g.code).toBe(0);
    expect(g.out).toContain(`${good}: 3 events\n`);
    expect(g.out).toContain('  valid\n');
    expect(b.code).toBe(1);
    expect(b.out).toContain('name: unknown event name "transport:nope"');
  });

  it('exits 2 on a usage error, and the command list names qlog', async () => {
    const [noFile, list] = await Promise.all([petrel(['qlog']), petrel(['--help'])]);
    expect(noFile.code).toBe(2);
    expect(noFile.err).toContain('validate: no file given');
    expect(list.code).toBe(0);
    // Names in one column, as wide as the longest name plus two spaces, then the summary.
    expect(list.out).toMatch(/^ {2}qlog {2,}\S/m);
    expect(list.out).toMatch(/^ {2}impair {2,}\S/m);
    const starts = [...list.out.matchAll(/^ {2}(\S+)( +)\S/gm)].map((m) => m[1]!.length + m[2]!.length);
    expect(new Set(starts).size).toBe(1);
  });
});
