/**
 * The peer's address and path validation (RFC 9000 §8, §9): the 3× amplification budget of an
 * unvalidated address, migration to a new peer address, PATH_CHALLENGE / PATH_RESPONSE, and falling
 * back to the previous path when validation fails.
 */
import { TransportErrorCode } from '../errors.js';
import type { ByteWriter } from '../wire/buffer.js';
import { BASE_DATAGRAM_SIZE } from '../wire/datagram.js';
import { bytesEqual } from './cid-manager.js';
import type { CloseManager } from './close.js';
import type { ConnContext } from './context.js';
import { writeIfFits } from './frame-room.js';
import type { MtuDiscovery } from './mtu.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';
import { addressKey, sameAddress, type PeerAddress } from './types.js';

/** Smallest amplification budget worth a datagram on a migrated path (an ACK or PATH_CHALLENGE packet). */
const MIN_PATH_BUDGET = 64;
/** The PATH_CHALLENGE resend interval is capped so this many resends fit in the idle timeout. */
const PROBES_PER_IDLE = 8;
/** Off-path addresses whose bytes are counted for the PATH_RESPONSE budget. */
const PROBE_ADDRESSES = 8;

export class Paths {
  /** Server: the client's address is validated (it sent a Handshake packet); until then 3x amplification limit. */
  addressValidated: boolean;
  private bytesReceivedUnvalidated = 0;
  private bytesSentUnvalidated = 0;
  /** A PATH_RESPONSE we owe, and the address the challenge came from. */
  pendingResponse: { data: Uint8Array; to: PeerAddress } | null = null;
  /**
   * Bytes received from and sent to addresses other than the current one (probing peers, or anyone spoofing
   * one): a PATH_RESPONSE to such an address stays within 3× of what came from it (RFC 9000 §8.2.1, §9.3.1).
   * The newest PROBE_ADDRESSES are remembered.
   */
  /** Created when a packet first arrives from another address (most connections never see one). */
  private offPathLazy: Map<string, { recv: number; sent: number }> | null = null;
  private get offPath(): Map<string, { recv: number; sent: number }> {
    return (this.offPathLazy ??= new Map());
  }
  /** Source of the datagram being processed. */
  packetFrom: PeerAddress;
  /** Whether the packet being processed carried a non-probing frame. */
  packetNonProbing = false;
  /** Path validation in progress (RFC 9000 §8.2): the challenge data, whether it must be (re)sent, the deadline. */
  private challenge: Uint8Array | null = null;
  challengePending = false;
  private validationDeadline: number | null = null;
  private challengeInterval = 0;
  private challengeResendAt: number | null = null;
  /** The path we came from, to fall back to when the new one fails validation. */
  private previousPath: { remote: PeerAddress; validated: boolean } | null = null;
  /** A packet arrived from the previous address after we moved: the old path still works. */
  private heardOnPreviousPath = false;
  migrations = 0;

  constructor(
    private readonly ctx: ConnContext,
    private readonly mtu: MtuDiscovery,
    private readonly close: CloseManager,
  ) {
    this.addressValidated = ctx.isClient;
    this.packetFrom = ctx.remote;
  }

  /** Counts a received datagram against the amplification budget and checks where it came from; false: drop it. */
  onDatagram(bytes: number, from: PeerAddress): boolean {
    const ctx = this.ctx;
    if (!this.addressValidated) {
      this.bytesReceivedUnvalidated += bytes;
      this.updateAmplificationLimit();
    }
    ctx.counters.bytesReceived += bytes;
    const newPath = from.host !== ctx.remote.host || from.port !== ctx.remote.port;
    if (newPath && !ctx.handshakeConfirmed && ctx.isClient) {
      // A client accepts packets only from the server address it used (RFC 9000 §9).
      ctx.counters.countDrop('unknown_path');
      return false;
    }
    this.packetFrom = from;
    if (newPath) {
      const k = addressKey(from);
      let e = this.offPath.get(k);
      if (!e) {
        if (this.offPath.size >= PROBE_ADDRESSES) this.offPath.delete(this.offPath.keys().next().value!);
        e = { recv: 0, sent: 0 };
        this.offPath.set(k, e);
      }
      e.recv += bytes;
    }
    if (newPath && this.previousPath && sameAddress(from, this.previousPath.remote)) this.heardOnPreviousPath = true;
    return true;
  }

  /** What we may still send to an address that is not the current one (3× what it sent us, minus what we sent). */
  offPathBudget(to: PeerAddress): number {
    const e = this.offPathLazy?.get(addressKey(to));
    return e ? 3 * e.recv - e.sent : 0;
  }

  onSentOffPath(to: PeerAddress, bytes: number): void {
    const e = this.offPathLazy?.get(addressKey(to));
    if (e) e.sent += bytes;
  }

  /** Server: a Handshake packet from the client proves its address. */
  validateByHandshake(): void {
    this.addressValidated = true;
    this.ctx.recovery.setAmplificationLimited(false);
    this.ctx.recovery.setPeerCompletedAddressValidation(true);
  }

  /**
   * After a packet was processed: the peer moved (NAT rebinding or migration) if its newest non-probing packet
   * came from a new address. `initial`: the packet was an Initial, whose keys are public, so anyone who saw
   * the client's first Initial can forge one from any address (issue 11). The server still follows it (a
   * NAT rebinding before the client has Handshake keys must not deadlock the handshake), but the new
   * address starts with its own 3× budget: only what it sent itself can be reflected to it.
   */
  onPacketProcessed(largest: boolean, datagramBytes: number, now: number, initial = false): void {
    const ctx = this.ctx;
    if (!largest || !this.packetNonProbing || sameAddress(this.packetFrom, ctx.remote)) return;
    if (ctx.handshakeConfirmed) this.migrateTo(this.packetFrom, datagramBytes, now);
    else if (!ctx.isClient) {
      // A NAT rebinding during the handshake: the client cannot migrate yet, so this is its new
      // address; the handshake itself (and its 3× limit) validates it (spec/transport.md §Migration).
      ctx.remote = { ...this.packetFrom };
      this.migrations++;
      if (initial && !this.addressValidated) {
        this.bytesReceivedUnvalidated = datagramBytes;
        this.bytesSentUnvalidated = 0;
        this.updateAmplificationLimit();
      }
    }
  }

  /**
   * The peer's address changed (RFC 9000 §9): move to the new path, validate it with PATH_CHALLENGE,
   * send at most 3× what arrived on it until validated, and reset congestion and RTT state when the
   * host changed (a port-only change is a NAT rebinding on the same path).
   */
  private migrateTo(to: PeerAddress, bytes: number, now: number): void {
    const ctx = this.ctx;
    const hostChanged = to.host !== ctx.remote.host;
    if (!this.challenge || this.previousPath === null) this.previousPath = { remote: ctx.remote, validated: this.addressValidated };
    ctx.remote = to;
    this.addressValidated = false;
    this.bytesReceivedUnvalidated = bytes;
    this.bytesSentUnvalidated = 0;
    this.updateAmplificationLimit();
    const challenge = new Uint8Array(8);
    ctx.env.randomFill(challenge);
    this.challenge = challenge;
    this.challengePending = true;
    this.startValidation(now);
    if (hostChanged) {
      ctx.recovery.onPathChange();
      this.mtu.onPathChange(now);
    }
    this.migrations++;
    if (ctx.env.trace) ctx.env.trace('connectivity:path_changed', { host: to.host, port: to.port, hostChanged }, now);
    ctx.events.push({ type: 'path_changed', address: { ...to } });
  }

  private startValidation(now: number): void {
    const pto = this.ctx.recovery.rtt.pto(this.ctx.peerParams?.maxAckDelay ?? 0, true);
    this.validationDeadline = now + Math.max(3 * pto, 6 * (this.ctx.opts.initialRtt ?? 333));
    this.challengeInterval = pto;
    this.challengeResendAt = now + pto;
    this.heardOnPreviousPath = false;
  }

  /** PATH_CHALLENGE: answer on the path the challenge came from (RFC 9000 §8.2.2). */
  onChallenge(data: Uint8Array): void {
    this.pendingResponse = { data: data.slice(), to: this.packetFrom };
  }

  onResponse(data: Uint8Array): void {
    if (!this.challenge || !bytesEqual(data, this.challenge)) return;
    this.challenge = null;
    this.challengePending = false;
    this.validationDeadline = null;
    this.challengeResendAt = null;
    this.previousPath = null;
    this.addressValidated = true;
    this.ctx.recovery.setAmplificationLimited(false);
    this.ctx.events.push({ type: 'path_validated', address: { ...this.ctx.remote } });
  }

  /**
   * Path validation timed out. Go back to the previous path if it was validated and is still heard from;
   * after a NAT rebinding the old path is dead, so keep validating the new one (the idle timeout bounds it).
   */
  private onValidationTimeout(now: number): void {
    const ctx = this.ctx;
    const prev = this.previousPath;
    if (!prev || !this.heardOnPreviousPath) {
      ctx.env.randomFill(this.challenge ?? (this.challenge = new Uint8Array(8)));
      this.challengePending = true;
      this.startValidation(now);
      return;
    }
    this.validationDeadline = null;
    this.challengeResendAt = null;
    this.challenge = null;
    this.challengePending = false;
    this.previousPath = null;
    if (prev.validated) {
      ctx.remote = prev.remote;
      this.addressValidated = true;
      ctx.recovery.setAmplificationLimited(false);
      ctx.events.push({ type: 'path_changed', address: { ...prev.remote } });
      return;
    }
    this.close.enterClosing(
      { errorCode: TransportErrorCode.NO_VIABLE_PATH, reason: 'path validation failed', application: false, initiator: 'local' },
      now,
    );
  }

  /** The challenge resend timer. */
  resendDeadline(): number | null {
    return this.challengeResendAt;
  }

  onResendTimeout(now: number, idleTimeout: number): void {
    if (this.challengeResendAt === null || now < this.challengeResendAt) return;
    // Resend the challenge with backoff, capped like the PTO.
    this.challengePending = true;
    this.challengeInterval = Math.min(2 * this.challengeInterval, Math.max(idleTimeout / PROBES_PER_IDLE, 1000));
    this.challengeResendAt = now + this.challengeInterval;
  }

  validationDeadlineAt(): number | null {
    return this.validationDeadline;
  }

  onValidationDeadline(now: number): void {
    if (this.validationDeadline !== null && now >= this.validationDeadline) this.onValidationTimeout(now);
  }

  /** Bytes a server may still send to an unvalidated address (3× what it received, RFC 9000 §8.1). */
  amplificationBudget(): number {
    return 3 * this.bytesReceivedUnvalidated - this.bytesSentUnvalidated;
  }

  /**
   * Whether the 3× budget cannot fit what we would send: during the handshake a full 1200-byte datagram
   * (ack-eliciting Initials are padded to it), on a migrated path a small packet (an ACK, a PATH_CHALLENGE).
   */
  amplificationBlocked(): boolean {
    if (this.addressValidated) return false;
    return this.amplificationBudget() < (this.ctx.handshakeConfirmed ? MIN_PATH_BUDGET : BASE_DATAGRAM_SIZE);
  }

  /** While blocked, the PTO is off: probes could not be sent anyway (RFC 9002 §6.2.2.1). */
  updateAmplificationLimit(): void {
    this.ctx.recovery.setAmplificationLimited(this.amplificationBlocked());
  }

  /** A datagram of `total` bytes went to the unvalidated address. */
  onSentUnvalidated(total: number, updateLimit: boolean): void {
    this.bytesSentUnvalidated += total;
    if (updateLimit) this.updateAmplificationLimit();
  }

  /** Whether the PATH_RESPONSE we owe goes to the current address (else it goes alone, see transmit). */
  get responseOnCurrentPath(): boolean {
    return this.pendingResponse !== null && sameAddress(this.pendingResponse.to, this.ctx.remote);
  }

  writeResponse(w: ByteWriter): boolean {
    if (!this.responseOnCurrentPath || !writeIfFits(w, { type: 'path_response', data: this.pendingResponse!.data })) return false;
    this.pendingResponse = null;
    return true;
  }

  writeChallenge(w: ByteWriter, frames: SentFrame[]): boolean {
    if (!this.challengePending || !this.challenge || !writeIfFits(w, { type: 'path_challenge', data: this.challenge })) return false;
    frames.push({ k: 'path_challenge', data: this.challenge });
    this.challengePending = false;
    return true;
  }

  static readonly sentFrames: SentFrameHandlers<Paths> = {
    path_challenge: { lost: (p) => void (p.challenge && (p.challengePending = true)) },
  };
}
