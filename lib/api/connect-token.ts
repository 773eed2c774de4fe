/**
 * Connect tokens for the SDK (spec/handshake.md §Connect tokens): the matchmaker mints them with its backend
 * key; clients pass them to connect({ connectToken }); servers require them with listen({ requireConnectToken }).
 */
import { encodeConnectToken } from '../crypto/handshake/connect-token.js';
import { nodeCryptoProvider } from '../crypto/node-provider.js';
import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import type { ConnectTokenInfo } from '../crypto/handshake/connect-token.js';
import type { AcceptInfo } from '../endpoint/endpoint.js';

/**
 * What listen({ accept }) sees. With requireConnectToken the hook runs once the token is verified (inside the
 * encrypted handshake) and `connectToken` holds it; a refusal then closes the handshake with REFUSED.
 */
export interface ServerAcceptInfo extends AcceptInfo {
  connectToken?: ConnectTokenInfo;
}

export type { ConnectTokenInfo } from '../crypto/handshake/connect-token.js';

export interface MintConnectTokenOptions {
  /** The matchmaker's Ed25519 key pair (generateIdentity() works); servers trust its public key. */
  backendKey: KeyPair;
  /** The player/account admitted, 1..255 UTF-8 bytes; the server sees it as conn.connectToken.clientId. */
  clientId: string;
  /** Addresses ("host:port") of the servers the token is good for, 1..16, as each server names itself. */
  serverAddresses: readonly string[];
  /** ms since the Unix epoch after which servers refuse the token. */
  expiresAt: number;
  /** Opaque data for the game server, ≤ 1024 bytes (default empty). */
  userData?: Uint8Array;
  /** 16 bytes naming the token for reuse tracking (default random; set only for test vectors). */
  tokenId?: Uint8Array;
  /** Crypto provider (default node:crypto). */
  provider?: CryptoProvider;
}

/** Signs a connect token. Throws PetrelError INVALID_CONNECT_TOKEN on out-of-range fields. */
export function mintConnectToken(o: MintConnectTokenOptions): Uint8Array {
  const provider = o.provider ?? nodeCryptoProvider;
  return encodeConnectToken(
    provider,
    { publicKey: o.backendKey.publicKey, privateKey: o.backendKey.privateKey },
    {
      tokenId: o.tokenId ?? provider.randomBytes(16),
      clientId: o.clientId,
      expiresAt: o.expiresAt,
      serverAddresses: [...o.serverAddresses],
      userData: o.userData ?? new Uint8Array(0),
    },
  );
}

/** listen({ requireConnectToken }): which backends to trust and how often one token may be used. */
export interface RequireConnectTokenOptions {
  /** Backend (matchmaker) public keys: fingerprints ("ed25519:…") or raw 32-byte keys. */
  trustedBackendKeys: readonly (string | Uint8Array)[];
  /** Connections one token may open (1). Infinity: no reuse tracking. */
  maxUses?: number;
  /** Bound of the seen-token store (65536): when full of unexpired ids, new tokens are refused (CONNECT_TOKEN_STORE_FULL). */
  maxTracked?: number;
  /** The addresses this server answers to, as the matchmaker writes them (default: the bound "host:port"). */
  serverAddresses?: readonly string[];
}
