/**
 * The game-channel layer over one core Connection (spec/wire.md §Game channels). Sans-IO and platform-neutral.
 *
 * When both ends announced channels_supported it owns the first bytes of every application stream (the
 * preamble) and the kind byte of every datagram: raw streams get the raw preamble written on open and
 * stripped on receipt, raw datagrams get kind 0x00. When they did not, raw streams and datagrams pass
 * through untouched and channels are unavailable (PetrelError CHANNELS_UNAVAILABLE).
 *
 * Delivery schemes, per mode:
 * - reliable-ordered: one unidirectional stream per channel (opened on first send), length-prefixed messages.
 * - reliable-unordered: one unidirectional stream per message, FIN after it. When the peer's stream limit
 *   is reached, the messages that wait are batched onto the next stream that opens (one preamble, several
 *   messages, one FIN). Streams are independent, so messages overtake each other freely.
 * - unreliable / unreliable-sequenced: one DATAGRAM per message, or up to 256 fragments for larger ones.
 *   Messages sent before the peer acknowledged the channel's DECLARE are held (bounded) and released on
 *   that acknowledgement, so the first messages are not dropped by a receiver that has not seen the name yet.
 *
 * Feed every core event to `handleEvent` and read this layer's events with `pollEvent`.
 */
import type { Connection } from '../connection/connection.js';
import type { ConnectionEvent } from '../connection/types.js';
import { PetrelError, PetrelWireError, TransportErrorCode } from '../errors.js';
import { ByteWriter } from '../wire/buffer.js';
import {
  MAX_DATAGRAM_MESSAGE_SIZE,
  StreamMessageParser,
  decodeChannelDatagram,
  decodeControlMessage,
  encodeChannelDatagram,
  encodeChannelDeclaration,
  encodeStreamMessageHeader,
  encodeStreamPreamble,
  readStreamPreamble,
  type ChannelDeclaration,
  type ChannelMode,
  type StreamPreamble,
} from '../wire/channel.js';
import { varintLengthFromFirstByte } from '../wire/varint.js';
import { isBidi, isClientInitiated } from '../stream/stream-id.js';
import { Reassembly, type ReassemblyDropReason, type ReassemblyLimits } from './reassembly.js';
import {
  CHANNEL_DEFAULTS,
  type ChannelLayerEvent,
  type ChannelLayerOptions,
  type ChannelStats,
  type ChannelQueueState,
  type InChannel,
  type LayerSendOptions,
  type OutChannel,
} from './types.js';
import { UnreliableSender } from './unreliable-sender.js';

export type { ChannelMode } from '../wire/channel.js';
export type { ChannelLayerEvent, ChannelLayerOptions, ChannelMessageEvent, ChannelStats, LayerSendOptions } from './types.js';

type InStream =
  | { kind: 'pending'; head: Uint8Array; have: number }
  | { kind: 'raw' }
  | { kind: 'control'; parser: StreamMessageParser }
  | { kind: 'ordered' | 'unordered'; channelId: number; parser: StreamMessageParser; held: boolean };

const RAW_PREAMBLE = new Uint8Array([0x00]);
const RESERVED_CONTROL = -1;
/** Unacknowledged reliable-ordered messages tracked per channel for the queue state. */
const MAX_TRACKED = 4096;

/** The last resolved options: every connection of a server resolves the same ones, so they share one (read-only) object. */
let lastOptions: { opts: Required<ChannelLayerOptions>; limits: ReassemblyLimits } | null = null;

function resolveLayerOptions(options: ChannelLayerOptions): { opts: Required<ChannelLayerOptions>; limits: ReassemblyLimits } {
  const opts = { ...CHANNEL_DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (opts as Record<string, unknown>)[k] = v;
  const last = lastOptions;
  const keys = Object.keys(opts) as Array<keyof typeof opts>;
  if (last !== null && keys.length === Object.keys(last.opts).length && keys.every((k) => Object.is(last.opts[k], opts[k]))) return last;
  const limits = { maxBytes: opts.reassemblyMaxBytes, maxMessages: opts.reassemblyMaxMessages, timeout: opts.reassemblyTimeout };
  return (lastOptions = { opts, limits });
}

export class ChannelLayer {
  readonly conn: Connection;
  private readonly opts: Required<ChannelLayerOptions>;
  private readonly queue: ChannelLayerEvent[] = [];
  private queueHead = 0;

  // Sending side.
  private outByNameLazy: Map<string, OutChannel> | null = null;
  private get outByName(): Map<string, OutChannel> {
    return (this.outByNameLazy ??= new Map<string, OutChannel>());
  }
  private readonly outById: OutChannel[] = [];
  private control: number | null = null;
  private controlWritten = 0;
  private readonly controlBacklog: Array<{ ch: OutChannel; bytes: Uint8Array }> = [];
  /** Channels (and RESERVED_CONTROL for the control stream) waiting for a unidirectional stream, FIFO. */
  private readonly waitingUni: Array<OutChannel | typeof RESERVED_CONTROL> = [];
  /** Our own channel and control streams: their core events are internal. */
  private internalLazy: Set<number> | null = null;
  private get internal(): Set<number> {
    return (this.internalLazy ??= new Set<number>());
  }

  // Receiving side.
  private inChannelsLazy: Map<number, InChannel> | null = null;
  private get inChannels(): Map<number, InChannel> {
    return (this.inChannelsLazy ??= new Map<number, InChannel>());
  }
  private inNamesLazy: Map<string, number> | null = null;
  private get inNames(): Map<string, number> {
    return (this.inNamesLazy ??= new Map<string, number>());
  }
  private inStreamsLazy: Map<number, InStream> | null = null;
  private get inStreams(): Map<number, InStream> {
    return (this.inStreamsLazy ??= new Map<number, InStream>());
  }
  /** Channel streams that arrived before their channel's DECLARE, by channel id. */
  private heldStreamsLazy: Map<number, number[]> | null = null;
  private get heldStreams(): Map<number, number[]> {
    return (this.heldStreamsLazy ??= new Map<number, number[]>());
  }
  private peerControl: number | null = null;
  private readonly reassembly: Reassembly;
  private readonly unreliable: UnreliableSender;
  /** The latest `now` seen, for callers of send() that do not pass their clock. */
  private lastNow = 0;
  private failed = false;
  private closed = false;

  // Allocated on first send: an idle connection holds no scratch space.
  private scratchBuf: Uint8Array | null = null;
  private writerObj: ByteWriter | null = null;
  private get scratch(): Uint8Array {
    return (this.scratchBuf ??= new Uint8Array(2048));
  }
  private get writer(): ByteWriter {
    return (this.writerObj ??= new ByteWriter(this.scratch));
  }
  private readonly counters = { messagesSent: 0, messagesReceived: 0, fragmentsSent: 0, fragmentsReceived: 0 };
  // Created at the first drop.
  private datagramDrops: Record<string, number> | null = null;
  private messageDrops: Record<string, number> | null = null;

  constructor(conn: Connection, options: ChannelLayerOptions = {}) {
    this.conn = conn;
    const shared = resolveLayerOptions(options);
    this.opts = shared.opts;
    this.reassembly = new Reassembly(shared.limits);
    this.unreliable = new UnreliableSender(conn, this.counters, (r) => this.countMessageDrop(r), this.opts.maxHeldMessages);
  }

  /** Whether channel forms are in use on this connection (both ends sent channels_supported). */
  get negotiated(): boolean {
    return this.conn.channelsNegotiated;
  }

  // ───────────────────────────── raw streams and datagrams ─────────────────────────────

  /** Opens a raw application stream (the raw preamble is written when channels are negotiated). Null = peer's stream limit. */
  openStream(bidi: boolean): number | null {
    const id = this.conn.openStream(bidi);
    if (id !== null && this.negotiated) this.conn.streamWrite(id, RAW_PREAMBLE);
    return id;
  }

  /** Reads a raw stream (the preamble has already been consumed). */
  streamRead(id: number, max?: number): Uint8Array | null {
    return this.conn.streamRead(id, max);
  }

  /** Largest raw datagram payload; 0 when the peer takes no datagrams. */
  maxDatagramPayload(): number {
    const n = this.conn.maxDatagramPayload();
    if (n <= 0) return 0;
    return this.negotiated ? n - 1 : n;
  }

  /** Queues a raw datagram. Throws DATAGRAM_TOO_LARGE / DATAGRAMS_UNSUPPORTED like the core. */
  sendDatagram(data: Uint8Array): number {
    if (!this.negotiated) return this.conn.sendDatagram(data);
    const limit = this.maxDatagramPayload();
    if (limit <= 0) throw new PetrelError('DATAGRAMS_UNSUPPORTED', 'the peer does not accept datagrams');
    if (data.length > limit) throw new PetrelError('DATAGRAM_TOO_LARGE', `datagram of ${data.length} bytes exceeds ${limit}`);
    const w = this.writer.reset(this.scratch);
    encodeChannelDatagram(w, { kind: 'raw' }, data);
    return this.conn.sendDatagram(this.scratch.subarray(0, w.pos)); // the core copies it
  }

  // ───────────────────────────── channels: sending ─────────────────────────────

  /**
   * Returns the id of the local channel `name`, declaring it on first use. `maxAge` (ms) is the default
   * for its unreliable messages (see send()).
   */
  channel(name: string, mode: ChannelMode, urgency = 3, maxAge = Infinity): number {
    if (!this.negotiated) throw new PetrelError('CHANNELS_UNAVAILABLE', 'the peer does not speak game channels');
    this.checkOpen();
    const existing = this.outByName.get(name);
    if (existing) {
      if (existing.mode !== mode) {
        throw new PetrelError('CHANNEL_MODE_MISMATCH', `channel ${JSON.stringify(name)} is ${existing.mode}, not ${mode}`);
      }
      return existing.id;
    }
    const ch: OutChannel = {
      id: this.outById.length,
      name,
      mode,
      declEnd: Infinity,
      stream: null,
      pending: [],
      held: [],
      maxAge,
      nextSequence: 0,
      nextMessageId: 0,
      urgency,
      inCore: [],
      emitted: 0,
      written: 0,
      unacked: [],
    };
    const w = this.writer.reset(this.scratch);
    try {
      encodeChannelDeclaration(w, { channelId: ch.id, mode, name });
    } catch (e) {
      if (e instanceof PetrelWireError) throw new PetrelError('INVALID_CHANNEL', e.message);
      throw e;
    }
    this.outByName.set(name, ch);
    this.outById.push(ch);
    const decl = this.scratch.slice(0, w.pos);
    if (this.control === null && !this.openControl()) this.controlBacklog.push({ ch, bytes: decl });
    else if (this.controlBacklog.length > 0) this.controlBacklog.push({ ch, bytes: decl });
    else this.writeDeclaration(ch, decl);
    return ch.id;
  }

  /**
   * Sends one message on a local channel. Throws MESSAGE_TOO_LARGE, UNKNOWN_CHANNEL, CONNECTION_CLOSED.
   * Unreliable messages that wait longer than their maxAge before being sent are dropped (counted).
   */
  send(channelId: number, data: Uint8Array, options: LayerSendOptions = {}): void {
    this.checkOpen();
    if (options.now !== undefined && options.now > this.lastNow) this.lastNow = options.now;
    const ch = this.outById[channelId];
    if (!ch) throw new PetrelError('UNKNOWN_CHANNEL', `no local channel ${channelId}`);
    switch (ch.mode) {
      case 'reliable-ordered':
      case 'reliable-unordered':
        if (data.length > this.opts.maxStreamMessageSize) {
          throw new PetrelError('MESSAGE_TOO_LARGE', `message of ${data.length} bytes above ${this.opts.maxStreamMessageSize}`);
        }
        this.sendReliable(ch, data);
        break;
      default:
        if (data.length > MAX_DATAGRAM_MESSAGE_SIZE) {
          throw new PetrelError('MESSAGE_TOO_LARGE', `message of ${data.length} bytes above ${MAX_DATAGRAM_MESSAGE_SIZE}`);
        }
        if (this.conn.maxDatagramPayload() <= 0) throw new PetrelError('DATAGRAMS_UNSUPPORTED', 'the peer does not accept datagrams');
        this.unreliable.send(ch, data, this.controlAcked(), options.now ?? this.lastNow, options.maxAge ?? ch.maxAge);
    }
    this.counters.messagesSent++;
  }

  private sendReliable(ch: OutChannel, data: Uint8Array): void {
    if (ch.pending.length > 0) {
      ch.pending.push(data.slice());
      return;
    }
    if (ch.mode === 'reliable-ordered') {
      if (ch.stream === null && !this.openChannelStream(ch)) {
        ch.pending.push(data.slice());
        this.waitingUni.push(ch);
        return;
      }
      this.writeOrdered(ch, data);
      return;
    }
    const id = this.openUni(ch.urgency);
    if (id === null) {
      ch.pending.push(data.slice());
      this.waitingUni.push(ch);
      return;
    }
    this.writePreamble(id, 'unordered', ch.id);
    this.writeMessage(id, data);
    this.conn.streamFinish(id);
  }

  /** Control-stream bytes the peer acknowledged (as a contiguous prefix); -1 before the stream exists. */
  private controlAcked(): number {
    if (this.control === null) return -1;
    return this.controlWritten - this.conn.streamBufferedBytes(this.control);
  }

  private openUni(urgency?: number): number | null {
    return this.conn.openStream(false, urgency === undefined ? undefined : { urgency });
  }

  private openControl(): boolean {
    const id = this.openUni(0);
    if (id === null) {
      this.waitingUni.push(RESERVED_CONTROL);
      return false;
    }
    this.startControl(id);
    return true;
  }

  private startControl(id: number): void {
    this.control = id;
    this.internal.add(id);
    const w = this.writer.reset(this.scratch);
    encodeStreamPreamble(w, { kind: 'control' });
    this.conn.streamWrite(id, this.scratch.slice(0, w.pos));
    this.controlWritten += w.pos;
  }

  private writeDeclaration(ch: OutChannel, decl: Uint8Array): void {
    this.conn.streamWrite(this.control!, decl);
    this.controlWritten += decl.length;
    ch.declEnd = this.controlWritten;
  }

  private openChannelStream(ch: OutChannel): boolean {
    const id = this.openUni(ch.urgency);
    if (id === null) return false;
    this.writePreamble(id, 'ordered', ch.id);
    ch.stream = id;
    return true;
  }

  private writePreamble(id: number, kind: 'ordered' | 'unordered', channelId: number): void {
    this.internal.add(id);
    const w = this.writer.reset(this.scratch);
    encodeStreamPreamble(w, { kind, channelId });
    this.conn.streamWrite(id, this.scratch.slice(0, w.pos));
  }

  /** A message on a reliable-ordered channel's stream, remembered until acknowledged (queue state). */
  private writeOrdered(ch: OutChannel, data: Uint8Array): void {
    const before = this.conn.streamBufferedBytes(ch.stream!);
    this.writeMessage(ch.stream!, data);
    ch.written += this.conn.streamBufferedBytes(ch.stream!) - before;
    const u = ch.unacked;
    // Bounded: past MAX_TRACKED messages the two newest merge (the oldest's age stays exact).
    if (u.length >= MAX_TRACKED) u.pop();
    u.push({ end: ch.written, at: this.lastNow });
  }

  private writeMessage(id: number, data: Uint8Array): void {
    const w = this.writer.reset(this.scratch);
    encodeStreamMessageHeader(w, data.length);
    this.conn.streamWrite(id, this.scratch.slice(0, w.pos));
    if (data.length > 0) this.conn.streamWrite(id, data);
  }

  /** A unidirectional stream may be available again: serve the waiting channels in order. */
  private serviceWaiting(): void {
    while (this.waitingUni.length > 0) {
      const next = this.waitingUni[0]!;
      if (next === RESERVED_CONTROL) {
        const id = this.openUni(0);
        if (id === null) return;
        this.waitingUni.shift();
        this.startControl(id);
        for (const { ch, bytes } of this.controlBacklog) this.writeDeclaration(ch, bytes);
        this.controlBacklog.length = 0;
        continue;
      }
      const ch = next;
      if (ch.mode === 'reliable-ordered') {
        if (ch.stream === null && !this.openChannelStream(ch)) return;
      } else {
        const id = this.openUni(ch.urgency);
        if (id === null) return;
        this.writePreamble(id, 'unordered', ch.id);
        for (const m of ch.pending) this.writeMessage(id, m);
        ch.pending = [];
        this.conn.streamFinish(id);
        this.waitingUni.shift();
        continue;
      }
      for (const m of ch.pending) this.writeOrdered(ch, m);
      ch.pending = [];
      this.waitingUni.shift();
    }
  }

  // ───────────────────────────── events ─────────────────────────────

  /** Feeds one core event for this connection. */
  handleEvent(ev: ConnectionEvent, now: number): void {
    this.lastNow = now;
    if (ev.type === 'closed') {
      this.onClosed();
      this.push(ev);
      return;
    }
    // After a channel error the connection is closing: nothing more is surfaced but 'closed'.
    if (this.failed) return;
    if (!this.negotiated) {
      this.push(ev);
      return;
    }
    try {
      this.dispatch(ev, now);
      if (this.unreliable.heldCount > 0) this.unreliable.release(this.controlAcked(), now);
    } catch (e) {
      if (e instanceof PetrelWireError && e.errorCode === TransportErrorCode.CHANNEL_ENCODING_ERROR) {
        this.fail(e.message);
        return;
      }
      throw e;
    }
  }

  private dispatch(ev: ConnectionEvent, now: number): void {
    switch (ev.type) {
      case 'stream_opened':
        if (!this.isLocal(ev.streamId)) this.inStreams.set(ev.streamId, { kind: 'pending', head: new Uint8Array(9), have: 0 });
        else this.push(ev);
        return;
      case 'stream_readable':
        this.onReadable(ev.streamId, ev);
        return;
      case 'stream_reset':
        this.onPeerReset(ev.streamId, ev);
        return;
      case 'stream_stop_sending':
        if (this.internalLazy?.has(ev.streamId)) this.onStopped(ev.streamId);
        else this.push(ev);
        return;
      case 'stream_writable':
        if (!this.internalLazy?.has(ev.streamId)) this.push(ev);
        return;
      case 'stream_closed': {
        const id = ev.streamId;
        if (this.internalLazy?.delete(id)) return;
        const st = this.inStreamsLazy?.get(id);
        if (st === undefined) {
          this.push(ev);
          return;
        }
        this.inStreams.delete(id);
        if (st.kind === 'raw') this.push(ev);
        return;
      }
      case 'datagram':
        this.onDatagram(ev.data, now, ev.early);
        return;
      case 'streams_available':
        if (!ev.bidi) this.serviceWaiting();
        this.push(ev);
        return;
      default:
        this.push(ev);
    }
  }

  private isLocal(id: number): boolean {
    return isClientInitiated(id) === this.conn.isClient;
  }

  private onReadable(id: number, ev: ConnectionEvent): void {
    const st = this.inStreamsLazy?.get(id);
    if (st === undefined || st.kind === 'raw') {
      this.push(ev);
      return;
    }
    if (st.kind === 'pending') {
      this.readPreamble(id, st);
      return;
    }
    this.pumpChannelStream(id, st);
  }

  private readPreamble(id: number, st: { kind: 'pending'; head: Uint8Array; have: number }): void {
    if (this.conn.streamStats(id) === null) return; // reset before we read: stream_reset follows
    for (;;) {
      const got = readStreamPreamble(st.head.subarray(0, st.have));
      if (got) {
        this.classify(id, got.preamble);
        return;
      }
      const want = st.have < 2 ? 1 : 1 + varintLengthFromFirstByte(st.head[1]!) - st.have;
      const d = this.conn.streamRead(id, want);
      if (d === null) {
        if (this.conn.streamStats(id) === null || this.conn.streamFinished(id)) {
          // FIN before a complete preamble: nothing the application could use.
          this.inStreams.delete(id);
          this.countMessageDrop('stream_without_preamble');
        }
        return;
      }
      st.head.set(d, st.have);
      st.have += d.length;
    }
  }

  private classify(id: number, p: StreamPreamble): void {
    if (p.kind === 'raw') {
      this.inStreams.set(id, { kind: 'raw' });
      this.push({ type: 'stream_opened', streamId: id });
      // The core signals readability once per drain; we consumed only the preamble, so say it again.
      this.push({ type: 'stream_readable', streamId: id });
      return;
    }
    if (isBidi(id)) chErr(`${p.kind} preamble on bidirectional stream ${id}`);
    const parser = new StreamMessageParser(this.opts.maxStreamMessageSize);
    if (p.kind === 'control') {
      if (this.peerControl !== null) chErr('second control stream');
      this.peerControl = id;
      const st: InStream = { kind: 'control', parser };
      this.inStreams.set(id, st);
      this.pumpChannelStream(id, st);
      return;
    }
    const st: InStream = { kind: p.kind, channelId: p.channelId, parser, held: true };
    this.inStreams.set(id, st);
    const ch = this.inChannels.get(p.channelId);
    if (ch === undefined) {
      // Declarations and channel streams race: hold the stream (flow control bounds it) until the DECLARE.
      const list = this.heldStreams.get(p.channelId);
      if (list) list.push(id);
      else this.heldStreams.set(p.channelId, [id]);
      return;
    }
    this.admitChannelStream(id, st, ch);
  }

  private admitChannelStream(id: number, st: Extract<InStream, { kind: 'ordered' | 'unordered' }>, ch: InChannel): void {
    const expected: ChannelMode = st.kind === 'ordered' ? 'reliable-ordered' : 'reliable-unordered';
    if (ch.mode !== expected) chErr(`${st.kind} stream for ${ch.mode} channel ${JSON.stringify(ch.name)}`);
    if (st.kind === 'ordered') {
      if (ch.orderedStream !== null) chErr(`second ordered stream for channel ${JSON.stringify(ch.name)}`);
      ch.orderedStream = id;
    }
    st.held = false;
    this.pumpChannelStream(id, st);
  }

  private pumpChannelStream(id: number, st: Exclude<InStream, { kind: 'pending' | 'raw' }>): void {
    if (st.kind !== 'control' && st.held) return;
    if (this.conn.streamStats(id) === null) return;
    for (let d = this.conn.streamRead(id); d !== null; d = this.conn.streamRead(id)) {
      const msgs = st.parser.push(d);
      for (const m of msgs) {
        if (st.kind === 'control') this.onControlMessage(m);
        else this.deliver(st.channelId, m);
        if (this.failed || this.closed) return;
      }
    }
    if (this.conn.streamStats(id) === null || this.conn.streamFinished(id)) {
      st.parser.finish();
      if (st.kind === 'control') chErr('control stream finished');
      this.inStreams.delete(id);
      if (st.kind === 'ordered') {
        const ch = this.inChannels.get(st.channelId);
        if (ch && ch.orderedStream === id) ch.orderedStream = null;
      }
    }
  }

  private onControlMessage(m: Uint8Array): void {
    const d = decodeControlMessage(m);
    if (d !== null) this.declarePeer(d);
  }

  private declarePeer(d: ChannelDeclaration): void {
    const existing = this.inChannels.get(d.channelId);
    if (existing) {
      if (existing.name !== d.name || existing.mode !== d.mode) chErr(`channel ${d.channelId} redeclared differently`);
      return;
    }
    if (this.inNames.has(d.name)) chErr(`channel name ${JSON.stringify(d.name)} declared under two ids`);
    if (this.inChannels.size >= this.opts.maxPeerChannels) chErr(`more than ${this.opts.maxPeerChannels} channels declared`);
    const ch: InChannel = { name: d.name, mode: d.mode, lastSequence: -1, orderedStream: null };
    this.inChannels.set(d.channelId, ch);
    this.inNames.set(d.name, d.channelId);
    const held = this.heldStreams.get(d.channelId);
    if (held) {
      this.heldStreams.delete(d.channelId);
      for (const id of held) {
        const st = this.inStreams.get(id);
        if (st && (st.kind === 'ordered' || st.kind === 'unordered')) this.admitChannelStream(id, st, ch);
      }
    }
  }

  private deliver(channelId: number, data: Uint8Array): void {
    const ch = this.inChannels.get(channelId)!;
    this.counters.messagesReceived++;
    this.push({ type: 'message', channel: ch.name, mode: ch.mode, data });
  }

  private onPeerReset(id: number, ev: ConnectionEvent): void {
    const st = this.inStreamsLazy?.get(id);
    if (st === undefined || st.kind === 'raw') {
      this.push(ev);
      return;
    }
    this.inStreams.delete(id);
    if (st.kind === 'pending') return;
    if (st.kind === 'control') chErr('control stream reset');
    // Messages of a reset channel stream are lost; the channel itself stays usable (a new stream may follow).
    this.countMessageDrop('stream_reset');
    if (st.kind === 'ordered') {
      const ch = this.inChannels.get(st.channelId);
      if (ch && ch.orderedStream === id) ch.orderedStream = null;
    }
  }

  /** The peer sent STOP_SENDING on one of our streams (the core answers with RESET_STREAM). */
  private onStopped(id: number): void {
    if (id === this.control) chErr('control stream stopped by the peer');
    for (const ch of this.outById) {
      // The ordered stream is gone: the next message opens a fresh one.
      if (ch.stream === id) {
        ch.stream = null;
        ch.written = 0;
        ch.unacked.length = 0;
      }
    }
    this.countMessageDrop('stream_reset');
  }

  private onDatagram(data: Uint8Array, now: number, early?: true): void {
    let d;
    try {
      d = decodeChannelDatagram(data);
    } catch (e) {
      if (e instanceof PetrelWireError) {
        this.countDrop('malformed');
        return;
      }
      throw e;
    }
    if (d.kind === 'raw') {
      this.push(early ? { type: 'datagram', data: d.payload, early } : { type: 'datagram', data: d.payload });
      return;
    }
    const ch = this.inChannels.get(d.channelId);
    if (ch === undefined) {
      this.countDrop('undeclared_channel');
      return;
    }
    const sequenced = ch.mode === 'unreliable-sequenced';
    if ((ch.mode !== 'unreliable' && !sequenced) || sequenced !== (d.sequence !== undefined)) {
      this.countDrop('mode_mismatch');
      return;
    }
    if (sequenced && d.sequence! <= ch.lastSequence) {
      this.countDrop('stale');
      return;
    }
    let message = d.payload;
    if (d.fragment) {
      this.counters.fragmentsReceived++;
      const r = this.reassembly.add(d.channelId, d.fragment, d.sequence, d.payload, now);
      if (r.kind === 'inconsistent') this.countDrop('fragment_mismatch');
      if (r.kind === 'dropped') this.countDrop('fragment_of_dropped');
      if (r.kind !== 'complete') return;
      message = r.data;
      if (sequenced && d.sequence! <= ch.lastSequence) {
        this.countMessageDrop('stale');
        return;
      }
    }
    if (sequenced) {
      ch.lastSequence = d.sequence!;
      this.reassembly.discardStale(d.channelId, ch.lastSequence);
    }
    this.counters.messagesReceived++;
    this.push({ type: 'message', channel: ch.name, mode: ch.mode, data: message });
  }

  private onClosed(): void {
    this.closed = true;
    this.reassembly.clear();
    this.unreliable.clear();
  }

  /** A malformed channel form on a stream: close the connection with CHANNEL_ENCODING_ERROR (spec). */
  private fail(message: string): void {
    this.failed = true;
    this.conn.close(TransportErrorCode.CHANNEL_ENCODING_ERROR, message, false);
  }

  private checkOpen(): void {
    const s = this.conn.state;
    if (this.closed || s === 'closing' || s === 'draining' || s === 'closed') {
      throw new PetrelError('CONNECTION_CLOSED', 'connection is closed');
    }
  }

  // ───────────────────────────── output, timers, stats ─────────────────────────────

  private push(ev: ChannelLayerEvent): void {
    this.queue.push(ev);
  }

  pollEvent(): ChannelLayerEvent | null {
    if (this.queueHead >= this.queue.length) return null;
    const ev = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as ChannelLayerEvent;
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
    return ev;
  }

  /** Earliest reassembly expiry, or null. */
  pollTimeout(): number | null {
    return this.reassembly.nextDeadline();
  }

  handleTimeout(now: number): void {
    this.lastNow = now;
    this.reassembly.expire(now);
  }

  stats(): ChannelStats {
    const r = this.reassembly;
    const messagesDropped: Record<string, number> = { ...this.messageDrops };
    for (const [k, v] of Object.entries(r.dropped) as Array<[ReassemblyDropReason, number]>) {
      if (v > 0) messagesDropped[k] = (messagesDropped[k] ?? 0) + v;
    }
    return {
      channelsDeclared: this.outById.length,
      peerChannels: this.inChannelsLazy?.size ?? 0,
      ...this.counters,
      datagramsDropped: { ...this.datagramDrops },
      messagesDropped,
      reassemblyBytes: r.bytes,
      reassemblyMessages: r.messages,
      heldMessages: this.unreliable.heldCount,
      sendQueues: this.outById.map((ch) => this.queueState(ch)),
    };
  }

  /** One local channel's send queue (see ChannelQueueState). */
  private queueState(ch: OutChannel): ChannelQueueState {
    const now = this.lastNow;
    if (ch.mode === 'unreliable' || ch.mode === 'unreliable-sequenced') {
      return { name: ch.name, mode: ch.mode, ...this.unreliable.queueState(ch, now) };
    }
    let bytes = 0;
    let oldest = Infinity;
    for (const m of ch.pending) bytes += m.length;
    let messages = ch.pending.length;
    if (ch.stream !== null) {
      const acked = ch.written - this.conn.streamBufferedBytes(ch.stream);
      let n = 0;
      while (n < ch.unacked.length && ch.unacked[n]!.end <= acked) n++;
      if (n > 0) ch.unacked.splice(0, n);
      messages += ch.unacked.length;
      bytes += Math.max(0, ch.written - acked);
      if (ch.unacked.length > 0) oldest = ch.unacked[0]!.at;
    }
    return { name: ch.name, mode: ch.mode, messages, bytes, oldestAge: oldest === Infinity ? 0 : Math.max(0, now - oldest) };
  }

  private countDrop(reason: string): void {
    const d = (this.datagramDrops ??= {});
    d[reason] = (d[reason] ?? 0) + 1;
  }

  private countMessageDrop(reason: string): void {
    const d = (this.messageDrops ??= {});
    d[reason] = (d[reason] ?? 0) + 1;
  }
}

function chErr(message: string): never {
  throw new PetrelWireError(TransportErrorCode.CHANNEL_ENCODING_ERROR, message);
}
