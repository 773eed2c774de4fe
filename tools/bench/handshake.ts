/**
 * Server CPU per handshake.
 *
 *   node --import tsx tools/bench/handshake.ts [--n 1000] [--warmup 100] [--quick]
 *
 * Drives a client and a server sans-IO Endpoint in one process under a virtual clock (10 ms one way, no
 * loss), with the real crypto (secureCrypto + nodeCryptoProvider) and the Node environment (CSPRNG,
 * zlib CRC-32). Every call into the server endpoint runs inside one metered block per turn (datagrams
 * due, timers, transmits, events, next deadline), and only those blocks count as server CPU:
 * process.cpuUsage() deltas (user + system, µs), with process.hrtime.bigint() inside them as a
 * cross-check. A fresh server endpoint per handshake keeps the run free of accumulated connections.
 *
 * A handshake runs from the client's first Initial until the server reported `connected`, the client
 * `handshake_confirmed`, and nothing is left in flight (a delayed ACK still on a timer is not sent).
 *
 * Resumed modes (issue 15): the client offers a session ticket (a fresh one per handshake, sealed by the
 * server's ticket key outside the metered blocks), so the server skips Certificate/CertificateVerify but still
 * does a fresh X25519 exchange, checks the binder and the single-use store, and issues a new ticket.
 *
 * Also measured: the crypto handshake alone (ServerHandshake fed the client's messages, no packets),
 * and the node:crypto primitives a server handshake is built from.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomFillSync, sign } from 'node:crypto';
import { Endpoint, type EndpointEvent } from '../../lib/endpoint/endpoint.js';
import type { CryptoConfig, PeerAddress } from '../../lib/connection/types.js';
import { insecureCrypto } from '../../lib/crypto/insecure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';
import type { CipherSuite, CryptoProvider, KeyPair } from '../../lib/crypto/provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import type { HandshakeSession } from '../../lib/crypto/types.js';
import {
  createClientSession,
  createServerSession,
  generateIdentity,
  issueCertificate,
  type ServerHandshake,
} from '../../lib/crypto/handshake/index.js';
import { newTicketStats, SingleUseStore, TicketKeyRing, type SessionTicket, type TicketPolicy } from '../../lib/crypto/handshake/tickets.js';
import { nodeEnv } from '../../lib/transport/udp-endpoint.js';
import { environmentLine, fmt, median, numberArg, quantile, Results, si, table, flag } from './common.js';

const USAGE = `usage: node --import tsx tools/bench/handshake.ts [--n HANDSHAKES] [--warmup N] [--quick]
  --n       measured handshakes per mode (default 1000; --quick: 20)
  --warmup  unmeasured handshakes per mode first (default 100; --quick: 5)`;

if (flag('help')) {
  console.log(USAGE);
  process.exit(0);
}

const quick = flag('quick');
const N = Math.round(numberArg('n', quick ? 20 : 1000));
const WARMUP = Math.round(numberArg('warmup', quick ? 5 : 100));
/** Modes run in this many interleaved rounds, so a burst of load elsewhere on the machine hits all alike. */
const ROUNDS = Math.min(10, N);
const ONE_WAY_MS = 10;
const provider = nodeCryptoProvider;
/** libsodium (sodium-native) when it loads: its modes run interleaved with the node:crypto ones. */
const sodium = sodiumCryptoProvider();
/**
 * The node provider as it was before this round, for the before/after row: ephemeral X25519 keys from
 * generateKeyPairSync + a JWK export (the path that can deadlock on Node 20), both keys re-imported per derive.
 */
const legacyNode: CryptoProvider = {
  ...nodeCryptoProvider,
  name: 'node-legacy',
  x25519Generate() {
    const jwk = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
    return { publicKey: new Uint8Array(Buffer.from(jwk.x!, 'base64url')), privateKey: new Uint8Array(Buffer.from(jwk.d!, 'base64url')) };
  },
};
const AES: CipherSuite = 'AES_128_GCM_SHA256';
const CHACHA: CipherSuite = 'CHACHA20_POLY1305_SHA256';
const SERVER_NAME = 'bench.example';
const ALPN = ['bench/1'];
const TRANSPORT_PARAMETERS = new Uint8Array(48).fill(7);

/** Accumulates CPU (cpuUsage, µs) and wall time (hrtime, ns) of the blocks it runs. */
class Meter {
  cpuUs = 0;
  wallNs = 0n;
  blocks = 0;

  run(f: () => void): void {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    f();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    this.cpuUs += c.user + c.system;
    this.wallNs += t1 - t0;
    this.blocks++;
  }

  reset(): void {
    this.cpuUs = 0;
    this.wallNs = 0n;
    this.blocks = 0;
  }
}

// ───────────────────────────── identities and modes ─────────────────────────────

const serverId: KeyPair = generateIdentity(provider);
const caId: KeyPair = generateIdentity(provider);
const t0 = Date.now();
const certificate = issueCertificate(provider, caId, {
  serverName: SERVER_NAME,
  publicKey: serverId.publicKey,
  notBefore: t0 - 3_600_000,
  notAfter: t0 + 24 * 3_600_000,
});

interface Mode {
  key: string;
  label: string;
  trust: 'pinned' | 'ca' | null;
  suite: CipherSuite | null;
  /** Provider of both sides. */
  provider: CryptoProvider;
  /** 'issue': full handshake, the server issues a ticket; 'resume': resume with a ticket (no certificate, no signature). */
  resume?: 'issue' | 'resume';
}

const MODES: Mode[] = [
  {
    key: 'legacy_aes_pinned',
    label: 'node (before: keygen + JWK export), AES-128-GCM, pinned key',
    trust: 'pinned',
    suite: AES,
    provider: legacyNode,
  },
  { key: 'aes_pinned', label: 'node, AES-128-GCM, pinned key', trust: 'pinned', suite: AES, provider },
  { key: 'chacha_pinned', label: 'node, ChaCha20-Poly1305, pinned key', trust: 'pinned', suite: CHACHA, provider },
  { key: 'aes_ca', label: 'node, AES-128-GCM, CA chain (1 cert)', trust: 'ca', suite: AES, provider },
  { key: 'chacha_ca', label: 'node, ChaCha20-Poly1305, CA chain (1 cert)', trust: 'ca', suite: CHACHA, provider },
  ...(sodium
    ? [
        { key: 'sodium_aes_pinned', label: 'sodium, AES-128-GCM, pinned key', trust: 'pinned' as const, suite: AES, provider: sodium },
        { key: 'sodium_chacha_pinned', label: 'sodium, ChaCha20-Poly1305, pinned key', trust: 'pinned' as const, suite: CHACHA, provider: sodium },
        { key: 'sodium_chacha_ca', label: 'sodium, ChaCha20-Poly1305, CA chain (1 cert)', trust: 'ca' as const, suite: CHACHA, provider: sodium },
      ]
    : []),
  { key: 'tickets_aes_pinned', label: 'node, AES-128-GCM, pinned key, full + ticket issued', trust: 'pinned', suite: AES, provider, resume: 'issue' },
  { key: 'resumed_aes_pinned', label: 'node, AES-128-GCM, pinned key, RESUMED (ticket)', trust: 'pinned', suite: AES, provider, resume: 'resume' },
  { key: 'tickets_aes_ca', label: 'node, AES-128-GCM, CA chain, full + ticket issued', trust: 'ca', suite: AES, provider, resume: 'issue' },
  { key: 'resumed_aes_ca', label: 'node, AES-128-GCM, CA chain, RESUMED (ticket)', trust: 'ca', suite: AES, provider, resume: 'resume' },
  ...(sodium
    ? [
        {
          key: 'sodium_resumed_chacha_pinned',
          label: 'sodium, ChaCha20-Poly1305, pinned key, RESUMED (ticket)',
          trust: 'pinned' as const,
          suite: CHACHA,
          provider: sodium,
          resume: 'resume' as const,
        },
      ]
    : []),
  { key: 'insecure', label: 'insecure (plaintext handshake)', trust: null, suite: null, provider },
];

/**
 * Resumed modes: the server's ticket policy, and a client config that offers a fresh ticket every time (the
 * first one earned by a real handshake, the next ones re-sealed with new ids by the same key ring).
 */
function resumingCrypto(mode: Mode, serverProvider: CryptoProvider): { client: CryptoConfig; server: CryptoConfig } {
  const policy: TicketPolicy = {
    keys: new TicketKeyRing({ provider: mode.provider, now: () => Date.now() }),
    perConnection: 1,
    maxEarlyData: 0,
    freshnessWindow: 10_000,
    singleUse: new SingleUseStore({ maxEntries: 1_000_000 }),
    now: () => Date.now(),
    stats: newTicketStats(),
  };
  const server = secureCrypto({
    provider: serverProvider,
    server: { identity: serverId, certificateChain: mode.trust === 'ca' ? [certificate] : undefined, tickets: policy },
  });
  let first: SessionTicket | null = null;
  const trust = { ...clientTrust(mode), serverName: SERVER_NAME, now: () => Date.now(), suites: [mode.suite!] };
  const c = createClientSession({
    provider: mode.provider,
    alpn: ALPN,
    transportParameters: TRANSPORT_PARAMETERS,
    onTicket: (t) => (first = t),
    ...trust,
  });
  const s = server.createSession({ isClient: false, transportParameters: TRANSPORT_PARAMETERS, alpn: ALPN });
  c.start();
  for (let moved = true; moved && !first;) {
    moved = false;
    for (const [src, dst] of [
      [c, s],
      [s, c],
    ] as const) {
      for (let o = src.pollOutput(); o; o = src.pollOutput()) {
        moved = true;
        dst.handleCrypto(o.level, o.data);
      }
    }
  }
  const base = first as SessionTicket | null;
  if (!base) throw new Error(`${mode.key}: no ticket`);
  const state = policy.keys.open(base.ticket)!;
  const clientInitial = secureCrypto({ provider: mode.provider, client: trust });
  if (mode.resume === 'issue') return { client: clientInitial, server };
  const client: CryptoConfig = {
    createSession(args) {
      const ticket = policy.keys.seal({ ...state, ticketId: mode.provider.randomBytes(16), issuedAt: Date.now() });
      return secureCrypto({ provider: mode.provider, client: { ...trust, ticket: { ...base, ticket, receivedAt: Date.now() } } }).createSession(args);
    },
    // The client's Initial keys on the client's provider: the attribution table meters only the server's.
    initialProtectors: (dcid, isClient) => clientInitial.initialProtectors(dcid, isClient),
  };
  return { client, server };
}

function clientTrust(mode: Mode): { serverKey?: Uint8Array; trustedCAs?: Uint8Array[] } {
  return mode.trust === 'pinned' ? { serverKey: serverId.publicKey } : { trustedCAs: [caId.publicKey] };
}

/** Crypto configs of a mode; the server's records its last session so the negotiated suite can be checked. */
function cryptoFor(
  mode: Mode,
  serverProvider: CryptoProvider = mode.provider,
): { client: CryptoConfig; server: CryptoConfig; lastServer: () => HandshakeSession | null } {
  if (mode.suite === null) return { client: insecureCrypto, server: insecureCrypto, lastServer: () => null };
  if (mode.resume) {
    const r = resumingCrypto(mode, serverProvider);
    let lastResumed: HandshakeSession | null = null;
    const server: CryptoConfig = {
      createSession(args) {
        lastResumed = r.server.createSession(args);
        return lastResumed;
      },
      initialProtectors: (dcid, isClient) => r.server.initialProtectors(dcid, isClient),
    };
    return { client: r.client, server, lastServer: () => lastResumed };
  }
  const client = secureCrypto({
    provider: mode.provider,
    client: { ...clientTrust(mode), serverName: SERVER_NAME, now: () => Date.now(), suites: [mode.suite] },
  });
  const base = secureCrypto({
    provider: serverProvider,
    server: { identity: serverId, certificateChain: mode.trust === 'ca' ? [certificate] : undefined },
  });
  let last: HandshakeSession | null = null;
  const server: CryptoConfig = {
    createSession(args) {
      last = base.createSession(args);
      return last;
    },
    initialProtectors: (dcid, isClient) => base.initialProtectors(dcid, isClient),
  };
  return { client, server, lastServer: () => last };
}

/** The provider with every method metered (CPU µs and calls per method), for the attribution table. */
function meteredProvider(base: CryptoProvider): { provider: CryptoProvider; stats: Map<string, { calls: number; us: number }> } {
  const stats = new Map<string, { calls: number; us: number }>();
  const wrapped: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(base) as Array<[string, (...a: unknown[]) => unknown]>) {
    const s = { calls: 0, us: 0 };
    stats.set(name, s);
    wrapped[name] = (...args: unknown[]): unknown => {
      const c0 = process.cpuUsage();
      try {
        return f(...args);
      } finally {
        const c = process.cpuUsage(c0);
        s.calls++;
        s.us += c.user + c.system;
      }
    };
  }
  return { provider: wrapped as unknown as CryptoProvider, stats };
}

// ───────────────────────────── endpoint-level handshake ─────────────────────────────

const env = nodeEnv();
const clientAddr: PeerAddress = { host: '10.0.0.1', port: 50000 };
const serverAddr: PeerAddress = { host: '10.0.0.2', port: 4433 };
const txBuf = new Uint8Array(2048);

interface InFlight {
  at: number;
  data: Uint8Array;
  toServer: boolean;
}

/** One handshake between fresh endpoints; adds the server's (and client's) metered time to the meters. */
function endpointHandshake(mode: Mode, crypto: ReturnType<typeof cryptoFor>, server: Meter, client: Meter): { datagrams: number } {
  const options = { alpn: ALPN, serverName: SERVER_NAME };
  const sEp = new Endpoint({ env, server: { crypto: crypto.server, options: { alpn: ALPN } } });
  const cEp = new Endpoint({ env });
  const queue: InFlight[] = [];
  let now = 0;
  let serverConnected = false;
  let clientConfirmed = false;
  let failure: string | null = null;
  let datagrams = 0;
  let tc: number | null = null;
  let ts: number | null = null;

  const onEvent = (side: string, e: EndpointEvent): void => {
    if (e.kind !== 'connection') return;
    if (e.event.type === 'connected' && side === 'server') serverConnected = true;
    else if (e.event.type === 'handshake_confirmed' && side === 'client') clientConfirmed = true;
    else if (e.event.type === 'closed') failure = `${side} closed: ${e.event.info.reason || e.event.info.errorCode}`;
  };
  /** One turn of one side: datagrams due, timers, everything it wants to send, its events, its next deadline. */
  const turn = (ep: Endpoint, side: 'client' | 'server'): number | null => {
    const toServer = side === 'server';
    for (let i = 0; i < queue.length;) {
      const d = queue[i]!;
      if (d.toServer === toServer && d.at <= now) {
        queue.splice(i, 1);
        ep.handleDatagram(d.data, toServer ? clientAddr : serverAddr, now);
      } else i++;
    }
    ep.handleTimeout(now);
    for (let t = ep.pollTransmit(now, txBuf); t; t = ep.pollTransmit(now, txBuf)) {
      queue.push({ at: now + ONE_WAY_MS, data: txBuf.slice(0, t.length), toServer: !toServer });
      datagrams++;
    }
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) onEvent(side, e);
    return ep.pollTimeout();
  };

  client.run(() => {
    cEp.connect({ remote: serverAddr, crypto: crypto.client, options, now });
  });
  for (let guard = 0; ; guard++) {
    client.run(() => (tc = turn(cEp, 'client')));
    server.run(() => (ts = turn(sEp, 'server')));
    if (failure) throw new Error(`${mode.key}: ${failure}`);
    if (serverConnected && clientConfirmed && queue.length === 0) break;
    let next = Infinity;
    for (const d of queue) if (d.at < next) next = d.at;
    if (tc !== null && tc < next) next = tc;
    if (ts !== null && ts < next) next = ts;
    if (next === Infinity || next > 10_000 || guard > 10_000) throw new Error(`${mode.key}: handshake stalled at ${now} ms`);
    now = Math.max(now, next);
  }
  const s = crypto.lastServer() as ServerHandshake | null;
  if (mode.suite !== null && s?.cipherSuite !== mode.suite) throw new Error(`${mode.key}: negotiated ${String(s?.cipherSuite)}`);
  if ((mode.resume === 'resume') !== (s?.resumedSession === true) && mode.suite !== null) {
    throw new Error(`${mode.key}: resumed = ${String(s?.resumedSession)}`);
  }
  return { datagrams };
}

// ───────────────────────────── crypto handshake alone ─────────────────────────────

/** One ServerHandshake fed a ClientHandshake's messages directly; only server session calls are metered. */
function sessionHandshake(mode: Mode, server: Meter, client: Meter, crypto?: ReturnType<typeof cryptoFor>): void {
  const suites = [mode.suite!];
  let c!: HandshakeSession;
  let s!: HandshakeSession;
  client.run(() => {
    c = mode.resume
      ? crypto!.client.createSession({ isClient: true, transportParameters: TRANSPORT_PARAMETERS, alpn: ALPN, serverName: SERVER_NAME })
      : createClientSession({
          provider: mode.provider,
          suites,
          alpn: ALPN,
          transportParameters: TRANSPORT_PARAMETERS,
          serverName: SERVER_NAME,
          now: () => Date.now(),
          ...clientTrust(mode),
        });
    c.start();
  });
  server.run(() => {
    s = mode.resume
      ? crypto!.server.createSession({ isClient: false, transportParameters: TRANSPORT_PARAMETERS, alpn: ALPN })
      : createServerSession({
          provider: mode.provider,
          alpn: ALPN,
          transportParameters: TRANSPORT_PARAMETERS,
          identity: serverId,
          certificateChain: mode.trust === 'ca' ? [certificate] : [],
        });
    s.start();
  });
  const out: Array<{ level: Parameters<HandshakeSession['handleCrypto']>[0]; data: Uint8Array }> = [];
  for (let moved = true; moved;) {
    moved = false;
    client.run(() => {
      for (let o = c.pollOutput(); o; o = c.pollOutput()) out.push(o);
      while (c.pollKeys());
    });
    if (out.length) moved = true;
    server.run(() => {
      for (const o of out.splice(0)) {
        const err = s.handleCrypto(o.level, o.data);
        if (err) throw new Error(`${mode.key} session: server ${err.reason}`);
      }
      for (let o = s.pollOutput(); o; o = s.pollOutput()) out.push(o);
      while (s.pollKeys());
    });
    if (out.length) moved = true;
    client.run(() => {
      for (const o of out.splice(0)) {
        const err = c.handleCrypto(o.level, o.data);
        if (err) throw new Error(`${mode.key} session: client ${err.reason}`);
      }
    });
  }
  if (!c.complete || !s.complete) throw new Error(`${mode.key} session: handshake did not complete`);
}

// ───────────────────────────── primitives ─────────────────────────────

/** CPU µs (cpuUsage user+system) per call of f, the median of 5 batches: CPU, like the handshake figures. */
function perOp(f: () => void, iterations: number): number {
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) f();
    const c = process.cpuUsage(c0);
    samples.push((c.user + c.system) / iterations);
  }
  return median(samples);
}

// ───────────────────────────── run ─────────────────────────────

interface Samples {
  cpu: number[];
  wall: number[];
  clientCpu: number[];
  blocks: number;
  datagrams: number;
}

const newSamples = (): Samples => ({ cpu: [], wall: [], clientCpu: [], blocks: 0, datagrams: 0 });

function runAll(): void {
  console.log(`# Petrel handshake benchmark: server CPU per handshake`);
  console.log(`${environmentLine()}; ${N} handshakes per mode after ${WARMUP} warm-up, ${ROUNDS} interleaved rounds\n`);

  const cryptos = new Map(MODES.map((m) => [m.key, cryptoFor(m)]));
  const server = new Meter();
  const client = new Meter();
  const ep = new Map(MODES.map((m) => [m.key, newSamples()]));
  const sess = new Map(MODES.filter((m) => m.suite).map((m) => [m.key, newSamples()]));

  const once = (m: Mode, record: boolean, sessionLevel: boolean): void => {
    server.reset();
    client.reset();
    let datagrams = 0;
    if (sessionLevel) sessionHandshake(m, server, client, cryptos.get(m.key));
    else datagrams = endpointHandshake(m, cryptos.get(m.key)!, server, client).datagrams;
    if (!record) return;
    const s = (sessionLevel ? sess : ep).get(m.key)!;
    s.cpu.push(server.cpuUs);
    s.wall.push(Number(server.wallNs) / 1000);
    s.clientCpu.push(client.cpuUs);
    s.blocks = server.blocks;
    s.datagrams = datagrams;
  };

  for (const m of MODES) {
    for (let i = 0; i < WARMUP; i++) {
      once(m, false, false);
      if (m.suite) once(m, false, true);
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const count = Math.floor(N / ROUNDS) + (r < N % ROUNDS ? 1 : 0);
    for (const m of MODES) {
      for (let i = 0; i < count; i++) once(m, true, false);
      if (m.suite) for (let i = 0; i < count; i++) once(m, true, true);
    }
  }

  // What one metered block costs with nothing inside (two cpuUsage calls straddle it).
  const empty = new Meter();
  for (let i = 0; i < 20_000; i++) empty.run(() => {});
  const blockOverheadUs = empty.cpuUs / empty.blocks;

  const results = new Results();
  const rows: string[][] = [];
  const addRows = (prefix: string, what: string, samples: Map<string, Samples>): void => {
    for (const m of MODES) {
      const s = samples.get(m.key);
      if (!s) continue;
      const key = `${prefix}${m.key}`;
      const p50 = median(s.cpu);
      const p90 = quantile(s.cpu, 0.9);
      rows.push([
        `${what}: ${m.label}`,
        fmt(p50),
        fmt(p90),
        fmt(median(s.wall)),
        fmt(quantile(s.wall, 0.9)),
        si(1e6 / p50),
        fmt(median(s.clientCpu)),
        String(s.blocks),
        prefix ? '' : String(s.datagrams),
      ]);
      results.set(`${key}_server_cpu_us_p50`, p50);
      results.set(`${key}_server_cpu_us_p90`, p90);
      results.set(`${key}_server_wall_us_p50`, median(s.wall));
      results.set(`${key}_client_cpu_us_p50`, median(s.clientCpu));
    }
  };
  addRows('', 'endpoint', ep);
  addRows('session_', 'session only', sess);
  console.log(
    table(
      [
        'Handshake (server side)',
        'CPU µs p50',
        'CPU µs p90',
        'wall µs p50',
        'wall µs p90',
        'handshakes/s/core',
        'client CPU µs p50',
        'server blocks',
        'datagrams',
      ],
      rows,
    ),
  );
  console.log(
    `\nCPU = process.cpuUsage() user+system summed over the server's metered blocks; each block includes ~${fmt(blockOverheadUs)} µs of` +
      ` cpuUsage() itself. wall = hrtime inside the same blocks. handshakes/s/core = 1e6 / CPU p50.` +
      ` "session only" = the crypto handshake without packets, transport parameters or connection state.\n`,
  );
  results.set('block_overhead_us', blockOverheadUs);

  // Where the server's time goes: the AES pinned-key handshake again, its server on a metered provider.
  const attributedModes = MODES.filter((m) => m.key === 'aes_pinned' || m.key === 'resumed_aes_pinned' || m.key === 'sodium_chacha_pinned');
  for (const aes of attributedModes) {
    const metered = meteredProvider(aes.provider);
    const attributed = cryptoFor(aes, metered.provider);
    const runs = quick ? 5 : 200;
    for (const s of metered.stats.values()) s.calls = s.us = 0;
    server.reset();
    for (let i = 0; i < runs; i++) endpointHandshake(aes, attributed, server, client);
    const attrRows: string[][] = [];
    let providerUs = 0;
    for (const [name, s] of [...metered.stats].sort((a, b) => b[1].us - a[1].us)) {
      if (s.calls === 0) continue;
      providerUs += s.us;
      attrRows.push([name, fmt(s.calls / runs), fmt(s.us / runs), fmt(s.us / s.calls), `${fmt((s.us / server.cpuUs) * 100)}%`]);
    }
    attrRows.push(['all provider calls', '', fmt(providerUs / runs), '', `${fmt((providerUs / server.cpuUs) * 100)}%`]);
    attrRows.push(['server total (metered blocks)', '', fmt(server.cpuUs / runs), '', '100%']);
    console.log(`Server CPU by crypto-provider method, ${aes.label}, mean of ${runs} endpoint handshakes (per-packet AEAD work is in the`);
    console.log('Aead objects createAead returns and is not listed; each metered call adds ~1 µs of cpuUsage()):\n');
    console.log(table(['Provider method', 'calls/handshake', 'CPU µs/handshake', 'CPU µs/call', 'share of server CPU'], attrRows));
    console.log('');
    results.set(`${aes.key}_provider_share_pct`, (providerUs / server.cpuUs) * 100);
    for (const k of ['x25519', 'x25519Generate', 'ed25519Sign', 'hkdfExpand']) {
      const s = metered.stats.get(k)!;
      results.set(`${aes.key}_provider_${k.toLowerCase()}_us`, s.us / runs);
    }
  }

  // The primitives a server handshake uses once each (ECDHE keygen + agreement, one CertificateVerify
  // signature), through the provider and as bare node:crypto calls, with peers.md's figures beside them.
  const peer = provider.x25519Generate();
  const x = provider.x25519Generate();
  const msg = new Uint8Array(64);
  randomFillSync(msg);
  const sig = provider.ed25519Sign(serverId.privateKey, msg);
  const kx = generateKeyPairSync('x25519');
  const kxPeer = generateKeyPairSync('x25519');
  const ked = generateKeyPairSync('ed25519');
  const pkcs8 = kx.privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = kx.publicKey.export({ format: 'der', type: 'spki' });
  const jwkPrivate = kx.privateKey.export({ format: 'jwk' });
  const jwkPublic = kx.publicKey.export({ format: 'jwk' });
  const iters = quick ? 20 : 1000;
  const prims: Array<[string, string, number, string]> = [
    ['provider x25519Generate', 'x25519_generate_us', perOp(() => provider.x25519Generate(), iters), '35 (keygen only)'],
    [
      'provider x25519 (cached KeyObject of our key, imports the peer key)',
      'x25519_us',
      perOp(() => provider.x25519(x.privateKey, peer.publicKey), iters),
      '39 (peer key import only)',
    ],
    [
      'provider ed25519Sign, 64 B (server, once)',
      'ed25519_sign_us',
      perOp(() => provider.ed25519Sign(serverId.privateKey, msg), iters),
      '31 (KeyObject)',
    ],
    [
      'provider ed25519Verify, 64 B (client; 2x with a CA)',
      'ed25519_verify_us',
      perOp(() => provider.ed25519Verify(serverId.publicKey, msg, sig), iters),
      '91 (KeyObject)',
    ],
    ['provider hkdfExpand, 32 B', 'hkdf_expand_us', perOp(() => provider.hkdfExpand(msg.subarray(0, 32), msg.subarray(0, 20), 32), iters * 5), ''],
    ['provider sha256, 1 KiB (transcript)', 'sha256_1k_us', perOp(() => provider.sha256(txBuf.subarray(0, 1024)), iters * 5), ''],
    ...(sodium
      ? [
          ['sodium x25519Generate', 'sodium_x25519_generate_us', perOp(() => sodium.x25519Generate(), iters), ''] as [string, string, number, string],
          ['sodium x25519', 'sodium_x25519_us', perOp(() => sodium.x25519(x.privateKey, peer.publicKey), iters), ''] as [
            string,
            string,
            number,
            string,
          ],
          ['sodium ed25519Sign, 64 B', 'sodium_ed25519_sign_us', perOp(() => sodium.ed25519Sign(serverId.privateKey, msg), iters), ''] as [
            string,
            string,
            number,
            string,
          ],
          [
            'sodium hkdfExpand, 32 B',
            'sodium_hkdf_expand_us',
            perOp(() => sodium.hkdfExpand(msg.subarray(0, 32), msg.subarray(0, 20), 32), iters * 5),
            '',
          ] as [string, string, number, string],
        ]
      : []),
    ['node:crypto generateKeyPairSync x25519', 'node_x25519_keygen_us', perOp(() => generateKeyPairSync('x25519'), iters), '35'],
    [
      'node:crypto diffieHellman, KeyObjects',
      'node_x25519_dh_us',
      perOp(() => diffieHellman({ privateKey: kx.privateKey, publicKey: kxPeer.publicKey }), iters),
      '33',
    ],
    ['node:crypto sign Ed25519, KeyObject', 'node_ed25519_sign_us', perOp(() => sign(null, msg, ked.privateKey), iters), '31'],
    [
      'node:crypto createPrivateKey, PKCS#8 DER',
      'node_import_pkcs8_us',
      perOp(() => createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }), iters),
      '',
    ],
    [
      'node:crypto createPublicKey, SPKI DER',
      'node_import_spki_us',
      perOp(() => createPublicKey({ key: spki, format: 'der', type: 'spki' }), iters),
      '',
    ],
    ['node:crypto createPrivateKey, JWK', 'node_import_jwk_private_us', perOp(() => createPrivateKey({ key: jwkPrivate, format: 'jwk' }), iters), ''],
    ['node:crypto createPublicKey, JWK', 'node_import_jwk_public_us', perOp(() => createPublicKey({ key: jwkPublic, format: 'jwk' }), iters), ''],
  ];
  console.log(
    table(
      ['Primitive (CPU µs, median of 5 batches)', 'µs/op', 'ops/s', 'peers.md µs'],
      prims.map(([l, , us, ref]) => [l, fmt(us), si(1e6 / us), ref]),
    ),
  );
  for (const [, k, us] of prims) results.set(k, us);
  const floor = prims[0]![2] + prims[1]![2] + prims[2]![2];
  console.log(`\nServer primitive floor through the provider (x25519Generate + x25519 + ed25519Sign): ${fmt(floor)} µs.`);
  results.set('server_primitive_floor_us', floor);
  results.set('handshakes', N);
  console.log(results.line());
}

try {
  runAll();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
}
