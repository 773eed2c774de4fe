/**
 * Encode once, send to many: an authoritative server encodes a snapshot with `prepare()` and hands the bytes
 * to every player's channel with `broadcast()`. Only the codec step is shared; each connection still frames,
 * sequences, fragments and encrypts for itself (those differ per connection).
 */
import { PetrelError } from '../errors.js';
import type { Codec } from './codec.js';
import { msgpackCodec, DEFAULT_MAX_DEPTH } from './codec.js';
import type { ChannelSendOptions, PetrelChannel } from './channel.js';

/** An encoded message, ready for any number of channels. Immutable: the bytes are never written again. */
export interface PreparedMessage {
  readonly bytes: Uint8Array;
}

export interface PrepareOptions<T> {
  /** 'msgpack' (default), 'msgpack-float32' or a custom codec; use the codec the receiving channels decode with. */
  codec?: 'msgpack' | 'msgpack-float32' | Codec<T>;
  /** Largest encoded message (default 1 MiB). */
  maxMessageSize?: number;
}

export interface BroadcastResult {
  /** Channels the message was queued on. */
  sent: number;
  /** Channels skipped because their connection is closed or closing. */
  closed: number;
  /** Channels that refused the message for another reason (e.g. MESSAGE_TOO_LARGE), by error code. */
  failed: Record<string, number>;
}

const DEFAULT_MAX_PREPARED = 1024 * 1024;
/** Error codes of a channel whose connection has ended. */
const CLOSED_CODES = new Set(['CONNECTION_CLOSED', 'IDLE_TIMEOUT', 'PEER_TIMEOUT']);

/** Encodes `value` once. Throws PetrelError ENCODE_ERROR / MESSAGE_TOO_LARGE like channel.send(). */
export function prepare<T>(value: T, options: PrepareOptions<T> = {}): PreparedMessage {
  const c = options.codec ?? 'msgpack';
  const limits = { maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_PREPARED, maxDepth: DEFAULT_MAX_DEPTH };
  const codec = (typeof c === 'string' ? msgpackCodec(limits, { float32: c === 'msgpack-float32' }) : c) as Codec<T>;
  const bytes = codec.encode(value);
  if (bytes.length > limits.maxMessageSize) {
    throw new PetrelError('MESSAGE_TOO_LARGE', `encoded message of ${bytes.length} bytes above ${limits.maxMessageSize}`);
  }
  // A private copy: a custom codec may reuse its output buffer, and every send below must see the same bytes.
  return Object.freeze({ bytes: bytes.slice() });
}

/**
 * Sends one prepared message on each channel (typically the same channel name on many connections). A
 * closed connection or a refused message never stops the others; what happened is counted in the result.
 */
export function broadcast(channels: Iterable<PetrelChannel<unknown>>, message: PreparedMessage, options: ChannelSendOptions = {}): BroadcastResult {
  const result: BroadcastResult = { sent: 0, closed: 0, failed: {} };
  for (const ch of channels) {
    try {
      ch.sendPrepared(message, options);
      result.sent++;
    } catch (e) {
      const code = e instanceof PetrelError ? e.code : 'INTERNAL_ERROR';
      if (CLOSED_CODES.has(code)) result.closed++;
      else result.failed[code] = (result.failed[code] ?? 0) + 1;
    }
  }
  return result;
}
