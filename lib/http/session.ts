/**
 * The connection-level HTTP state machine, sans-IO (RFC 9114 §6.2, §7.2.4, §7.2.6; RFC 9204 §4.2): our three
 * unidirectional streams (control with SETTINGS, QPACK encoder, QPACK decoder), the peer's ones, SETTINGS and
 * GOAWAY, and the QPACK encoder/decoder pair shared by all request streams. Bytes in, bytes out: the glue feeds what
 * the peer's unidirectional streams carry into `uniData()`, writes `opening()` once on each of ours, and after any
 * call writes whatever `takeControl()`, `takeEncoder()` and `takeDecoder()` return. Every connection error is
 * thrown as an HttpError whose errorCode is the one to close the connection with.
 */
import { HttpError } from './errors.js';
import {
  DEFAULT_PEER_SETTINGS,
  FrameParser,
  FrameType,
  StreamType,
  concatBytes,
  decodeGoawayPayload,
  decodeSettingsPayload,
  encodeFrame,
  encodeGoawayPayload,
  encodeSettingsPayload,
  greaseValue,
  readVarint,
  varint,
  type FrameEvent,
  type HttpSettings,
} from './frames.js';
import { QpackDecoder, type Field } from './qpack/decoder.js';
import { QpackEncoder } from './qpack/encoder.js';

export interface HttpSessionOptions {
  role: 'client' | 'server';
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY (default 4096). */
  qpackMaxTableCapacity?: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS (default 16). */
  qpackBlockedStreams?: number;
  /** Our SETTINGS_MAX_FIELD_SECTION_SIZE, also the decoder's limit (default 64 KiB). */
  maxFieldSectionSize?: number;
  /** Largest control-stream frame we buffer (default 16 KiB). */
  maxControlFrame?: number;
  /** Reserved values (grease) to send: a frame on the control stream and a setting. Default true. */
  grease?: boolean;
  /** Injected randomness (0 ≤ r < 1) for choosing grease values; default a fixed sequence. */
  random?: () => number;
}

export type SessionEvent =
  | { type: 'settings'; settings: HttpSettings }
  | { type: 'goaway'; id: number }
  | { type: 'unblocked'; streamId: number; fields: Field[] }
  | { type: 'ignore-stream'; streamId: number };

interface PeerUni {
  type: number; // -1 until the stream-type varint is in
  head: Uint8Array;
  parser: FrameParser | null;
}

export class HttpSession {
  readonly role: 'client' | 'server';
  readonly localSettings: HttpSettings;
  peerSettings: HttpSettings | null = null;
  /** The last GOAWAY id the peer sent (null if none). */
  peerGoaway: number | null = null;
  /** The GOAWAY id we sent (null if none). */
  sentGoaway: number | null = null;
  private encoder: QpackEncoder;
  readonly decoder: QpackDecoder;
  private readonly control: Uint8Array[] = [];
  private readonly peerUni = new Map<number, PeerUni>();
  private readonly peerCritical = new Map<number, number>(); // stream type → stream id
  private readonly maxControlFrame: number;
  private readonly grease: boolean;
  private readonly random: () => number;

  constructor(opts: HttpSessionOptions) {
    this.role = opts.role;
    this.localSettings = {
      qpackMaxTableCapacity: opts.qpackMaxTableCapacity ?? 4096,
      qpackBlockedStreams: opts.qpackBlockedStreams ?? 16,
      maxFieldSectionSize: opts.maxFieldSectionSize ?? 65536,
    };
    this.maxControlFrame = opts.maxControlFrame ?? 16384;
    this.grease = opts.grease ?? true;
    let seq = 0;
    this.random = opts.random ?? (() => (seq++ * 0.618034) % 1);
    // Until the peer's SETTINGS arrive its QPACK limits are 0: static table and literals only.
    this.encoder = new QpackEncoder({ maxTableCapacity: 0, maxBlockedStreams: 0 });
    this.decoder = new QpackDecoder({
      maxTableCapacity: this.localSettings.qpackMaxTableCapacity,
      maxBlockedStreams: this.localSettings.qpackBlockedStreams,
      maxFieldSectionSize: this.localSettings.maxFieldSectionSize,
      maxStringLength: this.localSettings.maxFieldSectionSize,
    });
  }

  private greaseN(): number {
    return Math.floor(this.random() * 1000);
  }

  /** The first bytes of one of our unidirectional streams. */
  opening(kind: 'control' | 'encoder' | 'decoder'): Uint8Array {
    if (kind === 'encoder') return varint(StreamType.QPACK_ENCODER);
    if (kind === 'decoder') return varint(StreamType.QPACK_DECODER);
    const parts = [
      varint(StreamType.CONTROL),
      encodeFrame(FrameType.SETTINGS, encodeSettingsPayload(this.localSettings, this.grease ? this.greaseN() : undefined)),
    ];
    // A reserved frame type with a small payload: peers must skip it (RFC 9114 §7.2.8).
    if (this.grease) parts.push(encodeFrame(greaseValue(this.greaseN()), new Uint8Array([0x67, 0x72, 0x65, 0x61, 0x73, 0x65])));
    return concatBytes(parts);
  }

  takeControl(): Uint8Array {
    const out = concatBytes(this.control);
    this.control.length = 0;
    return out;
  }

  takeEncoder(): Uint8Array {
    return this.encoder.takeEncoderStreamData();
  }

  takeDecoder(): Uint8Array {
    return this.decoder.takeDecoderStreamData();
  }

  /** Bytes the peer sent on one of its unidirectional streams. */
  uniData(streamId: number, data: Uint8Array): SessionEvent[] {
    const events: SessionEvent[] = [];
    let u = this.peerUni.get(streamId);
    if (u === undefined) {
      if (this.peerUni.size > 64) throw new HttpError('H3_EXCESSIVE_LOAD', 'too many unidirectional streams');
      u = { type: -1, head: new Uint8Array(0), parser: null };
      this.peerUni.set(streamId, u);
    }
    if (u.type === -1) {
      const all = concatBytes([u.head, data]);
      const t = readVarint(all, 0, all.length);
      if (t === null) {
        u.head = all;
        return events;
      }
      u.type = t.value;
      data = all.subarray(t.length);
      u.head = new Uint8Array(0);
      this.openPeerUni(streamId, u, events);
    }
    switch (u.type) {
      case StreamType.CONTROL:
        for (const ev of u.parser!.push(data)) this.controlFrame(ev, events);
        break;
      case StreamType.QPACK_ENCODER:
        if (data.length > 0) {
          for (const s of this.decoder.encoderStreamData(data)) events.push({ type: 'unblocked', streamId: s.streamId, fields: s.fields });
        }
        break;
      case StreamType.QPACK_DECODER:
        if (data.length > 0) this.encoder.decoderStreamData(data);
        break;
      default:
      // Unknown or reserved stream type: discarded (the glue stops reading it).
    }
    return events;
  }

  private openPeerUni(streamId: number, u: PeerUni, events: SessionEvent[]): void {
    const t = u.type;
    if (t === StreamType.CONTROL || t === StreamType.QPACK_ENCODER || t === StreamType.QPACK_DECODER) {
      if (this.peerCritical.has(t)) throw new HttpError('H3_STREAM_CREATION_ERROR', `second peer stream of type 0x${t.toString(16)}`);
      this.peerCritical.set(t, streamId);
      if (t === StreamType.CONTROL) u.parser = new FrameParser(this.maxControlFrame);
    } else if (t === StreamType.PUSH) {
      // We never send MAX_PUSH_ID, so a push stream is an id error; a client must not open one at all.
      throw new HttpError(this.role === 'client' ? 'H3_ID_ERROR' : 'H3_STREAM_CREATION_ERROR', 'push stream without MAX_PUSH_ID');
    } else events.push({ type: 'ignore-stream', streamId });
  }

  /** The peer ended one of its unidirectional streams: fatal for the critical ones. */
  uniEnd(streamId: number): void {
    const u = this.peerUni.get(streamId);
    if (u !== undefined && (u.type === StreamType.CONTROL || u.type === StreamType.QPACK_ENCODER || u.type === StreamType.QPACK_DECODER)) {
      throw new HttpError('H3_CLOSED_CRITICAL_STREAM', `peer closed its critical stream of type 0x${u.type.toString(16)}`);
    }
    this.peerUni.delete(streamId);
  }

  private controlFrame(ev: FrameEvent, events: SessionEvent[]): void {
    if (ev.kind !== 'frame') throw new HttpError('H3_FRAME_UNEXPECTED', 'DATA on the control stream');
    if (this.peerSettings === null) {
      if (ev.type !== FrameType.SETTINGS) throw new HttpError('H3_MISSING_SETTINGS', 'control stream does not start with SETTINGS');
      const s = decodeSettingsPayload(ev.payload);
      this.peerSettings = s;
      // Hold the previous encoder's queued bytes (only its capacity-0 state: none) and switch to the peer's limits.
      this.encoder = new QpackEncoder({
        maxTableCapacity: s.qpackMaxTableCapacity,
        maxBlockedStreams: s.qpackBlockedStreams,
        tableCapacity: Math.min(s.qpackMaxTableCapacity, 4096),
      });
      events.push({ type: 'settings', settings: s });
      return;
    }
    switch (ev.type) {
      case FrameType.SETTINGS:
        throw new HttpError('H3_FRAME_UNEXPECTED', 'second SETTINGS frame');
      case FrameType.GOAWAY: {
        const id = decodeGoawayPayload(ev.payload);
        if (this.role === 'client' && id % 4 !== 0) {
          throw new HttpError('H3_ID_ERROR', `GOAWAY id ${id} is not a client-initiated bidirectional stream`);
        }
        if (this.peerGoaway !== null && id > this.peerGoaway) throw new HttpError('H3_ID_ERROR', `GOAWAY id grew from ${this.peerGoaway} to ${id}`);
        this.peerGoaway = id;
        events.push({ type: 'goaway', id });
        return;
      }
      case FrameType.CANCEL_PUSH:
      case FrameType.MAX_PUSH_ID:
        // No server push here: a server may not receive CANCEL_PUSH for a push it never promised, but both are harmless.
        return;
      default:
        throw new HttpError('H3_FRAME_UNEXPECTED', `frame 0x${ev.type.toString(16)} on the control stream`);
    }
  }

  /** A HEADERS frame carrying `fields` for request stream `streamId`. */
  encodeHeaders(streamId: number, fields: ReadonlyArray<readonly [string, string]>): Uint8Array {
    const limit = this.peerSettings?.maxFieldSectionSize ?? DEFAULT_PEER_SETTINGS.maxFieldSectionSize;
    let size = 0;
    for (const [n, v] of fields) size += n.length + v.length + 32;
    if (size > limit) throw new HttpError('H3_EXCESSIVE_LOAD', `field section of ${size} bytes exceeds the peer's limit of ${limit}`);
    return encodeFrame(FrameType.HEADERS, this.encoder.encodeSection(streamId, fields));
  }

  /** Decodes a HEADERS payload; null when blocked (a later 'unblocked' event carries it). */
  decodeHeaders(streamId: number, payload: Uint8Array): Field[] | null {
    return this.decoder.decodeSection(streamId, payload);
  }

  /** A request stream ended early: drop its blocked sections and tell the peer's encoder (Stream Cancellation). */
  cancelStream(streamId: number): void {
    this.decoder.cancelStream(streamId);
  }

  /** Queues a GOAWAY on the control stream (ids never grow). */
  goaway(id: number): void {
    if (this.sentGoaway !== null && id > this.sentGoaway) id = this.sentGoaway;
    this.sentGoaway = id;
    this.control.push(encodeFrame(FrameType.GOAWAY, encodeGoawayPayload(id)));
  }
}
