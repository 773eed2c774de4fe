/** Options of listen() and connect(), and how they map onto the core and the channel layer. */
import type { RequireConnectTokenOptions } from './connect-token.js';
import type { ConnectionOptions } from '../connection/types.js';
import type { ChannelLayerOptions } from '../channel/channel-layer.js';
import type { ServerAcceptInfo } from './connect-token.js';
import type { EarlyDataOptions, SessionTicket, SessionTicketStore, TicketOptions } from './tickets.js';
import { PetrelError } from '../errors.js';
import type { Identity } from './identity.js';
import { checkQlogOption, type QlogOption } from './qlog.js';
import type { WebSocketListenOptions } from '../transport/ws-server.js';

/**
 * The core options the public API exposes. TransportOptions takes their types and documentation from
 * ConnectionOptions (lib/connection/types.ts) and their defaults from the one table in
 * lib/connection/defaults.ts; nothing is restated here.
 */
const CORE_KEYS = [
  'idleTimeout',
  'keepAlive',
  'initialRtt',
  'maxAckDelay',
  'ackFrequency',
  'streamWindow',
  'maxStreamWindow',
  'connectionWindow',
  'maxConnectionWindow',
  'maxStreamsBidi',
  'maxStreamsUni',
  'maxDatagramFrameSize',
  'datagramQueueLength',
  'maxSendRate',
  'peerTimeout',
  'maxUdpPayloadSize',
  'channels',
  'congestionControl',
  'pacing',
  'pmtud',
  'keyUpdateInterval',
  'redundantBundling',
] as const satisfies ReadonlyArray<keyof ConnectionOptions>;

type CoreKey = (typeof CORE_KEYS)[number];

/** Options shared by servers and clients (every field optional; core defaults in lib/connection/defaults.ts). */
export interface TransportOptions extends Pick<ConnectionOptions, CoreKey> {
  /** Application protocols: client offers, server accepts. */
  alpn?: string | readonly string[];
  /** Use the plaintext handshake and packet protection (testing only). Default: the secure handshake. */
  insecure?: boolean;
  /** Kernel socket buffer sizes requested (4 MiB each); the granted sizes are in stats(). */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /**
   * Bytes a stream may have unacknowledged before write() waits. Unset: 1 MiB, or twice the path's measured
   * bandwidth-delay product when that is larger (at most maxStreamWindow), so one stream can fill a long fat
   * path; set: exactly this.
   */
  streamHighWaterMark?: number;
  /** Largest channel message, encoded (1 MiB; unreliable channels are capped at 256 KiB by the wire). */
  maxMessageSize?: number;
  /** Deepest MessagePack nesting accepted on channels (32). */
  maxMessageDepth?: number;
  /** Unreliable-channel reassembly bounds: bytes (1 MiB), partial messages (32), timeout ms (3000). */
  reassembly?: { maxBytes?: number; maxMessages?: number; timeout?: number };
  /**
   * qlog traces (spec/qlog.md): a directory (created if missing) for one `<odcid>_<client|server>.sqlog` file per
   * connection, or a function returning a sink per connection (undefined: not this one). Off by default, at no cost.
   */
  qlog?: QlogOption;
  /**
   * Secret (≥ 16 bytes) behind stateless-reset and address-validation tokens. Give a server the same key
   * across restarts and its old clients learn at once that their connection is gone. Default: random per process.
   */
  statelessResetKey?: Uint8Array;
}

export interface ListenOptions extends TransportOptions {
  /** Address to bind ('0.0.0.0'; an IPv6 address binds udp6). */
  host?: string;
  /** Port (0 = any free port; see server.address()). */
  port?: number;
  /** udp6: accept IPv4 too (false = dual-stack, the default). */
  ipv6Only?: boolean;
  /** The server's key pair (from generateIdentity()); required unless `insecure: true`. */
  identity?: Identity;
  /** Certificates for identity.publicKey, leaf first (issueCertificate), for clients that trust a CA key. */
  certificateChain?: readonly Uint8Array[];
  /**
   * Most concurrent connections (10000); further clients are refused at once: their connect() rejects with
   * PetrelError SERVER_BUSY within one round trip (counted in stats().drops.refused).
   */
  maxConnections?: number;
  /**
   * Decides on every new connection once its ClientHello is read (address, ALPN, server name): return
   * true/undefined to accept, or a reason string (false: "refused") to refuse; the client's connect() then
   * rejects with PetrelError REFUSED carrying the reason, within one round trip. A hook that throws refuses.
   * With `requireConnectToken` it runs instead once the client's token is verified, with `info.connectToken`
   * (clientId, userData…); a refusal then ends the handshake and connect() rejects with PetrelError REFUSED.
   */
  accept?: (info: ServerAcceptInfo) => boolean | string | undefined;
  /** Also accept Petrel over WebSocket (docs/websocket.md): own port, or a path on an existing HTTP server. */
  websocket?: WebSocketListenOptions;
  /** Most connections with an incomplete handshake (1024), and per source /24 or /64 (64). */
  maxHalfOpen?: number;
  maxHalfOpenPerPrefix?: number;
  /** A handshake not complete this many ms after the client's first Initial is abandoned (10000). */
  handshakeTimeout?: number;
  /**
   * Address validation with Retry: 'auto' (default) once `retryThreshold` (64) handshakes are pending,
   * 'always', or 'never'.
   */
  retry?: 'auto' | 'always' | 'never';
  retryThreshold?: number;
  /**
   * Admit only clients with a connect token from a trusted matchmaker (mintConnectToken). The token arrives
   * with the client Finished, after the accept hook has run: its clientId and userData are on
   * `conn.connectToken` of every accepted connection. Refusals: CONNECT_TOKEN_* (spec/handshake.md). Not with `insecure`.
   */
  requireConnectToken?: RequireConnectTokenOptions;
  /**
   * Issue session tickets: a client that comes back with one resumes without the certificate signature
   * (spec/handshake.md §Resumption). `true` for the defaults. Not with `insecure`.
   */
  tickets?: boolean | TicketOptions;
  /** Take 0-RTT data from resuming clients (needs `tickets`); streams and datagrams that came so are marked early. */
  earlyData?: EarlyDataOptions;
}

/** A trust anchor for the server's key: a fingerprint string ("ed25519:…") or a raw 32-byte Ed25519 public key. */
export type TrustAnchor = string | Uint8Array;

export interface ConnectOptions extends TransportOptions {
  /** The server's UDP address (required unless `transport: 'websocket'`). */
  host?: string;
  port?: number;
  /**
   * The carrier: 'udp' (default), 'websocket' (needs `url`), or 'auto': UDP first, WebSocket after
   * `happyEyeballsDelay` ms, the first handshake wins and is remembered per server (docs/websocket.md).
   */
  transport?: 'udp' | 'websocket' | 'auto';
  /** The server's WebSocket URL (ws:// or wss://), for 'websocket' and 'auto'. */
  url?: string;
  /** 'auto': how long UDP has alone before WebSocket starts too, ms (250, as RFC 8305 suggests). */
  happyEyeballsDelay?: number;
  /** Pin the server's key (fingerprint or raw public key). This or trustedCAs is required unless `insecure`. */
  serverKey?: TrustAnchor;
  /** Accept servers whose certificate chain leads to one of these CA keys. */
  trustedCAs?: readonly TrustAnchor[];
  /** Name sent to the server and checked against its certificate (default: `host` when it is a name). */
  serverName?: string;
  /** A connect token from the matchmaker (mintConnectToken), sent inside the encrypted handshake. Not with `insecure`. */
  connectToken?: Uint8Array;
  /** Resume with this ticket (an earlier connection's `conn.sessionTicket`). Unusable tickets are ignored. */
  session?: SessionTicket;
  /** Take a ticket for this server from the store (when `session` is not given) and put the new ones in it. */
  ticketStore?: SessionTicketStore;
  /**
   * With a ticket: connect() resolves as soon as the first flight is out and streams/datagrams go in 0-RTT.
   * If the server rejects 0-RTT, stream data is re-sent in 1-RTT automatically (`conn.earlyData` tells).
   */
  earlyData?: boolean;
  /** Cancels the attempt at any stage (PetrelError ABORTED). */
  signal?: AbortSignal;
  /** Gives up after this many ms without a completed handshake (10000): CONNECT_TIMEOUT. */
  timeout?: number;
  /** Local address to bind the client socket to (any). */
  localHost?: string;
  localPort?: number;
}

export function alpnList(alpn: string | readonly string[] | undefined): readonly string[] | undefined {
  if (alpn === undefined) return undefined;
  return typeof alpn === 'string' ? [alpn] : alpn;
}

/** The core's ConnectionOptions from the public options. */
export function coreOptions(o: TransportOptions, serverName?: string): ConnectionOptions {
  const out: ConnectionOptions = {};
  for (const k of CORE_KEYS) {
    const v = o[k];
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  const alpn = alpnList(o.alpn);
  if (alpn) out.alpn = alpn;
  if (serverName !== undefined) out.serverName = serverName;
  return out;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
export const DEFAULT_STREAM_HIGH_WATER_MARK = 1024 * 1024;

export function layerOptions(o: TransportOptions): ChannelLayerOptions {
  return {
    maxStreamMessageSize: o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    reassemblyMaxBytes: o.reassembly?.maxBytes,
    reassemblyMaxMessages: o.reassembly?.maxMessages,
    reassemblyTimeout: o.reassembly?.timeout,
  };
}

function checkNonNegative(o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))) {
      throw new PetrelError('INVALID_OPTION', `option ${k} must be a finite number >= 0, got ${String(v)}`);
    }
  }
}

const NON_NUMERIC = new Set<string>(['channels', 'ackFrequency', 'congestionControl', 'pacing', 'pmtud', 'redundantBundling']);

/** Rejects obviously wrong options early, with the option's name. */
export function validateOptions(o: TransportOptions): void {
  checkNonNegative(o as Record<string, unknown>, [
    ...CORE_KEYS.filter((k) => !NON_NUMERIC.has(k)),
    'recvBufferSize',
    'sendBufferSize',
    'streamHighWaterMark',
    'maxMessageSize',
    'maxMessageDepth',
  ]);
  for (const k of ['channels', 'ackFrequency', 'pacing', 'pmtud', 'redundantBundling'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new PetrelError('INVALID_OPTION', `option ${k} must be a boolean`);
  }
  if (o.congestionControl !== undefined && o.congestionControl !== 'cubic' && o.congestionControl !== 'newreno' && o.congestionControl !== 'bbr') {
    throw new PetrelError('INVALID_OPTION', `option congestionControl must be 'cubic', 'newreno' or 'bbr'`);
  }
  checkQlogOption(o.qlog);
}
