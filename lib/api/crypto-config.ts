/**
 * The one place that decides which CryptoConfig a connection uses.
 *
 * Secure by default: Petrel's authenticated handshake (lib/crypto/secure.ts) with node:crypto. A server needs
 * an `identity` (generateIdentity()); a client needs `serverKey` (a pinned key or its fingerprint) or
 * `trustedCAs`. The plaintext handshake is used only when `insecure: true` is passed explicitly.
 */
import type { CryptoConfig } from '../connection/types.js';
import { insecureCrypto } from '../crypto/insecure.js';
import { runtimeCryptoProvider } from '../crypto/runtime-provider.js';
import { secureCrypto } from '../crypto/secure.js';
import { parseFingerprint } from '../crypto/handshake/index.js';
import { PetrelError } from '../errors.js';
import type { Identity } from './identity.js';
import type { TrustAnchor } from './options.js';

export type CryptoRequest =
  | { role: 'server'; insecure?: boolean; identity?: Identity; certificateChain?: readonly Uint8Array[] }
  | { role: 'client'; insecure?: boolean; serverKey?: TrustAnchor; trustedCAs?: readonly TrustAnchor[]; serverName?: string };

/** A trust anchor as the 32 raw key bytes. */
function anchorKey(a: TrustAnchor, what: string): Uint8Array {
  if (typeof a === 'string') return parseFingerprint(a);
  if (a instanceof Uint8Array && a.length === 32) return a;
  throw new PetrelError('INVALID_OPTION', `${what} must be a fingerprint string or a 32-byte Ed25519 public key`);
}

export function selectCryptoConfig(req: CryptoRequest): CryptoConfig {
  if (req.insecure === true) return insecureCrypto;
  if (req.role === 'server') {
    const id = req.identity;
    if (!id) throw new PetrelError('IDENTITY_REQUIRED', 'a server needs an identity (generateIdentity()), or insecure: true for plaintext testing');
    return secureCrypto({
      provider: runtimeCryptoProvider(),
      server: { identity: { publicKey: id.publicKey, privateKey: id.privateKey }, certificateChain: req.certificateChain },
    });
  }
  const serverKey = req.serverKey === undefined ? undefined : anchorKey(req.serverKey, 'serverKey');
  const trustedCAs = (req.trustedCAs ?? []).map((a) => anchorKey(a, 'trustedCAs entry'));
  if (serverKey === undefined && trustedCAs.length === 0) {
    throw new PetrelError('SERVER_KEY_REQUIRED', 'a client needs serverKey (pinned) or trustedCAs to authenticate the server, or insecure: true');
  }
  return secureCrypto({
    provider: runtimeCryptoProvider(),
    client: { serverKey, trustedCAs, serverName: req.serverName, now: () => Date.now() },
  });
}

/**
 * Initial protectors of the mode a server does NOT run in, for recognising clients whose `insecure` differs
 * (the endpoint refuses them with INSECURE_MISMATCH). A secure server's endpoint knows the plaintext mode.
 */
export function otherModeInitialProtectors(insecure: boolean | undefined): CryptoConfig['initialProtectors'] | undefined {
  return insecure === true ? secureCrypto({ provider: runtimeCryptoProvider() }).initialProtectors : undefined;
}
