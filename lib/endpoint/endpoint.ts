/**
 * A sans-IO endpoint: one per socket. It checks every datagram's CRC, routes it to its connection by
 * destination connection id, accepts new connections (server), answers unknown versions with Version
 * Negotiation, and merges all connections' deadlines into one (so a driver needs one timer per socket).
 */
import { Connection } from '../connection/connection.js';
import type { ConnectionEvent, ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../connection/types.js';
import { PetrelWireError } from '../errors.js';
import { CID_LENGTH, PETREL_VERSION, parsePacketHeader, writeVersionNegotiation, type LongHeader } from '../wire/packet.js';
import { PLAINTEXT_PROTECTOR } from '../crypto/types.js';
import {
  CRC_LENGTH,
  MIN_INITIAL_DATAGRAM,
  STATELESS_RESET_MIN,
  appendChecksum,
  verifyChecksum,
  writeStatelessReset,
} from '../wire/datagram.js';
import { DeadlineHeap } from './deadline-heap.js';
import { InsecureMessage, insecureCrypto } from '../crypto/insecure.js';
import { initialOpens, writeRefusal, type RefusalCode } from './refusal.js';

export interface ServerConfig {
  crypto: CryptoConfig;
  options?: ConnectionOptions;
  /** Most concurrent connections; further Initials are refused statelessly with SERVER_BUSY (counted as 'refused'). */
  maxConnections?: number;
  /**
   * Called once per new connection after its first Initial was processed: return a reason to refuse it
   * (the client sees PetrelError REFUSED with that reason within one round trip), or null to accept.
   */
  accept?: (info: AcceptInfo) => string | null;
  /**
   * Initial protectors of the other protection mode, used only to recognise a client whose `insecure`
   * setting differs from ours and refuse it with INSECURE_MISMATCH. A secure server knows the plaintext
   * mode itself; an insecure server needs the secure one given here (the public API does).
   */
  otherModeInitialProtectors?: CryptoConfig['initialProtectors'];
}

/** What the accept hook knows about a connection attempt. */
export interface AcceptInfo {
  address: PeerAddress;
  /** The protocol the handshake chose ('' for none), or null if the ClientHello is not complete yet. */
  alpn: string | null;
  /** The server name the client asked for, if any. */
  serverName: string | null;
}

export interface EndpointConfig {
  env: CoreEnv;
  /**
   * Per-connection trace sink (e.g. a qlog file per connection), asked once per new connection; return
   * undefined for none. Without it connections use env.trace (usually absent: no trace cost at all).
   */
  traceFor?: (info: { isClient: boolean; odcid: Uint8Array; remote: PeerAddress }) => CoreEnv['trace'] | undefined;
  /** Present on endpoints that accept connections. */
  server?: ServerConfig;
}

export type EndpointEvent =
  | { kind: 'accept'; connection: Connection }
  | { kind: 'connection'; connection: Connection; event: ConnectionEvent };

export interface EndpointStats {
  datagramsReceived: number;
  datagramsSent: number;
  connectionsAccepted: number;
  connectionsActive: number;
  /** Datagrams dropped before reaching a connection, by reason. */
  drops: Record<string, number>;
}

/** Most stateless refusals (SERVER_BUSY, REFUSED, INSECURE_MISMATCH) an endpoint sends per second. */
const REFUSALS_PER_SECOND = 100;
/** Most stateless resets an endpoint sends per second. */
const RESETS_PER_SECOND = 100;
const TOKEN_LENGTH = 16;

/** Connection-id bytes as a compact Map key (one short string per lookup). */
function cidKey(buf: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(buf[off + i]!);
  return s;
}

export class Endpoint {
  private readonly env: CoreEnv;
  private readonly server: ServerConfig | undefined;
  private readonly traceFor: EndpointConfig['traceFor'];
  private readonly byCid = new Map<string, Connection>();
  private readonly keys = new Map<Connection, Set<string>>();
  /** Reset tokens of our peers' ids → connection (a datagram ending in one is a stateless reset). */
  private readonly byToken = new Map<string, Connection>();
  /** Server connections whose ClientHello the accept hook has not judged yet. */
  private readonly awaitingAccept = new Map<Connection, { clientScid: Uint8Array; odcid: Uint8Array; localCid: Uint8Array }>();
  /** Stateless refusals we may still send in the current second (a bound against reflection). */
  private refusalBudget = REFUSALS_PER_SECOND;
  private refusalWindowStart = 0;
  /** Stateless resets we may still send in the current second (a bound against reflection). */
  private resetBudget = RESETS_PER_SECOND;
  private resetWindowStart = 0;
  /** Connections that may have output or events since they were last polled. */
  private readonly active = new Set<Connection>();
  private readonly timers = new DeadlineHeap<Connection>();
  private readonly pendingEvents: EndpointEvent[] = [];
  /** Endpoint-level datagrams (Version Negotiation), already complete with CRC. */
  private readonly outbox: Array<{ data: Uint8Array; to: PeerAddress }> = [];
  private readonly counters = { datagramsReceived: 0, datagramsSent: 0, connectionsAccepted: 0 };
  readonly drops: Record<string, number> = {};
  /** When true the endpoint accepts no new connections (server closing). */
  refuseNew = false;

  constructor(config: EndpointConfig) {
    this.env = config.env;
    this.server = config.server;
    this.traceFor = config.traceFor;
  }

  get connectionCount(): number {
    return this.keys.size;
  }

  connections(): IterableIterator<Connection> {
    return this.keys.keys();
  }

  /** Starts a client connection to `remote`. */
  connect(args: { remote: PeerAddress; crypto: CryptoConfig; options?: ConnectionOptions; now: number }): Connection {
    const localCid = this.freshCid();
    const dcid = new Uint8Array(CID_LENGTH);
    this.env.randomFill(dcid);
    const conn = new Connection({
      isClient: true,
      env: this.env,
      crypto: args.crypto,
      options: args.options,
      remote: args.remote,
      now: args.now,
      localCid,
      remoteCid: dcid,
      trace: this.traceFor?.({ isClient: true, odcid: dcid, remote: args.remote }),
    });
    this.register(conn, [cidKey(localCid, 0, localCid.length)]);
    this.touch(conn);
    return conn;
  }

  /** Processes one received UDP datagram (bytes include the CRC trailer). */
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    this.counters.datagramsReceived++;
    if (data.length < 1 + CRC_LENGTH + 1) {
      this.drop('too_short');
      return;
    }
    if (!verifyChecksum(data, data.length, this.env.crc32)) {
      this.drop('checksum');
      return;
    }
    const body = data.subarray(0, data.length - CRC_LENGTH);
    const first = body[0]!;
    let conn: Connection | undefined;
    if (first & 0x80) {
      // Long header: version (4) then DCID length and DCID.
      if (body.length < 7) {
        this.drop('malformed_header');
        return;
      }
      const dcidLen = body[5]!;
      if (dcidLen > 20 || 6 + dcidLen > body.length) {
        this.drop('malformed_header');
        return;
      }
      conn = this.byCid.get(cidKey(body, 6, dcidLen));
      if (!conn) {
        this.handleUnknownLong(body, data.length, from, now);
        return;
      }
    } else {
      if (body.length < 1 + CID_LENGTH) {
        this.drop('malformed_header');
        return;
      }
      conn = this.byCid.get(cidKey(body, 1, CID_LENGTH));
      if (!conn) {
        this.handleUnknownShort(data, from, now);
        return;
      }
    }
    conn.handleDatagram(body, from, now);
    if (this.awaitingAccept.has(conn) && this.decideAccept(conn, from, now)) return;
    this.touch(conn);
  }

  /**
   * A short-header datagram for an id we do not know: either a stateless reset from a peer that lost our
   * state (it ends in a token we know), or a packet for a connection we forgot (answer with a reset).
   */
  private handleUnknownShort(data: Uint8Array, from: PeerAddress, now: number): void {
    if (data.length >= STATELESS_RESET_MIN) {
      const tokenAt = data.length - CRC_LENGTH - TOKEN_LENGTH;
      const conn = this.byToken.get(cidKey(data, tokenAt, TOKEN_LENGTH));
      if (conn) {
        this.drop('stateless_reset');
        conn.onStatelessReset();
        this.touch(conn);
        return;
      }
    }
    this.drop('unknown_connection');
    const tokenFor = this.env.resetToken;
    // A reset is smaller than what triggered it, so two endpoints cannot loop (RFC 9000 §10.3.3).
    if (!tokenFor || data.length <= STATELESS_RESET_MIN) return;
    if (now - this.resetWindowStart >= 1000) {
      this.resetWindowStart = now;
      this.resetBudget = RESETS_PER_SECOND;
    }
    if (this.resetBudget <= 0) return;
    this.resetBudget--;
    const token = tokenFor(data.subarray(1, 1 + CID_LENGTH));
    const size = Math.max(STATELESS_RESET_MIN, Math.min(data.length - 1, STATELESS_RESET_MIN + 16));
    const random = new Uint8Array(size - TOKEN_LENGTH - CRC_LENGTH);
    this.env.randomFill(random);
    const buf = new Uint8Array(size);
    const len = writeStatelessReset(buf, random, token, this.env.crc32);
    this.outbox.push({ data: buf.subarray(0, len), to: from });
  }

  private handleUnknownLong(body: Uint8Array, size: number, from: PeerAddress, now: number): void {
    let h;
    try {
      h = parsePacketHeader(body, 0, body.length, CID_LENGTH);
    } catch (e) {
      if (e instanceof PetrelWireError) {
        this.drop('malformed_header');
        return;
      }
      throw e;
    }
    if (h.form === 'version_negotiation' || h.form === 'retry' || h.form === 'short') {
      this.drop('unknown_connection');
      return;
    }
    if (!this.server) {
      this.drop('not_a_server');
      return;
    }
    // Only a full-size datagram may trigger a response, so we never amplify small spoofed ones.
    if (size < MIN_INITIAL_DATAGRAM) {
      this.drop('initial_too_small');
      return;
    }
    if (h.form === 'unsupported_version' || h.version !== PETREL_VERSION) {
      this.sendVersionNegotiation(h.scid, h.dcid, from);
      this.drop('unsupported_version');
      return;
    }
    if (h.type !== 'initial') {
      this.drop('unknown_connection');
      return;
    }
    if (h.dcid.length < 8) {
      this.drop('short_initial_dcid');
      return;
    }
    if (this.refuseNew || (this.server.maxConnections !== undefined && this.keys.size >= this.server.maxConnections)) {
      this.drop('refused');
      this.refuse(h, from, now, 'SERVER_BUSY', this.refuseNew ? 'server is closing' : 'server is full', this.server.crypto.initialProtectors);
      return;
    }
    const other = this.otherMode(body, h);
    if (other) {
      this.drop('insecure_mismatch');
      this.refuse(h, from, now, 'INSECURE_MISMATCH', other.reason, other.protectors);
      return;
    }
    const localCid = this.freshCid();
    const conn = new Connection({
      isClient: false,
      env: this.env,
      crypto: this.server.crypto,
      options: this.server.options,
      remote: from,
      now,
      localCid,
      remoteCid: h.scid.slice(),
      originalDcid: h.dcid.slice(),
      trace: this.traceFor?.({ isClient: false, odcid: h.dcid, remote: from }),
    });
    // Retransmitted client Initials still carry the original DCID until the client learns ours.
    this.register(conn, [cidKey(localCid, 0, localCid.length), cidKey(h.dcid, 0, h.dcid.length)]);
    if (this.server.accept) {
      // The hook needs the whole ClientHello, which may span several Initials: the connection is
      // surfaced (and its events released) only once the hook has accepted it.
      this.awaitingAccept.set(conn, { clientScid: h.scid.slice(), odcid: h.dcid.slice(), localCid });
      conn.handleDatagram(body, from, now);
      if (this.decideAccept(conn, from, now)) return;
      this.touch(conn);
      return;
    }
    this.counters.connectionsAccepted++;
    this.pendingEvents.push({ kind: 'accept', connection: conn });
    conn.handleDatagram(body, from, now);
    this.touch(conn);
  }

  /**
   * Runs the accept hook once the connection has read the ClientHello. Returns true when the connection was
   * refused (and forgotten: the stateless refusal is all the client gets; its ServerHello never leaves).
   */
  private decideAccept(conn: Connection, from: PeerAddress, now: number): boolean {
    const alpn = conn.negotiatedAlpn;
    if (alpn === null && conn.state === 'handshake') return false; // ClientHello not complete yet
    const pending = this.awaitingAccept.get(conn)!;
    this.awaitingAccept.delete(conn);
    const refusal = conn.state === 'handshake' ? this.server!.accept!({ address: { host: from.host, port: from.port }, alpn, serverName: conn.peerServerName }) : null;
    if (refusal !== null) {
      this.remove(conn);
      this.drop('refused_by_accept');
      this.sendRefusal(pending.odcid, pending.clientScid, pending.localCid, from, now, 'REFUSED', refusal, this.server!.crypto.initialProtectors);
      return true;
    }
    this.counters.connectionsAccepted++;
    this.pendingEvents.push({ kind: 'accept', connection: conn });
    return false;
  }

  /**
   * A first Initial that does not open in our protection mode but does in the other one: the client's
   * `insecure` differs from ours. Returns the other mode's protectors and a reason, or null.
   */
  private otherMode(body: Uint8Array, h: LongHeader): { protectors: CryptoConfig['initialProtectors']; reason: string } | null {
    const own = this.server!.crypto;
    const ownIsPlain = own === insecureCrypto;
    const ownOpens = initialOpens(body, h, own.initialProtectors(h.dcid, false).read, ownIsPlain ? InsecureMessage.CLIENT_HELLO : null);
    if (ownOpens) return null;
    if (!ownIsPlain) {
      if (!initialOpens(body, h, PLAINTEXT_PROTECTOR, InsecureMessage.CLIENT_HELLO)) return null;
      return { protectors: insecureCrypto.initialProtectors, reason: 'the server requires encryption; the client connected with insecure: true' };
    }
    const secure = this.server!.otherModeInitialProtectors;
    if (!secure || !initialOpens(body, h, secure(h.dcid, false).read, null)) return null;
    return { protectors: secure, reason: 'the server runs with insecure: true; the client expected encryption' };
  }

  /** Answers a first Initial with a stateless CONNECTION_CLOSE(CONNECTION_REFUSED, "CODE: reason"), rate-limited. */
  private refuse(h: LongHeader, to: PeerAddress, now: number, code: RefusalCode, reason: string, protectors: CryptoConfig['initialProtectors']): void {
    this.sendRefusal(h.dcid, h.scid, h.dcid, to, now, code, reason, protectors);
  }

  private sendRefusal(
    odcid: Uint8Array,
    clientScid: Uint8Array,
    ourCid: Uint8Array,
    to: PeerAddress,
    now: number,
    code: RefusalCode,
    reason: string,
    protectors: CryptoConfig['initialProtectors'],
  ): void {
    if (now - this.refusalWindowStart >= 1000) {
      this.refusalWindowStart = now;
      this.refusalBudget = REFUSALS_PER_SECOND;
    }
    if (this.refusalBudget <= 0) return;
    this.refusalBudget--;
    const buf = new Uint8Array(MIN_INITIAL_DATAGRAM);
    const len = writeRefusal(buf, { protector: protectors(odcid, false).write, dcid: clientScid, scid: ourCid, code, reason, crc: this.env.crc32 });
    this.outbox.push({ data: buf.subarray(0, len), to });
  }

  private sendVersionNegotiation(dcid: Uint8Array, scid: Uint8Array, to: PeerAddress): void {
    const buf = new Uint8Array(64 + dcid.length + scid.length);
    const rnd = new Uint8Array(1);
    this.env.randomFill(rnd);
    const len = writeVersionNegotiation(buf, 0, { dcid, scid, versions: [PETREL_VERSION], unused: rnd[0]! & 0x7f });
    const total = appendChecksum(buf, len, this.env.crc32);
    this.outbox.push({ data: buf.subarray(0, total), to });
  }

  private freshCid(): Uint8Array {
    const cid = new Uint8Array(CID_LENGTH);
    do this.env.randomFill(cid);
    while (this.byCid.has(cidKey(cid, 0, cid.length)));
    return cid;
  }

  private register(conn: Connection, keys: string[]): void {
    const set = new Set(keys);
    for (const k of set) this.byCid.set(k, conn);
    this.keys.set(conn, set);
    conn.onWake = () => this.touch(conn);
    conn.onCidChange = (added, removed) => {
      for (const c of added) {
        const k = cidKey(c, 0, c.length);
        this.byCid.set(k, conn);
        set.add(k);
      }
      for (const c of removed) {
        const k = cidKey(c, 0, c.length);
        if (this.byCid.get(k) === conn) this.byCid.delete(k);
        set.delete(k);
      }
    };
    conn.onResetTokens = (added, removed) => {
      for (const t of removed) {
        const k = cidKey(t, 0, t.length);
        if (this.byToken.get(k) === conn) this.byToken.delete(k);
      }
      for (const t of added) this.byToken.set(cidKey(t, 0, t.length), conn);
    };
  }

  /** Marks a connection as possibly having output, events or a new deadline. */
  touch(conn: Connection): void {
    this.active.add(conn);
    this.timers.set(conn, conn.pollTimeout());
    if (conn.hasEvents) this.drainEvents(conn);
    if (conn.isTerminated) this.remove(conn);
  }

  private drainEvents(conn: Connection): void {
    if (this.awaitingAccept.has(conn)) return; // surfaced after the accept hook
    for (let e = conn.pollEvent(); e; e = conn.pollEvent()) {
      this.pendingEvents.push({ kind: 'connection', connection: conn, event: e });
    }
  }

  private remove(conn: Connection): void {
    const keys = this.keys.get(conn);
    if (!keys) return;
    for (const k of keys) if (this.byCid.get(k) === conn) this.byCid.delete(k);
    for (const t of conn.peerResetTokens()) {
      const k = cidKey(t, 0, t.length);
      if (this.byToken.get(k) === conn) this.byToken.delete(k);
    }
    this.keys.delete(conn);
    this.awaitingAccept.delete(conn);
    conn.onCidChange = null;
    conn.onResetTokens = null;
    this.active.delete(conn);
    this.timers.delete(conn);
    conn.onWake = null;
  }

  /** Writes the next datagram into `buf`; returns its length and destination, or null. */
  pollTransmit(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    const queued = this.outbox.shift();
    if (queued) {
      buf.set(queued.data);
      this.counters.datagramsSent++;
      return { length: queued.data.length, to: queued.to };
    }
    for (const conn of this.active) {
      const t = conn.pollTransmit(now, buf);
      if (t) {
        this.counters.datagramsSent++;
        this.timers.set(conn, conn.pollTimeout());
        if (conn.hasEvents) this.drainEvents(conn);
        return t;
      }
      this.active.delete(conn);
      this.timers.set(conn, conn.pollTimeout());
      if (conn.hasEvents) this.drainEvents(conn);
      if (conn.isTerminated) this.remove(conn);
    }
    return null;
  }

  /** Earliest deadline over all connections, or null. */
  pollTimeout(): number | null {
    if (this.outbox.length > 0 || this.active.size > 0) return -Infinity;
    return this.timers.peekTime();
  }

  /** Fires every connection deadline that is due. */
  handleTimeout(now: number): void {
    // Pop first, then fire: a connection whose deadline is only cleared by sending (an ACK due) must
    // not be popped again in the same call.
    const due: Connection[] = [];
    for (let conn = this.timers.popDue(now); conn; conn = this.timers.popDue(now)) due.push(conn);
    for (const conn of due) {
      conn.handleTimeout(now);
      this.touch(conn);
    }
  }

  pollEvent(): EndpointEvent | null {
    return this.pendingEvents.shift() ?? null;
  }

  stats(): EndpointStats {
    return { ...this.counters, connectionsActive: this.keys.size, drops: { ...this.drops } };
  }

  private drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}
