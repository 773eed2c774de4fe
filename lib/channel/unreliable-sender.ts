/**
 * The sending half of unreliable and unreliable-sequenced channels: one DATAGRAM per message, or up to 256
 * fragments for larger ones, handed to the core's datagram queue at the channel's urgency.
 *
 * Messages sent before the peer acknowledged the channel's DECLARE are held (bounded per channel, oldest
 * dropped) and released on that acknowledgement, so a receiver that has not seen the name yet drops nothing.
 */
import type { Connection } from '../connection/connection.js';
import { ByteWriter } from '../wire/buffer.js';
import { encodeChannelDatagram, fragmentMessage, type ChannelDatagramHeader } from '../wire/channel.js';
import type { HeldMessage, OutChannel } from './types.js';

export interface UnreliableCounters {
  fragmentsSent: number;
}

export class UnreliableSender {
  private readonly conn: Connection;
  private readonly counters: UnreliableCounters;
  private readonly countDrop: (reason: string) => void;
  private readonly maxHeld: number;
  private readonly heldChannels = new Set<OutChannel>();
  private held = 0;
  private readonly scratch = new Uint8Array(2048);
  private readonly writer = new ByteWriter(this.scratch);

  constructor(conn: Connection, counters: UnreliableCounters, countDrop: (reason: string) => void, maxHeld: number) {
    this.conn = conn;
    this.counters = counters;
    this.countDrop = countDrop;
    this.maxHeld = maxHeld;
  }

  /** Messages held until their channel's declaration is acknowledged. */
  get heldCount(): number {
    return this.held;
  }

  /**
   * Sends (or holds, while the DECLARE up to `ch.declEnd` is unacknowledged) one message. `now` is the
   * caller's clock; `maxAge` (ms) bounds how long the message may wait unsent.
   */
  send(ch: OutChannel, data: Uint8Array, controlAcked: number, now: number, maxAge: number): void {
    if (ch.declEnd > controlAcked) {
      this.hold(ch, { data: data.slice(), at: now, maxAge });
      return;
    }
    if (ch.held.length > 0) this.release(controlAcked, now); // keep send order
    this.emitMessage(ch, data);
  }

  /** Releases the held messages of every channel whose declaration is now acknowledged; stale ones are dropped. */
  release(controlAcked: number, now: number): void {
    for (const ch of this.heldChannels) {
      if (ch.declEnd > controlAcked) continue;
      this.heldChannels.delete(ch);
      const held = ch.held;
      ch.held = [];
      this.held -= held.length;
      for (const m of held) {
        if (now - m.at > m.maxAge) this.countDrop('expired');
        else this.emitMessage(ch, m.data);
      }
    }
  }

  /** Forgets everything held (the connection closed). */
  clear(): void {
    for (const ch of this.heldChannels) ch.held = [];
    this.heldChannels.clear();
    this.held = 0;
  }

  private hold(ch: OutChannel, m: HeldMessage): void {
    if (ch.mode === 'unreliable-sequenced' && ch.held.length > 0) {
      // Newest wins: an older sequenced message still held would be discarded by the receiver anyway.
      this.held -= ch.held.length;
      for (let i = 0; i < ch.held.length; i++) this.countDrop('superseded');
      ch.held.length = 0;
    }
    ch.held.push(m);
    this.held++;
    this.heldChannels.add(ch);
    if (ch.held.length > this.maxHeld) {
      ch.held.shift();
      this.held--;
      this.countDrop('held_overflow');
    }
  }

  private emitMessage(ch: OutChannel, data: Uint8Array): void {
    const sequence = ch.mode === 'unreliable-sequenced' ? ch.nextSequence++ : undefined;
    const max = this.conn.maxDatagramPayload();
    const plan = fragmentMessage(data.length, max, { channelId: ch.id, sequence, messageId: ch.nextMessageId });
    if (plan.count === 1) {
      this.emitDatagram({ kind: 'channel', channelId: ch.id, sequence }, data, ch.urgency);
      return;
    }
    const messageId = ch.nextMessageId++;
    for (let i = 0; i < plan.count; i++) {
      const start = i * plan.fragmentSize;
      const piece = data.subarray(start, Math.min(data.length, start + plan.fragmentSize));
      this.emitDatagram({ kind: 'channel', channelId: ch.id, sequence, fragment: { messageId, index: i, count: plan.count } }, piece, ch.urgency);
      this.counters.fragmentsSent++;
    }
  }

  private emitDatagram(h: ChannelDatagramHeader, payload: Uint8Array, urgency: number): void {
    const w = this.writer.reset(this.scratch);
    encodeChannelDatagram(w, h, payload);
    this.conn.sendDatagram(this.scratch.subarray(0, w.pos), urgency); // the core copies it
  }
}
