/**
 * Time to the first application byte: a fresh connection vs a resumed one (1-RTT) vs a resumed one with
 * 0-RTT, in the deterministic simulator (lib/sim) at 100 ms RTT (50 ms each way, 10 Mbit/s, no loss).
 *
 *   node --import tsx tools/bench/resumption.ts [--rtt 100] [--bytes 1000]
 *
 * The client writes a `bytes`-byte request on a new stream as early as its API allows (fresh and resumed
 * without 0-RTT: on `connected`; 0-RTT: at once, before the first packet leaves); the server answers with
 * the same number of bytes when it has read the whole request. Reported, in virtual ms from the client's
 * start: when the server reads the first request byte, and when the client reads the first response byte.
 * Real crypto (node:crypto provider), virtual time: the figures are exact, not sampled.
 */
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import { generateIdentity } from '../../lib/crypto/handshake/index.js';
import { newTicketStats, SingleUseStore, TicketKeyRing, type SessionTicket, type TicketPolicy } from '../../lib/crypto/handshake/tickets.js';
import { nodeCryptoProvider as provider } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { EndpointNode } from '../../lib/sim/endpoint-node.js';
import { Simulator } from '../../lib/sim/simulator.js';
import { nodeEnv } from '../../lib/transport/udp-endpoint.js';
import { environmentLine, fmt, numberArg, Results, table } from './common.js';

const RTT = numberArg('rtt', 100);
const BYTES = Math.round(numberArg('bytes', 1000));
const CLIENT = { host: '10.0.0.1', port: 50000 };
const SERVER = { host: '10.0.0.2', port: 4433 };
const identity = generateIdentity(provider);
let clock = 1_800_000_000_000;
const policy: TicketPolicy = {
  keys: new TicketKeyRing({ provider, now: () => clock }),
  perConnection: 1,
  maxEarlyData: 65536,
  freshnessWindow: 10_000,
  singleUse: new SingleUseStore(),
  now: () => clock,
  stats: newTicketStats(),
};

interface Run {
  serverFirstByte: number;
  clientFirstByte: number;
  resumed: boolean;
  early: string;
  ticket: SessionTicket | null;
}

function run(ticket: SessionTicket | null, earlyData: boolean): Run {
  const sim = new Simulator({ seed: 1 });
  const env = nodeEnv();
  let newTicket: SessionTicket | null = null;
  const crypto = secureCrypto({
    provider,
    client: {
      serverKey: identity.publicKey,
      serverName: 'game.example',
      now: () => clock,
      ticket: ticket ?? undefined,
      earlyData,
      onTicket: (t) => (newTicket = t),
    },
    server: { identity, tickets: policy },
  });
  const cEp = new Endpoint({ env });
  const sEp = new Endpoint({ env, server: { crypto, options: { alpn: ['game'] } } });
  const cn = new EndpointNode(cEp);
  const sn = new EndpointNode(sEp);
  sim.addNode(CLIENT, cn);
  sim.addNode(SERVER, sn);
  sim.link(CLIENT, SERVER, { delay: RTT / 2, rate: 10_000_000 });
  const request = new Uint8Array(BYTES).fill(1);
  const r: Run = { serverFirstByte: -1, clientFirstByte: -1, resumed: false, early: 'none', ticket: null };
  let sent = false;
  let got = 0;
  const send = (c: Connection): void => {
    if (sent) return;
    sent = true;
    const id = c.openStream(true)!;
    c.streamWrite(id, request, true);
  };
  const conn = cEp.connect({ remote: SERVER, crypto, options: { alpn: ['game'] }, now: 0 });
  if (conn.earlyDataWritable) send(conn);
  cn.app = (ev: EndpointEvent | null, now: number) => {
    if (!ev || ev.kind !== 'connection') return;
    if (ev.event.type === 'connected') send(conn);
    if (ev.event.type === 'stream_readable' && conn.streamRead(ev.event.streamId) && r.clientFirstByte < 0) r.clientFirstByte = now;
  };
  sn.app = (ev: EndpointEvent | null, now: number) => {
    if (!ev || ev.kind !== 'connection' || ev.event.type !== 'stream_readable') return;
    const c = ev.connection;
    const id = ev.event.streamId;
    for (let d = c.streamRead(id); d; d = c.streamRead(id)) {
      if (r.serverFirstByte < 0) r.serverFirstByte = now;
      got += d.length;
    }
    if (got === BYTES && c.streamFinished(id)) {
      c.streamWrite(id, request, true);
      got = -1;
    }
  };
  sim.run({ until: () => r.clientFirstByte >= 0 && newTicket !== null, maxTime: 10 * RTT + 1000 });
  r.resumed = conn.resumed;
  r.early = conn.earlyData;
  r.ticket = newTicket;
  if (r.clientFirstByte < 0) throw new Error('no response');
  return r;
}

console.log(`# Petrel resumption: time to first application byte in the simulator`);
console.log(`${environmentLine()}; ${RTT} ms RTT, 10 Mbit/s, no loss, ${BYTES}-byte request and response\n`);
const fresh = run(null, false);
clock += 1000;
const resumed = run(fresh.ticket, false);
clock += 1000;
const zeroRtt = run(resumed.ticket, true);
if (!resumed.resumed || !zeroRtt.resumed || zeroRtt.early !== 'accepted') throw new Error('resumption did not happen as expected');
const results = new Results();
const rows = [
  ['fresh (full handshake, request on connected)', fresh],
  ['resumed, 1-RTT (no certificate; request on connected)', resumed],
  ['resumed, 0-RTT (request in the first flight)', zeroRtt],
] as const;
console.log(
  table(
    ['Connection', 'server reads 1st request byte (ms)', 'client reads 1st response byte (ms)', 'in RTTs'],
    rows.map(([l, r]) => [l, fmt(r.serverFirstByte), fmt(r.clientFirstByte), fmt(r.clientFirstByte / RTT)]),
  ),
);
for (const [k, r] of [
  ['fresh', fresh],
  ['resumed', resumed],
  ['zero_rtt', zeroRtt],
] as const) {
  results.set(`${k}_server_first_byte_ms`, r.serverFirstByte);
  results.set(`${k}_client_first_byte_ms`, r.clientFirstByte);
}
console.log(results.line());
