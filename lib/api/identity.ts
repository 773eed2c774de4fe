/**
 * Server identities: an Ed25519 key pair and its printable fingerprint.
 *
 * A thin wrapper over node:crypto until the secure handshake (lib/crypto/handshake) provides its own;
 * the shapes (raw 32-byte keys, `sha256:` + hex fingerprint of the raw public key) are what a client pins with
 * `serverKey`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { PetrelError } from '../errors.js';

export interface Identity {
  /** Ed25519 private key: the 32-byte seed. Keep it secret. */
  privateKey: Uint8Array;
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** `sha256:` followed by the lower-case hex SHA-256 of the raw public key. */
  fingerprint: string;
}

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/** Fingerprint of a raw 32-byte Ed25519 public key. */
export function fingerprint(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new PetrelError('INVALID_KEY', `an Ed25519 public key is 32 bytes, not ${publicKey.length}`);
  return 'sha256:' + createHash('sha256').update(publicKey).digest('hex');
}

/** Whether `s` is a well-formed fingerprint string. */
export function isFingerprint(s: string): boolean {
  return FINGERPRINT.test(s);
}

/** PKCS#8 DER prefix of a raw Ed25519 private seed (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url'));
}

/** A fresh Ed25519 identity. */
export function generateIdentity(): Identity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = rawPublicKey(publicKey);
  const priv = new Uint8Array(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  return { privateKey: priv, publicKey: pub, fingerprint: fingerprint(pub) };
}

/** Rebuilds an identity from its 32-byte private seed (e.g. loaded from disk). */
export function identityFromPrivateKey(privateKey: Uint8Array): Identity {
  if (privateKey.length !== 32) throw new PetrelError('INVALID_KEY', `an Ed25519 private key is 32 bytes, not ${privateKey.length}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, privateKey]), format: 'der', type: 'pkcs8' });
  const pub = rawPublicKey(createPublicKey(key));
  return { privateKey: new Uint8Array(privateKey), publicKey: pub, fingerprint: fingerprint(pub) };
}
