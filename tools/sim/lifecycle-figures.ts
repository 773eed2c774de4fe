/**
 * Lifecycle figures (simulator, virtual time): time to discover a 1472-byte path MTU on a clean link and
 * how quickly a server notices and validates a NAT rebinding mid-transfer.
 * Run: node --import tsx tools/sim/lifecycle-figures.ts
 */
import { crc32 } from 'node:zlib';
import { Simulator } from '../../lib/sim/simulator.js';
import { SimRandom } from '../../lib/sim/random.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import type { EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
for (const [name, rtt] of [
  ['10 Mbit/s, 30 ms RTT', 15],
  ['10 Mbit/s, 100 ms RTT', 50],
] as const) {
  const sim = new Simulator({ seed: 3 });
  const env = (s: number) => {
    const r = new SimRandom(s);
    return { randomFill: (o: Uint8Array) => o.set(r.bytes(o.length)), crc32: (d: Uint8Array) => crc32(d) };
  };
  const C = { host: '10.0.0.1', port: 5000 },
    S = { host: '10.0.0.2', port: 4433 };
  const cep = new Endpoint({ env: env(1) });
  const sep = new Endpoint({ env: env(2), server: { crypto: insecureCrypto } });
  const cn = new EndpointNode(cep),
    sn = new EndpointNode(sep);
  let server: Connection | null = null;
  let got = 0;
  const rebindAt = 800;
  let first = -1;
  let mtuAt = -1;
  let validated = -1,
    changed = -1;
  sn.app = (e: EndpointEvent | null, now: number) => {
    if (e && e.kind === 'accept') server = e.connection;
    if (e && e.kind === 'connection' && e.event.type === 'path_validated' && validated < 0) validated = now;
    if (e && e.kind === 'connection' && e.event.type === 'path_changed' && changed < 0) changed = now;
    if (!server) return;
    for (let d = server.streamRead(0); d; d = server.streamRead(0)) {
      got += d.length;
      if (now > rebindAt && first < 0) first = now;
    }
  };
  cn.app = (_e: unknown, now: number) => {
    if (mtuAt < 0 && client.stats().maxDatagramSize === 1472) mtuAt = now;
  };
  sim.addNode(C, cn);
  sim.addNode(S, sn);
  sim.link(C, S, { delay: rtt, rate: 10e6, queueBytes: 40000 });
  const client = cep.connect({ remote: S, crypto: insecureCrypto, now: 0 });
  let connectedAt = -1;
  sim.run({
    until: () => {
      if (connectedAt < 0 && client.state === 'established') connectedAt = sim.now;
      return client.state === 'established' && client.peerTransportParameters !== null;
    },
    maxTime: 5000,
  });
  const id = client.openStream(true)!;
  client.streamWrite(id, new Uint8Array(2_000_000), true);
  sim.flush(cn);
  sim.rebind(C, { host: '10.0.0.1', port: 6000 }, rebindAt);
  sim.run({ until: () => got === 2_000_000, maxTime: 60_000 });
  console.log(
    name,
    'connected at',
    connectedAt.toFixed(1),
    'ms; 1472 reached at',
    mtuAt.toFixed(1),
    'ms; server saw the new address',
    (changed - rebindAt).toFixed(1),
    'ms and validated it',
    (validated - rebindAt).toFixed(1),
    'ms after the rebinding',
  );
}
