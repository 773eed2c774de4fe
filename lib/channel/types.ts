/** Types shared by the game-channel layer's modules (spec/wire.md §Game channels). */
import type { ConnectionEvent } from '../connection/types.js';
import { DEFAULT_MAX_STREAM_MESSAGE_SIZE, type ChannelMode } from '../wire/channel.js';

export type { ChannelMode } from '../wire/channel.js';

/** A message received on a channel, surfaced under the peer's channel name. */
export interface ChannelMessageEvent {
  type: 'message';
  channel: string;
  mode: ChannelMode;
  data: Uint8Array;
}

/**
 * Core events pass through, except those about the layer's own streams; `stream_opened` and
 * `stream_readable` for peer streams come after their raw preamble; `datagram` carries raw datagrams only.
 */
export type ChannelLayerEvent = ConnectionEvent | ChannelMessageEvent;

export interface ChannelLayerOptions {
  /** Channels the peer may declare (local policy; more is CHANNEL_ENCODING_ERROR). Default 1024. */
  maxPeerChannels?: number;
  /** Largest reliable-channel message accepted and sent. Default 1 MiB. */
  maxStreamMessageSize?: number;
  /** Fragment bytes held for reassembly across all partial messages. Default 1 MiB. */
  reassemblyMaxBytes?: number;
  /** Partial messages held for reassembly. Default 32. */
  reassemblyMaxMessages?: number;
  /** How long a partial message waits for its other fragments (ms). Default 3000. */
  reassemblyTimeout?: number;
  /** Unreliable messages held per channel until its declaration is acknowledged (oldest dropped). Default 64. */
  maxHeldMessages?: number;
}

export interface ChannelStats {
  channelsDeclared: number;
  peerChannels: number;
  messagesSent: number;
  messagesReceived: number;
  fragmentsSent: number;
  fragmentsReceived: number;
  /** Incoming channel datagrams dropped, by reason (malformed, undeclared_channel, mode_mismatch, stale, fragment_mismatch, fragment_of_dropped). */
  datagramsDropped: Record<string, number>;
  /** Whole messages given up, by reason (reassembly_timeout, reassembly_evicted, oversize, stale, held_overflow, expired, superseded, stream_reset, stream_without_preamble). */
  messagesDropped: Record<string, number>;
  reassemblyBytes: number;
  reassemblyMessages: number;
  heldMessages: number;
  /** What each local channel has waiting to be sent (or, reliable modes, to be acknowledged). */
  sendQueues: ChannelQueueState[];
}

/** One local channel's send queue. */
export interface ChannelQueueState {
  name: string;
  mode: ChannelMode;
  /**
   * Unreliable modes: messages held or with a fragment still in the connection's datagram queue.
   * Reliable modes: messages waiting for a stream plus, reliable-ordered, messages not yet fully acknowledged.
   */
  messages: number;
  bytes: number;
  /** Age (ms) of the oldest of them; 0 when none. */
  oldestAge: number;
}

/** A local channel's sending state (internal to the channel layer; not exported from the package). */
export interface OutChannel {
  id: number;
  name: string;
  mode: ChannelMode;
  /** Control-stream offset just past this channel's DECLARE; Infinity until it is written. */
  declEnd: number;
  /** reliable-ordered: the channel's stream once open. */
  stream: number | null;
  /** Reliable messages waiting for a stream (the peer's stream limit). */
  pending: Uint8Array[];
  /** Unreliable messages waiting for the declaration to be acknowledged. */
  held: HeldMessage[];
  /** Unreliable modes: the channel's default maxAge (ms; Infinity = none). */
  maxAge: number;
  nextSequence: number;
  /** Send urgency (0 most urgent – 7): its datagrams and streams are scheduled with it. */
  urgency: number;
  nextMessageId: number;
  /** Unreliable modes: datagrams handed to the core and maybe still queued there, oldest first. */
  inCore: Array<{ id: number; bytes: number; at: number; message: number; count: number }>;
  /** Sequence of messages emitted (to count messages, not fragments, in the queue state). */
  emitted: number;
  /** reliable-ordered: bytes written to the stream, and (end offset, time) per unacknowledged message. */
  written: number;
  unacked: Array<{ end: number; at: number }>;
}

/** @internal An unreliable message held until its channel's DECLARE is acknowledged. */
export interface HeldMessage {
  data: Uint8Array;
  /** When it was sent by the application (the layer's clock). */
  at: number;
  maxAge: number;
}

/** Per-message options of ChannelLayer.send(). */
export interface LayerSendOptions {
  /** Unreliable modes: drop the message (counted as 'expired') once it has waited this long (ms) unsent. */
  maxAge?: number;
  /** The caller's clock (ms), the same clock as the `now` fed to the connection; needed for maxAge. */
  now?: number;
}

/** @internal A peer channel's receiving state. */
export interface InChannel {
  name: string;
  mode: ChannelMode;
  lastSequence: number;
  orderedStream: number | null;
}

export const CHANNEL_DEFAULTS: Required<ChannelLayerOptions> = {
  maxPeerChannels: 1024,
  maxStreamMessageSize: DEFAULT_MAX_STREAM_MESSAGE_SIZE,
  reassemblyMaxBytes: 1024 * 1024,
  reassemblyMaxMessages: 32,
  reassemblyTimeout: 3000,
  maxHeldMessages: 64,
};
