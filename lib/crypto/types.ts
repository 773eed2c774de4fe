/**
 * The crypto boundary of the core. The connection never calls a cipher directly: it asks a
 * HandshakeSession for CRYPTO bytes and keys, and uses PacketProtectors to seal/open packets.
 * The Node driver injects a node:crypto provider; the browser client (later) injects a pure-JS one;
 * `insecure` mode injects the plaintext session (lib/crypto/insecure.ts).
 */
import type { ConnectTokenInfo } from './handshake/connect-token.js';

/** Encryption levels, one per packet-number space (0-RTT shares the application space). */
export type EncryptionLevel = 'initial' | 'handshake' | '0rtt' | '1rtt';

/** Seals or opens packets of one direction at one level and key phase. */
export interface PacketProtector {
  /** AEAD tag bytes appended to every payload (0 for the plaintext protector). */
  readonly tagLength: number;
  /** Whether header protection (RFC 9001 §5.4) is applied. */
  readonly headerProtection: boolean;
  /**
   * Encrypts buf[payloadOffset, payloadEnd) in place and writes the tag after it, using
   * buf[headerOffset, payloadOffset) as associated data. Returns the new end (payloadEnd + tagLength).
   */
  seal(pn: number, buf: Uint8Array, headerOffset: number, payloadOffset: number, payloadEnd: number): number;
  /**
   * Decrypts buf[payloadOffset, end) in place (end includes the tag). Returns the plaintext end,
   * or -1 when authentication fails (the packet is then dropped and counted, never delivered).
   */
  open(pn: number, buf: Uint8Array, headerOffset: number, payloadOffset: number, end: number): number;
  /** Writes the 5-byte header-protection mask for a 16-byte sample into out[0..5). */
  headerMask(sample: Uint8Array, out: Uint8Array): void;
}

/** Keys a handshake made available for one level. */
export interface KeyInstall {
  level: EncryptionLevel;
  /** Protector for packets we send at this level. */
  write?: PacketProtector;
  /** Protector for packets we receive at this level. */
  read?: PacketProtector;
}

/** Outcome of feeding CRYPTO data into a session. */
export interface HandshakeError {
  /** TransportErrorCode (0x0100 + alert for crypto failures). */
  errorCode: number;
  /** Stable string for PetrelError.code, e.g. 'UNKNOWN_SERVER_KEY'. */
  reason: string;
  message: string;
}

/**
 * A TLS-1.3-shaped handshake driven by the connection: CRYPTO bytes in, CRYPTO bytes and keys out.
 * All methods are synchronous and deterministic given the injected randomness.
 */
export interface HandshakeSession {
  readonly isClient: boolean;
  /** Client: produce the first flight. Server: no-op. */
  start(): void;
  /** Feeds in-order CRYPTO bytes received at a level. Returns an error to close the connection with, or null. */
  handleCrypto(level: EncryptionLevel, data: Uint8Array): HandshakeError | null;
  /** Next CRYPTO bytes to send, in order, or null. */
  pollOutput(): { level: EncryptionLevel; data: Uint8Array } | null;
  /** Next keys to install, in order, or null. */
  pollKeys(): KeyInstall | null;
  /** True once this side has sent and verified everything (client: after its Finished; server: after the client's). */
  readonly complete: boolean;
  /** The peer's encoded transport parameters, once received. */
  readonly peerTransportParameters: Uint8Array | null;
  /** The negotiated application protocol, once known. */
  readonly alpn: string | null;
  /** Server: the server name the client asked for (null if none or not received yet). */
  readonly peerServerName?: string | null;
  /**
   * Client: report 'connected' only once the server confirms the handshake (HANDSHAKE_DONE), because the
   * server checks something after the client Finished (a connect token) that may still refuse it.
   */
  readonly confirmBeforeConnected?: boolean;
  /** Server: the verified connect token's contents once the handshake is complete (null if none). */
  readonly connectToken?: ConnectTokenInfo | null;
  /** Client: the fate of 0-RTT data ('none' when not offered); 'rejected' means it must go again in 1-RTT. */
  readonly earlyData?: 'none' | 'offered' | 'accepted' | 'rejected';
  /** Client offering 0-RTT: the server's transport parameters remembered with the ticket (they bind 0-RTT). */
  readonly earlyTransportParameters?: Uint8Array | null;
  /** Server: 0-RTT bytes this connection takes (0 when none). */
  readonly maxEarlyData?: number;
  /** Whether the handshake resumed a session with a ticket. */
  readonly resumedSession?: boolean;
  /** Next-generation 1-RTT protectors for a key update (RFC 9001 §6), or null when the session cannot update. */
  nextOneRttKeys?(): { read: PacketProtector; write: PacketProtector } | null;
}

/** A plaintext protector: no tag, no header protection. Used only with the explicit `insecure` option. */
export const PLAINTEXT_PROTECTOR: PacketProtector = {
  tagLength: 0,
  headerProtection: false,
  seal: (_pn, _buf, _h, _p, payloadEnd) => payloadEnd,
  open: (_pn, _buf, _h, _p, end) => end,
  headerMask: (_sample, out) => {
    out.fill(0, 0, 5);
  },
};

/** Builds the handshake session and Initial protectors for one connection (secure or insecure). */
export interface CryptoConfig {
  createSession(args: {
    isClient: boolean;
    transportParameters: Uint8Array;
    alpn: readonly string[];
    serverName?: string;
    /** Server: the client's address (for the accept stage that runs inside the handshake). */
    remote?: { host: string; port: number };
  }): HandshakeSession;
  /** Protectors for Initial packets, derived from the client's first destination connection id. */
  initialProtectors(clientDcid: Uint8Array, isClient: boolean): { read: PacketProtector; write: PacketProtector };
}
