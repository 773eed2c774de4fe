/**
 * What tracing costs the core: the same seeded simulated transfer (lib/sim, fixed link with loss) run N times in
 * each mode, interleaved, reporting ms per run and the ratio to the untraced run.
 *
 *   node --import tsx tools/bench/qlog-cost.ts [--runs N] [--bytes B] [--warmup W]
 *
 * Modes:
 *   none        no traceFor at all (what listen()/connect() do without the `qlog` option)
 *   undefined   traceFor asked per connection and returning undefined (a sink function declining)
 *   noop-fn     a trace function that does nothing: the core's own cost of building trace data
 *   noop-writer the full qlog path (adapter + QlogWriter + JSON) into a sink that discards the records
 *
 * Every mode must produce the identical run (same virtual end time, packets, wire bytes): the script checks it.
 * The simulated transfer is deterministic (the seed fixes link draws, connection ids and contents), the timing is
 * wall-clock, so compare the ratios, not the absolute numbers, across machines.
 */
import { crc32 } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { Endpoint, type EndpointConfig } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { SimRandom } from '../../lib/sim/random.js';
import type { LinkConfig } from '../../lib/sim/link.js';
import { createQlogTrace } from '../../lib/qlog/adapter.js';
import { QlogWriter } from '../../lib/qlog/writer.js';

type TraceFor = EndpointConfig['traceFor'];
type Mode = 'none' | 'undefined' | 'noop-fn' | 'noop-writer';

const CLIENT = { host: '10.0.0.1', port: 50000 };
const SERVER = { host: '10.0.0.2', port: 4433 };
/** 20 ms RTT, 100 Mbit/s bottleneck with a 256 KB queue, 0.5 % random loss, a little jitter. */
const LINK: LinkConfig = { delay: 10, jitter: 1, rate: 100e6, queueBytes: 256 * 1024, loss: 0.005 };
const SEED = 42;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function env(rng: SimRandom): CoreEnv {
  return { randomFill: (out) => out.set(rng.bytes(out.length)), crc32: (d) => crc32(d) };
}

function traceFor(mode: Mode, records: { n: number }): TraceFor {
  switch (mode) {
    case 'none':
      return undefined;
    case 'undefined':
      return () => undefined;
    case 'noop-fn':
      return () => () => {
        records.n++;
      };
    case 'noop-writer':
      return ({ isClient, odcid }) =>
        createQlogTrace(new QlogWriter(() => void records.n++, { vantagePoint: isClient ? 'client' : 'server', odcid, referenceTime: 0 }));
  }
}

interface Outcome {
  /** Wall-clock ms and this process's CPU ms (user + system; less disturbed by other load on the machine). */
  ms: number;
  cpu: number;
  simTime: number;
  packets: number;
  records: number;
}

/** One transfer: `bytes` client → server on one stream, 20 datagrams each way, client closes when done. */
function runOnce(mode: Mode, bytes: number): Outcome {
  const records = { n: 0 };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const sim = new Simulator({ seed: SEED });
  const tf = traceFor(mode, records);
  const clientEp = new Endpoint({ env: env(sim.rng('client-env')), traceFor: tf });
  const serverEp = new Endpoint({ env: env(sim.rng('server-env')), traceFor: tf, server: { crypto: insecureCrypto } });
  const cn = new EndpointNode(clientEp);
  const sn = new EndpointNode(serverEp);
  sim.addNode(CLIENT, cn);
  sim.addNode(SERVER, sn);
  sim.link(CLIENT, SERVER, LINK);
  const client = clientEp.connect({ remote: SERVER, crypto: insecureCrypto, now: 0 });
  let server: Connection | null = null;
  let stream = -1;
  let written = 0;
  let received = 0;
  let datagrams = 0;
  let closed = false;
  const chunk = new Uint8Array(32 * 1024).fill(0xab);
  cn.app = (ev) => {
    if (client.state !== 'established' || closed) return;
    if (ev?.kind === 'connection' && ev.event.type === 'connected') stream = client.openStream(true)!;
    if (stream < 0) return;
    while (written < bytes && client.streamBufferedBytes(stream) < 256 * 1024) {
      const n = Math.min(chunk.length, bytes - written);
      written += n;
      client.streamWrite(stream, chunk.subarray(0, n), written === bytes);
    }
    if (datagrams < 20 && client.maxDatagramPayload() > 0) client.sendDatagram(new Uint8Array(200 + datagrams++));
  };
  sn.app = (ev) => {
    if (ev?.kind === 'accept') server = ev.connection;
    const s = server;
    if (!s || stream < 0) return;
    for (let d = s.streamRead(stream); d; d = s.streamRead(stream)) received += d.length;
    if (ev?.kind === 'connection' && ev.event.type === 'datagram') s.sendDatagram(ev.event.data);
    if (!closed && received === bytes && s.streamFinished(stream)) {
      closed = true;
      client.close(0, 'done');
      cn.poke(sim.now);
    }
  };
  const r = sim.run({ maxTime: 600_000, until: () => closed && client.isTerminated && (server?.isTerminated ?? false) });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000;
  if (r.reason !== 'condition' || received !== bytes) throw new Error(`run did not finish (${r.reason}, ${received}/${bytes} bytes)`);
  return { ms, cpu, simTime: r.now, packets: client.stats().packetsSent + server!.stats().packetsSent, records: records.n };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const runs = arg('runs', 11);
const bytes = arg('bytes', 16_000_000);
const warmup = arg('warmup', 3);
const modes: Mode[] = ['none', 'undefined', 'noop-fn', 'noop-writer'];
const times = new Map<Mode, number[]>(modes.map((m) => [m, []]));
const cpus = new Map<Mode, number[]>(modes.map((m) => [m, []]));
let reference: Outcome | null = null;
const records = new Map<Mode, number>();

for (let i = 0; i < warmup + runs; i++) {
  // Rotate the order each round so no mode always runs right after another (GC, JIT state).
  for (let k = 0; k < modes.length; k++) {
    const mode = modes[(i + k) % modes.length]!;
    const o = runOnce(mode, bytes);
    reference ??= o;
    if (o.simTime !== reference.simTime || o.packets !== reference.packets) {
      throw new Error(`mode ${mode} changed the run: ${o.simTime} ms / ${o.packets} packets vs ${reference.simTime} / ${reference.packets}`);
    }
    records.set(mode, o.records);
    if (i >= warmup) {
      times.get(mode)!.push(o.ms);
      cpus.get(mode)!.push(o.cpu);
    }
  }
}

const base = median(times.get('none')!);
const cpuBase = median(cpus.get('none')!);
console.log(`qlog cost: ${(bytes / 1e6).toFixed(1)} MB over ${JSON.stringify(LINK)}, seed ${SEED}`);
console.log(
  `  each run: ${reference!.packets} packets, ${(reference!.simTime / 1000).toFixed(2)} s virtual; ${runs} runs per mode (+${warmup} warm-up), interleaved`,
);
console.log('  mode          wall ms: median    min   CPU ms: median    min   ratio to none (CPU median)   trace records');
for (const m of modes) {
  const t = times.get(m)!;
  const c = cpus.get(m)!;
  const cols = [median(t), Math.min(...t), median(c), Math.min(...c)].map((x, j) => x.toFixed(1).padStart(j === 0 || j === 2 ? 15 : 6));
  console.log(
    `  ${m.padEnd(12)}${cols[0]} ${cols[1]} ${cols[2]} ${cols[3]}   ${(median(c) / cpuBase).toFixed(3).padStart(26)}   ${String(records.get(m) ?? 0).padStart(13)}`,
  );
}
console.log(`  (wall-clock median ratios: ${modes.map((m) => `${m} ${(median(times.get(m)!) / base).toFixed(3)}`).join(', ')})`);
