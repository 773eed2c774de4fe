/**
 * A sans-IO endpoint: one per socket. It checks every datagram's CRC, routes it to its connection by
 * destination connection id, accepts new connections (server), answers unknown versions with Version
 * Negotiation, and merges all connections' deadlines into one (so a driver needs one timer per socket).
 *
 * A server spends nothing on a datagram until its first Initial authenticates under the Initial keys, and
 * then bounds what an unproven sender can hold (spec/transport.md §Endpoint, §Address validation):
 * half-open connections (accepted, handshake not complete) are capped per endpoint and per source prefix
 * and time out after `handshakeTimeout`; past `retryThreshold` of them (or always, by option) a client must
 * first echo a Retry token, proving its address; replies to unvalidated addresses are budgeted.
 */
import { Connection } from '../connection/connection.js';
import type { ConnectionEvent, ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../connection/types.js';
import { PetrelWireError } from '../errors.js';
import { TransportErrorCode } from '../errors.js';
import {
  CID_LENGTH,
  PETREL_VERSION,
  parsePacketHeader,
  retryPseudoPacket,
  writeRetry,
  writeVersionNegotiation,
  type LongHeader,
} from '../wire/packet.js';
import { PLAINTEXT_PROTECTOR } from '../crypto/types.js';
import { CRC_LENGTH, MIN_INITIAL_DATAGRAM, STATELESS_RESET_MIN, appendChecksum, verifyChecksum, writeStatelessReset } from '../wire/datagram.js';
import { DeadlineHeap } from './deadline-heap.js';
import { ActiveQueue, MarkList } from './conn-queue.js';
import { InsecureMessage, insecureCrypto } from '../crypto/insecure.js';
import { initialOpens, writeRefusal, type RefusalCode } from './refusal.js';
import { initialAuthenticates } from './initial-check.js';
import { ReplyBudget } from './reply-budget.js';
import { addressPrefix, type AddressTokens } from './retry-token.js';

export interface ServerConfig {
  crypto: CryptoConfig;
  options?: ConnectionOptions;
  /** Most concurrent connections; further Initials are refused statelessly with SERVER_BUSY (counted as 'refused'). */
  maxConnections?: number;
  /** Most half-open connections (accepted, handshake not complete); default 1024. */
  maxHalfOpen?: number;
  /** Most half-open connections from one /24 (IPv4) or /64 (IPv6); default 64. */
  maxHalfOpenPerPrefix?: number;
  /** A half-open connection is closed this long after its first Initial (ms); default 10 000. */
  handshakeTimeout?: number;
  /**
   * 'auto' (default): clients without a valid token get a Retry once `retryThreshold` connections are
   * half-open; 'always': every client must echo a Retry token first; 'never'. Needs `tokens` and
   * `retryIntegrity`; without them no Retry is ever sent.
   */
  retry?: 'auto' | 'always' | 'never';
  /** Half-open connections past which 'auto' Retry starts; default 64. */
  retryThreshold?: number;
  /** Address-validation token codec (Retry and NEW_TOKEN tokens). */
  tokens?: AddressTokens;
  /** Computes the Retry integrity tag (lib/crypto/retry.ts). */
  retryIntegrity?: { tag(pseudoPacket: Uint8Array): Uint8Array };
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

export const DEFAULT_MAX_HALF_OPEN = 1024;
export const DEFAULT_MAX_HALF_OPEN_PER_PREFIX = 64;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_RETRY_THRESHOLD = 64;

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

export type EndpointEvent = { kind: 'accept'; connection: Connection } | { kind: 'connection'; connection: Connection; event: ConnectionEvent };

export interface EndpointStats {
  datagramsReceived: number;
  datagramsSent: number;
  connectionsAccepted: number;
  connectionsActive: number;
  /** Accepted connections whose handshake has not completed. */
  connectionsHalfOpen: number;
  retriesSent: number;
  /** Endpoint replies (Version Negotiation, Retry, stateless reset) withheld by the per-address budgets. */
  repliesWithheld: number;
  /** Throws caught from a connection (each closed it with INTERNAL_ERROR). */
  internalErrors: number;
  /** Datagrams dropped before reaching a connection, by reason. */
  drops: Record<string, number>;
}

/** Most stateless refusals (SERVER_BUSY, REFUSED, INSECURE_MISMATCH) an endpoint sends per second. */
const REFUSALS_PER_SECOND = 100;
/** Most stateless resets an endpoint sends per second. */
const RESETS_PER_SECOND = 100;
/** Endpoint replies (VN, Retry, reset) per second per source prefix and in total. */
const REPLIES_PER_PREFIX = 20;
const REPLIES_TOTAL = 2000;
const TOKEN_LENGTH = 16;

/** Connection-id bytes as a compact Map key (one short string per lookup). */
function cidKey(buf: Uint8Array, off: number, len: number): string {
  // One flat string (a char-by-char `+=` builds a rope of len-1 cons cells, kept alive as a Map key).
  return String.fromCharCode.apply(null, buf.subarray(off, off + len) as unknown as number[]);
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
  /** Connections that may have output or events since they were last polled, in activation order. */
  private readonly active = new ActiveQueue<Connection>();
  /**
   * Connections whose deadline may have moved since the heap last asked them. The heap is read only by
   * pollTimeout and handleTimeout, which ask these connections first (flushDeadlines): once per driver pump
   * instead of after every datagram in, every datagram out and every application call.
   */
  private readonly staleDeadlines = new MarkList<Connection>();
  private readonly timers = new DeadlineHeap<Connection>();
  private readonly pendingEvents: EndpointEvent[] = [];
  /** Endpoint-level datagrams (Version Negotiation), already complete with CRC. */
  private readonly outbox: Array<{ data: Uint8Array; to: PeerAddress }> = [];
  private readonly counters = { datagramsReceived: 0, datagramsSent: 0, connectionsAccepted: 0, retriesSent: 0, internalErrors: 0 };
  /** Connections that threw once (closing with INTERNAL_ERROR); a second throw drops them. */
  private readonly faulted = new WeakSet<Connection>();
  /** The most recent error a connection threw (for the driver's report). */
  lastInternalError: Error | null = null;
  /** Reset tokens this endpoint registered per connection (only ids the connection holds as active). */
  private readonly tokensOf = new Map<Connection, Set<string>>();
  /** Half-open server connections in acceptance order (so the oldest deadline is first), with their prefix. */
  private readonly halfOpen = new Map<Connection, { prefix: string; deadline: number }>();
  private readonly halfOpenByPrefix = new Map<string, number>();
  private readonly replies = new ReplyBudget({ perPrefix: REPLIES_PER_PREFIX, total: REPLIES_TOTAL, maxPrefixes: 4096 });
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

  /** Accepted connections whose handshake has not completed. */
  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  /** Stateless-reset tokens registered (entries of the token map; bounded by active ids). */
  get resetTokenCount(): number {
    return this.byToken.size;
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
    this.feed(conn, body, from, now);
    if (this.awaitingAccept.has(conn) && this.decideAccept(conn, from, now)) return;
    this.touch(conn);
  }

  /**
   * Runs one entry into a connection (datagram, timer, transmit). A throw is a bug in the core, never the
   * peer's right: it closes that connection only, with INTERNAL_ERROR, and is counted; the endpoint and every
   * other connection carry on. A connection that throws again while closing is dropped on the spot.
   */
  private guard<T>(conn: Connection, fn: () => T): T | null {
    try {
      return fn();
    } catch (e) {
      this.fault(conn, e);
      return null;
    }
  }

  // The per-packet entries, guarded like `guard` without a closure per call.
  private feed(conn: Connection, body: Uint8Array, from: PeerAddress, now: number): void {
    try {
      conn.handleDatagram(body, from, now);
    } catch (e) {
      this.fault(conn, e);
    }
  }

  private deadlineOf(conn: Connection): number | null {
    try {
      return conn.pollTimeout();
    } catch (e) {
      this.fault(conn, e);
      return null;
    }
  }

  private transmitOf(conn: Connection, now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    try {
      return conn.pollTransmit(now, buf);
    } catch (e) {
      this.fault(conn, e);
      return null;
    }
  }

  /** What `guard` does with a throw: count it, close that connection with INTERNAL_ERROR (a second throw drops it). */
  private fault(conn: Connection, e: unknown): void {
    this.counters.internalErrors++;
    this.lastInternalError = e instanceof Error ? e : new Error(String(e));
    if (this.faulted.has(conn)) {
      this.abandon(conn);
      return;
    }
    this.faulted.add(conn);
    try {
      conn.close(TransportErrorCode.INTERNAL_ERROR, 'internal error', false);
    } catch {
      this.abandon(conn);
    }
  }

  /** Forgets a connection that cannot even close; its owner hears 'closed' with INTERNAL_ERROR. */
  private abandon(conn: Connection): void {
    this.faulted.delete(conn);
    if (!this.keys.has(conn)) return;
    this.remove(conn);
    this.pendingEvents.push({
      kind: 'connection',
      connection: conn,
      event: {
        type: 'closed',
        info: { errorCode: TransportErrorCode.INTERNAL_ERROR, reason: 'internal error', application: false, initiator: 'local' },
      },
    });
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
        this.guard(conn, () => conn.onStatelessReset());
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
    const size = Math.max(STATELESS_RESET_MIN, Math.min(data.length - 1, STATELESS_RESET_MIN + 16));
    if (!this.replies.allow(addressPrefix(from.host), size, data.length, now)) return;
    const token = tokenFor(data.subarray(1, 1 + CID_LENGTH));
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
    const server = this.server;
    // Only a full-size datagram may trigger a response, so we never amplify small spoofed ones.
    if (size < MIN_INITIAL_DATAGRAM) {
      this.drop('initial_too_small');
      return;
    }
    if (h.form === 'unsupported_version' || h.version !== PETREL_VERSION) {
      this.drop('unsupported_version');
      if (this.replies.allow(addressPrefix(from.host), 64 + h.dcid.length + h.scid.length, size, now)) {
        this.sendVersionNegotiation(h.scid, h.dcid, from);
      }
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
    // Nothing is allocated, and nothing answered, for a datagram whose first Initial does not open under the
    // Initial keys, unless it opens in the other protection mode (the client's `insecure` differs from ours).
    const protectors = server.crypto.initialProtectors(h.dcid, false);
    const authentic = initialAuthenticates(protectors.read, body, h);
    const ownIsPlain = server.crypto === insecureCrypto;
    // Plaintext "opens" whatever it is: an insecure server recognises its own clients by their ClientHello.
    const ours = ownIsPlain ? authentic && initialOpens(body, h, PLAINTEXT_PROTECTOR, InsecureMessage.CLIENT_HELLO) : authentic;
    if (!ours) {
      const other = this.otherMode(body, h);
      if (other) {
        this.drop('insecure_mismatch');
        this.refuse(h, from, now, 'INSECURE_MISMATCH', other.reason, other.protectors);
        return;
      }
    }
    if (!authentic) {
      this.drop('initial_auth_failed');
      return;
    }
    if (this.refuseNew || (server.maxConnections !== undefined && this.keys.size >= server.maxConnections)) {
      this.drop('refused');
      this.refuse(h, from, now, 'SERVER_BUSY', this.refuseNew ? 'server is closing' : 'server is full', server.crypto.initialProtectors);
      return;
    }
    // A token proves the address: a Retry token (the client echoes our Retry) or a NEW_TOKEN one.
    let originalDcid = h.dcid;
    let retrySourceCid: Uint8Array | undefined;
    let validated = false;
    const tokens = server.tokens;
    if (h.token.length > 0 && tokens) {
      const check = tokens.check(h.token, from, h.dcid);
      if (check.kind === 'retry') {
        originalDcid = check.originalDcid;
        retrySourceCid = h.dcid.slice();
        validated = true;
      } else if (check.kind === 'new_token') validated = true;
      else if (check.retry) {
        // A Retry token we cannot accept: spoofed, expired or for another address (RFC 9000 §8.1.2).
        this.drop(`invalid_token_${check.reason}`);
        return;
      } else this.drop('new_token_ignored');
    }
    const prefix = addressPrefix(from.host);
    if (!validated && this.shouldRetry()) {
      this.sendRetry(h, from, size, prefix, now);
      return;
    }
    if (this.halfOpen.size >= (server.maxHalfOpen ?? DEFAULT_MAX_HALF_OPEN)) {
      this.drop('half_open_limit');
      return;
    }
    // A client that proved its address is exempt from its prefix's cap: spoofers sharing its /24 cannot lock it out.
    if (!validated && (this.halfOpenByPrefix.get(prefix) ?? 0) >= (server.maxHalfOpenPerPrefix ?? DEFAULT_MAX_HALF_OPEN_PER_PREFIX)) {
      this.drop('half_open_prefix_limit');
      return;
    }
    const localCid = this.freshCid();
    // The Initial keys just derived serve the connection too (derivation is most of a junk Initial's cost).
    // Handed over once: the closure must not hold the Initial keys (cipher objects) for the connection's life.
    const keysFor = h.dcid.slice();
    let spare: typeof protectors | null = protectors;
    const crypto: CryptoConfig = {
      createSession: (args) => server.crypto.createSession({ ...args, remote: from }),
      initialProtectors: (cid, isClient) => {
        const p = spare;
        spare = null;
        return p && !isClient && cid.length === keysFor.length && cid.every((b, i) => b === keysFor[i])
          ? p
          : server.crypto.initialProtectors(cid, isClient);
      },
    };
    const conn = new Connection({
      isClient: false,
      env: this.env,
      crypto,
      options: server.options,
      remote: from,
      now,
      localCid,
      remoteCid: h.scid.slice(),
      originalDcid: originalDcid.slice(),
      retrySourceCid,
      trace: this.traceFor?.({ isClient: false, odcid: originalDcid, remote: from }),
    });
    // Retransmitted client Initials still carry the original DCID until the client learns ours.
    this.register(conn, [cidKey(localCid, 0, localCid.length), cidKey(h.dcid, 0, h.dcid.length)]);
    this.halfOpen.set(conn, { prefix, deadline: now + (server.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT) });
    this.halfOpenByPrefix.set(prefix, (this.halfOpenByPrefix.get(prefix) ?? 0) + 1);
    if (this.server.accept) {
      // The hook needs the whole ClientHello, which may span several Initials: the connection is
      // surfaced (and its events released) only once the hook has accepted it.
      this.awaitingAccept.set(conn, { clientScid: h.scid.slice(), odcid: h.dcid.slice(), localCid });
      this.feed(conn, body, from, now);
      if (this.decideAccept(conn, from, now)) return;
      this.touch(conn);
      return;
    }
    this.counters.connectionsAccepted++;
    this.pendingEvents.push({ kind: 'accept', connection: conn });
    this.feed(conn, body, from, now);
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
    const refusal =
      conn.state === 'handshake'
        ? this.server!.accept!({ address: { host: from.host, port: from.port }, alpn, serverName: conn.peerServerName })
        : null;
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
   * For a first Initial that does not open in our protection mode (the caller checked): whether it opens in
   * the other one, i.e. the client's `insecure` differs from ours. Returns that mode's protectors and a reason.
   */
  private otherMode(body: Uint8Array, h: LongHeader): { protectors: CryptoConfig['initialProtectors']; reason: string } | null {
    const ownIsPlain = this.server!.crypto === insecureCrypto;
    if (!ownIsPlain) {
      if (!initialOpens(body, h, PLAINTEXT_PROTECTOR, InsecureMessage.CLIENT_HELLO)) return null;
      return { protectors: insecureCrypto.initialProtectors, reason: 'the server requires encryption; the client connected with insecure: true' };
    }
    const secure = this.server!.otherModeInitialProtectors;
    if (!secure || !initialOpens(body, h, secure(h.dcid, false).read, null)) return null;
    return { protectors: secure, reason: 'the server runs with insecure: true; the client expected encryption' };
  }

  /** Answers a first Initial with a stateless CONNECTION_CLOSE(CONNECTION_REFUSED, "CODE: reason"), rate-limited. */
  private refuse(
    h: LongHeader,
    to: PeerAddress,
    now: number,
    code: RefusalCode,
    reason: string,
    protectors: CryptoConfig['initialProtectors'],
  ): void {
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

  private shouldRetry(): boolean {
    const s = this.server!;
    if (!s.tokens || !s.retryIntegrity) return false;
    const mode = s.retry ?? 'auto';
    if (mode === 'always') return true;
    return mode === 'auto' && this.halfOpen.size >= (s.retryThreshold ?? DEFAULT_RETRY_THRESHOLD);
  }

  /** Answers an Initial with a Retry (no state kept: everything needed later is in the token). */
  private sendRetry(h: LongHeader, to: PeerAddress, received: number, prefix: string, now: number): void {
    const s = this.server!;
    const scid = this.freshCid();
    const token = s.tokens!.retryToken(h.dcid, scid, to);
    const buf = new Uint8Array(1 + 4 + 2 + h.scid.length + scid.length + token.length + 16 + CRC_LENGTH);
    const tagAt = writeRetry(buf, 0, { version: PETREL_VERSION, dcid: h.scid, scid, token, integrityTag: new Uint8Array(16) }) - 16;
    if (!this.replies.allow(prefix, buf.length, received, now)) {
      this.drop('retry_withheld');
      return;
    }
    buf.set(s.retryIntegrity!.tag(retryPseudoPacket(h.dcid, buf.subarray(0, tagAt))), tagAt);
    const total = appendChecksum(buf, tagAt + 16, this.env.crc32);
    this.outbox.push({ data: buf.subarray(0, total), to });
    this.counters.retriesSent++;
    this.drop('retry_sent');
  }

  /** Closes half-open connections past their handshake deadline; returns the next deadline. */
  private expireHalfOpen(now: number): void {
    for (const [conn, h] of this.halfOpen) {
      if (h.deadline > now) break;
      this.leaveHalfOpen(conn);
      this.drop('handshake_timeout');
      conn.close(TransportErrorCode.CONNECTION_REFUSED, 'handshake timeout', false);
      this.touch(conn);
    }
  }

  private leaveHalfOpen(conn: Connection): void {
    const h = this.halfOpen.get(conn);
    if (!h) return;
    this.halfOpen.delete(conn);
    const n = (this.halfOpenByPrefix.get(h.prefix) ?? 1) - 1;
    if (n > 0) this.halfOpenByPrefix.set(h.prefix, n);
    else this.halfOpenByPrefix.delete(h.prefix);
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
    const mine = new Set<string>();
    this.tokensOf.set(conn, mine);
    conn.onResetTokens = (added, removed) => {
      for (const t of removed) {
        const k = cidKey(t, 0, t.length);
        if (this.byToken.get(k) === conn) this.byToken.delete(k);
        mine.delete(k);
      }
      if (added.length === 0) return;
      // Only tokens of ids the connection holds as active: a NEW_CONNECTION_ID retired on arrival (below an
      // earlier retire_prior_to) must not leave an entry behind (issue 11: 100,000 frames, 100,000 entries).
      const live = new Set<string>();
      for (const t of conn.peerResetTokens()) live.add(cidKey(t, 0, t.length));
      for (const t of added) {
        const k = cidKey(t, 0, t.length);
        if (!live.has(k)) continue;
        this.byToken.set(k, conn);
        mine.add(k);
      }
      // Tokens registered before and no longer live (retired in ways not reported to us) go too.
      for (const k of mine) {
        if (live.has(k)) continue;
        if (this.byToken.get(k) === conn) this.byToken.delete(k);
        mine.delete(k);
      }
    };
  }

  /** Marks a connection as possibly having output, events or a new deadline. */
  touch(conn: Connection): void {
    if (!this.keys.has(conn)) return; // abandoned after a fault, or already removed
    this.active.add(conn);
    this.staleDeadlines.mark(conn);
    if (conn.hasEvents) this.drainEvents(conn);
    if (conn.isTerminated) this.remove(conn);
  }

  private drainEvents(conn: Connection): void {
    if (this.awaitingAccept.has(conn)) return; // surfaced after the accept hook
    for (let e = conn.pollEvent(); e; e = conn.pollEvent()) {
      if (e.type === 'connected' || e.type === 'closed') this.leaveHalfOpen(conn);
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
    for (const k of this.tokensOf.get(conn) ?? []) if (this.byToken.get(k) === conn) this.byToken.delete(k);
    this.tokensOf.delete(conn);
    this.leaveHalfOpen(conn);
    this.keys.delete(conn);
    this.awaitingAccept.delete(conn);
    conn.onCidChange = null;
    conn.onResetTokens = null;
    this.active.delete(conn);
    this.staleDeadlines.delete(conn);
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
    for (let conn = this.active.peek(); conn; conn = this.active.peek()) {
      const faults = this.counters.internalErrors;
      const t = this.transmitOf(conn, now, buf);
      if (t) {
        this.counters.datagramsSent++;
        this.staleDeadlines.mark(conn);
        if (conn.hasEvents) this.drainEvents(conn);
        return t;
      }
      this.active.shift();
      // A connection that just threw is closing now: visit it again (queued last) so its close goes out.
      if (this.counters.internalErrors !== faults) {
        this.touch(conn);
        continue;
      }
      this.staleDeadlines.mark(conn);
      if (conn.hasEvents) this.drainEvents(conn);
      if (conn.isTerminated) this.remove(conn);
    }
    return null;
  }

  /** Puts the current deadline of every connection marked since the last flush into the heap. */
  private flushDeadlines(): void {
    this.staleDeadlines.drain(this.refreshDeadline);
  }

  // A connection that throws here is closing (fault): touch marks it again and the drain reaches it again.
  private readonly refreshDeadline = (conn: Connection): void => {
    const faults = this.counters.internalErrors;
    this.timers.set(conn, this.deadlineOf(conn));
    if (this.counters.internalErrors !== faults) this.touch(conn);
  };

  /** Earliest deadline over all connections, or null. */
  pollTimeout(): number | null {
    if (this.outbox.length > 0 || this.active.size > 0) return -Infinity;
    this.flushDeadlines();
    const t = this.timers.peekTime();
    const first = this.halfOpen.values().next();
    if (first.done) return t;
    return t === null || first.value.deadline < t ? first.value.deadline : t;
  }

  /** Fires every connection deadline that is due. */
  handleTimeout(now: number): void {
    // Pop first, then fire: a connection whose deadline is only cleared by sending (an ACK due) must
    // not be popped again in the same call.
    this.flushDeadlines();
    let due: Connection[] | null = null;
    for (let conn = this.timers.popDue(now); conn; conn = this.timers.popDue(now)) (due ??= []).push(conn);
    if (due) {
      for (const conn of due) {
        this.guard(conn, () => conn.handleTimeout(now));
        this.touch(conn);
      }
    }
    this.expireHalfOpen(now);
  }

  pollEvent(): EndpointEvent | null {
    return this.pendingEvents.shift() ?? null;
  }

  stats(): EndpointStats {
    return {
      ...this.counters,
      connectionsActive: this.keys.size,
      connectionsHalfOpen: this.halfOpen.size,
      repliesWithheld: this.replies.refusedRate + this.replies.refusedSize,
      drops: { ...this.drops },
    };
  }

  private drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}
