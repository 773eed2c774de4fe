/** Public shapes of the sans-IO connection: options, the environment it is given, events and stats. */
import type { CongestionAlgorithm } from '../congestion/types.js';
import type { Crc32 } from '../wire/datagram.js';

export interface PeerAddress {
  host: string;
  port: number;
}

export function addressKey(a: PeerAddress): string {
  return `${a.host}|${a.port}`;
}

export function sameAddress(a: PeerAddress, b: PeerAddress): boolean {
  return a.port === b.port && a.host === b.host;
}

/** Everything the core needs from its platform, injected by the driver (Node, simulator, browser). */
export interface CoreEnv {
  /** Fills `out` with unpredictable bytes (seeded in the simulator). */
  randomFill(out: Uint8Array): void;
  /** CRC-32 (IEEE) of the bytes: `zlib.crc32` in the Node driver. */
  crc32: Crc32;
  /**
   * Stateless reset token for one of our connection ids: a keyed hash (HMAC with a secret of the
   * endpoint), so the endpoint can answer packets for ids it has forgotten. Absent: random tokens, and
   * the endpoint never sends stateless resets.
   */
  resetToken?: (cid: Uint8Array) => Uint8Array;
  /**
   * Checks a Retry packet's integrity tag over its pseudo-packet (lib/crypto/retry.ts). Absent: a client
   * drops every Retry (`retry_unsupported`).
   */
  retryIntegrity?: { verify(pseudoPacket: Uint8Array, tag: Uint8Array): boolean };
  /** Optional qlog-shaped trace sink; when absent nothing is built for it. */
  trace?: (name: string, data: Record<string, unknown>, now?: number) => void;
}

/** The crypto layer's contract, defined there (crypto never imports from the connection). */
export type { CryptoConfig } from '../crypto/types.js';

/**
 * Connection options; every one is optional and its default is in DEFAULTS (lib/connection/defaults.ts), the
 * only defaults table. The public TransportOptions (lib/api/options.ts) takes these fields and docs as they are.
 */
export interface ConnectionOptions {
  /** Idle timeout we offer, ms (the negotiated value is the minimum of both sides'). 0 = none. */
  idleTimeout?: number;
  /** Send a PING after this much quiet time (ms) so the peer and NATs see traffic. 0/undefined = off. */
  keepAlive?: number;
  /** Initial RTT estimate before the first sample (ms). */
  initialRtt?: number;
  /** Our max ack delay (ms), advertised to the peer. */
  maxAckDelay?: number;
  /** Ack every (threshold+1)th ack-eliciting packet; 1 = every 2nd (default). */
  ackElicitingThreshold?: number;
  /** Let the sender thin our ACKs with ACK_FREQUENCY during bulk transfers. */
  ackFrequency?: boolean;
  /** Most ACK ranges per ACK frame. */
  maxAckRanges?: number;
  /** Stream receive window: initial and auto-tuning cap (bytes). */
  streamWindow?: number;
  maxStreamWindow?: number;
  /** Connection receive window: initial and cap (bytes). */
  connectionWindow?: number;
  maxConnectionWindow?: number;
  /** How many streams of each kind the peer may open concurrently. */
  maxStreamsBidi?: number;
  maxStreamsUni?: number;
  /** Largest DATAGRAM frame we accept (0 disables datagrams). */
  maxDatagramFrameSize?: number;
  /** Datagrams queued for sending at most; the oldest is dropped when full. */
  datagramQueueLength?: number;
  /**
   * Send budget of the connection, bytes per second (0 = none): packets are paced at no more than this,
   * whatever the congestion controller allows. Unreliable data that waits too long behind it expires by
   * its maxAge; reliable data waits.
   */
  maxSendRate?: number;
  /**
   * Dead-peer detection, ms (0 = off; 1000–2000 typical for games). Keep-alives go out at least every
   * peerTimeout / 4; after peerTimeout / 2 without any packet from the peer the connection emits
   * 'unresponsive' (and 'responsive' if the peer is heard again); after peerTimeout it closes silently with
   * initiator 'peer_timeout' and reason "PEER_TIMEOUT: …". Independent of idleTimeout.
   */
  peerTimeout?: number;
  /** Largest UDP payload we accept and the PMTU ceiling (1472 IPv4, 1452 IPv6). */
  maxUdpPayloadSize?: number;
  /** Congestion controller (default 'cubic'). */
  congestionControl?: CongestionAlgorithm;
  /** Pace packets over the RTT (default true). */
  pacing?: boolean;
  /** Path MTU discovery from 1200 up to 1472 (IPv4) / 1452 (IPv6) (default true). */
  pmtud?: boolean;
  /**
   * Packets protected under one 1-RTT key before a key update (default 2^22: half the AES-128-GCM
   * confidentiality limit of 2^23, RFC 9001 §6.6). Insecure connections never update.
   */
  keyUpdateInterval?: number;
  /**
   * Thin streams (≤ 1000 unacknowledged bytes, ≤ 4 datagrams in flight) resend their unacknowledged tail
   * with each new message, so a single loss costs no extra round trip (default true).
   */
  redundantBundling?: boolean;
  /** Announce channels_supported (spec/wire.md §Game channels). Default true. */
  channels?: boolean;
  /**
   * The datagrams travel over a reliable, ordered carrier (WebSocket): no loss recovery, congestion control or
   * pacing in the core, as the carrier does them (docs/websocket.md). Default false.
   */
  reliableCarrier?: boolean;
  /** Application protocols (client: offered; server: accepted). */
  alpn?: readonly string[];
  serverName?: string;
}

export type CloseInitiator = 'local' | 'peer' | 'idle' | 'reset' | 'peer_timeout';

export interface CloseInfo {
  errorCode: number;
  reason: string;
  /** true for an application close (CONNECTION_CLOSE 0x1d). */
  application: boolean;
  initiator: CloseInitiator;
}

export type ConnectionEvent =
  | { type: 'connected'; alpn: string | null }
  | { type: 'handshake_confirmed' }
  /** `early`: opened by 0-RTT data (spec/handshake.md §0-RTT), which the server took before the handshake completed. */
  | { type: 'stream_opened'; streamId: number; early?: true }
  /** The peer raised its stream limit: openStream may succeed again. */
  | { type: 'streams_available'; bidi: boolean }
  | { type: 'stream_readable'; streamId: number }
  | { type: 'stream_writable'; streamId: number }
  | { type: 'stream_reset'; streamId: number; errorCode: number }
  | { type: 'stream_stop_sending'; streamId: number; errorCode: number }
  | { type: 'stream_closed'; streamId: number }
  /** `early`: arrived in a 0-RTT packet. */
  | { type: 'datagram'; data: Uint8Array; early?: true }
  | { type: 'datagram_acked'; id: number }
  | { type: 'datagram_lost'; id: number }
  /** The peer's address changed (NAT rebinding / migration); validation is under way. */
  | { type: 'path_changed'; address: PeerAddress }
  | { type: 'path_validated'; address: PeerAddress }
  /** peerTimeout: nothing heard from the peer for `silentFor` ms (half the timeout); recoverable. */
  | { type: 'unresponsive'; silentFor: number }
  /** peerTimeout: the peer was heard again after 'unresponsive'. */
  | { type: 'responsive' }
  | { type: 'closed'; info: CloseInfo };

export interface ConnectionStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  packetsLost: number;
  bytesLost: number;
  packetsRetransmitted: number;
  bytesRetransmitted: number;
  spuriousLosses: number;
  ptoCount: number;
  congestionEvents: number;
  smoothedRtt: number;
  minRtt: number;
  latestRtt: number;
  rttVariance: number;
  cwnd: number;
  ssthresh: number;
  bytesInFlight: number;
  maxDatagramSize: number;
  streamsOpen: number;
  datagramsSent: number;
  datagramsReceived: number;
  datagramsDropped: number;
  acksSent: number;
  /** Packets and datagrams dropped, by reason. */
  drops: Record<string, number>;
  /** Times the peer's address changed. */
  migrations: number;
  /** 1-RTT key updates (ours and the peer's). */
  keyUpdates: number;
  /** Bytes acknowledged per ms over the last ~smoothed-RTT window. */
  deliveryRate: number;
  /** Congestion events undone because every loss behind them proved spurious. */
  spuriousCongestionEvents: number;
  /** ms spent blocked by the peer's connection flow-control limit with data waiting. */
  timeBlocked: number;
  /** Path MTU discovery state and counters (null until the handshake gives the peer's limit, or when off). */
  pmtu: { state: string; probesSent: number; probesAcked: number; probesLost: number; blackHoles: number } | null;
  /** Pacing rate, bytes per ms (Infinity when unpaced). */
  pacingRate: number;
  sendCredit: { limit: number; used: number };
  recvWindow: { limit: number; window: number };
  /** Outgoing datagrams waiting: count, payload bytes, age (ms) of the oldest (0 when empty). */
  datagramQueue: { messages: number; bytes: number; oldestAge: number };
  /** peerTimeout: ms since the last packet from the peer, and whether it is currently 'unresponsive'. */
  peerSilence: number;
  unresponsive: boolean;
}
