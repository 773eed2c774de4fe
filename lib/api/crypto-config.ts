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
import type { RequireConnectTokenOptions } from './connect-token.js';
import { ConnectTokenPolicy } from '../crypto/handshake/connect-token.js';
import type { AdmitInfo } from '../crypto/handshake/session.js';
import type { SessionTicket, TicketPolicy } from '../crypto/handshake/tickets.js';
import type { CryptoProvider } from '../crypto/provider.js';

export type CryptoRequest =
  | {
      role: 'server';
      insecure?: boolean;
      identity?: Identity;
      certificateChain?: readonly Uint8Array[];
      requireConnectToken?: RequireConnectTokenOptions;
      /** The bound "host:port", read when a token is checked (the socket is bound after the config is built). */
      boundAddress?: () => string;
      /** Builds the server's ticket policy with the runtime provider (listen({ tickets })). */
      tickets?: (provider: CryptoProvider) => TicketPolicy | undefined;
      /** The accept stage after the connect token (requireConnectToken + accept). */
      admit?: (info: AdmitInfo) => string | null;
    }
  | {
      role: 'client';
      insecure?: boolean;
      serverKey?: TrustAnchor;
      trustedCAs?: readonly TrustAnchor[];
      serverName?: string;
      connectToken?: Uint8Array;
      ticket?: SessionTicket;
      earlyData?: boolean;
      onTicket?: (t: SessionTicket) => void;
    };

/** A trust anchor as the 32 raw key bytes. */
function anchorKey(a: TrustAnchor, what: string): Uint8Array {
  if (typeof a === 'string') return parseFingerprint(a);
  if (a instanceof Uint8Array && a.length === 32) return a;
  throw new PetrelError('INVALID_OPTION', `${what} must be a fingerprint string or a 32-byte Ed25519 public key`);
}

export function selectCryptoConfig(req: CryptoRequest): CryptoConfig {
  const wantsToken = req.role === 'server' ? req.requireConnectToken !== undefined : req.connectToken !== undefined;
  if (req.insecure === true && wantsToken) throw new PetrelError('INVALID_OPTION', 'connect tokens need the secure handshake (not insecure: true)');
  const wantsTickets = req.role === 'server' ? req.tickets !== undefined : req.ticket !== undefined || req.earlyData === true;
  if (req.insecure === true && wantsTickets) {
    throw new PetrelError('INVALID_OPTION', 'session tickets need the secure handshake (not insecure: true)');
  }
  if (req.insecure === true) return insecureCrypto;
  if (req.role === 'server') {
    const id = req.identity;
    if (!id) throw new PetrelError('IDENTITY_REQUIRED', 'a server needs an identity (generateIdentity()), or insecure: true for plaintext testing');
    const provider = runtimeCryptoProvider();
    const t = req.requireConnectToken;
    const bound = req.boundAddress;
    const connectTokenPolicy = t
      ? new ConnectTokenPolicy({
          provider,
          trustedBackendKeys: t.trustedBackendKeys.map((k) => anchorKey(k, 'trustedBackendKeys entry')),
          maxUses: t.maxUses,
          maxTracked: t.maxTracked,
          serverAddresses: t.serverAddresses ? () => t.serverAddresses! : () => (bound ? [bound()] : []),
          now: () => Date.now(),
        })
      : undefined;
    return secureCrypto({
      provider,
      server: {
        identity: { publicKey: id.publicKey, privateKey: id.privateKey },
        certificateChain: req.certificateChain,
        connectTokenPolicy,
        admit: req.admit,
        tickets: req.tickets?.(provider),
      },
    });
  }
  const serverKey = req.serverKey === undefined ? undefined : anchorKey(req.serverKey, 'serverKey');
  const trustedCAs = (req.trustedCAs ?? []).map((a) => anchorKey(a, 'trustedCAs entry'));
  if (serverKey === undefined && trustedCAs.length === 0) {
    throw new PetrelError('SERVER_KEY_REQUIRED', 'a client needs serverKey (pinned) or trustedCAs to authenticate the server, or insecure: true');
  }
  return secureCrypto({
    provider: runtimeCryptoProvider(),
    client: {
      serverKey,
      trustedCAs,
      serverName: req.serverName,
      now: () => Date.now(),
      connectToken: req.connectToken,
      ticket: req.ticket,
      earlyData: req.earlyData,
      onTicket: req.onTicket,
    },
  });
}

/**
 * Initial protectors of the mode a server does NOT run in, for recognising clients whose `insecure` differs
 * (the endpoint refuses them with INSECURE_MISMATCH). A secure server's endpoint knows the plaintext mode.
 */
export function otherModeInitialProtectors(insecure: boolean | undefined): CryptoConfig['initialProtectors'] | undefined {
  return insecure === true ? secureCrypto({ provider: runtimeCryptoProvider() }).initialProtectors : undefined;
}
