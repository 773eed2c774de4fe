/**
 * Builds one protected packet of one space into a datagram buffer: header, ACK, the ack-eliciting frames
 * in the order of WRITERS (a list: adding a frame type is one entry), PTO probe content, padding, sealing
 * and header protection (the tested lib/crypto functions), then bookkeeping (recovery, pacing, timers).
 */
import { protectHeader } from '../crypto/packet-protection.js';
import type { Pacer } from '../congestion/pacer.js';
import type { SpaceId } from '../recovery/types.js';
import { ByteWriter } from '../wire/buffer.js';
import { BASE_DATAGRAM_SIZE, CRC_LENGTH } from '../wire/datagram.js';
import { cryptoFrameOverhead, encodeFrame } from '../wire/frames.js';
import { MIN_PN_AND_PAYLOAD, PETREL_VERSION, patchLongHeaderLength, writeLongHeader, writeShortHeader } from '../wire/packet.js';
import { encodePacketNumber } from '../wire/packet-number.js';
import type { AckManager } from './ack-manager.js';
import type { CidController } from './cids.js';
import type { CloseManager } from './close.js';
import { APP, INITIAL, type ConnContext } from './context.js';
import type { Datagrams } from './datagrams.js';
import type { HandshakeDriver } from './handshake.js';
import type { KeyUpdate } from './key-update.js';
import type { MtuDiscovery } from './mtu.js';
import type { Paths } from './paths.js';
import { URGENCY_LEVELS } from './scheduler.js';
import { MIN_DATA_ROOM } from './streams/writer.js';
import { writeIfFits } from './frame-room.js';
import type { SentFrame } from './sent-frame.js';
import { SPACE_NAME, type PacketSpace } from './space.js';
import type { StreamManager } from './streams/manager.js';
import type { StreamWriter } from './streams/writer.js';
import type { Timers } from './timers.js';

const EMPTY = new Uint8Array(0);
/** A packet with less payload room than this is not worth starting (headers and tag would dominate). */
const MIN_PACKET_PAYLOAD = 32;
/** Congestion-window room, after the ACK, below which no ack-eliciting frames are attempted. */
const MIN_ACK_ELICITING_ROOM = 8;

export interface BuilderDeps {
  ack: AckManager;
  close: CloseManager;
  handshake: HandshakeDriver;
  keys: KeyUpdate;
  paths: Paths;
  cids: CidController;
  streams: StreamManager;
  streamWriter: StreamWriter;
  datagrams: Datagrams;
  mtu: MtuDiscovery;
  timers: Timers;
  pacer: Pacer;
  localCid: Uint8Array;
}

/** One ack-eliciting frame writer: writes what its module owes into `w`, returns whether it wrote. */
interface FrameWriter {
  name: string;
  /** Also in a packet built only for path validation (PATH_CHALLENGE alone, PATH_RESPONSE to another address). */
  pathProbe: boolean;
  write(space: PacketSpace, w: ByteWriter, frames: SentFrame[]): boolean;
}

export class PacketBuilder {
  /** Set while building a path-validation-only packet: only the writers marked pathProbe run. */
  probeOnly = false;
  private readonly writer = new ByteWriter(EMPTY);
  /** 1-RTT ack-eliciting frames in the order they go into a packet (CRYPTO, of any space, comes first). */
  private readonly writers: readonly FrameWriter[];

  constructor(
    private readonly ctx: ConnContext,
    private readonly d: BuilderDeps,
  ) {
    const { handshake, paths, cids, ack, streams, streamWriter, datagrams } = d;
    this.writers = [
      { name: 'handshake_done', pathProbe: true, write: (_s, w, f) => handshake.writeHandshakeDone(w, f) },
      { name: 'path_response', pathProbe: true, write: (_s, w) => paths.writeResponse(w) },
      { name: 'path_challenge', pathProbe: true, write: (_s, w, f) => paths.writeChallenge(w, f) },
      { name: 'new_connection_id', pathProbe: false, write: (_s, w, f) => cids.writeNewConnectionIds(w, f) },
      { name: 'retire_connection_id', pathProbe: false, write: (_s, w, f) => cids.writeRetireConnectionIds(w, f) },
      { name: 'ack_frequency', pathProbe: false, write: (_s, w, f) => ack.writeAckFrequency(w, f) },
      { name: 'max_data', pathProbe: false, write: (_s, w, f) => streams.flow.writeMaxData(w, f) },
      { name: 'max_streams/streams_blocked', pathProbe: false, write: (_s, w, f) => streamWriter.writeStreamCounts(w, f) },
      { name: 'stream control', pathProbe: false, write: (_s, w, f) => streamWriter.writeStreamControl(w, f) },
      {
        // Datagrams and stream data by urgency; within one urgency datagrams first (latency-sensitive),
        // then non-incremental streams in id order, then incremental streams round-robin.
        name: 'datagram/stream',
        pathProbe: false,
        write: (_s, w, f) => {
          let wrote = false;
          datagrams.expire(ctx.now);
          for (let u = 0; u < URGENCY_LEVELS && w.remaining > MIN_DATA_ROOM; u++) {
            if (datagrams.writeAt(u, w, f)) wrote = true;
            if (streamWriter.writeAt(u, w, f)) wrote = true;
          }
          return wrote;
        },
      },
      { name: 'data_blocked', pathProbe: false, write: (_s, w, f) => streams.flow.writeDataBlocked(w, f) },
    ];
  }

  /** Whether any 1-RTT frame beyond ACKs is waiting to be sent. */
  appHasPending(): boolean {
    const d = this.d;
    if (d.handshake.donePending || d.ack.frequencyPending) return true;
    if (d.streamWriter.hasPending()) return true;
    // Datagrams past their maxAge are not pending: drop them first (they would only delay fresher data).
    d.datagrams.expire(this.ctx.now);
    if (d.datagrams.queued > 0) return true;
    if (d.cids.hasPending || d.paths.challengePending) return true;
    return d.streamWriter.hasStreamData();
  }

  /** Writes control frames, CRYPTO, datagrams and stream data. Returns whether anything ack-eliciting was written. */
  private writeAckElicitingFrames(space: PacketSpace, w: ByteWriter, frames: SentFrame[]): boolean {
    let wrote = this.d.handshake.writeCrypto(space, w, frames, cryptoFrameOverhead);
    if (space.id !== APP) return wrote;
    for (const fw of this.writers) {
      if (this.probeOnly && !fw.pathProbe) break;
      if (fw.write(space, w, frames)) wrote = true;
    }
    return wrote;
  }

  /** For a PTO probe with no new data: re-queue the frames of the oldest unacknowledged packet. */
  private requeueOldest(space: PacketSpace): boolean {
    for (const p of this.ctx.recovery.unacked(space.id)) {
      let any = false;
      for (const f of p.frames) {
        if (f.k === 'crypto' && !space.discarded) {
          space.cryptoSend.onLost(f.offset, f.length, false);
          any = true;
        } else if (f.k === 'stream') {
          if (this.d.streams.requeue(f.id, f.offset, f.length, f.fin)) any = true;
        }
      }
      if (any) return true;
    }
    return false;
  }

  /** Whether the packet the last build() wrote is ack-eliciting (a field, not a result object per packet). */
  lastAckEliciting = false;

  /**
   * Builds a packet of space `id` into buf[start, end), padded up to `padTo` bytes from the datagram
   * start. Returns where it ended (`start`: nothing to send); lastAckEliciting says whether it is ack-eliciting.
   */
  build(id: SpaceId, buf: Uint8Array, start: number, end: number, now: number, padTo: number): number {
    this.lastAckEliciting = false;
    const ctx = this.ctx;
    const d = this.d;
    const space = ctx.spaces[id];
    // Client before 1-RTT keys: application data goes in 0-RTT packets (long header, same packet numbers).
    const early = id === APP && !space.write ? d.handshake.early.write : null;
    if (id === APP && !early) d.keys.maybeInitiate();
    const protector = early ?? space.write!;
    const pn = space.nextPn;
    const mtuProbe = d.mtu.probeSize > 0;
    // PTO probes stay at the base size: if larger packets are being black-holed, the probe still gets
    // through and the losses of the large ones get declared (which is how PMTUD notices).
    if (space.probes > 0 && !mtuProbe) end = Math.min(end, start + BASE_DATAGRAM_SIZE - CRC_LENGTH);
    const { truncated, length: pnLength } = encodePacketNumber(pn, space.largestAckedByPeer);
    const remoteCid = d.cids.peer.current.cid;
    let lengthOffset = -1;
    let pnOffset: number;
    let payloadOffset: number;
    if (id === APP && !early) {
      const h = writeShortHeader(buf, start, { dcid: remoteCid, keyPhase: d.keys.sendPhase === 1, spin: false, pnLength, truncatedPn: truncated });
      pnOffset = h.pnOffset;
      payloadOffset = h.payloadOffset;
    } else {
      const h = writeLongHeader(buf, start, {
        type: id === INITIAL ? 'initial' : early ? '0rtt' : 'handshake',
        version: PETREL_VERSION,
        dcid: remoteCid,
        scid: d.localCid,
        token: id === INITIAL ? (d.cids.retryToken ?? EMPTY) : undefined,
        pnLength,
        truncatedPn: truncated,
      });
      lengthOffset = h.lengthOffset;
      pnOffset = h.pnOffset;
      payloadOffset = h.payloadOffset;
    }
    const tag = protector.tagLength;
    const payloadEnd = end - tag;
    if (payloadEnd - payloadOffset < MIN_PACKET_PAYLOAD) return start;
    const w = this.writer.reset(buf, payloadOffset, payloadEnd);
    const frames: SentFrame[] = [];
    let ackEliciting = false;

    if (mtuProbe) {
      encodeFrame(w, { type: 'ping' });
      frames.push({ k: 'ping' });
    } else if (ctx.state === 'closing') {
      d.close.write(w, id, frames);
    } else {
      // ACK first: it is small and always welcome (piggybacked whenever something is unacknowledged).
      if (space.ackNeeded) d.ack.writeAck(space, w, now, frames);
      const probe = space.probes > 0;
      // Congestion control: ack-eliciting content only within the window. PTO probes may exceed it, and
      // so may path validation (a PATH_CHALLENGE or PATH_RESPONSE is tiny and must not wait for ACKs).
      const pathFrames = id === APP && (d.paths.pendingResponse !== null || d.paths.challengePending);
      const budget = probe || pathFrames || id !== APP ? Infinity : ctx.recovery.sendableBytes();
      const maxEnd = budget === Infinity ? payloadEnd : Math.min(payloadEnd, start + budget - tag);
      if (maxEnd - w.pos > MIN_ACK_ELICITING_ROOM) {
        w.end = maxEnd;
        ackEliciting = this.writeAckElicitingFrames(space, w, frames);
        w.end = payloadEnd;
      }
      if (probe && !ackEliciting) {
        // A probe must elicit an ACK: resend the oldest unacknowledged data, else PING.
        if (this.requeueOldest(space)) ackEliciting = this.writeAckElicitingFrames(space, w, frames);
        if (!ackEliciting && writeIfFits(w, { type: 'ping' })) {
          frames.push({ k: 'ping' });
          ackEliciting = true;
        }
      }
      if (probe && ackEliciting) space.probes--;
      // Nothing to say: no packet — unless it must pad a datagram that carries an Initial packet (the
      // 1200-byte rule), then a PADDING-only packet still carries the padding.
      if (w.pos === payloadOffset && !(padTo > 0 && (id === INITIAL || start > 0))) return start;
    }
    // Padding: up to the requested datagram size (padTo counts from the datagram start), and enough
    // bytes after the packet number for the header-protection sample.
    let target = w.pos;
    if (padTo > 0) target = Math.max(target, padTo - tag);
    // Every packet carries at least 4 bytes after the start of its packet number (spec/wire.md), and with
    // header protection 4 bytes of plaintext so the 16-byte sample lies inside the ciphertext and tag.
    target = Math.max(target, pnOffset + MIN_PN_AND_PAYLOAD - tag);
    if (protector.headerProtection) target = Math.max(target, pnOffset + 4);
    target = Math.min(target, payloadEnd);
    const padded = target > w.pos;
    if (padded) {
      frames.push({ k: 'padding', length: target - w.pos });
      w.zeros(target - w.pos);
    }
    const plainEnd = w.pos;
    if (lengthOffset >= 0) patchLongHeaderLength(buf, lengthOffset, plainEnd - pnOffset + tag);
    const packetEnd = protector.seal(pn, buf, start, payloadOffset, plainEnd);
    protectHeader(buf, start, pnOffset, pnLength, protector);
    space.nextPn++;
    ctx.counters.packetsSent++;
    if (id === APP && !early) d.keys.onPacketSent();
    const size = packetEnd - start;
    // In flight: ack-eliciting or padded packets (RFC 9002 §2); ACK-only packets are not.
    if (mtuProbe) ackEliciting = true;
    // Every field Recovery's rate sampler fills in is present from the start (undefined until then): one
    // object shape with in-object fields, instead of a property store grown on every sent packet.
    ctx.recovery.onPacketSent(
      {
        pn,
        space: id,
        timeSent: now,
        size,
        ackEliciting,
        inFlight: ackEliciting || padded,
        frames,
        isPmtuProbe: mtuProbe,
        delivered: undefined,
        deliveredTime: undefined,
        firstSentTime: undefined,
        appLimited: undefined,
        txInFlight: undefined,
        lostAtSend: undefined,
      },
      now,
    );
    if ((ctx.opts.pacing || ctx.opts.maxSendRate > 0) && (ackEliciting || padded)) d.pacer.onSend(now, size);
    if (ackEliciting) d.timers.onAckElicitingSent(id === APP, now);
    d.handshake.onPacketSent(id, now);
    if (ctx.env.trace) ctx.env.trace('transport:packet_sent', { space: SPACE_NAME[id], pn, size, frames }, now);
    this.lastAckEliciting = ackEliciting;
    return packetEnd;
  }
}
