/**
 * The one table of transport defaults. The core fills unset ConnectionOptions from it, and the public
 * TransportOptions (lib/api/options.ts) is derived from ConnectionOptions, so a default lives only here.
 */
import type { CongestionAlgorithm } from '../congestion/types.js';
import { MAX_DATAGRAM_IPV4 } from '../wire/datagram.js';
import type { ConnectionOptions } from './types.js';

export const DEFAULTS = {
  idleTimeout: 30_000,
  keepAlive: 0,
  initialRtt: 333,
  maxAckDelay: 25,
  ackElicitingThreshold: 1,
  ackFrequency: true,
  maxAckRanges: 32,
  streamWindow: 256 * 1024,
  maxStreamWindow: 16 * 1024 * 1024,
  connectionWindow: 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxStreamsBidi: 100,
  maxStreamsUni: 100,
  maxDatagramFrameSize: MAX_DATAGRAM_IPV4,
  datagramQueueLength: 256,
  maxSendRate: 0,
  peerTimeout: 0,
  maxUdpPayloadSize: MAX_DATAGRAM_IPV4,
  congestionControl: 'cubic' as CongestionAlgorithm,
  pacing: true,
  pmtud: true,
  keyUpdateInterval: 2 ** 22,
  redundantBundling: true,
  channels: true,
  reliableCarrier: false,
} satisfies Required<Omit<ConnectionOptions, 'alpn' | 'serverName'>>;

/** Options with every default applied (alpn and serverName have none). */
export type ResolvedOptions = Required<Omit<ConnectionOptions, 'alpn' | 'serverName'>> & Pick<ConnectionOptions, 'alpn' | 'serverName'>;

export function resolveOptions(o: ConnectionOptions): ResolvedOptions {
  return { ...DEFAULTS, ...stripUndefined(o) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
