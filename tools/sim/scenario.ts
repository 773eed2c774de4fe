/**
 * One seeded simulator scenario: a client and a server connected by an impaired link, several streams
 * of random sizes each way, every byte hashed on both ends, a graceful close at the end.
 * Used by `npm run sim` (tools/sim/cli.ts) and by the test suite (test/sim/soak.test.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, CoreEnv } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import { SimRandom } from '../../lib/sim/random.js';
import { describeMix, randomImpairmentMix, type ImpairmentMix } from '../../lib/sim/impairment-mix.js';
import type { LinkConfig } from '../../lib/sim/link.js';

export const CLIENT = { host: '10.0.0.1', port: 50000 };
export const SERVER = { host: '10.0.0.2', port: 4433 };

/** Deterministic stream contents: a cheap xorshift keystream, generated chunk by chunk. */
export class PatternSource {
  private x: number;
  private remaining: number;
  readonly size: number;
  private readonly hash: Hash = createHash('sha256');
  constructor(seed: number, size: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
    this.size = size;
    this.remaining = size;
  }
  get done(): boolean {
    return this.remaining === 0;
  }
  next(max: number): Uint8Array {
    const n = Math.min(max, this.remaining);
    const out = new Uint8Array(n);
    let x = this.x;
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    this.x = x;
    this.remaining -= n;
    this.hash.update(out);
    return out;
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

interface OutStream {
  id: number;
  src: PatternSource;
  finished: boolean;
}

interface InStream {
  hash: Hash;
  bytes: number;
  done: boolean;
  digest?: string;
}

/** The application on one side: writes its streams, reads and hashes the peer's. */
class Side {
  conn: Connection | null = null;
  readonly out: OutStream[] = [];
  readonly inbound = new Map<number, InStream>();
  connected = false;
  closed: { code: number; reason: string; initiator: string } | null = null;
  readonly plan: number[];
  private readonly seeds: number[];
  maxRecvBuffered = 0;
  violation: string | null = null;
  private readonly limits: { stream: number; connection: number };

  constructor(plan: number[], seeds: number[], limits: { stream: number; connection: number }) {
    this.plan = plan;
    this.seeds = seeds;
    this.limits = limits;
  }

  onEvent(ev: EndpointEvent | null): void {
    if (ev) {
      if (ev.kind === 'accept') this.conn = ev.connection;
      else {
        const e = ev.event;
        if (e.type === 'connected') {
          this.connected = true;
          this.openAll();
        } else if (e.type === 'streams_available') this.openAll();
        else if (e.type === 'closed') this.closed = { code: e.info.errorCode, reason: e.info.reason, initiator: e.info.initiator };
      }
    }
    this.pump();
  }

  private openAll(): void {
    const c = this.conn;
    if (!c || this.closed) return;
    while (this.out.length < this.plan.length) {
      const id = c.openStream(true);
      if (id === null) return;
      const i = this.out.length;
      this.out.push({ id, src: new PatternSource(this.seeds[i]!, this.plan[i]!), finished: false });
    }
  }

  /** Keeps up to 256 KiB buffered per stream, reads everything readable, checks the flow-control invariant. */
  pump(): void {
    const c = this.conn;
    if (!c || !this.connected || this.closed) return;
    for (const s of this.out) {
      if (s.finished) continue;
      while (!s.src.done && c.streamBufferedBytes(s.id) < 256 * 1024) c.streamWrite(s.id, s.src.next(64 * 1024));
      if (s.src.done) {
        c.streamFinish(s.id);
        s.finished = true;
      }
    }
    let buffered = 0;
    for (const [id, st] of this.streamsToRead(c)) {
      for (let d = c.streamRead(id); d; d = c.streamRead(id)) {
        st.hash.update(d);
        st.bytes += d.length;
      }
      if (!st.done && c.streamFinished(id)) {
        st.done = true;
        st.digest = st.hash.digest('hex');
      }
      const ss = c.streamStats(id);
      if (ss) {
        buffered += ss.recvBuffered;
        if (ss.recvBuffered > this.limits.stream) this.violation = `stream ${id} buffered ${ss.recvBuffered} > window cap ${this.limits.stream}`;
      }
    }
    if (buffered > this.limits.connection) this.violation = `connection buffered ${buffered} > window cap ${this.limits.connection}`;
    if (buffered > this.maxRecvBuffered) this.maxRecvBuffered = buffered;
  }

  private *streamsToRead(c: Connection): Generator<[number, InStream]> {
    // Peer-initiated bidirectional streams: ids 1, 5, 9… (server) or 0, 4, 8… (client).
    const peerBit = c.isClient ? 1 : 0;
    for (let i = 0; i < 16; i++) {
      const id = i * 4 + peerBit;
      let st = this.inbound.get(id);
      if (!st) {
        if (c.streamStats(id) === null) continue;
        st = { hash: createHash('sha256'), bytes: 0, done: false };
        this.inbound.set(id, st);
      }
      if (!st.done) yield [id, st];
    }
  }

  allSent(): boolean {
    return this.out.length === this.plan.length && this.out.every((s) => s.finished && this.conn!.streamBufferedBytes(s.id) === 0);
  }
}

export interface ScenarioOptions {
  seed: number;
  /** Trace records (JSON-SEQ strings) are appended here when given. */
  trace?: string[];
  /** Override the random link (tests pin a link to check one behaviour). */
  link?: LinkConfig;
  /** Override the random workload: stream sizes client→server and server→client. */
  clientStreams?: number[];
  serverStreams?: number[];
  options?: ConnectionOptions;
}

export interface ScenarioResult {
  seed: number;
  ok: boolean;
  failure?: string;
  mix: ImpairmentMix | null;
  mixText: string;
  simTime: number;
  bytes: number;
  clientStats: ReturnType<Connection['stats']> | null;
  serverStats: ReturnType<Connection['stats']> | null;
  events: number;
}

function sim_env(rng: SimRandom): CoreEnv {
  return {
    randomFill(out: Uint8Array) {
      out.set(rng.bytes(out.length));
    },
    crc32: (d: Uint8Array) => crc32(d),
  };
}

/** Draws stream sizes: 1–4 streams per side, log-uniform up to 400 KB; about 10 % of seeds move ≥ 2 MB. */
function drawWorkload(rng: SimRandom): { client: number[]; server: number[] } {
  const big = rng.chance(0.12);
  const one = () => Math.floor(Math.exp(rng.uniform(0, Math.log(400_000))));
  const client = Array.from({ length: rng.int(1, 4) }, one);
  const server = Array.from({ length: rng.int(0, 3) }, one);
  if (big) client[0] = rng.int(2_000_000, 3_000_000);
  return { client, server };
}

const WINDOWS = { stream: 16 * 1024 * 1024, connection: 24 * 1024 * 1024 };

export function runScenario(o: ScenarioOptions): ScenarioResult {
  const sim = new Simulator({ seed: o.seed, trace: o.trace ?? null, title: `petrel seed ${o.seed}` });
  const mixRng = sim.rng('mix');
  const mix = o.link ? null : randomImpairmentMix(mixRng);
  const link: LinkConfig = o.link ?? mix!.link;
  const work = drawWorkload(sim.rng('workload'));
  const clientPlan = o.clientStreams ?? work.client;
  const serverPlan = o.serverStreams ?? work.server;
  const options: ConnectionOptions = { ...o.options };
  const idle = options.idleTimeout ?? 30_000;
  const limits = { stream: options.maxStreamWindow ?? WINDOWS.stream, connection: options.maxConnectionWindow ?? WINDOWS.connection };

  const cenv = sim_env(sim.rng('client-env'));
  const senv = sim_env(sim.rng('server-env'));
  if (sim.traceEnabled) {
    // Core events go into the same trace, stamped by the simulator's clock.
    cenv.trace = (name, data) => sim.trace(name, { side: 'client', ...data });
    senv.trace = (name, data) => sim.trace(name, { side: 'server', ...data });
  }
  const clientEp = new Endpoint({ env: cenv });
  const serverEp = new Endpoint({ env: senv, server: { crypto: insecureCrypto, options } });
  const seedRng = sim.rng('contents');
  const client = new Side(clientPlan, clientPlan.map(() => seedRng.int(1, 0xffffffff)), limits);
  const server = new Side(serverPlan, serverPlan.map(() => seedRng.int(1, 0xffffffff)), limits);
  const cn = new EndpointNode(clientEp);
  const sn = new EndpointNode(serverEp);
  let closeStarted = false;
  cn.app = (ev) => client.onEvent(ev);
  sn.app = (ev) => server.onEvent(ev);
  sim.addNode(CLIENT, cn);
  sim.addNode(SERVER, sn);
  sim.link(CLIENT, SERVER, link);
  client.conn = clientEp.connect({ remote: SERVER, crypto: insecureCrypto, options, now: 0 });

  const totalBytes = clientPlan.reduce((a, b) => a + b, 0) + serverPlan.reduce((a, b) => a + b, 0);
  const rate = link.rate ?? 1e9;
  const loss = Math.min(0.5, (link.loss ?? 0) + (link.burst ? 0.15 : 0));
  const rttMs = Math.max(1, 2 * (link.delay ?? 0) + (link.jitter ?? 0) + (link.reorderDelay ?? 0));
  // Generous bound: ten times the slower of serialization and the loss-limited (Mathis) rate, plus
  // handshake time, plus the idle timeout thrice (a side whose every CONNECTION_CLOSE copy was lost
  // ends by idle timeout).
  const serialization = (totalBytes * 8 * 1000) / rate;
  const mathis = loss > 0 ? (totalBytes / ((1200 / rttMs) * (1.22 / Math.sqrt(loss)))) : 0;
  const maxTime = 60_000 + 3 * idle + 10 * Math.max(serialization, mathis) / (1 - loss);

  const delivered = () => {
    const check = (from: Side, to: Side) =>
      from.out.length === from.plan.length &&
      from.out.every((s) => {
        const st = to.inbound.get(s.id);
        return st?.done === true;
      });
    return client.connected && server.connected && check(client, server) && check(server, client) && client.allSent() && server.allSent();
  };
  const result = sim.run({
    maxTime,
    until: () => {
      if (client.violation || server.violation) return true;
      if (!closeStarted && delivered()) {
        closeStarted = true;
        client.conn!.close(0, 'done');
        cn.poke(sim.now);
        sim.flush(cn);
      }
      return closeStarted && client.conn!.isTerminated && (server.conn?.isTerminated ?? true);
    },
  });

  let failure: string | undefined;
  if (client.violation || server.violation) failure = `flow-control invariant: ${client.violation ?? server.violation}`;
  else if (!closeStarted) failure = `not delivered by ${result.now.toFixed(0)} ms (${result.reason}); client closed=${JSON.stringify(client.closed)} server closed=${JSON.stringify(server.closed)}`;
  else if (result.reason !== 'condition') failure = `close did not finish (${result.reason})`;
  if (!failure) {
    for (const [from, to, name] of [
      [client, server, 'c→s'],
      [server, client, 's→c'],
    ] as const) {
      for (const s of from.out) {
        const st = to.inbound.get(s.id)!;
        const want = s.src.digest();
        if (st.bytes !== s.src.size || st.digest !== want) {
          failure = `${name} stream ${s.id}: got ${st.bytes}/${s.src.size} bytes, hash ${st.digest === want ? 'ok' : 'MISMATCH'}`;
          break;
        }
      }
    }
  }
  // The server ends by the client's CONNECTION_CLOSE or, if every copy of it was lost, by its idle timeout.
  const serverEnded = server.closed && ((server.closed.initiator === 'peer' && server.closed.code === 0) || server.closed.initiator === 'idle');
  if (!failure && (client.closed?.initiator !== 'local' || !serverEnded)) {
    failure = `close not seen on both sides: client=${JSON.stringify(client.closed)} server=${JSON.stringify(server.closed)}`;
  }
  return {
    seed: o.seed,
    ok: !failure,
    failure,
    mix,
    mixText: mix ? describeMix(mix) : JSON.stringify(link),
    simTime: result.now,
    bytes: totalBytes,
    clientStats: client.conn?.stats() ?? null,
    serverStats: server.conn?.stats() ?? null,
    events: sim.counters.events,
  };
}
