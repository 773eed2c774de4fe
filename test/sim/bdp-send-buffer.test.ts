// One stream on a long fat path (100 ms RTT, 160 Mbit/s): with the send buffer sized from the measured
// bandwidth-delay product (Connection.streamSendTarget, what PetrelStream's default high-water mark follows)
// it carries more than 1 MiB per round trip; with the old fixed 1 MiB it cannot. Every byte is hashed.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { SimRandom } from '../../lib/sim/random.js';
import { Simulator } from '../../lib/sim/simulator.js';

const CLIENT = { host: '10.0.2.1', port: 50000 };
const SERVER = { host: '10.0.2.2', port: 4433 };
const RTT_MS = 100;
const RATE_BPS = 160_000_000;
const MiB = 1024 * 1024;
const TOTAL = 40 * MiB;
const FLOOR = MiB;

function env(rng: SimRandom): CoreEnv {
  return { randomFill: (out) => out.set(rng.bytes(out.length)), crc32: (d) => crc32(d) };
}

/** Byte i of the stream: a pattern that differs at every offset within 64 KiB and between chunks. */
function chunk(offset: number, n: number): Uint8Array {
  const c = new Uint8Array(n);
  for (let i = 0; i < n; i++) c[i] = ((offset + i) * 131 + ((offset + i) >>> 16)) & 0xff;
  return c;
}

interface Run {
  delivered: number;
  /** virtual ms at which `delivered` crossed each sampling point */
  at: Map<number, number>;
  sentHash: string;
  recvHash: string;
  maxTarget: number;
}

function transfer(auto: boolean): Run {
  const sim = new Simulator({ seed: 7 });
  const clientEp = new Endpoint({ env: env(sim.rng('c')) });
  const serverEp = new Endpoint({ env: env(sim.rng('s')), server: { crypto: insecureCrypto, options: {} } });
  const cn = new EndpointNode(clientEp);
  const sn = new EndpointNode(serverEp);
  sim.addNode(CLIENT, cn);
  sim.addNode(SERVER, sn);
  const bdp = (RATE_BPS / 8) * (RTT_MS / 1000);
  const dir = { delay: RTT_MS / 2, rate: RATE_BPS, queueBytes: bdp };
  sim.link(CLIENT, SERVER, { ab: { ...dir }, ba: { ...dir } });

  const conn: Connection = clientEp.connect({ remote: SERVER, crypto: insecureCrypto, options: {}, now: 0 });
  let id = -1;
  let written = 0;
  let maxTarget = 0;
  const sent = createHash('sha256');
  const recv = createHash('sha256');
  const run: Run = { delivered: 0, at: new Map(), sentHash: '', recvHash: '', maxTarget: 0 };
  const marks = [8 * MiB, 16 * MiB, 24 * MiB, 32 * MiB, TOTAL];

  cn.app = (ev: EndpointEvent | null) => {
    if (ev?.kind === 'connection' && ev.event.type === 'connected') id = conn.openStream(true)!;
    if (id < 0 || written >= TOTAL) return;
    const target = conn.streamSendTarget();
    maxTarget = Math.max(maxTarget, target);
    const cap = auto ? Math.max(FLOOR, target) : FLOOR;
    while (written < TOTAL && conn.streamBufferedBytes(id) < cap) {
      const c = chunk(written, Math.min(64 * 1024, TOTAL - written));
      sent.update(c);
      conn.streamWrite(id, c, written + c.length >= TOTAL);
      written += c.length;
    }
  };
  let server: Connection | null = null;
  sn.app = (ev: EndpointEvent | null, now: number) => {
    if (ev?.kind === 'accept') server = ev.connection;
    if (!server) return;
    for (let d = server.streamRead(0); d; d = server.streamRead(0)) {
      recv.update(d);
      const before = run.delivered;
      run.delivered += d.length;
      for (const m of marks) if (before < m && run.delivered >= m) run.at.set(m, now);
    }
  };
  sim.run({ until: () => run.delivered >= TOTAL, maxTime: 60_000 });
  run.sentHash = sent.digest('hex');
  run.recvHash = recv.digest('hex');
  run.maxTarget = maxTarget;
  return run;
}

/** Steady-state goodput, bytes per round trip, between the 8 MiB and 32 MiB marks (after slow start). */
function perRtt(r: Run): number {
  const t0 = r.at.get(8 * MiB)!;
  const t1 = r.at.get(32 * MiB)!;
  return ((24 * MiB) / (t1 - t0)) * RTT_MS;
}

describe('stream send buffering sized to the bandwidth-delay product', () => {
  it('one stream at 100 ms RTT carries more than 1 MiB per round trip when the link allows it', () => {
    const auto = transfer(true);
    const fixed = transfer(false);
    for (const r of [auto, fixed]) {
      expect(r.delivered).toBe(TOTAL);
      expect(r.recvHash).toBe(r.sentHash);
    }
    // The link carries 2 MB per round trip; a fixed 1 MiB buffer holds a stream to at most 1 MiB of it.
    expect(perRtt(fixed)).toBeLessThanOrEqual(1.02 * MiB);
    expect(perRtt(auto)).toBeGreaterThan(1.4 * MiB);
    // The target follows the path (about twice its 2 MB BDP), bounded by maxStreamWindow (16 MiB default).
    expect(auto.maxTarget).toBeGreaterThan(2 * MiB);
    expect(auto.maxTarget).toBeLessThanOrEqual(16 * MiB);
  }, 120_000);
});
