/**
 * The secure crypto configuration: Petrel's authenticated handshake (lib/crypto/handshake) and
 * AEAD packet protection under the Petrel v1 key profile. The insecure counterpart is insecure.ts.
 */
import { PetrelError } from '../errors.js';
import type { CryptoConfig } from './types.js';
import { PETREL_PROFILE } from './key-schedule.js';
import { initialProtectors } from './packet-protection.js';
import type { CipherSuite, CryptoProvider, KeyPair } from './provider.js';
import { ClientHandshake, ServerHandshake, type KeyLogEntry } from './handshake/session.js';
import type { ConnectTokenPolicy } from './handshake/connect-token.js';
import type { AdmitInfo } from './handshake/session.js';
import type { SessionTicket, TicketPolicy } from './handshake/tickets.js';

export interface SecureClientOptions {
  /** Pinned Ed25519 server key (see parseFingerprint). */
  serverKey?: Uint8Array;
  /** Ed25519 CA keys whose certificates are accepted. */
  trustedCAs?: readonly Uint8Array[];
  /** Current time, ms since the Unix epoch (certificate validity). */
  now: () => number;
  /** Used when the connection is given no serverName. */
  serverName?: string;
  /** Suites offered, in order. Default: the provider's preferredSuites, else AES-128-GCM then ChaCha20-Poly1305. */
  suites?: readonly CipherSuite[];
  /** A backend-minted connect token, presented encrypted before the client Finished. */
  connectToken?: Uint8Array;
  /** A ticket to resume with (spec/handshake.md §Resumption); unusable tickets are ignored. */
  ticket?: SessionTicket;
  /** Send 0-RTT data under `ticket`. */
  earlyData?: boolean;
  /** Receives the tickets the server issues. */
  onTicket?: (ticket: SessionTicket) => void;
}

export interface SecureServerOptions {
  identity: KeyPair;
  /** Encoded certificates for identity.publicKey, leaf first. */
  certificateChain?: readonly Uint8Array[];
  /** Suites accepted, in preference order. */
  suites?: readonly CipherSuite[];
  /** Require a connect token from every client (one policy per server: it holds the seen-token store). */
  connectTokenPolicy?: ConnectTokenPolicy;
  /** With connectTokenPolicy: the accept stage that sees the verified token; a reason refuses (REFUSED). */
  admit?: (info: AdmitInfo) => string | null;
  /** Session tickets, resumption and 0-RTT (one policy per server: it holds the ticket keys and single-use store). */
  tickets?: TicketPolicy;
}

export interface SecureCryptoOptions {
  provider: CryptoProvider;
  /** Needed to create client sessions. */
  client?: SecureClientOptions;
  /** Needed to create server sessions. */
  server?: SecureServerOptions;
  /** Debugging: receives every traffic secret (NSS key log labels). */
  keyLog?: (entry: KeyLogEntry) => void;
}

/**
 * Builds sessions for either role (the role's options must be present, else PetrelError
 * 'INVALID_CRYPTO_OPTIONS') and Initial protectors from the client's first destination connection id.
 */
export function secureCrypto(opts: SecureCryptoOptions): CryptoConfig {
  const { provider, keyLog } = opts;
  return {
    createSession(args) {
      const common = { provider, alpn: args.alpn, transportParameters: args.transportParameters, keyLog };
      if (args.isClient) {
        const c = opts.client;
        if (!c) throw new PetrelError('INVALID_CRYPTO_OPTIONS', 'secureCrypto has no client options');
        return new ClientHandshake({
          ...common,
          serverName: args.serverName ?? c.serverName ?? '',
          serverKey: c.serverKey,
          trustedCAs: c.trustedCAs,
          now: c.now,
          suites: c.suites,
          connectToken: c.connectToken,
          ticket: c.ticket,
          earlyData: c.earlyData,
          onTicket: c.onTicket,
        });
      }
      const s = opts.server;
      if (!s) throw new PetrelError('INVALID_CRYPTO_OPTIONS', 'secureCrypto has no server options');
      return new ServerHandshake({
        ...common,
        identity: s.identity,
        certificateChain: s.certificateChain,
        suites: s.suites,
        connectTokenPolicy: s.connectTokenPolicy,
        admit: s.admit && args.remote ? (info) => s.admit!({ ...info, address: args.remote }) : s.admit,
        tickets: s.tickets,
      });
    },
    initialProtectors(clientDcid, isClient) {
      return initialProtectors(provider, clientDcid, isClient, PETREL_PROFILE);
    },
  };
}
