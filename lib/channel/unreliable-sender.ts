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
  private heldChannelsLazy: Set<OutChannel> | null = null;
  private get heldChannels(): Set<OutChannel> {
    return (this.heldChannelsLazy ??= new Set<OutChannel>());
  }
  private held = 0;
  // Allocated on first send: an idle connection holds no scratch space.
  private scratchBuf: Uint8Array | null = null;
  private writerObj: ByteWriter | null = null;
  private get scratch(): Uint8Array {
    return (this.scratchBuf ??= new Uint8Array(2048));
  }
  private get writer(): ByteWriter {
    return (this.writerObj ??= new ByteWriter(this.scratch));
  }

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
    this.emitMessage(ch, data, now, maxAge, now);
  }

  /** Releases the held messages of every channel whose declaration is now acknowledged; stale ones are dropped. */
  release(controlAcked: number, now: number): void {
    if (this.heldChannelsLazy === null) return;
    for (const ch of this.heldChannelsLazy) {
      if (ch.declEnd > controlAcked) continue;
      this.heldChannels.delete(ch);
      const held = ch.held;
      ch.held = [];
      this.held -= held.length;
      for (const m of held) {
        if (now - m.at > m.maxAge) this.countDrop('expired');
        else this.emitMessage(ch, m.data, m.at, m.maxAge, now);
      }
    }
  }

  /** Forgets everything held (the connection closed). */
  clear(): void {
    if (this.heldChannelsLazy !== null) {
      for (const ch of this.heldChannelsLazy) ch.held = [];
      this.heldChannelsLazy.clear();
    }
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

  /**
   * Hands one message (as one datagram or its fragments) to the core. Sequenced channels first withdraw
   * whatever of their previous message is still queued there: newest wins at the sender too, so a
   * congested path carries fresh state instead of a backlog the receiver would discard as stale.
   * `at` is when the application sent it; its datagrams expire at `at + maxAge`.
   */
  private emitMessage(ch: OutChannel, data: Uint8Array, at: number, maxAge: number, now: number): void {
    this.prune(ch);
    if (ch.mode === 'unreliable-sequenced' && ch.inCore.length > 0) this.supersede(ch);
    if (now - at > maxAge) {
      this.countDrop('expired');
      return;
    }
    const message = ++ch.emitted;
    const opts = maxAge === Infinity ? { now: at } : { now: at, maxAge };
    const sequence = ch.mode === 'unreliable-sequenced' ? ch.nextSequence++ : undefined;
    const max = this.conn.maxDatagramPayload();
    const plan = fragmentMessage(data.length, max, { channelId: ch.id, sequence, messageId: ch.nextMessageId });
    if (plan.count === 1) {
      this.emitDatagram(ch, { kind: 'channel', channelId: ch.id, sequence }, data, opts, message, 1);
      return;
    }
    const messageId = ch.nextMessageId++;
    for (let i = 0; i < plan.count; i++) {
      const start = i * plan.fragmentSize;
      const piece = data.subarray(start, Math.min(data.length, start + plan.fragmentSize));
      this.emitDatagram(
        ch,
        { kind: 'channel', channelId: ch.id, sequence, fragment: { messageId, index: i, count: plan.count } },
        piece,
        opts,
        message,
        plan.count,
      );
      this.counters.fragmentsSent++;
    }
  }

  private emitDatagram(
    ch: OutChannel,
    h: ChannelDatagramHeader,
    payload: Uint8Array,
    opts: { now: number; maxAge?: number },
    message: number,
    count: number,
  ): void {
    const w = this.writer.reset(this.scratch);
    encodeChannelDatagram(w, h, payload);
    const id = this.conn.sendDatagram(this.scratch.subarray(0, w.pos), ch.urgency, opts); // the core copies it
    ch.inCore.push({ id, bytes: w.pos, at: opts.now, message, count });
  }

  /**
   * Withdraws the older messages of a sequenced channel that have not started to leave: a fragment set is
   * replaced as a whole or not at all. One whose first fragments are already on the wire is left to finish
   * (cancelling it would waste those; its age is still bounded by maxAge in the core).
   */
  private supersede(ch: OutChannel): void {
    const keep: OutChannel['inCore'] = [];
    let i = 0;
    while (i < ch.inCore.length) {
      const first = ch.inCore[i]!;
      let j = i;
      let unsent = true;
      while (j < ch.inCore.length && ch.inCore[j]!.message === first.message) {
        if (!this.conn.datagramQueued(ch.inCore[j]!.id)) unsent = false;
        j++;
      }
      if (unsent && j - i === first.count) {
        for (let k = i; k < j; k++) this.conn.cancelDatagram(ch.inCore[k]!.id);
        this.countDrop('superseded');
      } else {
        for (let k = i; k < j; k++) keep.push(ch.inCore[k]!);
      }
      i = j;
    }
    ch.inCore = keep;
  }

  /** Forgets datagrams the core no longer holds (sent, expired or evicted), from the oldest. */
  private prune(ch: OutChannel): void {
    let n = 0;
    while (n < ch.inCore.length && !this.conn.datagramQueued(ch.inCore[n]!.id)) n++;
    if (n > 0) ch.inCore.splice(0, n);
  }

  /** The channel's unreliable queue: held messages and messages with a datagram still in the core. */
  queueState(ch: OutChannel, now: number): { messages: number; bytes: number; oldestAge: number } {
    this.prune(ch);
    let bytes = 0;
    let oldest = Infinity;
    let messages = 0;
    let last = -1;
    for (const d of ch.inCore) {
      if (!this.conn.datagramQueued(d.id)) continue;
      bytes += d.bytes;
      if (d.at < oldest) oldest = d.at;
      if (d.message !== last) {
        messages++;
        last = d.message;
      }
    }
    for (const m of ch.held) {
      bytes += m.data.length;
      if (m.at < oldest) oldest = m.at;
      messages++;
    }
    return { messages, bytes, oldestAge: oldest === Infinity ? 0 : Math.max(0, now - oldest) };
  }
}
