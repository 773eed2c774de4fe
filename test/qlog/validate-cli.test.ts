import { describe, expect, it } from 'vitest';
import { HELP, main } from '../../tools/qlog/validate.js';
import { createConnectionQlog } from '../../lib/qlog/adapter.js';
import { Tracer } from '../../lib/sim/trace.js';

function run(argv: string[], files: Record<string, string>): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    readFile: (p) => {
      if (!Object.hasOwn(files, p)) throw new Error('ENOENT: no such file');
      return files[p]!;
    },
  });
  return { code, out, err };
}

function goodTrace(): string {
  const out: string[] = [];
  const { trace } = createConnectionQlog((r) => void out.push(r), { vantagePoint: 'client', odcid: 'abcd', referenceTime: 0 });
  trace('connectivity:connection_state_updated', { state: 'handshake' }, 1);
  trace('transport:packet_sent', { space: 'initial', pn: 0, size: 1200, frames: [{ k: 'crypto', offset: 0, length: 300 }, { k: 'ping' }] }, 2);
  trace('transport:packet_sent', { space: 'initial', pn: 1, size: 1200, frames: [{ k: 'ping' }] }, 3);
  trace('transport:packet_received', { space: 'initial', pn: 0, size: 1200 }, 4);
  return out.join('');
}

describe('tools/qlog/validate', () => {
  it('prints counts per event name and exits 0 for a valid file', () => {
    const r = run(['a.sqlog'], { 'a.sqlog': goodTrace() });
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'a.sqlog: 4 events',
        '  connectivity:connection_state_updated  1',
        '  transport:packet_received              1',
        '  transport:packet_sent                  2',
        '  valid',
        '',
      ].join('\n'),
    );
  });

  it('prints schema errors and exits 1', () => {
    const bad = goodTrace() + '\x1e{"time":9,"name":"transport:packet_sent","data":{"header":{"packet_type":"1RTT"},"frames":[]}}\n';
    const r = run(['b.sqlog'], { 'b.sqlog': bad });
    expect(r.code).toBe(1);
    expect(r.out).toContain('b.sqlog: 5 events');
    expect(r.out).toContain('  1 error:\n    record 5: data.header: missing required field "packet_number"\n');
  });

  it('limits printed errors with --max-errors but counts them all', () => {
    const bad = goodTrace() + '\x1e{"time":9,"name":"x:y","data":{}}\n'.repeat(3);
    const r = run(['--max-errors', '1', 'c.sqlog'], { 'c.sqlog': bad });
    expect(r.code).toBe(1);
    expect(r.out).toContain('  3 errors:\n    record 5: name: unknown event name "x:y"\n    ... 2 more\n');
  });

  it('--allow-unknown accepts the simulator trace (sim: events)', () => {
    const lines: string[] = [];
    const t = new Tracer(lines);
    t.header('scenario', 7);
    t.event(0.5, 'sim:datagram_sent', { from: 'a', to: 'b', size: 100 });
    const files = { 'sim.sqlog': lines.join('') };
    expect(run(['sim.sqlog'], files).code).toBe(1);
    const r = run(['--allow-unknown', 'sim.sqlog'], files);
    expect(r.code).toBe(0);
    expect(r.out).toContain('  sim:datagram_sent  1');
  });

  it('reports unreadable files and usage errors', () => {
    const missing = run(['nope.sqlog'], {});
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('nope.sqlog: cannot read: ENOENT: no such file\n');
    expect(run([], {}).code).toBe(2);
    expect(run(['--frobnicate', 'a'], {}).code).toBe(2);
    expect(run(['--max-errors', 'x', 'a'], {}).code).toBe(2);
    const help = run(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.out).toBe(HELP);
  });

  it('a valid file among several does not hide an invalid one', () => {
    const r = run(['a.sqlog', 'b.sqlog'], { 'a.sqlog': goodTrace(), 'b.sqlog': 'not json-seq' });
    expect(r.code).toBe(1);
    expect(r.out).toContain('a.sqlog: 4 events');
    expect(r.out).toContain('b.sqlog: 0 events');
    expect(r.out).toContain('text before the first record separator');
  });
});
