/**
 * The receive path (RFC 9000 §12, RFC 9001 §5): coalesced packets of a datagram, header protection
 * removal (the tested lib/crypto function), packet-number recovery, key phase, decryption, duplicate and
 * reserved-bit checks, then every frame dispatched to the module that owns it.
 */
import { unprotectHeader } from '../crypto/packet-protection.js';
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import type { SpaceId } from '../recovery/types.js';
import { ByteReader } from '../wire/buffer.js';
import { CRC_LENGTH } from '../wire/datagram.js';
import { decodeFrame, decodeFrames, frameAllowedIn, isAckEliciting, isProbingFrame } from '../wire/frames.js';
import type { Frame } from '../wire/frame-types.js';
import { CID_LENGTH, parsePacketHeader, readPacketNumber } from '../wire/packet.js';
import { decodePacketNumber } from '../wire/packet-number.js';
import type { AckManager } from './ack-manager.js';
import type { CidController } from './cids.js';
import type { CloseManager } from './close.js';
import { APP, HANDSHAKE, INITIAL, type ConnContext, type FrameError } from './context.js';
import type { Datagrams } from './datagrams.js';
import type { HandshakeDriver } from './handshake.js';
import type { KeyUpdate } from './key-update.js';
import type { Outcomes } from './outcomes.js';
import type { Paths } from './paths.js';
import { SPACE_LEVEL, SPACE_NAME, type PacketSpace } from './space.js';
import type { StreamManager } from './streams/manager.js';
import type { Timers } from './timers.js';
import type { CloseInfo, PeerAddress } from './types.js';

const EMPTY = new Uint8Array(0);
const utf8d = new TextDecoder();

export interface ReceiveDeps {
  ack: AckManager;
  cids: CidController;
  close: CloseManager;
  datagrams: Datagrams;
  handshake: HandshakeDriver;
  keys: KeyUpdate;
  outcomes: Outcomes;
  paths: Paths;
  streams: StreamManager;
  timers: Timers;
}

export class Receiver {
  private readonly reader = new ByteReader(EMPTY);

  /** Lets go of the last datagram (the reader's view would keep it alive while the connection idles). */
  release(): void {
    this.reader.reset(EMPTY);
  }

  constructor(
    private readonly ctx: ConnContext,
    private readonly d: ReceiveDeps,
  ) {}

  /**
   * Processes one received datagram (CRC already verified and stripped by the endpoint).
   * Bad packets are dropped and counted; protocol violations close the connection.
   */
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    if (!this.d.paths.onDatagram(data.length + CRC_LENGTH, from)) return;
    let off = 0;
    while (off < data.length) {
      let end: number;
      try {
        end = this.handlePacket(data, off, now);
      } catch (e) {
        if (e instanceof PetrelWireError) {
          this.ctx.counters.countDrop('malformed_packet');
          return;
        }
        throw e;
      }
      if (end <= off) break;
      off = end;
      if (this.ctx.state === 'closed') return;
    }
  }

  /** Counts a dropped packet; returns `ret` (a method, not a closure per packet). */
  private drop(reason: string, ret: number): number {
    this.ctx.counters.countDrop(reason);
    return ret;
  }

  /** Handles the packet at `off`; returns where the next coalesced packet starts. */
  private handlePacket(data: Uint8Array, off: number, now: number): number {
    const ctx = this.ctx;
    const { close, keys, paths } = this.d;
    const h = parsePacketHeader(data, off, data.length, CID_LENGTH);
    if (h.form === 'version_negotiation') {
      if (ctx.isClient && !this.d.cids.peerCidLearned) {
        close.terminate({
          errorCode: TransportErrorCode.UNSUPPORTED_VERSION,
          reason: 'server does not speak this version',
          application: false,
          initiator: 'peer',
        });
      } else ctx.counters.countDrop('version_negotiation');
      return data.length;
    }
    if (h.form === 'retry') {
      const refused = this.d.handshake.onRetry(h, data.subarray(off, data.length));
      return refused ? this.drop(refused, data.length) : data.length;
    }
    if (h.form === 'unsupported_version') return this.drop('version_mismatch', h.end);
    let spaceId: SpaceId;
    if (h.form === 'short') spaceId = APP;
    else if (h.type === 'initial') spaceId = INITIAL;
    else if (h.type === 'handshake') spaceId = HANDSHAKE;
    else spaceId = APP; // 0-RTT: the application space's numbers, its own key (early-data.ts)
    const early = h.form === 'long' && h.type === '0rtt' ? this.d.handshake.early : null;
    if (early && (!early.read || early.budget < h.end - off)) return this.drop(early.read ? '0rtt_budget' : '0rtt_unsupported', h.end);
    const space = ctx.spaces[spaceId];
    if (!early && (space.discarded || !space.read)) return this.drop(space.discarded ? 'space_discarded' : 'keys_unavailable', h.end);
    // Header protection, then packet number reconstruction.
    const protector = early ? early.read! : space.read!;
    const pnLength = unprotectHeader(data, off, h.pnOffset, protector, h.end);
    if (pnLength < 0) return this.drop('short_packet', h.end);
    const firstByte = data[off]!;
    if (h.pnOffset + pnLength > h.end) return this.drop('short_packet', h.end);
    const truncated = readPacketNumber(data, h.pnOffset, pnLength);
    const pn = decodePacketNumber(space.largestRecv, truncated, pnLength * 8);
    const payloadOffset = h.pnOffset + pnLength;
    // 1-RTT key phase (RFC 9001 §6): a flipped bit is either a late packet of the previous phase or the
    // peer's key update; which one is told by the packet number.
    let opener = protector;
    let phaseChange = false;
    if (h.form === 'short') {
      const k = keys.opener(protector, (firstByte & 0x04) !== 0 ? 1 : 0, pn);
      if (!k) return this.drop('key_phase_unavailable', h.end);
      opener = k.opener;
      phaseChange = k.phaseChange;
    }
    const plainEnd = opener.open(pn, data, off, payloadOffset, h.end);
    if (plainEnd < 0) return this.drop('auth_failed', h.end);
    if (phaseChange) keys.commitRead(pn, now);
    if (space.isDuplicate(pn)) return this.drop('duplicate', h.end);
    if ((h.form === 'short' && (firstByte & 0x18) !== 0) || (h.form === 'long' && (firstByte & 0x0c) !== 0)) {
      return close.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved bits set', 0, h.end);
    }
    ctx.counters.packetsReceived++;
    if (ctx.env.trace) {
      ctx.env.trace(
        'transport:packet_received',
        { space: SPACE_NAME[spaceId], pn, size: h.end - off, frames: tracedFrames(data, payloadOffset, plainEnd) },
        now,
      );
    }

    // Server: a Handshake packet from the client proves its address; the Initial space can go.
    if (!ctx.isClient && spaceId === HANDSHAKE) {
      paths.validateByHandshake();
      this.d.handshake.onHandshakePacketFromClient(now);
    }
    // Client: the server's first Initial gives us its chosen connection id.
    if (ctx.isClient && h.form === 'long' && !this.d.cids.peerCidLearned) this.d.cids.learnPeerCid(h.scid);

    if (ctx.state === 'closing') {
      close.onPacketWhileClosing();
      return h.end;
    }

    let ackEliciting: boolean | null;
    if (early) {
      early.budget -= h.end - off;
      ackEliciting = this.processEarly(space, data, payloadOffset, plainEnd, now);
    } else ackEliciting = this.processFrames(space, data, payloadOffset, plainEnd, now);
    if (ackEliciting === null) return data.length; // connection closed by a frame error
    this.d.timers.onPacketReceived(now);
    const largest = pn > space.largestRecv;
    const outOfOrder = space.onReceived(pn, now, ackEliciting);
    paths.onPacketProcessed(largest, data.length + CRC_LENGTH, now, space.id === INITIAL);
    this.d.ack.onPacketReceived(space, ackEliciting, outOfOrder, now);
    this.d.handshake.pump();
    return h.end;
  }

  /** A 0-RTT packet's frames (0-RTT rules); the streams it opens and datagrams it carries are marked early. */
  private processEarly(space: PacketSpace, data: Uint8Array, off: number, end: number, now: number): boolean | null {
    const events = this.ctx.events;
    const first = events.length;
    this.d.handshake.early.inPacket = true;
    try {
      return this.processFrames(space, data, off, end, now, '0rtt');
    } finally {
      this.d.handshake.early.inPacket = false;
      for (let i = first; i < events.length; i++) {
        const e = events[i]!;
        if (e.type === 'stream_opened') this.d.handshake.early.addEarlyStream(e.streamId);
        if (e.type === 'stream_opened' || e.type === 'datagram') e.early = true;
      }
    }
  }

  /** Returns whether the packet was ack-eliciting, or null when a violation closed the connection. */
  private processFrames(space: PacketSpace, data: Uint8Array, off: number, end: number, now: number, level = SPACE_LEVEL[space.id]!): boolean | null {
    const ctx = this.ctx;
    const close = this.d.close;
    const r = this.reader.reset(data, off, end);
    let ackEliciting = false;
    this.d.paths.packetNonProbing = false;
    if (off === end) {
      close.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, 'packet without frames', 0, end);
      return null;
    }
    while (r.pos < r.end) {
      let f: Frame;
      try {
        f = decodeFrame(r);
      } catch (e) {
        if (e instanceof PetrelWireError) {
          close.protocolError(e.errorCode, e.message, e.frameType ?? 0, end);
          return null;
        }
        throw e;
      }
      if (!frameAllowedIn(f, level)) {
        close.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, `${f.type} not allowed in ${level} packets`, 0, end);
        return null;
      }
      if (isAckEliciting(f)) ackEliciting = true;
      if (!isProbingFrame(f)) this.d.paths.packetNonProbing = true;
      const err = this.onFrame(space, f, now);
      if (err) {
        close.protocolError(err.code, err.message, err.frameType, end);
        return null;
      }
      if (ctx.state === 'draining' || ctx.state === 'closed') return null;
    }
    return ackEliciting;
  }

  /** Dispatches one frame to its owner. A new frame type adds a case here and a writer in packet-builder. */
  private onFrame(space: PacketSpace, f: Frame, now: number): FrameError | null {
    const d = this.d;
    switch (f.type) {
      case 'padding':
      case 'ping':
        return null;
      case 'ack':
        return d.outcomes.onAckFrame(space, f.ranges, f.ackDelay, now);
      case 'crypto':
        return d.handshake.onCrypto(space, f.offset, f.data);
      case 'stream':
        return d.streams.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
      case 'reset_stream':
        return d.streams.onResetStream(f.streamId, f.errorCode, f.finalSize);
      case 'stop_sending':
        return d.streams.onStopSending(f.streamId, f.errorCode);
      case 'max_data':
        d.streams.onMaxData(f.maximum, now);
        return null;
      case 'max_stream_data':
        return d.streams.onMaxStreamData(f.streamId, f.maximum, now);
      case 'max_streams':
        return d.streams.onMaxStreams(f.bidi, f.maximum);
      case 'data_blocked':
      case 'stream_data_blocked':
      case 'streams_blocked':
        // Informational: our windows grow as the application reads; nothing to do but note it.
        return null;
      case 'new_token':
        if (!this.ctx.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'NEW_TOKEN from a client', frameType: 0x07 };
        return null;
      case 'new_connection_id':
        return d.cids.onNewConnectionId(f.sequence, f.connectionId, f.resetToken, f.retirePriorTo);
      case 'retire_connection_id':
        return d.cids.onRetireConnectionId(f.sequence);
      case 'path_challenge':
        d.paths.onChallenge(f.data);
        return null;
      case 'path_response':
        d.paths.onResponse(f.data);
        return null;
      case 'connection_close': {
        const info: CloseInfo = { errorCode: f.errorCode, reason: utf8d.decode(f.reason), application: f.application, initiator: 'peer' };
        d.close.enterDraining(info, now);
        return null;
      }
      case 'handshake_done':
        return d.handshake.onHandshakeDone(now);
      case 'immediate_ack':
        space.ackImmediate = true;
        return null;
      case 'ack_frequency':
        return d.ack.onAckFrequency(f);
      case 'datagram':
        return d.datagrams.onFrame(f.data);
    }
  }
}

/** The frames of a received packet, decoded again for the trace only (never called without a sink). */
function tracedFrames(data: Uint8Array, off: number, end: number): Frame[] {
  try {
    return decodeFrames(data.subarray(off, end));
  } catch {
    return [];
  }
}
