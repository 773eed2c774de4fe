/**
 * `petrel qlog-plot` on a real qlog: a simulator run (virtual time, 3 % loss, 40 ms RTT, a bandwidth cap) of two
 * core endpoints, the client's connection traced through the same qlog adapter the public API uses, with
 * recovery:metrics_updated sampled from stats() after every input (as lib/api/qlog.ts does on real sockets).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { createConnectionQlog, type QlogTraceFn } from '../../lib/qlog/adapter.js';
import { validateQlogText } from '../../lib/qlog/schema.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { extractSeries, niceStep, renderSvg } from '../../tools/qlog-plot/plot.js';
import { main } from '../../tools/qlog-plot/cli.js';
import { parseJsonSeq } from '../../lib/qlog/schema.js';
import { seededEnv } from '../helpers/pair.js';

const dir = mkdtempSync(join(tmpdir(), 'petrel-qlog-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One simulated 1 MB upload; returns the client's qlog text. */
function simulatedQlog(): string {
  const records: string[] = [];
  let trace: QlogTraceFn | undefined;
  const client = new Endpoint({
    env: seededEnv(11),
    traceFor: ({ odcid }) => {
      const q = createConnectionQlog((r) => void records.push(r), { vantagePoint: 'client', odcid, referenceTime: 0, title: 'simulated upload' });
      trace = q.trace;
      return q.trace;
    },
  });
  const server = new Endpoint({ env: seededEnv(12), server: { crypto: insecureCrypto } });
  const C = { host: '10.0.0.1', port: 5000 };
  const S = { host: '10.0.0.2', port: 4433 };
  const sim = new Simulator({ seed: 3 });
  const cn = new EndpointNode(client);
  const sn = new EndpointNode(server);
  sim.addNode(C, cn);
  sim.addNode(S, sn);
  sim.link(C, S, { delay: 20, loss: 0.03, rate: 8e6, queueBytes: 60_000 });
  const conn: Connection = client.connect({ remote: S, crypto: insecureCrypto, now: 0 });
  const TOTAL = 1_000_000;
  let written = 0;
  let id = -1;
  let received = 0;
  cn.app = (_ev, now) => {
    if (conn.state === 'established') {
      if (id < 0) id = conn.openStream(true)!;
      while (written < TOTAL && conn.streamBufferedBytes(id) < 128 * 1024) {
        const n = Math.min(16 * 1024, TOTAL - written);
        conn.streamWrite(id, new Uint8Array(n), written + n === TOTAL);
        written += n;
      }
    }
    const st = conn.stats();
    trace?.(
      'recovery:metrics_updated',
      { minRtt: st.minRtt, smoothedRtt: st.smoothedRtt, latestRtt: st.latestRtt, cwnd: st.cwnd, bytesInFlight: st.bytesInFlight },
      now,
    );
  };
  // The server reads whatever arrives (its connection comes in an 'accept' event).
  let sconn: Connection | null = null;
  sn.app = (ev) => {
    if (ev?.kind === 'accept') sconn = ev.connection;
    if (sconn !== null && id >= 0) for (let d = sconn.streamRead(id); d; d = sconn.streamRead(id)) received += d.length;
  };
  sim.run({ maxTime: 60_000, until: () => received === TOTAL });
  expect(received).toBe(TOTAL);
  return records.join('');
}

describe('qlog-plot', () => {
  const text = simulatedQlog();
  if (process.env['QLOG_PLOT_KEEP']) writeFileSync(process.env['QLOG_PLOT_KEEP'], text);

  it('the simulated qlog is valid and has what the plot needs', () => {
    expect(validateQlogText(text).errors).toEqual([]);
    const s = extractSeries(parseJsonSeq(text).records);
    expect(s.cwnd.length).toBeGreaterThan(50);
    expect(s.smoothedRtt.length).toBeGreaterThan(50);
    expect(s.losses.length).toBeGreaterThan(0); // 3 % loss over ~300 packets
    expect(s.minRtt.at(-1)!.v).toBeGreaterThanOrEqual(40); // 20 ms each way
    expect(s.title).toContain('simulated upload');
  });

  it('draws axes, legends, every series and one mark per loss', () => {
    const s = extractSeries(parseJsonSeq(text).records);
    const svg = renderSvg(s);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const label of ['cwnd', 'bytes in flight', 'smoothed', 'min', 'latest', 'time (ms)', 'KiB', `Packets declared lost (${s.losses.length})`]) {
      expect(svg, label).toContain(`>${label}`);
    }
    expect(svg.match(/<polyline /g)?.length).toBe(5);
    // Each loss: a faint band in the cwnd panel and a tick in the loss strip.
    expect(svg.match(/stroke="#d62728"/g)?.length).toBe(2 * s.losses.length);
    // Every coordinate is a finite number inside the picture.
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    for (const m of svg.matchAll(/points="([^"]+)"/g)) {
      for (const pt of m[1]!.split(' ')) {
        const [px, py] = pt.split(',').map(Number);
        expect(Number.isFinite(px) && px! >= 0 && px! <= w && Number.isFinite(py)).toBe(true);
      }
    }
  });

  it('the CLI writes the SVG (exit 0), and rejects a file without metrics or losses (exit 1) and bad usage (exit 2)', () => {
    const input = join(dir, 'run.sqlog');
    writeFileSync(input, text);
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } };
    expect(main([input, '-o', join(dir, 'run.svg')], io)).toBe(0);
    expect(readFileSync(join(dir, 'run.svg'), 'utf8')).toContain('Congestion window and bytes in flight');
    expect(out.join('')).toMatch(/run\.svg: \d+ cwnd, \d+ RTT samples, \d+ losses/);
    const empty = join(dir, 'empty.sqlog');
    writeFileSync(empty, text.split('\x1e').slice(0, 2).join('\x1e'));
    expect(main([empty], io)).toBe(1);
    expect(main([], io)).toBe(2);
    expect(main(['--bogus', input], io)).toBe(2);
  });

  it('picks 1-2-5 tick steps', () => {
    expect(niceStep(1000, 10)).toBe(100);
    expect(niceStep(37, 5)).toBe(10);
    expect(niceStep(0.3, 3)).toBeCloseTo(0.1);
    expect(niceStep(130_000, 5)).toBe(50_000);
  });
});
