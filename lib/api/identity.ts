/**
 * Server identities for the SDK: an Ed25519 key pair plus its printable fingerprint, built on the secure
 * handshake's own helpers (lib/crypto/handshake: generateIdentity, fingerprint — "ed25519:" + base64url key;
 * parseFingerprint turns it back into the key).
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { fingerprint as keyFingerprint, generateIdentity as generateKeyPair } from '../crypto/handshake/index.js';
import { nodeCryptoProvider } from '../crypto/node-provider.js';
import { PetrelError } from '../errors.js';

export interface Identity {
  /** Ed25519 private key: the 32-byte seed. Keep it secret. */
  privateKey: Uint8Array;
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Printable form of the public key ("ed25519:…"), what a client pins with `serverKey`. */
  fingerprint: string;
}

/** A fresh Ed25519 identity. */
export function generateIdentity(): Identity {
  const kp = generateKeyPair(nodeCryptoProvider);
  return { privateKey: kp.privateKey, publicKey: kp.publicKey, fingerprint: keyFingerprint(kp.publicKey) };
}

/** PKCS#8 DER prefix of a raw Ed25519 private seed (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Rebuilds an identity from its 32-byte private seed (e.g. loaded from disk). */
export function identityFromPrivateKey(privateKey: Uint8Array): Identity {
  if (privateKey.length !== 32) throw new PetrelError('INVALID_KEY', `an Ed25519 private key is 32 bytes, not ${privateKey.length}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, privateKey]), format: 'der', type: 'pkcs8' });
  const pub = new Uint8Array(Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url'));
  return { privateKey: new Uint8Array(privateKey), publicKey: pub, fingerprint: keyFingerprint(pub) };
}
