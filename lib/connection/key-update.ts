/**
 * 1-RTT key update (RFC 9001 §6): the key phase we send and receive in, which keys open a packet whose
 * phase bit flipped, starting an update (on request or after keyUpdateInterval packets), and following
 * the peer's update.
 */
import type { HandshakeSession, PacketProtector } from '../crypto/types.js';
import { APP, type ConnContext } from './context.js';

export class KeyUpdate {
  sendPhase = 0;
  private recvPhase = 0;
  /** The next key generation, computed once (the session advances both directions per call). */
  private cachedNext: { read: PacketProtector; write: PacketProtector } | null = null;
  /** We updated our write keys; the peer's answer in the new phase is opened with this. */
  private pendingReadNext: PacketProtector | null = null;
  /** Keys of the previous phase, for late packets (numbered below firstRecvPnInPhase). */
  private prevRead: PacketProtector | null = null;
  private firstRecvPnInPhase = 0;
  private firstSentPnInPhase = 0;
  private packetsInPhase = 0;
  private requested = false;
  updates = 0;

  constructor(
    private readonly ctx: ConnContext,
    private readonly session: HandshakeSession,
  ) {}

  private nextKeys(): { read: PacketProtector; write: PacketProtector } | null {
    if (!this.cachedNext) this.cachedNext = this.session.nextOneRttKeys?.() ?? null;
    return this.cachedNext;
  }

  /** Asks for a key update at the next opportunity (RFC 9001 §6.1 rules still apply). */
  request(): void {
    this.requested = true;
  }

  /**
   * The keys that open a 1-RTT packet with this key-phase bit: the current ones, the previous phase's for
   * a late packet, or the next generation (then `phaseChange`); null when the next keys are unavailable.
   */
  opener(current: PacketProtector, keyPhaseBit: number, pn: number): { opener: PacketProtector; phaseChange: boolean } | null {
    if (keyPhaseBit === this.recvPhase) return { opener: current, phaseChange: false };
    if (this.prevRead && pn < this.firstRecvPnInPhase) return { opener: this.prevRead, phaseChange: false };
    const next = this.pendingReadNext ?? this.nextKeys()?.read ?? null;
    if (!next) return null;
    return { opener: next, phaseChange: true };
  }

  /**
   * Starts a key update when asked to or when this phase has protected `keyUpdateInterval` packets
   * (well below the AEAD confidentiality limit), but only once the handshake is confirmed, the peer
   * has acknowledged a packet of the current phase, and it has answered our previous update.
   */
  maybeInitiate(): void {
    const ctx = this.ctx;
    if (!this.requested && this.packetsInPhase < ctx.opts.keyUpdateInterval) return;
    if (!ctx.handshakeConfirmed || this.pendingReadNext) return;
    const app = ctx.spaces[APP];
    if (app.largestAckedByPeer < this.firstSentPnInPhase) return;
    const next = this.nextKeys();
    if (!next) {
      this.requested = false;
      return;
    }
    this.cachedNext = null;
    app.write = next.write;
    this.pendingReadNext = next.read;
    this.sendPhase ^= 1;
    this.firstSentPnInPhase = app.nextPn;
    this.packetsInPhase = 0;
    this.requested = false;
    this.updates++;
    if (ctx.env.trace) ctx.env.trace('security:key_updated', { trigger: 'local', generation: this.updates }, ctx.now);
  }

  onPacketSent(): void {
    this.packetsInPhase++;
  }

  /** A packet in the other phase opened with the next keys: the peer updated (or answered our update). */
  commitRead(pn: number, now: number): void {
    const space = this.ctx.spaces[APP];
    this.prevRead = space.read;
    this.firstRecvPnInPhase = pn;
    this.recvPhase ^= 1;
    if (this.pendingReadNext) {
      space.read = this.pendingReadNext;
      this.pendingReadNext = null;
    } else {
      // The peer initiated: move our sending side to the same generation.
      const next = this.cachedNext!;
      this.cachedNext = null;
      space.read = next.read;
      space.write = next.write;
      this.sendPhase ^= 1;
      this.firstSentPnInPhase = space.nextPn;
      this.packetsInPhase = 0;
      this.updates++;
      if (this.ctx.env.trace) this.ctx.env.trace('security:key_updated', { trigger: 'remote', generation: this.updates }, now);
    }
  }
}
