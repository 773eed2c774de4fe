/**
 * The handshake driver (RFC 9001 §4): our transport parameters, CRYPTO frames in and out of the session,
 * installing keys per space, checking and applying the peer's parameters, completion and confirmation
 * (HANDSHAKE_DONE), and discarding the Initial and Handshake spaces.
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import type { HandshakeSession, PacketProtector } from '../crypto/types.js';
import type { SpaceId } from '../recovery/types.js';
import { ByteWriter } from '../wire/buffer.js';
import { EarlyData } from './early-data.js';
import { encodeFrame } from '../wire/frames.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS,
  decodeTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../wire/transport-params.js';
import { retryPseudoPacket, type RetryHeader } from '../wire/packet.js';
import { localMinAckDelay, type AckManager } from './ack-manager.js';
import { bytesEqual } from './cid-manager.js';
import { MAX_ACTIVE_CIDS, type CidController } from './cids.js';
import type { CloseManager } from './close.js';
import { APP, HANDSHAKE, INITIAL, type ConnContext, type FrameError } from './context.js';
import type { ResolvedOptions } from './defaults.js';
import { writeIfFits } from './frame-room.js';
import type { MtuDiscovery } from './mtu.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';
import { SPACE_LEVEL, levelSpace, type PacketSpace } from './space.js';
import type { StreamManager } from './streams/manager.js';
import type { Timers } from './timers.js';

/** CRYPTO data accepted ahead of the read offset. */
const MAX_CRYPTO_BUFFER = 64 * 1024;
/**
 * At the Initial level (a ClientHello or a ServerHello, both well under 2 KiB) much less: that level's keys
 * are public, so anyone can fill a half-open server connection's window with spoofed fragments (issue 11).
 */
export const MAX_INITIAL_CRYPTO_BUFFER = 4 * 1024;

/** Our transport parameters, from the resolved options. */
export function localTransportParameters(
  opts: ResolvedOptions,
  isClient: boolean,
  localCid: Uint8Array,
  originalDcid: Uint8Array,
  resetToken: Uint8Array | null,
  retrySourceCid?: Uint8Array,
): TransportParameters {
  const p: TransportParameters = {
    ...DEFAULT_TRANSPORT_PARAMETERS,
    maxIdleTimeout: opts.idleTimeout,
    maxUdpPayloadSize: opts.maxUdpPayloadSize,
    initialMaxData: opts.connectionWindow,
    initialMaxStreamDataBidiLocal: opts.streamWindow,
    initialMaxStreamDataBidiRemote: opts.streamWindow,
    initialMaxStreamDataUni: opts.streamWindow,
    initialMaxStreamsBidi: opts.maxStreamsBidi,
    initialMaxStreamsUni: opts.maxStreamsUni,
    maxAckDelay: opts.maxAckDelay,
    maxDatagramFrameSize: opts.maxDatagramFrameSize,
    initialSourceConnectionId: localCid,
    // min_ack_delay (µs) may not exceed max_ack_delay; with a zero max_ack_delay there is nothing to thin.
    minAckDelay: localMinAckDelay(opts.ackFrequency, opts.maxAckDelay),
    channelsSupported: opts.channels,
  };
  if (!isClient) {
    p.originalDestinationConnectionId = originalDcid;
    if (retrySourceCid) p.retrySourceConnectionId = retrySourceCid;
    if (resetToken) p.statelessResetToken = resetToken;
  }
  p.activeConnectionIdLimit = MAX_ACTIVE_CIDS;
  return p;
}

/** Encoding space shared by every connection (encoding is synchronous; the result is a copy). */
const TP_SCRATCH = new Uint8Array(1024);

export function encodeLocalParameters(p: TransportParameters, isClient: boolean): Uint8Array {
  const tpBuf = new ByteWriter(TP_SCRATCH);
  encodeTransportParameters(p, tpBuf, isClient ? 'client' : 'server');
  return TP_SCRATCH.slice(0, tpBuf.pos);
}

/** The sibling modules the handshake hands results to. */
export interface HandshakeDeps {
  cids: CidController;
  streams: StreamManager;
  mtu: MtuDiscovery;
  ack: AckManager;
  close: CloseManager;
  timers: Timers;
}

export class HandshakeDriver {
  /** Server: HANDSHAKE_DONE to (re)send. */
  donePending = false;
  /** Client: 'connected' waits for HANDSHAKE_DONE (the session asked: its server still had a check to make). */
  private connectedOnConfirm = false;
  private sentHandshakePacket = false;
  /** 0-RTT keys and bookkeeping (early-data.ts); they live outside the application space's 1-RTT keys. */
  readonly early: EarlyData;

  constructor(
    private readonly ctx: ConnContext,
    readonly session: HandshakeSession,
    private readonly originalDcid: Uint8Array,
    private readonly deps: HandshakeDeps,
  ) {
    this.early = new EarlyData(ctx, session, deps.streams);
  }

  /** Moves CRYPTO output and new keys from the session into the spaces. */
  pump(): void {
    const ctx = this.ctx;
    const session = this.session;
    for (let out = session.pollOutput(); out; out = session.pollOutput()) {
      ctx.spaces[levelSpace(out.level)].cryptoSend.write(out.data);
    }
    for (let k = session.pollKeys(); k; k = session.pollKeys()) {
      if (k.level === '0rtt') {
        this.early.install(k);
        continue;
      }
      const space = ctx.spaces[levelSpace(k.level)];
      if (space.discarded) continue;
      if (k.read) space.read = k.read;
      if (k.write) space.write = k.write;
      if (k.level === 'handshake') ctx.recovery.setHasHandshakeKeys(true);
    }
    if (this.early.active) this.early.update();
    if ((!ctx.peerParams || this.early.paramsRemembered) && session.peerTransportParameters) {
      this.early.paramsRemembered = false;
      const err = this.applyPeerParams(session.peerTransportParameters);
      if (err) {
        this.deps.close.enterClosing({ errorCode: err.code, reason: err.message, application: false, initiator: 'local' }, ctx.now);
        return;
      }
    }
    if (!ctx.handshakeComplete && session.complete) {
      ctx.handshakeComplete = true;
      ctx.state = 'established';
      if (ctx.isClient && session.confirmBeforeConnected === true) this.connectedOnConfirm = true;
      else ctx.events.push({ type: 'connected', alpn: session.alpn });
      if (!ctx.isClient) {
        // Server: the handshake is confirmed once complete (RFC 9001 §4.1.2).
        this.donePending = true;
        this.onConfirmed(ctx.now);
      }
    }
  }

  private applyPeerParams(bytes: Uint8Array): { code: number; message: string } | null {
    const ctx = this.ctx;
    const cids = this.deps.cids;
    let p: TransportParameters;
    try {
      p = decodeTransportParameters(bytes, ctx.isClient ? 'server' : 'client');
    } catch (e) {
      if (e instanceof PetrelWireError) return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: e.message };
      throw e;
    }
    // Both sides check the peer's initial_source_connection_id against the header it came in (RFC 9000 §7.3).
    if (!p.initialSourceConnectionId || !bytesEqual(p.initialSourceConnectionId, cids.peerInitialScid)) {
      return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: 'initial_source_connection_id mismatch' };
    }
    if (ctx.isClient) {
      // After a Retry the server must name the Retry's SCID; without one it must name nothing (RFC 9000 §7.3).
      const rscid = cids.retrySourceCid;
      if (rscid ? !p.retrySourceConnectionId || !bytesEqual(p.retrySourceConnectionId, rscid) : p.retrySourceConnectionId !== undefined) {
        return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: 'retry_source_connection_id mismatch' };
      }
      if (!p.originalDestinationConnectionId || !bytesEqual(p.originalDestinationConnectionId, this.originalDcid)) {
        return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: 'original_destination_connection_id mismatch' };
      }
    }
    ctx.peerParams = p;
    if (ctx.isClient && p.statelessResetToken) cids.setInitialResetToken(p.statelessResetToken);
    this.deps.timers.negotiateIdleTimeout(p.maxIdleTimeout);
    ctx.recovery.setMaxAckDelay(p.maxAckDelay);
    this.deps.mtu.start(p.maxUdpPayloadSize);
    this.deps.streams.onPeerParams(p);
    return null;
  }

  /** CRYPTO data of a space's level into the session. */
  /** Client: Initial protectors for a new DCID (after a Retry); set by the Connection from its CryptoConfig. */
  initialKeysFor: ((cid: Uint8Array) => { read: PacketProtector; write: PacketProtector }) | null = null;

  /**
   * Client: a Retry (spec/wire.md §Retry). Accepted once, before any other server packet, when its integrity
   * tag verifies and its SCID differs from our first DCID: its SCID becomes our DCID, the Initial keys derive
   * from it, its token goes into every later Initial, and the ClientHello is sent again under the new keys.
   * Returns a drop reason, or null when accepted.
   */
  onRetry(h: RetryHeader, packet: Uint8Array): string | null {
    const ctx = this.ctx;
    const cids = this.deps.cids;
    if (!ctx.isClient || cids.peerCidLearned || cids.retrySourceCid) return 'retry_unexpected';
    const integrity = ctx.env.retryIntegrity;
    if (!integrity || !this.initialKeysFor) return 'retry_unsupported';
    if (bytesEqual(h.scid, this.originalDcid)) return 'retry_invalid';
    const pseudo = retryPseudoPacket(this.originalDcid, packet.subarray(0, packet.length - h.integrityTag.length));
    if (!integrity.verify(pseudo, h.integrityTag)) return 'retry_invalid';
    cids.retrySourceCid = h.scid.slice();
    cids.retryToken = h.token.slice();
    cids.peer.replaceInitial(cids.retrySourceCid);
    const keys = this.initialKeysFor(cids.retrySourceCid);
    const space = ctx.spaces[INITIAL];
    space.read = keys.read;
    space.write = keys.write;
    // The server kept nothing: everything sent so far at this level goes again (same packet numbers onward).
    space.cryptoSend.onLost(0, space.cryptoSend.sendOffset, false);
    ctx.wake();
    return null;
  }

  onCrypto(space: PacketSpace, offset: number, data: Uint8Array): FrameError | null {
    const window = space.id === INITIAL ? MAX_INITIAL_CRYPTO_BUFFER : MAX_CRYPTO_BUFFER;
    if (offset + data.length > space.cryptoRecv.readOffset + window) {
      return { code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, message: 'crypto data too far ahead', frameType: 0x06 };
    }
    try {
      space.cryptoRecv.insert(offset, data, false);
    } catch (e) {
      // Past the fragment bound of the level's reassembler (space.ts).
      if (e instanceof PetrelWireError) return { code: e.errorCode, message: e.message, frameType: 0x06 };
      throw e;
    }
    for (let chunk = space.cryptoRecv.read(); chunk; chunk = space.cryptoRecv.read()) {
      const err = this.session.handleCrypto(SPACE_LEVEL[space.id]!, chunk);
      if (err) return { code: err.errorCode, message: `${err.reason}: ${err.message}`, frameType: 0x06 };
    }
    return null;
  }

  /** HANDSHAKE_DONE (client only). */
  onHandshakeDone(now: number): FrameError | null {
    if (!this.ctx.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'HANDSHAKE_DONE from a client', frameType: 0x1e };
    this.onConfirmed(now);
    return null;
  }

  /** Server: a Handshake packet from the client proves its address, and the Initial space can go. */
  onHandshakePacketFromClient(now: number): void {
    if (!this.ctx.spaces[INITIAL].discarded) this.discardSpace(INITIAL, now);
  }

  onConfirmed(now: number): void {
    const ctx = this.ctx;
    if (ctx.handshakeConfirmed) return;
    ctx.handshakeConfirmed = true;
    if (this.connectedOnConfirm) {
      this.connectedOnConfirm = false;
      ctx.events.push({ type: 'connected', alpn: this.session.alpn });
    }
    ctx.recovery.setHandshakeConfirmed();
    ctx.recovery.setPeerCompletedAddressValidation(true);
    if (!ctx.spaces[INITIAL].discarded) this.discardSpace(INITIAL, now);
    if (!ctx.spaces[HANDSHAKE].discarded) this.discardSpace(HANDSHAKE, now);
    ctx.events.push({ type: 'handshake_confirmed' });
    this.deps.ack.updateAckFrequency();
    this.deps.cids.issue();
  }

  /** Client: Initial keys go once it sends its first Handshake packet (RFC 9001 §4.9.1). */
  onPacketSent(id: SpaceId, now: number): void {
    if (id === HANDSHAKE && this.ctx.isClient && !this.sentHandshakePacket) {
      this.sentHandshakePacket = true;
      this.discardSpace(INITIAL, now);
    }
  }

  private discardSpace(id: SpaceId, now: number): void {
    this.ctx.recovery.discardSpace(id, now);
    this.ctx.spaces[id].discard();
  }

  /** Whether 1-RTT packets may carry application data yet (server: as soon as it has 1-RTT keys). */
  get appDataAllowed(): boolean {
    return this.ctx.handshakeComplete || (!this.ctx.isClient && !!this.ctx.spaces[APP].write) || this.early.write !== null;
  }

  writeCrypto(space: PacketSpace, w: ByteWriter, frames: SentFrame[], overhead: (offset: number, room: number) => number): boolean {
    let wrote = false;
    while (space.cryptoSend.hasPending(Infinity)) {
      const room = w.remaining - overhead(space.cryptoSend.sendOffset, w.remaining);
      if (room <= 0) break;
      const chunk = space.cryptoSend.nextChunk(room, Infinity);
      if (!chunk || chunk.data.length === 0) break;
      encodeFrame(w, { type: 'crypto', offset: chunk.offset, data: chunk.data });
      frames.push({ k: 'crypto', offset: chunk.offset, length: chunk.data.length });
      wrote = true;
    }
    return wrote;
  }

  writeHandshakeDone(w: ByteWriter, frames: SentFrame[]): boolean {
    if (!this.donePending || !writeIfFits(w, { type: 'handshake_done' })) return false;
    frames.push({ k: 'handshake_done' });
    this.donePending = false;
    return true;
  }

  static readonly sentFrames: SentFrameHandlers<HandshakeDriver> = {
    crypto: {
      acked: (_h, f, space) => void (!space.discarded && space.cryptoSend.onAck(f.offset, f.length, false)),
      lost: (_h, f, space) => {
        if (space.discarded) return false;
        space.cryptoSend.onLost(f.offset, f.length, false);
        return true;
      },
    },
    handshake_done: { lost: (h) => void (h.donePending = true) },
  };
}
