/**
 * The sans-IO core traced end to end: two Endpoints under a virtual clock, each connection given its own
 * QlogWriter through the Endpoint's `traceFor`. A handshake, a lossy stream transfer both ways, datagrams and a
 * close must produce qlog files in which every record passes the strict schema, and whose packet counts agree
 * with the connections' own stats. Without a sink, the trace path must not run at all.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { Endpoint, type EndpointConfig } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { CoreEnv, PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { createQlogTrace } from '../../lib/qlog/adapter.js';
import { QlogWriter } from '../../lib/qlog/writer.js';
import { parseJsonSeq, validateQlogHeader, validateQlogRecord, validateQlogText } from '../../lib/qlog/schema.js';
import { toHex } from '../../lib/wire/buffer.js';
import { seededEnv } from '../helpers/pair.js';

// Counts the only decoding the core does for the trace alone (received frames), without changing it.
const decodeCalls = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../lib/wire/frames.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../lib/wire/frames.js')>();
  return {
    ...orig,
    decodeFrames: (...args: Parameters<typeof orig.decodeFrames>) => {
      decodeCalls.n++;
      return orig.decodeFrames(...args);
    },
  };
});

type TraceFor = NonNullable<EndpointConfig['traceFor']>;

interface Rec {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

const CLIENT: PeerAddress = { host: '10.0.0.1', port: 5000 };
const SERVER: PeerAddress = { host: '10.0.0.2', port: 4433 };
const C2S_BYTES = 150_000;
const S2C_BYTES = 60_000;
const DATAGRAMS = 12;

interface RunOptions {
  traceFor?: TraceFor;
  /** Environment factory (default: seeded, without env.trace). */
  env?: (seed: number) => CoreEnv;
  /** Drop datagram `index` of a direction (counted per direction from 0). */
  drop?: (dir: 'c2s' | 's2c', index: number) => boolean;
}

interface RunResult {
  client: Connection;
  server: Connection;
  /** SHA-256 over every datagram both ways, in order: the run's wire behaviour. */
  wire: string;
  received: { c2s: number; s2c: number; datagrams: number };
  now: number;
}

/**
 * One deterministic run: the client streams C2S_BYTES to the server, which answers with S2C_BYTES on the same
 * stream; both send datagrams; the client closes once everything arrived. 10 ms one way, instant otherwise.
 */
function run(o: RunOptions = {}): RunResult {
  const env = o.env ?? seededEnv;
  const client = new Endpoint({ env: env(7), traceFor: o.traceFor });
  const server = new Endpoint({ env: env(1007), traceFor: o.traceFor, server: { crypto: insecureCrypto } });
  let now = 0;
  const conn = client.connect({ remote: SERVER, crypto: insecureCrypto, now });
  let serverConn: Connection | null = null;
  const queue: Array<{ at: number; data: Uint8Array; to: 'c' | 's' }> = [];
  const counts = { c2s: 0, s2c: 0 };
  const wire = createHash('sha256');
  const buf = new Uint8Array(2048);
  const received = { c2s: 0, s2c: 0, datagrams: 0 };
  let streamId = -1;
  let sent = { c: 0, s: 0, cd: 0, sd: 0 };
  let serverFin = false;
  let closing = false;

  const app = (): void => {
    for (let e = client.pollEvent(); e; e = client.pollEvent()) {
      if (e.kind === 'connection' && e.event.type === 'datagram') received.datagrams++;
    }
    for (let e = server.pollEvent(); e; e = server.pollEvent()) {
      if (e.kind === 'accept') serverConn = e.connection;
      else if (e.event.type === 'datagram') received.datagrams++;
    }
    if (conn.state === 'established') {
      if (streamId < 0) streamId = conn.openStream(true)!;
      while (sent.c < C2S_BYTES && conn.streamBufferedBytes(streamId) < 64 * 1024) {
        const n = Math.min(16 * 1024, C2S_BYTES - sent.c);
        conn.streamWrite(streamId, new Uint8Array(n).fill(sent.c & 0xff), sent.c + n === C2S_BYTES);
        sent.c += n;
      }
      if (sent.cd < DATAGRAMS && conn.maxDatagramPayload() > 0) conn.sendDatagram(new Uint8Array(100 + sent.cd++));
      for (let d = conn.streamRead(streamId); d; d = conn.streamRead(streamId)) received.s2c += d.length;
    }
    const s = serverConn;
    if (s && s.state === 'established' && streamId >= 0) {
      for (let d = s.streamRead(streamId); d; d = s.streamRead(streamId)) received.c2s += d.length;
      if (received.c2s > 0) {
        while (sent.s < S2C_BYTES && s.streamBufferedBytes(streamId) < 64 * 1024) {
          const n = Math.min(8 * 1024, S2C_BYTES - sent.s);
          s.streamWrite(streamId, new Uint8Array(n).fill(7), false);
          sent.s += n;
        }
        if (sent.s === S2C_BYTES && !serverFin && received.c2s === C2S_BYTES) {
          s.streamFinish(streamId);
          serverFin = true;
        }
        if (sent.sd < DATAGRAMS && s.maxDatagramPayload() > 0) s.sendDatagram(new Uint8Array(50 + sent.sd++));
      }
    }
    if (!closing && received.c2s === C2S_BYTES && received.s2c === S2C_BYTES && conn.streamFinished(streamId)) {
      closing = true;
      conn.close(0, 'done');
      client.touch(conn);
    }
  };

  const flush = (): void => {
    for (const [ep, dir] of [
      [client, 'c2s'],
      [server, 's2c'],
    ] as const) {
      for (let t = ep.pollTransmit(now, buf); t; t = ep.pollTransmit(now, buf)) {
        const data = buf.slice(0, t.length);
        wire.update(data);
        if (o.drop?.(dir, counts[dir]++)) continue;
        queue.push({ at: now + 10, data, to: dir === 'c2s' ? 's' : 'c' });
      }
    }
  };

  for (let guard = 0; guard < 200_000; guard++) {
    app();
    flush();
    app();
    flush();
    if (closing && conn.isTerminated && serverConn !== null && (serverConn as Connection).isTerminated) break;
    let t = queue.length > 0 ? queue[0]!.at : Infinity;
    for (const ep of [client, server]) {
      const d = ep.pollTimeout();
      if (d !== null && d < t) t = d;
    }
    if (t === Infinity || t > 120_000) throw new Error(`stalled at ${now} ms: c2s ${received.c2s} s2c ${received.s2c}`);
    now = Math.max(now, t);
    while (queue.length > 0 && queue[0]!.at <= now) {
      const d = queue.shift()!;
      if (d.to === 's') server.handleDatagram(d.data, CLIENT, now);
      else client.handleDatagram(d.data, SERVER, now);
    }
    client.handleTimeout(now);
    server.handleTimeout(now);
  }
  expect(serverConn).not.toBeNull();
  return { client: conn, server: serverConn!, wire: wire.digest('hex'), received, now };
}

/** Datagrams 3, 7, 8, 20, 41… each way are lost: a lost Initial-flight datagram, isolated and paired losses. */
const lossy = (dir: 'c2s' | 's2c', i: number): boolean => (dir === 'c2s' ? i === 3 || i === 20 || i % 17 === 8 : i === 7 || i === 8 || i % 23 === 11);

/** A traceFor writing each connection's qlog into memory; returns the records by vantage point. */
function memoryQlog(): {
  traceFor: TraceFor;
  files: Map<string, string[]>;
  asked: Array<{ isClient: boolean; odcid: string; remote: PeerAddress }>;
  unmapped: Set<string>;
} {
  const files = new Map<string, string[]>();
  const unmapped = new Set<string>();
  const asked: Array<{ isClient: boolean; odcid: string; remote: PeerAddress }> = [];
  const traceFor: TraceFor = ({ isClient, odcid, remote }) => {
    asked.push({ isClient, odcid: toHex(odcid), remote });
    const out: string[] = [];
    files.set(isClient ? 'client' : 'server', out);
    const writer = new QlogWriter((r) => void out.push(r), { vantagePoint: isClient ? 'client' : 'server', odcid, referenceTime: 0 });
    return createQlogTrace(writer, { onUnmapped: (name) => void unmapped.add(name) });
  };
  return { traceFor, files, asked, unmapped };
}

function records(out: string[]): Rec[] {
  return out.slice(1).map((r) => JSON.parse(r.slice(1)) as Rec);
}

function countOf(recs: Rec[], name: string): number {
  return recs.filter((r) => r.name === name).length;
}

describe('core trace → qlog (sans-IO, lossy transfer, datagrams, close)', () => {
  const q = memoryQlog();
  const r = run({ traceFor: q.traceFor, drop: lossy });

  it('the transfer itself completed, with losses on both sides', () => {
    expect(r.received.c2s).toBe(C2S_BYTES);
    expect(r.received.s2c).toBe(S2C_BYTES);
    expect(r.received.datagrams).toBeGreaterThan(0);
    expect(r.client.stats().packetsLost).toBeGreaterThan(0);
    expect(r.server.stats().packetsLost).toBeGreaterThan(0);
    expect(r.client.closeReason).toMatchObject({ initiator: 'local', errorCode: 0 });
    expect(r.server.closeReason).toMatchObject({ initiator: 'peer', errorCode: 0 });
  });

  it('every event the core traced has a qlog form (none dropped by the adapter)', () => {
    expect([...q.unmapped]).toEqual([]);
  });

  it('traceFor was asked once per connection, with the shared original destination id', () => {
    expect(q.asked).toHaveLength(2);
    const [c, s] = q.asked;
    expect(c).toMatchObject({ isClient: true, remote: SERVER });
    expect(s).toMatchObject({ isClient: false, remote: CLIENT });
    expect(s!.odcid).toBe(c!.odcid);
    expect(c!.odcid).toBe(toHex(r.client.originalDcid));
  });

  for (const side of ['client', 'server'] as const) {
    it(`${side}: every record passes the strict schema (no unknown events)`, () => {
      const out = q.files.get(side)!;
      expect(validateQlogHeader(JSON.parse(out[0]!.slice(1)))).toEqual([]);
      const errors: string[] = [];
      for (const [i, rec] of out.slice(1).entries()) {
        for (const e of validateQlogRecord(JSON.parse(rec.slice(1)))) errors.push(`#${i + 1} ${rec.slice(1, 120)}: ${e}`);
      }
      expect(errors.slice(0, 10)).toEqual([]);
      // The whole-file check adds time ordering and JSON-SEQ framing.
      const report = validateQlogText(out.join(''));
      expect(report.errors).toEqual([]);
      expect(report.events).toBe(out.length - 1);
    });

    it(`${side}: packet counts agree with the connection's stats`, () => {
      const recs = records(q.files.get(side)!);
      const conn = side === 'client' ? r.client : r.server;
      const st = conn.stats();
      expect(countOf(recs, 'transport:packet_sent')).toBe(st.packetsSent);
      expect(countOf(recs, 'transport:packet_received')).toBe(st.packetsReceived);
      // qlog logs every packet declared lost; stats count in-flight non-probe packets only (RFC 9002's
      // bytes-in-flight view). So: lost = packetsLost + lost PMTU probes + lost ACK/close-only packets.
      const sentByHeader = new Map<string, Array<{ frame_type: string }>>();
      for (const x of recs) {
        if (x.name === 'transport:packet_sent') sentByHeader.set(JSON.stringify(x.data.header), x.data.frames as Array<{ frame_type: string }>);
      }
      const lost = recs.filter((x) => x.name === 'recovery:packet_lost');
      let notInFlight = 0;
      for (const l of lost) {
        // Each lost packet is one we sent: same packet type and number as a packet_sent record.
        const frames = sentByHeader.get(JSON.stringify(l.data.header));
        expect(frames).toBeDefined();
        if (frames!.every((f) => f.frame_type === 'ack' || f.frame_type === 'connection_close')) notInFlight++;
      }
      expect(lost.length).toBe(st.packetsLost + (st.pmtu?.probesLost ?? 0) + notInFlight);
      expect(lost.length).toBeGreaterThan(0);
    });

    it(`${side}: the frames carry what qvis needs (stream offsets, ack ranges, datagrams, close)`, () => {
      const recs = records(q.files.get(side)!);
      const frames = (name: string) => recs.filter((x) => x.name === name).flatMap((x) => (x.data.frames ?? []) as Array<Record<string, unknown>>);
      const sent = frames('transport:packet_sent');
      const recv = frames('transport:packet_received');
      const mine = side === 'client' ? C2S_BYTES : S2C_BYTES;
      const theirs = side === 'client' ? S2C_BYTES : C2S_BYTES;
      // Stream frames sent cover every byte we wrote (retransmissions may add more).
      const streamSent = sent.filter((f) => f.frame_type === 'stream');
      expect(streamSent.reduce((a, f) => a + (f.length as number), 0)).toBeGreaterThanOrEqual(mine);
      expect(Math.max(...streamSent.map((f) => (f.offset as number) + (f.length as number)))).toBe(mine);
      const streamRecv = recv.filter((f) => f.frame_type === 'stream');
      expect(Math.max(...streamRecv.map((f) => (f.offset as number) + (f.length as number)))).toBe(theirs);
      for (const list of [sent, recv]) {
        const acks = list.filter((f) => f.frame_type === 'ack');
        expect(acks.length).toBeGreaterThan(0);
        for (const a of acks) expect(Array.isArray(a.acked_ranges) && (a.acked_ranges as unknown[]).length > 0).toBe(true);
      }
      expect(sent.filter((f) => f.frame_type === 'datagram').length).toBeGreaterThan(0);
      expect(recv.filter((f) => f.frame_type === 'datagram').length).toBeGreaterThan(0);
      // The client sent the close, the server received it.
      const close = (side === 'client' ? sent : recv).find((f) => f.frame_type === 'connection_close');
      expect(close).toMatchObject({ error_space: 'application', error_code: 0 });
    });
  }

  it('times are relative to the reference and end at the close', () => {
    for (const side of ['client', 'server'] as const) {
      const recs = records(q.files.get(side)!);
      expect(recs[0]!.time).toBeGreaterThanOrEqual(0);
      const last = recs[recs.length - 1]!.time;
      expect(last).toBeLessThanOrEqual(r.now);
      expect(last).toBeGreaterThan(0);
    }
  });
});

describe('no sink, no cost', () => {
  /** An env whose `trace` is a getter: reading it is counted, and it is never a function. */
  function guardedEnv(reads: { n: number }): (seed: number) => CoreEnv {
    return (seed) => {
      const base = seededEnv(seed);
      return Object.defineProperty({ randomFill: base.randomFill, crc32: base.crc32 }, 'trace', {
        get: () => {
          reads.n++;
          return undefined;
        },
        enumerable: true,
      }) as CoreEnv;
    };
  }

  it('positive control: a trace function that throws is reached as soon as it is installed', () => {
    // A throw out of a connection is now contained by the endpoint (it closes that connection with
    // INTERNAL_ERROR, spec/transport.md §Fault containment), so count the calls instead of catching the throw.
    let reached = 0;
    const throwing: TraceFor = () => () => {
      reached++;
      throw new Error('trace called');
    };
    try {
      run({ traceFor: throwing, drop: lossy });
    } catch {
      // the run cannot complete with both connections closed by the fault
    }
    expect(reached).toBeGreaterThan(0);
  });

  it('traceFor returning undefined: no trace call, no trace-only decoding, the guards are what skip it', () => {
    let asked = 0;
    const reads = { n: 0 };
    decodeCalls.n = 0;
    const r = run({ traceFor: () => void asked++, env: guardedEnv(reads), drop: lossy });
    expect(r.received.c2s).toBe(C2S_BYTES);
    expect(asked).toBe(2);
    // Received frames are decoded again only for a trace: never here.
    expect(decodeCalls.n).toBe(0);
    // Every packet sent and received consulted the (absent) sink once: the guard is on the path, and it saw nothing.
    const c = r.client.stats();
    const s = r.server.stats();
    expect(reads.n).toBeGreaterThanOrEqual(c.packetsSent + c.packetsReceived + s.packetsSent + s.packetsReceived);
  });

  it('with a sink, the trace-only decoding does run (so the zero above is meaningful)', () => {
    decodeCalls.n = 0;
    const q = memoryQlog();
    const r = run({ traceFor: q.traceFor, drop: lossy });
    expect(decodeCalls.n).toBe(r.client.stats().packetsReceived + r.server.stats().packetsReceived);
  });

  it('tracing does not change behaviour: the same datagrams go over the wire with and without a sink', () => {
    const plain = run({ drop: lossy });
    const traced = run({ traceFor: memoryQlog().traceFor, drop: lossy });
    expect(traced.wire).toBe(plain.wire);
    expect(traced.client.stats().packetsSent).toBe(plain.client.stats().packetsSent);
  });

  it('the parse of a traced file round-trips (JSON-SEQ framing)', () => {
    const q = memoryQlog();
    run({ traceFor: q.traceFor });
    const text = q.files.get('client')!.join('');
    const parsed = parseJsonSeq(text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.records).toHaveLength(q.files.get('client')!.length);
  });
});
