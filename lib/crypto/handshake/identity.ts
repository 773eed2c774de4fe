/**
 * Server identities: Ed25519 key pairs, printable fingerprints, Petrel's compact certificates, the
 * domain-separated signatures every Petrel signature goes through, and the client's check of a server
 * identity (pinned key or chain to a trusted CA key). spec/handshake.md §Identities and certificates.
 */
import { PetrelError, PetrelWireError } from '../../errors.js';
import { ByteReader, ByteWriter } from '../../wire/buffer.js';
import type { CryptoProvider, KeyPair } from '../provider.js';
import { fail, handshakeErrorCode } from './errors.js';
import { LIMITS, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './messages.js';

/**
 * One context string per kind of signature. What is signed is always
 * `context (ASCII) || 0x00 || payload`; no context contains 0x00, so no signature of one kind can be
 * presented as a signature of another.
 */
export const SignatureContext = {
  CERTIFICATE: 'petrel1 certificate',
  SERVER_CERTIFICATE_VERIFY: 'petrel1 server CertificateVerify',
  /** Reserved for client authentication. */
  CLIENT_CERTIFICATE_VERIFY: 'petrel1 client CertificateVerify',
  /** Reserved for connect tokens. */
  CONNECT_TOKEN: 'petrel1 connect token',
  /** Reserved for session tickets. */
  SESSION_TICKET: 'petrel1 session ticket',
} as const;

export type SignatureContextName = (typeof SignatureContext)[keyof typeof SignatureContext];

const ascii = new TextEncoder();

/** The exact bytes signed for a payload under a context: context || 0x00 || payload. */
export function signedContent(context: SignatureContextName, payload: Uint8Array): Uint8Array {
  const c = ascii.encode(context);
  const out = new Uint8Array(c.length + 1 + payload.length);
  out.set(c, 0);
  out.set(payload, c.length + 1);
  return out;
}

export function signWithContext(provider: CryptoProvider, privateKey: Uint8Array, context: SignatureContextName, payload: Uint8Array): Uint8Array {
  return provider.ed25519Sign(privateKey, signedContent(context, payload));
}

export function verifyWithContext(
  provider: CryptoProvider,
  publicKey: Uint8Array,
  context: SignatureContextName,
  payload: Uint8Array,
  signature: Uint8Array,
): boolean {
  return provider.ed25519Verify(publicKey, signedContent(context, payload), signature);
}

/** A new Ed25519 identity (server key or CA key): 32-byte public key and 32-byte private seed. */
export function generateIdentity(provider: CryptoProvider): KeyPair {
  return provider.ed25519Generate();
}

// ───────────────────────────── fingerprints ─────────────────────────────

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const FINGERPRINT_PREFIX = 'ed25519:';

function base64url(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 3 <= b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]! + B64URL[n & 63]!;
  }
  const left = b.length - i;
  if (left === 1) {
    const n = b[i]! << 16;
    s += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]!;
  } else if (left === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    s += B64URL[n >>> 18]! + B64URL[(n >>> 12) & 63]! + B64URL[(n >>> 6) & 63]!;
  }
  return s;
}

/** Decodes unpadded base64url; null on any character outside the alphabet or non-canonical tail bits. */
function fromBase64url(s: string): Uint8Array | null {
  if (s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64URL.indexOf(s[i]!);
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/**
 * The printable form of an Ed25519 public key: "ed25519:" + the 32 raw key bytes in unpadded base64url
 * (51 characters). The key itself rather than a hash of it: an Ed25519 key is as short as a digest, and
 * the string can be pasted into a client's configuration and parsed back (parseFingerprint) into the key to pin.
 */
export function fingerprint(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  return FINGERPRINT_PREFIX + base64url(publicKey);
}

/** The public key a fingerprint names. Throws PetrelError('INVALID_FINGERPRINT') for anything else. */
export function parseFingerprint(text: string): Uint8Array {
  const body = text.startsWith(FINGERPRINT_PREFIX) ? text.slice(FINGERPRINT_PREFIX.length) : null;
  const key = body === null ? null : fromBase64url(body);
  if (key === null || key.length !== PUBLIC_KEY_LENGTH) {
    throw new PetrelError('INVALID_FINGERPRINT', `not an ed25519 fingerprint: ${JSON.stringify(text)}`);
  }
  return key;
}

// ───────────────────────────── certificates ─────────────────────────────

export const CERTIFICATE_VERSION = 1;
/** The only flag: the certified key may issue certificates (an intermediate). Other bits must be zero. */
export const CERT_FLAG_CA = 0x01;

export interface CertificateInfo {
  /** The name the certificate is for (compared with the client's server name, ASCII case-insensitively). */
  serverName: string;
  /** The Ed25519 key certified. */
  publicKey: Uint8Array;
  /** Validity window, ms since the Unix epoch, both ends inclusive. */
  notBefore: number;
  notAfter: number;
  /** The certified key may sign certificates itself. Default false. */
  isCA?: boolean;
}

export interface Certificate {
  serverName: string;
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  isCA: boolean;
  /** The Ed25519 public key of the signer. */
  issuer: Uint8Array;
  signature: Uint8Array;
  /** The bytes covered by the signature (everything before it). */
  tbs: Uint8Array;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const BAD_CERT = handshakeErrorCode('BAD_CERTIFICATE');

function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`${what} must be a non-negative integer of ms: ${t}`);
}

/**
 * Issues a certificate: the issuer (a CA key pair) signs serverName, publicKey, the validity window and
 * the CA flag. Returns the encoded certificate (spec/handshake.md §Certificates).
 */
export function issueCertificate(provider: CryptoProvider, issuer: KeyPair, info: CertificateInfo): Uint8Array {
  if (info.publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError('certified public key must be 32 bytes');
  if (issuer.publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError('issuer public key must be 32 bytes');
  checkTime(info.notBefore, 'notBefore');
  checkTime(info.notAfter, 'notAfter');
  if (info.notAfter < info.notBefore) throw new RangeError('notAfter is before notBefore');
  const name = ascii.encode(info.serverName);
  if (name.length > LIMITS.serverName) throw new RangeError(`server name longer than ${LIMITS.serverName} bytes`);
  const tbsLength = 2 + 1 + name.length + PUBLIC_KEY_LENGTH + 16 + PUBLIC_KEY_LENGTH;
  const out = new Uint8Array(tbsLength + SIGNATURE_LENGTH);
  const w = new ByteWriter(out);
  w.u8(CERTIFICATE_VERSION);
  w.u8(info.isCA ? CERT_FLAG_CA : 0);
  w.u8(name.length);
  w.bytes(name);
  w.bytes(info.publicKey);
  w.u64(info.notBefore);
  w.u64(info.notAfter);
  w.bytes(issuer.publicKey);
  w.bytes(signWithContext(provider, issuer.privateKey, SignatureContext.CERTIFICATE, out.subarray(0, tbsLength)));
  return out;
}

/** Parses an encoded certificate (no signature check). Throws HandshakeFailure('BAD_CERTIFICATE'). */
export function decodeCertificate(bytes: Uint8Array): Certificate {
  const r = new ByteReader(bytes, 0, bytes.length, BAD_CERT);
  try {
    const version = r.u8();
    if (version !== CERTIFICATE_VERSION) r.fail(`unsupported certificate version ${version}`);
    const flags = r.u8();
    if ((flags & ~CERT_FLAG_CA) !== 0) r.fail(`reserved certificate flags set: 0x${flags.toString(16)}`);
    const nameBytes = r.bytes(r.u8());
    let serverName: string;
    try {
      serverName = utf8Strict.decode(nameBytes);
    } catch {
      return r.fail('certificate name is not valid UTF-8');
    }
    const publicKey = r.bytes(PUBLIC_KEY_LENGTH).slice();
    const notBefore = r.u53('notBefore');
    const notAfter = r.u53('notAfter');
    const issuer = r.bytes(PUBLIC_KEY_LENGTH).slice();
    const tbs = bytes.slice(0, r.pos);
    const signature = r.bytes(SIGNATURE_LENGTH).slice();
    if (r.remaining !== 0) r.fail(`${r.remaining} trailing byte(s) after the certificate`);
    return { serverName, publicKey, notBefore, notAfter, isCA: (flags & CERT_FLAG_CA) !== 0, issuer, signature, tbs };
  } catch (e) {
    if (e instanceof PetrelWireError) fail('BAD_CERTIFICATE', `malformed certificate: ${e.message}`);
    throw e;
  }
}

// ───────────────────────────── server identity check ─────────────────────────────

export interface ServerTrust {
  /** A pinned server key: accepted as is, no certificate needed. */
  serverKey?: Uint8Array;
  /** CA keys whose certificates (directly or through intermediates) the client accepts. */
  trustedCAs?: readonly Uint8Array[];
  /** The name the leaf certificate must carry. */
  serverName: string;
  /** Current time in ms, for validity windows. */
  now: () => number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * Accepts the server's identity key, or throws the HandshakeFailure that says why not. A pinned key that
 * matches is enough; otherwise the chain must lead to a trusted CA key. Checks run in this order, so
 * unauthenticated fields are never reported on before the signatures over them are verified:
 * structure (BAD_CERTIFICATE), trust anchor (UNKNOWN_SERVER_KEY), signatures (BAD_CERTIFICATE_SIGNATURE),
 * validity (CERTIFICATE_EXPIRED), name (WRONG_SERVER_NAME).
 */
export function verifyServerIdentity(provider: CryptoProvider, publicKey: Uint8Array, chain: readonly Uint8Array[], trust: ServerTrust): void {
  if (trust.serverKey && sameBytes(trust.serverKey, publicKey)) return;
  const cas = trust.trustedCAs ?? [];
  if (cas.length === 0 || chain.length === 0) {
    fail('UNKNOWN_SERVER_KEY', `server key ${fingerprint(publicKey)} is not pinned${cas.length ? ' and came without a certificate' : ''}`);
  }
  const certs = chain.map(decodeCertificate);
  if (!sameBytes(certs[0]!.publicKey, publicKey)) fail('BAD_CERTIFICATE', 'the first certificate is not for the server key');
  for (let i = 1; i < certs.length; i++) {
    if (!sameBytes(certs[i - 1]!.issuer, certs[i]!.publicKey)) fail('BAD_CERTIFICATE', `certificate ${i - 1} is not issued by certificate ${i}`);
    if (!certs[i]!.isCA) fail('BAD_CERTIFICATE', `certificate ${i} issues certificates without the CA flag`);
  }
  const anchor = certs[certs.length - 1]!.issuer;
  if (!cas.some((ca) => sameBytes(ca, anchor))) fail('UNKNOWN_SERVER_KEY', `certificate issuer ${fingerprint(anchor)} is not a trusted CA`);
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i]!;
    if (!verifyWithContext(provider, c.issuer, SignatureContext.CERTIFICATE, c.tbs, c.signature)) {
      fail('BAD_CERTIFICATE_SIGNATURE', `certificate ${i} signature does not verify`);
    }
  }
  const now = trust.now();
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i]!;
    if (now < c.notBefore) fail('CERTIFICATE_EXPIRED', `certificate ${i} is not valid before ${c.notBefore} (now ${now})`);
    if (now > c.notAfter) fail('CERTIFICATE_EXPIRED', `certificate ${i} expired at ${c.notAfter} (now ${now})`);
  }
  const leafName = certs[0]!.serverName;
  if (asciiLower(leafName) !== asciiLower(trust.serverName)) {
    fail('WRONG_SERVER_NAME', `certificate is for ${JSON.stringify(leafName)}, not ${JSON.stringify(trust.serverName)}`);
  }
}
