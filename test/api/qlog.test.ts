/**
 * The `qlog` option over real loopback sockets: one .sqlog file per connection and vantage point, complete when
 * close() resolves, every record valid under the strict schema; nothing at all without the option.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, PetrelError } from '../../lib/api/index.js';
import type { PetrelConnection } from '../../lib/api/index.js';
import { qlogFileName } from '../../lib/qlog/writer.js';
import { parseJsonSeq, validateQlogHeader, validateQlogText } from '../../lib/qlog/schema.js';
import { toHex } from '../../lib/wire/buffer.js';
import { pattern, readAll, sha, waitFor, within } from './helpers.js';

interface Rec {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'petrel-qlog-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The parsed file: header and event records, after asserting it is a valid qlog file. */
function readQlog(path: string): { header: Record<string, unknown>; events: Rec[]; counts: Map<string, number> } {
  const text = readFileSync(path, 'utf8');
  const report = validateQlogText(text);
  expect(report.errors).toEqual([]);
  const { records } = parseJsonSeq(text);
  const header = records[0] as Record<string, unknown>;
  expect(validateQlogHeader(header)).toEqual([]);
  expect(header).toHaveProperty('qlog_format', 'JSON-SEQ');
  return { header, events: records.slice(1) as Rec[], counts: report.counts };
}

/** The env of a core connection (private): whether a trace function was installed at all. */
function traceInstalled(pc: PetrelConnection): boolean {
  return typeof (pc.core as unknown as { env: { trace?: unknown } }).env.trace === 'function';
}

describe('qlog: a directory', () => {
  it('writes one valid file per connection and side, complete when close() resolves', async () => {
    const dir = tmp();
    const t0 = Date.now();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, qlog: dir });
    const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
    const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true, qlog: { dir } });
    const peer = await accepted;
    expect(traceInstalled(conn)).toBe(true);
    expect(traceInstalled(peer)).toBe(true);

    // A stream up, echoed back, and datagrams both ways.
    const data = pattern(200_000, 5);
    peer.on('stream', (s) => {
      void readAll(s).then((b) => s.end(b));
    });
    let datagrams = 0;
    peer.on('datagram', (d) => {
      datagrams++;
      peer.sendDatagram(d);
    });
    conn.on('datagram', () => datagrams++);
    const s = await conn.openStream();
    s.end(data);
    for (let i = 0; i < 5; i++) conn.sendDatagram(new Uint8Array(64).fill(i));
    const back = await within(readAll(s), 20_000, 'echo');
    expect(sha(back)).toBe(sha(data));
    await waitFor(() => datagrams >= 2, 5000, 'datagrams');
    const stats = { client: conn.stats(), server: peer.stats() };

    await within(conn.close({ reason: 'bye' }), 10_000, 'client close');
    const odcid = toHex(conn.core.originalDcid);
    const clientFile = join(dir, qlogFileName(odcid, 'client'));
    // The client's file is complete once its close() resolved, before the server is even closed.
    const client = readQlog(clientFile);
    await within(server.close(), 10_000, 'server close');
    expect(readdirSync(dir).sort()).toEqual([qlogFileName(odcid, 'client'), qlogFileName(odcid, 'server')].sort());
    const srv = readQlog(join(dir, qlogFileName(odcid, 'server')));

    for (const [side, f] of [
      ['client', client],
      ['server', srv],
    ] as const) {
      const trace = f.header.trace as { vantage_point: { type: string }; common_fields: { ODCID: string; reference_time: number } };
      expect(trace.vantage_point.type).toBe(side);
      expect(trace.common_fields.ODCID).toBe(odcid);
      expect(trace.common_fields.reference_time).toBeGreaterThanOrEqual(t0);
      expect(trace.common_fields.reference_time).toBeLessThanOrEqual(Date.now());
      const names = f.events.map((e) => e.name);
      // Started first, closed near the end; packets, the peer's parameters and metrics in between.
      expect(names[0]).toBe('connectivity:connection_started');
      expect(f.events[0]!.data).toMatchObject({ src_ip: '127.0.0.1', dst_ip: '127.0.0.1', ip_version: 'ipv4', protocol: 'QUIC' });
      expect(f.counts.get('connectivity:connection_closed')).toBe(1);
      expect(names[names.length - 1]).toBe('connectivity:connection_state_updated');
      expect(f.events[f.events.length - 1]!.data).toMatchObject({ new: 'closed' });
      expect(f.counts.get('transport:packet_sent')).toBeGreaterThanOrEqual(stats[side].packetsSent);
      expect(f.counts.get('transport:packet_received')).toBeGreaterThanOrEqual(stats[side].packetsReceived);
      expect(f.counts.get('recovery:metrics_updated')).toBeGreaterThan(0);
      const remote = f.events.find((e) => e.name === 'transport:parameters_set');
      expect(remote?.data).toMatchObject({ owner: 'remote', initial_max_data: expect.any(Number) });
      expect(f.events.some((e) => e.name === 'connectivity:connection_state_updated' && e.data.new === 'handshake_complete')).toBe(true);
    }
    const closed = (f: typeof client) => f.events.find((e) => e.name === 'connectivity:connection_closed')!.data;
    expect(closed(client)).toMatchObject({ owner: 'local', trigger: 'application', application_code: 0, reason: 'bye' });
    expect(closed(srv)).toMatchObject({ owner: 'remote', trigger: 'application', application_code: 0, reason: 'bye' });
    // Every byte of the stream went out in STREAM frames the client's file describes.
    const streamBytes = client.events
      .filter((e) => e.name === 'transport:packet_sent')
      .flatMap((e) => e.data.frames as Array<{ frame_type: string; length?: number }>)
      .filter((fr) => fr.frame_type === 'stream')
      .reduce((a, fr) => a + fr.length!, 0);
    expect(streamBytes).toBeGreaterThanOrEqual(data.length);
  });

  it("a server-side close() resolves once that connection's file is complete, server still running", async () => {
    const dir = tmp();
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, qlog: dir });
    const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
    const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    const peer = await accepted;
    await within(peer.close({ code: 3, reason: 'kicked' }), 10_000, 'server-side close');
    const f = readQlog(join(dir, qlogFileName(toHex(conn.core.originalDcid), 'server')));
    expect(f.events[f.events.length - 1]).toMatchObject({ name: 'connectivity:connection_state_updated', data: { new: 'closed' } });
    expect(f.events.find((e) => e.name === 'connectivity:connection_closed')!.data).toMatchObject({
      owner: 'local',
      trigger: 'application',
      application_code: 3,
      reason: 'kicked',
    });
    await conn.closed;
    await server.close();
  });

  it('a failed connect() still leaves a complete, valid client file', async () => {
    const dir = tmp();
    // A port nobody listens on: ICMP port unreachable on loopback.
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(connect({ host: '127.0.0.1', port, insecure: true, timeout: 2000, qlog: dir })).rejects.toBeInstanceOf(PetrelError);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{16,40}_client\.sqlog$/);
    const f = readQlog(join(dir, files[0]!));
    expect(f.events[0]!.name).toBe('connectivity:connection_started');
    expect(f.counts.get('transport:packet_sent')).toBeGreaterThan(0);
    expect(f.counts.get('connectivity:connection_closed')).toBe(1);
  });
});

describe('qlog: a sink function', () => {
  it('is asked once per connection with the odcid and vantage point; undefined turns tracing off for that one', async () => {
    const asked: Array<{ odcid: string; vantage: string }> = [];
    const serverRecords: string[] = [];
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      insecure: true,
      qlog: (info) => {
        asked.push(info);
        return (r) => void serverRecords.push(r);
      },
    });
    const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
    const conn = await connect({
      host: '127.0.0.1',
      port: server.address().port,
      insecure: true,
      qlog: (info) => void asked.push(info),
    });
    const peer = await accepted;
    expect(traceInstalled(peer)).toBe(true);
    expect(traceInstalled(conn)).toBe(false);
    const s = await conn.openStream();
    s.end(pattern(30_000, 1));
    peer.on('stream', (st) => void readAll(st));
    await waitFor(() => peer.stats().bytesReceived >= 30_000, 10_000, 'transfer');
    await conn.close();
    await server.close();
    const odcid = toHex(conn.core.originalDcid);
    expect(asked.sort((a, b) => a.vantage.localeCompare(b.vantage))).toEqual([
      { odcid, vantage: 'client' },
      { odcid, vantage: 'server' },
    ]);
    const report = validateQlogText(serverRecords.join(''));
    expect(report.errors).toEqual([]);
    expect(report.counts.get('transport:packet_received')).toBeGreaterThan(0);
    // Every record went to the sink whole: RS, one JSON text, LF.
    for (const r of serverRecords) expect(r).toMatch(/^\x1e\{.*\}\n$/s);
  });
});

describe('qlog: a failing sink', () => {
  it('a sink function that throws (when asked, or on a write) costs a warning, never the connection', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    let writes = 0;
    try {
      const server = await listen({
        host: '127.0.0.1',
        port: 0,
        insecure: true,
        qlog: () => () => {
          writes++;
          if (writes > 3) throw new Error('disk full');
        },
      });
      const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
      const conn = await connect({
        host: '127.0.0.1',
        port: server.address().port,
        insecure: true,
        qlog: () => {
          throw new Error('no sink today');
        },
      });
      const peer = await accepted;
      const data = pattern(50_000, 9);
      const got = new Promise<Buffer>((r) => peer.once('stream', (st) => void readAll(st).then(r)));
      const s = await conn.openStream();
      s.end(data);
      expect(sha(await within(got, 10_000, 'transfer'))).toBe(sha(data));
      await conn.close();
      await server.close();
      // The failing sink got the header and three events, and nothing after its first throw.
      expect(writes).toBe(4);
      await waitFor(() => warnings.length >= 2, 2000, 'warnings');
      expect(warnings.some((m) => m.includes('no sink today'))).toBe(true);
      expect(warnings.some((m) => m.includes('disk full'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('qlog: off', () => {
  it('without the option no trace function is installed and no file is written', async () => {
    const dir = tmp();
    // Only the server traces: the client's side stays off, and only one file appears.
    const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, qlog: dir });
    const accepted = new Promise<PetrelConnection>((r) => server.once('connection', r));
    const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
    const peer = await accepted;
    expect(traceInstalled(conn)).toBe(false);
    expect(traceInstalled(peer)).toBe(true);
    await conn.close();
    await server.close();
    expect(readdirSync(dir)).toEqual([qlogFileName(toHex(conn.core.originalDcid), 'server')]);
  });

  it('rejects a malformed option with INVALID_OPTION', async () => {
    await expect(listen({ insecure: true, qlog: '' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(connect({ host: '127.0.0.1', port: 9, insecure: true, qlog: { dir: 5 } as unknown as string })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
  });
});
