/**
 * PetrelChannel: a named message lane of a connection with a delivery mode and a codec.
 * `send(value)` encodes and sends; 'message' events carry decoded values. A message that fails to decode
 * (size, depth, malformed) is dropped, counted in stats().decodeErrors and reported as an 'invalid' event
 * (never 'error': a peer's bad message must not crash the process).
 */
import { EventEmitter } from 'node:events';
import type { ChannelMode } from '../wire/channel.js';
import { PetrelError } from '../errors.js';
import type { Codec } from './codec.js';
import type { PreparedMessage } from './broadcast.js';

export type { ChannelMode } from '../wire/channel.js';

export interface ChannelStatsPublic {
  sent: number;
  received: number;
  decodeErrors: number;
}

/** Per-message send options. */
export interface ChannelSendOptions {
  /**
   * Unreliable modes only: drop the message (counted, never sent) if it has waited this long (ms) in the send
   * queue. Overrides the channel's `maxAge`. Ignored on reliable channels.
   */
  maxAge?: number;
}

/** What a channel needs from its connection. */
export interface ChannelHost {
  sendOnChannel(id: number, bytes: Uint8Array, options?: ChannelSendOptions): void;
}

export interface PetrelChannelEvents<T> {
  message: [value: T];
  invalid: [error: PetrelError];
  close: [];
}

export class PetrelChannel<T = unknown> extends EventEmitter<PetrelChannelEvents<T>> {
  readonly name: string;
  readonly mode: ChannelMode;
  private readonly id: number;
  private readonly host: ChannelHost;
  private readonly codec: Codec<T>;
  private readonly counters: ChannelStatsPublic = { sent: 0, received: 0, decodeErrors: 0 };

  /** @internal Created by PetrelConnection.channel(). */
  constructor(host: ChannelHost, id: number, name: string, mode: ChannelMode, codec: Codec<T>) {
    super();
    this.host = host;
    this.id = id;
    this.name = name;
    this.mode = mode;
    this.codec = codec;
  }

  /** Encodes and sends one message. Throws PetrelError (MESSAGE_TOO_LARGE, ENCODE_ERROR, CONNECTION_CLOSED…). */
  send(value: T, options?: ChannelSendOptions): void {
    const bytes = this.codec.encode(value);
    this.host.sendOnChannel(this.id, bytes, options);
    this.counters.sent++;
  }

  /**
   * Sends bytes already encoded by `prepare()` (lib/api/broadcast.ts) without encoding again. The receiver
   * decodes them with this channel's codec, so prepare with the same codec.
   */
  sendPrepared(message: PreparedMessage, options?: ChannelSendOptions): void {
    this.host.sendOnChannel(this.id, message.bytes, options);
    this.counters.sent++;
  }

  stats(): ChannelStatsPublic {
    return { ...this.counters };
  }

  /** @internal */
  deliver(bytes: Uint8Array): void {
    let value: T;
    try {
      value = this.codec.decode(bytes);
    } catch (e) {
      this.counters.decodeErrors++;
      const err = e instanceof PetrelError ? e : new PetrelError('DECODE_ERROR', (e as Error).message, { cause: e });
      this.emit('invalid', err);
      return;
    }
    this.counters.received++;
    this.emit('message', value);
  }
}
