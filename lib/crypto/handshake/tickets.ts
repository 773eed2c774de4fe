/**
 * Session tickets (spec/handshake.md §Session tickets): the server seals what it needs to resume a session
 * (the PSK, suite, ALPN, issue time) under a ticket key it alone holds, so it keeps no per-client state.
 * Keys carry a 4-byte id and rotate; a retired key still opens tickets for one ticket lifetime.
 *
 * Also here: the server's single-use store (anti-replay for 0-RTT) and the client's bounded ticket store.
 * Nothing here throws on peer input: a ticket that does not open is `null` (the server then runs a full
 * handshake, as TLS 1.3 ignores an unusable PSK).
 */
import { PetrelError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../wire/buffer.js';
import type { Aead, CipherSuite, CryptoProvider } from '../provider.js';
import { SUITE_CODES, suiteFromCode } from './messages.js';

export const TICKET_VERSION = 1;
export const TICKET_KEY_LENGTH = 32;
export const TICKET_KEY_ID_LENGTH = 4;
export const TICKET_ID_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
/** The AEAD tickets are sealed with (32-byte key, 12-byte nonce). */
const TICKET_SUITE: CipherSuite = 'CHACHA20_POLY1305_SHA256';
/** Ticket plaintext: version, id, issued_at, lifetime, age_add, suite, max_early_data, alpn vec, name vec, psk. */
const PLAIN_FIXED = 1 + TICKET_ID_LENGTH + 8 + 4 + 4 + 2 + 4 + 1 + 1 + 32;
/** Largest sealed ticket a peer may send us or we store (ALPN and name at 255 bytes: 613; rounded up). */
export const TICKET_MAX_SIZE = 1024;
/** Longest ticket lifetime (RFC 8446 §4.6.1: seven days). */
export const MAX_TICKET_LIFETIME = 7 * 24 * 3600 * 1000;
export const DEFAULT_TICKET_LIFETIME = 24 * 3600 * 1000;
/** Most tickets one connection may be given (the client keeps one per resumption). */
export const MAX_TICKETS_PER_CONNECTION = 8;

/** Domain separation of the ticket AEAD's associated data (the key id follows it). */
const AAD_CONTEXT = new TextEncoder().encode('petrel1 session ticket');

/** What the server seals into a ticket. */
export interface TicketState {
  ticketId: Uint8Array;
  issuedAt: number;
  lifetime: number;
  ageAdd: number;
  suite: CipherSuite;
  maxEarlyData: number;
  alpn: string;
  serverName: string;
  psk: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8', { fatal: true });

export function encodeTicketState(s: TicketState): Uint8Array {
  const alpn = utf8.encode(s.alpn);
  const name = utf8.encode(s.serverName);
  if (alpn.length > 255 || name.length > 255) throw new RangeError('ticket ALPN or name too long');
  const out = new Uint8Array(PLAIN_FIXED + alpn.length + name.length);
  const w = new ByteWriter(out);
  w.u8(TICKET_VERSION);
  w.bytes(s.ticketId);
  w.u64(s.issuedAt);
  w.u32(s.lifetime);
  w.u32(s.ageAdd);
  w.u16(SUITE_CODES[s.suite]);
  w.u32(s.maxEarlyData);
  w.u8(alpn.length);
  w.bytes(alpn);
  w.u8(name.length);
  w.bytes(name);
  w.bytes(s.psk);
  return out;
}

/** Null on anything malformed (only our own sealed bytes reach this, but a leaked key must not crash us). */
export function decodeTicketState(b: Uint8Array): TicketState | null {
  try {
    const r = new ByteReader(b);
    if (r.u8() !== TICKET_VERSION) return null;
    const ticketId = r.bytes(TICKET_ID_LENGTH).slice();
    const issuedAt = r.u53('issuedAt');
    const lifetime = r.u32();
    const ageAdd = r.u32();
    const suite = suiteFromCode(r.u16());
    const maxEarlyData = r.u32();
    const alpn = utf8d.decode(r.bytes(r.u8()));
    const serverName = utf8d.decode(r.bytes(r.u8()));
    const psk = r.bytes(32).slice();
    if (suite === null || r.remaining !== 0) return null;
    return { ticketId, issuedAt, lifetime, ageAdd, suite, maxEarlyData, alpn, serverName, psk };
  } catch {
    return null;
  }
}

interface RingKey {
  id: Uint8Array;
  idKey: number;
  key: Uint8Array;
  /** The key's AEAD object, made once (a provider may import the key on creation, which costs more than a seal). */
  aead: Aead;
  /** When this key stopped sealing (null while current). */
  retiredAt: number | null;
}

export interface TicketKeyRingOptions {
  provider: CryptoProvider;
  now: () => number;
  /**
   * Explicit 32-byte keys, newest first: the first seals, all open (a fleet shares these). Without them the
   * ring draws its own key and, with `rotateEvery`, a new one that often.
   */
  keys?: readonly Uint8Array[];
  /** Draw a new key this often (ms); retired keys open tickets for one `lifetime` more. */
  rotateEvery?: number;
  /** Ticket lifetime (ms), ≤ 7 days; default 24 h. */
  lifetime?: number;
}

/** Most keys a ring keeps (current + retired within a lifetime); older retired keys are dropped first. */
const MAX_RING_KEYS = 16;

/** The server's ticket keys: seal under the current one, open under any live one. */
export class TicketKeyRing {
  readonly lifetime: number;
  private readonly ring: RingKey[] = [];
  private lastRotation: number;

  constructor(private readonly opts: TicketKeyRingOptions) {
    this.lifetime = opts.lifetime ?? DEFAULT_TICKET_LIFETIME;
    if (!Number.isSafeInteger(this.lifetime) || this.lifetime < 1000 || this.lifetime > MAX_TICKET_LIFETIME) {
      throw new PetrelError('INVALID_OPTION', `tickets.lifetime must be 1000..${MAX_TICKET_LIFETIME} ms`);
    }
    if (opts.rotateEvery !== undefined && !(opts.rotateEvery >= 1000)) {
      throw new PetrelError('INVALID_OPTION', 'tickets.rotateEvery must be ≥ 1000 ms');
    }
    const keys = opts.keys ?? [];
    if (keys.length > MAX_RING_KEYS) throw new PetrelError('INVALID_OPTION', `at most ${MAX_RING_KEYS} ticket keys`);
    for (const k of keys) if (k.length !== TICKET_KEY_LENGTH) throw new PetrelError('INVALID_OPTION', 'each ticket key must be 32 bytes');
    const now = opts.now();
    this.lastRotation = now;
    keys.forEach((k, i) => this.ring.push(this.entry(k, i === 0 ? null : now)));
    if (this.ring.length === 0) this.ring.push(this.entry(opts.provider.randomBytes(TICKET_KEY_LENGTH), null));
  }

  private entry(key: Uint8Array, retiredAt: number | null): RingKey {
    // The id names the key without revealing it: the first 4 bytes of its SHA-256.
    const id = this.opts.provider.sha256(key).slice(0, TICKET_KEY_ID_LENGTH);
    const own = key.slice();
    const aead = this.opts.provider.createAead(TICKET_SUITE, own);
    return { id, idKey: new DataView(id.buffer, id.byteOffset).getUint32(0), key: own, aead, retiredAt };
  }

  /** Key ids, current first (for diagnostics and tests). */
  get keyIds(): Uint8Array[] {
    this.maintain();
    return this.ring.map((k) => k.id.slice());
  }

  /** Makes `key` (default: a fresh random key) the sealing key; the old one keeps opening for one lifetime. */
  rotate(key?: Uint8Array): void {
    if (key !== undefined && key.length !== TICKET_KEY_LENGTH) throw new PetrelError('INVALID_OPTION', 'a ticket key must be 32 bytes');
    const now = this.opts.now();
    this.ring[0]!.retiredAt = now;
    this.ring.unshift(this.entry(key ?? this.opts.provider.randomBytes(TICKET_KEY_LENGTH), null));
    this.lastRotation = now;
    this.prune(now);
  }

  private maintain(): void {
    const now = this.opts.now();
    const every = this.opts.rotateEvery;
    if (every !== undefined && now - this.lastRotation >= every) this.rotate();
    else this.prune(now);
  }

  private prune(now: number): void {
    for (let i = this.ring.length - 1; i > 0; i--) {
      const r = this.ring[i]!.retiredAt!;
      if (now - r > this.lifetime || this.ring.length > MAX_RING_KEYS) {
        this.ring[i]!.key.fill(0);
        this.ring.splice(i, 1);
      }
    }
  }

  /** key_id (4) || nonce (12) || AEAD(plaintext) || tag (16), associated data "petrel1 session ticket" || key_id. */
  seal(state: TicketState): Uint8Array {
    this.maintain();
    const k = this.ring[0]!;
    const plain = encodeTicketState(state);
    const out = new Uint8Array(TICKET_KEY_ID_LENGTH + NONCE_LENGTH + plain.length + TAG_LENGTH);
    out.set(k.id, 0);
    const nonce = this.opts.provider.randomBytes(NONCE_LENGTH);
    out.set(nonce, TICKET_KEY_ID_LENGTH);
    const start = TICKET_KEY_ID_LENGTH + NONCE_LENGTH;
    out.set(plain, start);
    plain.fill(0);
    k.aead.seal(nonce, aad(k.id), out, start, start + plain.length);
    return out;
  }

  /** The ticket's state, or null (unknown or retired key id, bad tag, malformed plaintext). */
  open(ticket: Uint8Array): TicketState | null {
    if (ticket.length < TICKET_KEY_ID_LENGTH + NONCE_LENGTH + TAG_LENGTH || ticket.length > TICKET_MAX_SIZE) return null;
    this.maintain();
    const idKey = new DataView(ticket.buffer, ticket.byteOffset).getUint32(0);
    const k = this.ring.find((e) => e.idKey === idKey);
    if (!k) return null;
    const buf = ticket.slice();
    const start = TICKET_KEY_ID_LENGTH + NONCE_LENGTH;
    const end = k.aead.open(buf.subarray(TICKET_KEY_ID_LENGTH, start), aad(k.id), buf, start, buf.length);
    if (end < 0) return null;
    const state = decodeTicketState(buf.subarray(start, end));
    buf.fill(0);
    return state;
  }
}

function aad(id: Uint8Array): Uint8Array {
  const a = new Uint8Array(AAD_CONTEXT.length + id.length);
  a.set(AAD_CONTEXT);
  a.set(id, AAD_CONTEXT.length);
  return a;
}

/** Bytes one single-use entry is charged: the 16-byte id as a 16-char string key, its expiry and Map overhead. */
export const SINGLE_USE_ENTRY_BYTES = 96;

/**
 * Server anti-replay (RFC 8446 §8.1-style, keyed by ticket id): each ticket id may be claimed once while its
 * ticket lives. Bounded by entries and bytes; when full of live ids it refuses (the caller then refuses
 * 0-RTT) rather than forget an id, which would reopen that ticket to replay.
 */
export class SingleUseStore {
  private readonly seen = new Map<string, number>();
  readonly maxEntries: number;

  constructor(opts: { maxEntries?: number; maxBytes?: number } = {}) {
    const byBytes = Math.floor((opts.maxBytes ?? Infinity) / SINGLE_USE_ENTRY_BYTES);
    this.maxEntries = Math.min(opts.maxEntries ?? 100_000, byBytes);
    if (!(this.maxEntries >= 1) || !Number.isFinite(this.maxEntries)) {
      throw new PetrelError('INVALID_OPTION', 'the single-use ticket store needs room for at least one entry');
    }
  }

  get size(): number {
    return this.seen.size;
  }

  get bytes(): number {
    return this.seen.size * SINGLE_USE_ENTRY_BYTES;
  }

  /** 'fresh' the first time an id is claimed, 'used' after, 'full' when it cannot be tracked. */
  claim(ticketId: Uint8Array, expiresAt: number, now: number): 'fresh' | 'used' | 'full' {
    let id = '';
    for (const b of ticketId) id += String.fromCharCode(b);
    const e = this.seen.get(id);
    if (e !== undefined && e >= now) return 'used';
    if (this.seen.size >= this.maxEntries) {
      for (const [k, v] of this.seen) if (v < now) this.seen.delete(k);
      if (this.seen.size >= this.maxEntries) return 'full';
    }
    this.seen.set(id, expiresAt);
    return 'fresh';
  }
}

/** What a client keeps of one ticket (opaque to the application). */
export interface SessionTicket {
  readonly serverName: string;
  /** The Ed25519 key the server authenticated with when it issued the ticket. */
  readonly serverKey: Uint8Array;
  readonly alpn: string;
  readonly suite: CipherSuite;
  readonly ticket: Uint8Array;
  readonly psk: Uint8Array;
  /** Client clock (ms) when received; the ticket expires `lifetime` after it. */
  readonly receivedAt: number;
  readonly lifetime: number;
  readonly ageAdd: number;
  /** 0 = the server will not take 0-RTT with this ticket. */
  readonly maxEarlyData: number;
  /** The server's encoded transport parameters, whose limits bind 0-RTT (RFC 9000 §7.4.1). */
  readonly transportParameters: Uint8Array;
}

/** Bytes a stored ticket is charged for. */
export function ticketBytes(t: SessionTicket): number {
  return t.ticket.length + t.psk.length + t.transportParameters.length + t.serverKey.length + t.serverName.length + t.alpn.length + 64;
}

export interface TicketStoreOptions {
  /** Most tickets kept (256). */
  maxEntries?: number;
  /** Most bytes kept (256 KiB). */
  maxBytes?: number;
  /** Most tickets kept per server name (4). */
  perServer?: number;
}

/**
 * A client's tickets, by server name, newest last. Each ticket is handed out once (`take`): a ticket is
 * single-use, and the server's anti-replay store would refuse its 0-RTT the second time anyway.
 * Bounded by entries, bytes and tickets per server; the oldest go first.
 */
export class SessionTicketStore {
  private readonly byServer = new Map<string, SessionTicket[]>();
  private count = 0;
  private byteCount = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly perServer: number;

  constructor(opts: TicketStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 256;
    this.maxBytes = opts.maxBytes ?? 256 * 1024;
    this.perServer = opts.perServer ?? 4;
    for (const [k, v] of [
      ['maxEntries', this.maxEntries],
      ['maxBytes', this.maxBytes],
      ['perServer', this.perServer],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1) throw new PetrelError('INVALID_OPTION', `ticket store ${k} must be a positive integer`);
    }
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Keeps `t` under `key` (default its server name; the SDK uses "host:port" for servers without a name). */
  add(t: SessionTicket, key = t.serverName): void {
    const size = ticketBytes(t);
    if (size > this.maxBytes) return;
    let list = this.byServer.get(key);
    if (!list) this.byServer.set(key, (list = []));
    list.push(t);
    this.count++;
    this.byteCount += size;
    if (list.length > this.perServer) this.drop(key, 0);
    while (this.count > this.maxEntries || this.byteCount > this.maxBytes) this.evictOldest();
  }

  /** Removes and returns the newest unexpired ticket for `serverName`, or null. */
  take(serverName: string, now: number): SessionTicket | null {
    const list = this.byServer.get(serverName);
    while (list && list.length > 0) {
      const t = list[list.length - 1]!;
      this.drop(serverName, list.length - 1);
      if (now - t.receivedAt < t.lifetime) return t;
    }
    return null;
  }

  private drop(serverName: string, index: number): void {
    const list = this.byServer.get(serverName)!;
    const [t] = list.splice(index, 1);
    this.count--;
    this.byteCount -= ticketBytes(t!);
    if (list.length === 0) this.byServer.delete(serverName);
  }

  private evictOldest(): void {
    let oldest: { name: string; at: number } | null = null;
    for (const [name, list] of this.byServer) if (!oldest || list[0]!.receivedAt < oldest.at) oldest = { name, at: list[0]!.receivedAt };
    if (oldest) this.drop(oldest.name, 0);
  }
}

/** Server policy for issuing and taking tickets; one per server (it holds the key ring and the single-use store). */
export interface TicketPolicy {
  keys: TicketKeyRing;
  /** Tickets sent after each full or resumed handshake (1, at most MAX_TICKETS_PER_CONNECTION). */
  perConnection: number;
  /** 0-RTT bytes accepted per connection (0 = 0-RTT refused). */
  maxEarlyData: number;
  /** A 0-RTT ClientHello's ticket age may differ from the server's view by at most this (ms). */
  freshnessWindow: number;
  singleUse: SingleUseStore;
  now: () => number;
  /** Counters for diagnostics and tests. */
  stats: TicketStats;
}

export interface TicketStats {
  issued: number;
  resumed: number;
  /** Offered tickets the server could not use (unknown key, bad tag, expired, suite/ALPN/name mismatch, reused). */
  pskRejected: number;
  earlyAccepted: number;
  earlyRejected: number;
}

export function newTicketStats(): TicketStats {
  return { issued: 0, resumed: 0, pskRejected: 0, earlyAccepted: 0, earlyRejected: 0 };
}
