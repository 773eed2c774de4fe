/**
 * What a sent packet carried, and the routing of its acknowledgement or loss to the module that owns
 * each frame kind (streams, CRYPTO, ACK, CIDs, paths…). A module registers handlers for its kinds; a
 * new frame type adds a SentFrame variant and a handler here, nothing else in the connection.
 */
import type { SentPacket } from '../recovery/types.js';
import type { AckRange } from '../wire/frame-types.js';
import type { PacketSpace } from './space.js';

export type SentFrame =
  | { k: 'stream'; id: number; offset: number; length: number; fin: boolean }
  | { k: 'crypto'; offset: number; length: number }
  | { k: 'ack'; largest: number; ranges: readonly AckRange[]; delay: number }
  | { k: 'max_data'; max: number }
  | { k: 'max_stream_data'; id: number; max: number }
  | { k: 'max_streams'; bidi: boolean; max: number }
  | { k: 'data_blocked'; limit: number }
  | { k: 'stream_data_blocked'; id: number; limit: number }
  | { k: 'streams_blocked'; bidi: boolean; limit: number }
  | { k: 'reset_stream'; id: number; code: number; finalSize: number }
  | { k: 'stop_sending'; id: number; code: number }
  | { k: 'handshake_done' }
  | { k: 'ack_frequency'; seq: number; threshold: number }
  | { k: 'datagram'; id: number; length: number }
  | { k: 'ping' }
  | { k: 'close'; code: number; app: boolean; reason: string; frameType: number }
  | { k: 'new_cid'; seq: number; retirePriorTo: number; cid: Uint8Array }
  | { k: 'retire_cid'; seq: number }
  | { k: 'path_challenge'; data: Uint8Array }
  | { k: 'padding'; length: number };

export type SentFrameKind = SentFrame['k'];
export type SentFrameOf<K extends SentFrameKind> = Extract<SentFrame, { k: K }>;

/**
 * What the owner of a frame kind does when the packet carrying it is acknowledged or declared lost. The
 * handlers are per class (a static table), called with the owning instance: no closures per connection.
 */
export interface SentFrameHandler<O, K extends SentFrameKind> {
  acked?(owner: O, f: SentFrameOf<K>, space: PacketSpace): void;
  /** Returns whether the frame's data was queued for retransmission (counted in packetsRetransmitted). */
  lost?(owner: O, f: SentFrameOf<K>, space: PacketSpace): boolean | void;
}

export type SentFrameHandlers<O> = { [K in SentFrameKind]?: SentFrameHandler<O, K> };

type AnyHandler = SentFrameHandler<unknown, SentFrameKind>;

export class SentFrameRouter {
  private readonly handlers: { [K in SentFrameKind]?: AnyHandler } = {};
  private readonly owners: { [K in SentFrameKind]?: unknown } = {};

  register<O>(owner: O, table: SentFrameHandlers<O>): void {
    for (const k of Object.keys(table) as SentFrameKind[]) {
      this.handlers[k] = table[k] as AnyHandler;
      this.owners[k] = owner;
    }
  }

  acked(p: SentPacket<SentFrame[]>, space: PacketSpace): void {
    for (const f of p.frames) {
      const h = this.handlers[f.k];
      if (h?.acked) h.acked(this.owners[f.k], f, space);
    }
  }

  /** Returns whether anything of the packet was queued for retransmission. */
  lost(p: SentPacket<SentFrame[]>, space: PacketSpace): boolean {
    let retransmitted = false;
    for (const f of p.frames) {
      const h = this.handlers[f.k];
      if (h?.lost && h.lost(this.owners[f.k], f, space) === true) retransmitted = true;
    }
    return retransmitted;
  }
}
