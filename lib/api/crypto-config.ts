/**
 * The one place that decides which CryptoConfig a connection uses. Today only the plaintext `insecure` mode
 * exists, and it must be asked for explicitly; when the secure handshake lands (lib/crypto/handshake,
 * lib/crypto/secure.ts) this function returns it for every call without `insecure: true`, built from
 * `identity` (server) or `serverKey` / `trustedCAs` / `serverName` (client).
 */
import type { CryptoConfig } from '../connection/types.js';
import { insecureCrypto } from '../crypto/insecure.js';
import { PetrelError } from '../errors.js';
import type { Identity } from './identity.js';
import type { TrustAnchor } from './options.js';

export type CryptoRequest =
  | { role: 'server'; insecure?: boolean; identity?: Identity }
  | { role: 'client'; insecure?: boolean; serverKey?: TrustAnchor; trustedCAs?: readonly TrustAnchor[]; serverName?: string };

export function selectCryptoConfig(req: CryptoRequest): CryptoConfig {
  if (req.insecure === true) return insecureCrypto;
  throw new PetrelError(
    'INSECURE_REQUIRED',
    'the secure handshake is not available in this build: pass { insecure: true } to use the plaintext mode (testing only)',
  );
}
