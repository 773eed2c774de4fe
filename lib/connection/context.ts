/**
 * The state every connection module shares: platform, options, packet-number spaces, recovery, the event
 * queue and the lifecycle flags. Modules receive this small object (and the sibling modules they talk to)
 * instead of the whole Connection.
 */
import type { Recovery } from '../recovery/recovery.js';
import { SPACE_APPLICATION, SPACE_HANDSHAKE, SPACE_INITIAL, type SpaceId } from '../recovery/types.js';
import type { TransportParameters } from '../wire/transport-params.js';
import type { ResolvedOptions } from './defaults.js';
import type { SentFrame } from './sent-frame.js';
import type { PacketSpace } from './space.js';
import type { Counters } from './stats.js';
import type { ConnectionEvent, CoreEnv, PeerAddress } from './types.js';

/** Space ids are defined once, in lib/recovery/types.ts; these are the connection's short names. */
export const INITIAL: SpaceId = SPACE_INITIAL;
export const HANDSHAKE: SpaceId = SPACE_HANDSHAKE;
export const APP: SpaceId = SPACE_APPLICATION;

export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

/** A frame handler's verdict on a protocol violation (null: fine). */
export interface FrameError {
  code: number;
  message: string;
  frameType: number;
}

export interface ConnContext {
  readonly isClient: boolean;
  readonly env: CoreEnv;
  readonly opts: ResolvedOptions;
  readonly spaces: readonly [PacketSpace, PacketSpace, PacketSpace];
  readonly recovery: Recovery<SentFrame[]>;
  readonly events: ConnectionEvent[];
  readonly counters: Counters;
  readonly localParams: TransportParameters;
  peerParams: TransportParameters | null;
  state: ConnectionState;
  /** The peer's current address (the path we send on). */
  remote: PeerAddress;
  /** Largest datagram on the current path (PMTUD moves it). */
  maxDatagramSize: number;
  handshakeComplete: boolean;
  handshakeConfirmed: boolean;
  /** The `now` of the latest input; API calls between inputs use it. */
  now: number;
  /** Tells the driver an application call may have produced output. */
  wake(): void;
}

export function isClosingOrGone(state: ConnectionState): boolean {
  return state === 'closing' || state === 'draining' || state === 'closed';
}
