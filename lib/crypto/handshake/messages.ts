/**
 * Codec of Petrel's handshake messages (spec/handshake.md §Handshake messages). TLS 1.3's message set
 * and order with Petrel's own compact bodies and no extensions: every field is fixed-size or carries a
 * varint length. Framing is the insecure mode's: type (u8) | length (varint) | body.
 *
 * Decoders are strict (exact sizes, limits, no trailing bytes) and throw HandshakeFailure('DECODE_ERROR').
 */
import { PetrelWireError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../wire/buffer.js';
import { varintSize } from '../../wire/varint.js';
import type { CipherSuite } from '../provider.js';
import { fail, handshakeErrorCode } from './errors.js';

export const HandshakeType = {
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  /** A session ticket, server to client at the 1-RTT level after the handshake (spec §Session tickets). */
  NEW_SESSION_TICKET: 4,
  ENCRYPTED_EXTENSIONS: 8,
  CERTIFICATE: 11,
  CERTIFICATE_VERIFY: 15,
  FINISHED: 20,
  /** Petrel's own: the client's connect token, at the handshake level just before its Finished. */
  CONNECT_TOKEN: 30,
  /** Petrel's own: the server requires a connect token (empty body), between EncryptedExtensions and Certificate. */
  CONNECT_TOKEN_REQUEST: 31,
} as const;

/** Suite code points: TLS 1.3's (RFC 8446 §B.4). */
export const SUITE_CODES: Readonly<Record<CipherSuite, number>> = {
  AES_128_GCM_SHA256: 0x1301,
  CHACHA20_POLY1305_SHA256: 0x1303,
};

export function suiteFromCode(code: number): CipherSuite | null {
  if (code === 0x1301) return 'AES_128_GCM_SHA256';
  if (code === 0x1303) return 'CHACHA20_POLY1305_SHA256';
  return null;
}

export const RANDOM_LENGTH = 32;
export const KEY_SHARE_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
export const VERIFY_DATA_LENGTH = 32;

/** Limits a decoder enforces; an encoder refuses to exceed them too. */
export const LIMITS = {
  messageBody: 16384,
  suites: 16,
  alpnEntries: 16,
  alpnLength: 255,
  serverName: 255,
  transportParameters: 4096,
  chain: 4,
  certificate: 1024,
  ticket: 1024,
  ticketNonce: 255,
} as const;

/** ServerHello resumption flags (present only when the ClientHello offered a ticket). */
export const RESUMPTION_FLAGS = { PSK_ACCEPTED: 0x01, EARLY_DATA_ACCEPTED: 0x02 } as const;
export const BINDER_LENGTH = 32;

/** A ticket offered in a ClientHello (TLS 1.3's pre_shared_key + early_data + psk_dhe_ke, in one block). */
export interface PskOffer {
  /** The client will send 0-RTT data under this ticket. */
  earlyData: boolean;
  /** The sealed ticket, as the server issued it. */
  identity: Uint8Array;
  /** (ms since the ticket was received + age_add) mod 2^32. */
  obfuscatedAge: number;
  /** HMAC over the ClientHello up to the binder (32 bytes; zeros while the binder is computed). */
  binder: Uint8Array;
}

export interface NewSessionTicket {
  /** ms the ticket may be used for. */
  lifetime: number;
  ageAdd: number;
  nonce: Uint8Array;
  ticket: Uint8Array;
  /** 0-RTT bytes the server will take with this ticket (0 = none). */
  maxEarlyData: number;
}

export interface ClientHello {
  random: Uint8Array;
  keyShare: Uint8Array;
  /** Offered suite codes in the client's preference order, unknown codes included. */
  suites: number[];
  alpn: string[];
  transportParameters: Uint8Array;
  serverName: string;
  /** A resumption offer; absent in a first connection (whose ClientHello is then byte-for-byte unchanged). */
  psk?: PskOffer;
}

export interface ServerHello {
  random: Uint8Array;
  keyShare: Uint8Array;
  suite: number;
  /** RESUMPTION_FLAGS, present exactly when the ClientHello offered a ticket. */
  resumption?: number;
}

export interface EncryptedExtensions {
  /** Chosen protocol; '' when none was negotiated. */
  alpn: string;
  transportParameters: Uint8Array;
  /** The ClientHello's suite list exactly as the server received it (downgrade diagnostics). */
  offeredSuites: number[];
}

export interface CertificateMessage {
  /** The server's Ed25519 identity key: the key CertificateVerify is checked with. */
  publicKey: Uint8Array;
  /** Encoded certificates, the one for publicKey first; empty for a pinned key. */
  chain: Uint8Array[];
}

const DECODE_ERROR = handshakeErrorCode('DECODE_ERROR');
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function vecSize(n: number): number {
  return varintSize(n) + n;
}

function writeVec(w: ByteWriter, b: Uint8Array): void {
  w.varint(b.length);
  w.bytes(b);
}

function checkLength(b: Uint8Array, want: number, what: string): void {
  if (b.length !== want) throw new RangeError(`${what} must be ${want} bytes, got ${b.length}`);
}

function checkMax(n: number, max: number, what: string): void {
  if (n > max) throw new RangeError(`${what} exceeds ${max}: ${n}`);
}

/** Frames a body as one message: type | varint length | body. */
export function frameMessage(type: number, body: Uint8Array): Uint8Array {
  checkMax(body.length, LIMITS.messageBody, 'handshake message body');
  const out = new Uint8Array(1 + vecSize(body.length));
  const w = new ByteWriter(out);
  w.u8(type);
  writeVec(w, body);
  return out;
}

function build(type: number, size: number, fill: (w: ByteWriter) => void): Uint8Array {
  const body = new Uint8Array(size);
  const w = new ByteWriter(body);
  fill(w);
  if (w.pos !== size) throw new Error(`internal: message ${type} size ${w.pos} != ${size}`);
  return frameMessage(type, body);
}

function suitesSize(suites: readonly number[]): number {
  return varintSize(suites.length) + 2 * suites.length;
}

function writeSuites(w: ByteWriter, suites: readonly number[]): void {
  w.varint(suites.length);
  for (const s of suites) w.u16(s);
}

export function encodeClientHello(m: ClientHello): Uint8Array {
  checkLength(m.random, RANDOM_LENGTH, 'random');
  checkLength(m.keyShare, KEY_SHARE_LENGTH, 'key share');
  if (m.suites.length === 0) throw new RangeError('at least one suite must be offered');
  checkMax(m.suites.length, LIMITS.suites, 'suite count');
  checkMax(m.alpn.length, LIMITS.alpnEntries, 'ALPN entries');
  const alpn = m.alpn.map((p) => utf8.encode(p));
  for (const a of alpn) {
    if (a.length === 0) throw new RangeError('empty ALPN protocol');
    checkMax(a.length, LIMITS.alpnLength, 'ALPN protocol length');
  }
  const name = utf8.encode(m.serverName);
  checkMax(name.length, LIMITS.serverName, 'server name length');
  checkMax(m.transportParameters.length, LIMITS.transportParameters, 'transport parameters length');
  const size =
    RANDOM_LENGTH +
    KEY_SHARE_LENGTH +
    suitesSize(m.suites) +
    varintSize(alpn.length) +
    alpn.reduce((n, a) => n + vecSize(a.length), 0) +
    vecSize(m.transportParameters.length) +
    vecSize(name.length) +
    (m.psk ? 1 + vecSize(m.psk.identity.length) + 4 + BINDER_LENGTH : 0);
  if (m.psk) {
    if (m.psk.identity.length === 0) throw new RangeError('empty ticket');
    checkMax(m.psk.identity.length, LIMITS.ticket, 'ticket length');
    checkLength(m.psk.binder, BINDER_LENGTH, 'binder');
  }
  return build(HandshakeType.CLIENT_HELLO, size, (w) => {
    w.bytes(m.random);
    w.bytes(m.keyShare);
    writeSuites(w, m.suites);
    w.varint(alpn.length);
    for (const a of alpn) writeVec(w, a);
    writeVec(w, m.transportParameters);
    writeVec(w, name);
    if (m.psk) {
      w.u8(m.psk.earlyData ? 1 : 0);
      writeVec(w, m.psk.identity);
      w.u32(m.psk.obfuscatedAge >>> 0);
      w.bytes(m.psk.binder); // last: the binder covers every byte before it
    }
  });
}

export function encodeNewSessionTicket(m: NewSessionTicket): Uint8Array {
  checkMax(m.nonce.length, LIMITS.ticketNonce, 'ticket nonce length');
  if (m.ticket.length === 0) throw new RangeError('empty ticket');
  checkMax(m.ticket.length, LIMITS.ticket, 'ticket length');
  const size = 4 + 4 + vecSize(m.nonce.length) + vecSize(m.ticket.length) + 4;
  return build(HandshakeType.NEW_SESSION_TICKET, size, (w) => {
    w.u32(m.lifetime);
    w.u32(m.ageAdd >>> 0);
    writeVec(w, m.nonce);
    writeVec(w, m.ticket);
    w.u32(m.maxEarlyData);
  });
}

export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket {
  return decodeBody(body, 'NewSessionTicket', (r) => {
    const lifetime = r.u32();
    const ageAdd = r.u32();
    const nonce = readVec(r, LIMITS.ticketNonce, 'ticket nonce');
    const ticket = readVec(r, LIMITS.ticket, 'ticket');
    if (ticket.length === 0) r.fail('empty ticket');
    return { lifetime, ageAdd, nonce, ticket, maxEarlyData: r.u32() };
  });
}

export function encodeServerHello(m: ServerHello): Uint8Array {
  checkLength(m.random, RANDOM_LENGTH, 'random');
  checkLength(m.keyShare, KEY_SHARE_LENGTH, 'key share');
  const flags = m.resumption;
  return build(HandshakeType.SERVER_HELLO, RANDOM_LENGTH + KEY_SHARE_LENGTH + 2 + (flags === undefined ? 0 : 1), (w) => {
    w.bytes(m.random);
    w.bytes(m.keyShare);
    w.u16(m.suite);
    if (flags !== undefined) w.u8(flags);
  });
}

export function encodeEncryptedExtensions(m: EncryptedExtensions): Uint8Array {
  const alpn = utf8.encode(m.alpn);
  checkMax(alpn.length, LIMITS.alpnLength, 'ALPN protocol length');
  checkMax(m.transportParameters.length, LIMITS.transportParameters, 'transport parameters length');
  checkMax(m.offeredSuites.length, LIMITS.suites, 'suite count');
  const size = vecSize(alpn.length) + vecSize(m.transportParameters.length) + suitesSize(m.offeredSuites);
  return build(HandshakeType.ENCRYPTED_EXTENSIONS, size, (w) => {
    writeVec(w, alpn);
    writeVec(w, m.transportParameters);
    writeSuites(w, m.offeredSuites);
  });
}

export function encodeCertificate(m: CertificateMessage): Uint8Array {
  checkLength(m.publicKey, PUBLIC_KEY_LENGTH, 'public key');
  checkMax(m.chain.length, LIMITS.chain, 'certificate chain length');
  for (const c of m.chain) checkMax(c.length, LIMITS.certificate, 'certificate length');
  const size = PUBLIC_KEY_LENGTH + varintSize(m.chain.length) + m.chain.reduce((n, c) => n + vecSize(c.length), 0);
  return build(HandshakeType.CERTIFICATE, size, (w) => {
    w.bytes(m.publicKey);
    w.varint(m.chain.length);
    for (const c of m.chain) writeVec(w, c);
  });
}

export function encodeCertificateVerify(signature: Uint8Array): Uint8Array {
  checkLength(signature, SIGNATURE_LENGTH, 'signature');
  return frameMessage(HandshakeType.CERTIFICATE_VERIFY, signature);
}

export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  checkLength(verifyData, VERIFY_DATA_LENGTH, 'verify_data');
  return frameMessage(HandshakeType.FINISHED, verifyData);
}

// ───────────────────────────── decoding ─────────────────────────────

/** Runs a body decoder: any short read, bad varint or leftover byte becomes DECODE_ERROR. */
function decodeBody<T>(body: Uint8Array, what: string, read: (r: ByteReader) => T): T {
  const r = new ByteReader(body, 0, body.length, DECODE_ERROR);
  let value: T;
  try {
    value = read(r);
  } catch (e) {
    if (e instanceof PetrelWireError) fail('DECODE_ERROR', `${what}: ${e.message}`);
    throw e;
  }
  if (r.remaining !== 0) fail('DECODE_ERROR', `${what}: ${r.remaining} trailing byte(s)`);
  return value;
}

function readCount(r: ByteReader, max: number, what: string): number {
  const n = r.varint();
  if (n > max) r.fail(`${what} count ${n} exceeds ${max}`);
  return n;
}

function readVec(r: ByteReader, max: number, what: string): Uint8Array {
  const n = r.varint();
  if (n > max) r.fail(`${what} length ${n} exceeds ${max}`);
  return r.bytes(n).slice();
}

function readString(r: ByteReader, max: number, what: string): string {
  const b = readVec(r, max, what);
  try {
    return utf8Strict.decode(b);
  } catch {
    return r.fail(`${what} is not valid UTF-8`);
  }
}

function readSuites(r: ByteReader, min: number): number[] {
  const n = readCount(r, LIMITS.suites, 'suite');
  if (n < min) r.fail('no suite offered');
  const suites: number[] = [];
  for (let i = 0; i < n; i++) suites.push(r.u16());
  return suites;
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  return decodeBody(body, 'ClientHello', (r) => {
    const random = r.bytes(RANDOM_LENGTH).slice();
    const keyShare = r.bytes(KEY_SHARE_LENGTH).slice();
    const suites = readSuites(r, 1);
    const alpnCount = readCount(r, LIMITS.alpnEntries, 'ALPN');
    const alpn: string[] = [];
    for (let i = 0; i < alpnCount; i++) {
      const p = readString(r, LIMITS.alpnLength, 'ALPN protocol');
      if (p.length === 0) r.fail('empty ALPN protocol');
      alpn.push(p);
    }
    const transportParameters = readVec(r, LIMITS.transportParameters, 'transport parameters');
    const serverName = readString(r, LIMITS.serverName, 'server name');
    if (r.remaining === 0) return { random, keyShare, suites, alpn, transportParameters, serverName };
    const flags = r.u8();
    if (flags > 1) r.fail(`unknown PSK offer flags ${flags}`);
    const identity = readVec(r, LIMITS.ticket, 'ticket');
    if (identity.length === 0) r.fail('empty ticket');
    const obfuscatedAge = r.u32();
    const binder = r.bytes(BINDER_LENGTH).slice();
    return { random, keyShare, suites, alpn, transportParameters, serverName, psk: { earlyData: flags === 1, identity, obfuscatedAge, binder } };
  });
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  return decodeBody(body, 'ServerHello', (r) => {
    const m: ServerHello = { random: r.bytes(RANDOM_LENGTH).slice(), keyShare: r.bytes(KEY_SHARE_LENGTH).slice(), suite: r.u16() };
    if (r.remaining > 0) {
      m.resumption = r.u8();
      if (m.resumption > 3 || m.resumption === RESUMPTION_FLAGS.EARLY_DATA_ACCEPTED) r.fail(`bad resumption flags ${m.resumption}`);
    }
    return m;
  });
}

export function decodeEncryptedExtensions(body: Uint8Array): EncryptedExtensions {
  return decodeBody(body, 'EncryptedExtensions', (r) => ({
    alpn: readString(r, LIMITS.alpnLength, 'ALPN protocol'),
    transportParameters: readVec(r, LIMITS.transportParameters, 'transport parameters'),
    offeredSuites: readSuites(r, 0),
  }));
}

export function decodeCertificate(body: Uint8Array): CertificateMessage {
  return decodeBody(body, 'Certificate', (r) => {
    const publicKey = r.bytes(PUBLIC_KEY_LENGTH).slice();
    const n = readCount(r, LIMITS.chain, 'certificate');
    const chain: Uint8Array[] = [];
    for (let i = 0; i < n; i++) chain.push(readVec(r, LIMITS.certificate, 'certificate'));
    return { publicKey, chain };
  });
}

export function decodeCertificateVerify(body: Uint8Array): Uint8Array {
  return decodeBody(body, 'CertificateVerify', (r) => r.bytes(SIGNATURE_LENGTH).slice());
}

export function decodeFinished(body: Uint8Array): Uint8Array {
  return decodeBody(body, 'Finished', (r) => r.bytes(VERIFY_DATA_LENGTH).slice());
}

// ───────────────────────────── framing ─────────────────────────────

export interface RawMessage {
  type: number;
  body: Uint8Array;
  /** The whole framed message, as it enters the transcript. */
  raw: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/** Collects the CRYPTO bytes of one level and cuts them into complete messages. */
export class MessageBuffer {
  private buf = NO_BYTES;
  private start = 0;

  /** Bytes received but not yet returned as part of a message. */
  get pending(): number {
    return this.buf.length - this.start;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    const merged = new Uint8Array(this.pending + data.length);
    merged.set(this.buf.subarray(this.start));
    merged.set(data, this.pending);
    this.buf = merged;
    this.start = 0;
  }

  /** The next complete message, or null while it is incomplete. Throws DECODE_ERROR on an oversized length. */
  next(): RawMessage | null {
    const avail = this.pending;
    if (avail < 2) return null;
    const b = this.buf;
    const lenBytes = 1 << (b[this.start + 1]! >>> 6);
    if (avail < 1 + lenBytes) return null;
    const r = new ByteReader(b, this.start + 1, b.length, DECODE_ERROR);
    const len = r.varint();
    if (len > LIMITS.messageBody) fail('DECODE_ERROR', `handshake message of ${len} bytes exceeds ${LIMITS.messageBody}`);
    if (r.remaining < len) return null;
    const raw = b.slice(this.start, r.pos + len);
    this.start = r.pos + len;
    if (this.start === b.length) {
      // All consumed: let go of the received flight (a finished session would hold it for the connection's life).
      this.buf = NO_BYTES;
      this.start = 0;
    }
    return { type: raw[0]!, body: raw.subarray(raw.length - len), raw };
  }
}
