/**
 * Connect tokens (spec/handshake.md §Connect tokens): a matchmaker ("backend") signs, with its Ed25519 key,
 * which client may join which game servers until when, plus opaque user data. The client presents the token
 * inside the encrypted handshake; the server checks signer, expiry, its own address and reuse.
 *
 * Failures are HandshakeFailure with a CONNECT_TOKEN_* reason, so a refusal closes the connection with the
 * reason as any handshake failure does.
 */
import { PetrelError, PetrelWireError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../wire/buffer.js';
import { varintSize } from '../../wire/varint.js';
import type { CryptoProvider, KeyPair } from '../provider.js';
import { fail, handshakeErrorCode } from './errors.js';
import { SignatureContext, signWithContext, verifyWithContext } from './identity.js';

export const CONNECT_TOKEN_VERSION = 1;
export const CONNECT_TOKEN_LIMITS = {
  tokenId: 16,
  clientId: 255,
  serverAddresses: 16,
  serverAddress: 255,
  userData: 1024,
} as const;
/** The largest encoded token (all limits at their maximum): fits one handshake message with room to spare. */
export const CONNECT_TOKEN_MAX_SIZE = 1 + 16 + 2 + 255 + 8 + 1 + 16 * (2 + 255) + 2 + 1024 + 32 + 64;

export interface ConnectTokenFields {
  /** 16 random bytes naming this token (reuse tracking). */
  tokenId: Uint8Array;
  /** The player/account the matchmaker admitted (UTF-8, 1..255 bytes). */
  clientId: string;
  /** ms since the Unix epoch after which the token is refused. */
  expiresAt: number;
  /** Server addresses the token is good for ("host:port" as the server is configured to call itself), 1..16. */
  serverAddresses: string[];
  /** Opaque application data for the game server, 0..1024 bytes. */
  userData: Uint8Array;
}

export interface ConnectToken extends ConnectTokenFields {
  /** The backend key that signed it. */
  signer: Uint8Array;
  signature: Uint8Array;
  /** The bytes covered by the signature (everything before it). */
  signed: Uint8Array;
}

/** What the server learns from a verified token. */
export interface ConnectTokenInfo {
  clientId: string;
  userData: Uint8Array;
  expiresAt: number;
  tokenId: Uint8Array;
  signer: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const MALFORMED = handshakeErrorCode('CONNECT_TOKEN_MALFORMED');

function invalid(message: string): never {
  throw new PetrelError('INVALID_CONNECT_TOKEN', message);
}

/** Encodes and signs a token. Throws PetrelError('INVALID_CONNECT_TOKEN') on out-of-range fields. */
export function encodeConnectToken(provider: CryptoProvider, backendKey: KeyPair, f: ConnectTokenFields): Uint8Array {
  if (backendKey.publicKey.length !== 32 || backendKey.privateKey.length !== 32) invalid('backendKey must be a raw Ed25519 key pair');
  if (f.tokenId.length !== CONNECT_TOKEN_LIMITS.tokenId) invalid('tokenId must be 16 bytes');
  const clientId = utf8.encode(f.clientId);
  if (clientId.length === 0 || clientId.length > CONNECT_TOKEN_LIMITS.clientId) invalid('clientId must be 1..255 UTF-8 bytes');
  if (!Number.isSafeInteger(f.expiresAt) || f.expiresAt < 0) invalid('expiresAt must be a non-negative integer (ms since the epoch)');
  const n = f.serverAddresses.length;
  if (n === 0 || n > CONNECT_TOKEN_LIMITS.serverAddresses) invalid('serverAddresses must hold 1..16 entries');
  const addrs = f.serverAddresses.map((a) => utf8.encode(a));
  for (const a of addrs) {
    if (a.length === 0 || a.length > CONNECT_TOKEN_LIMITS.serverAddress) invalid('each server address must be 1..255 UTF-8 bytes');
  }
  if (f.userData.length > CONNECT_TOKEN_LIMITS.userData) invalid(`userData exceeds ${CONNECT_TOKEN_LIMITS.userData} bytes`);
  const signedLength =
    1 +
    16 +
    varintSize(clientId.length) +
    clientId.length +
    8 +
    varintSize(n) +
    addrs.reduce((s, a) => s + varintSize(a.length) + a.length, 0) +
    varintSize(f.userData.length) +
    f.userData.length +
    32;
  const out = new Uint8Array(signedLength + 64);
  const w = new ByteWriter(out);
  w.u8(CONNECT_TOKEN_VERSION);
  w.bytes(f.tokenId);
  w.varint(clientId.length);
  w.bytes(clientId);
  w.u64(f.expiresAt);
  w.varint(n);
  for (const a of addrs) {
    w.varint(a.length);
    w.bytes(a);
  }
  w.varint(f.userData.length);
  w.bytes(f.userData);
  w.bytes(backendKey.publicKey);
  w.bytes(signWithContext(provider, backendKey.privateKey, SignatureContext.CONNECT_TOKEN, out.subarray(0, signedLength)));
  return out;
}

function readString(r: ByteReader, max: number, what: string): string {
  const n = r.varint();
  if (n === 0 || n > max) r.fail(`${what} length ${n} outside 1..${max}`);
  try {
    return utf8Strict.decode(r.bytes(n));
  } catch (e) {
    if (e instanceof PetrelWireError) throw e;
    return r.fail(`${what} is not valid UTF-8`);
  }
}

/** Parses a token without checking its signature. Throws HandshakeFailure('CONNECT_TOKEN_MALFORMED'). */
export function decodeConnectToken(bytes: Uint8Array): ConnectToken {
  const r = new ByteReader(bytes, 0, bytes.length, MALFORMED);
  try {
    const version = r.u8();
    if (version !== CONNECT_TOKEN_VERSION) r.fail(`unknown connect token version ${version}`);
    const tokenId = r.bytes(16).slice();
    const clientId = readString(r, CONNECT_TOKEN_LIMITS.clientId, 'clientId');
    const expiresAt = r.u53('expiresAt');
    const n = r.varint();
    if (n === 0 || n > CONNECT_TOKEN_LIMITS.serverAddresses) r.fail(`server address count ${n} outside 1..16`);
    const serverAddresses: string[] = [];
    for (let i = 0; i < n; i++) serverAddresses.push(readString(r, CONNECT_TOKEN_LIMITS.serverAddress, 'server address'));
    const u = r.varint();
    if (u > CONNECT_TOKEN_LIMITS.userData) r.fail(`userData length ${u} exceeds ${CONNECT_TOKEN_LIMITS.userData}`);
    const userData = r.bytes(u).slice();
    const signer = r.bytes(32).slice();
    const signedLength = r.pos;
    const signature = r.bytes(64).slice();
    if (r.remaining !== 0) r.fail(`${r.remaining} trailing byte(s) after the connect token`);
    return { tokenId, clientId, expiresAt, serverAddresses, userData, signer, signature, signed: bytes.slice(0, signedLength) };
  } catch (e) {
    if (e instanceof PetrelWireError) fail('CONNECT_TOKEN_MALFORMED', `connect token: ${e.message}`);
    throw e;
  }
}

export interface ConnectTokenPolicyOptions {
  provider: CryptoProvider;
  /** Backend (matchmaker) Ed25519 public keys whose tokens are accepted. */
  trustedBackendKeys: readonly Uint8Array[];
  /** The addresses this server answers to, as matchmakers write them into tokens. */
  serverAddresses: () => readonly string[];
  now: () => number;
  /** How many connections one token may open (default 1). Infinity disables reuse tracking. */
  maxUses?: number;
  /** Bound of the seen-token store (default 65536 entries). A full store refuses new tokens (fails closed). */
  maxTracked?: number;
}

/**
 * The server's token check, shared by every connection of one server: holds the bounded store of seen token
 * ids, each kept until its token expires (after that the expiry check refuses it anyway).
 */
export class ConnectTokenPolicy {
  private readonly seen = new Map<string, { uses: number; expiresAt: number }>();
  private readonly trusted: Uint8Array[];
  private readonly maxUses: number;
  readonly maxTracked: number;

  constructor(private readonly opts: ConnectTokenPolicyOptions) {
    if (opts.trustedBackendKeys.length === 0) throw new PetrelError('INVALID_OPTION', 'requireConnectToken needs at least one trusted backend key');
    for (const k of opts.trustedBackendKeys) {
      if (k.length !== 32) throw new PetrelError('INVALID_OPTION', 'each trusted backend key must be a 32-byte Ed25519 public key');
    }
    this.trusted = opts.trustedBackendKeys.map((k) => new Uint8Array(k));
    this.maxUses = opts.maxUses ?? 1;
    if (!(this.maxUses >= 1)) throw new PetrelError('INVALID_OPTION', 'maxUses must be at least 1');
    this.maxTracked = opts.maxTracked ?? 65536;
    if (!Number.isSafeInteger(this.maxTracked) || this.maxTracked < 1) {
      throw new PetrelError('INVALID_OPTION', 'maxTracked must be a positive integer');
    }
  }

  /** Token ids currently tracked. */
  get tracked(): number {
    return this.seen.size;
  }

  /** Verifies a presented token and counts one use. Throws HandshakeFailure with a CONNECT_TOKEN_* reason. */
  verify(bytes: Uint8Array): ConnectTokenInfo {
    const t = decodeConnectToken(bytes);
    const p = this.opts.provider;
    const key = this.trusted.find((k) => k.length === t.signer.length && k.every((b, i) => b === t.signer[i]));
    if (!key || !verifyWithContext(p, key, SignatureContext.CONNECT_TOKEN, t.signed, t.signature)) {
      fail('CONNECT_TOKEN_UNTRUSTED', 'the connect token is not signed by a trusted backend key');
    }
    const now = this.opts.now();
    if (now > t.expiresAt) fail('CONNECT_TOKEN_EXPIRED', `the connect token expired at ${t.expiresAt}`);
    const mine = this.opts.serverAddresses();
    if (!t.serverAddresses.some((a) => mine.includes(a))) {
      fail('CONNECT_TOKEN_WRONG_SERVER', `the connect token is for ${t.serverAddresses.join(', ')}, not this server`);
    }
    if (Number.isFinite(this.maxUses)) this.countUse(t, now);
    return { clientId: t.clientId, userData: t.userData, expiresAt: t.expiresAt, tokenId: t.tokenId, signer: t.signer };
  }

  private countUse(t: ConnectToken, now: number): void {
    let id = '';
    for (const b of t.tokenId) id += String.fromCharCode(b); // a Map key; no Node Buffer in the core
    const e = this.seen.get(id);
    if (e) {
      if (e.uses >= this.maxUses) fail('CONNECT_TOKEN_REUSED', `the connect token was already used ${e.uses} time(s)`);
      e.uses++;
      return;
    }
    if (this.seen.size >= this.maxTracked) {
      for (const [k, v] of this.seen) if (v.expiresAt < now) this.seen.delete(k);
      // Still full: forgetting a live id would let it be replayed, so refuse instead.
      if (this.seen.size >= this.maxTracked) fail('CONNECT_TOKEN_STORE_FULL', `${this.maxTracked} unexpired connect tokens are tracked already`);
    }
    this.seen.set(id, { uses: 1, expiresAt: t.expiresAt });
  }
}
