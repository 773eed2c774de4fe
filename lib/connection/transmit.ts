/**
 * Assembles outgoing datagrams (RFC 9000 §12.2, §14): which spaces have something to send, coalescing
 * [Initial][Handshake][1-RTT] with the 1200-byte padding rule, the amplification limit, congestion window
 * and pacing gates, and the special datagrams: PMTU probes, lone PATH_CHALLENGEs, PATH_RESPONSEs to
 * another address.
 */
import { pacerBurstBytes, type Pacer } from '../congestion/pacer.js';
import type { SpaceId } from '../recovery/types.js';
import { CRC_LENGTH, MIN_INITIAL_DATAGRAM, appendChecksum } from '../wire/datagram.js';
import type { AckManager } from './ack-manager.js';
import type { CloseManager } from './close.js';
import { APP, HANDSHAKE, INITIAL, type ConnContext } from './context.js';
import type { HandshakeDriver } from './handshake.js';
import type { MtuDiscovery } from './mtu.js';
import type { PacketBuilder } from './packet-builder.js';
import type { Paths } from './paths.js';
import type { Timers } from './timers.js';
import { sameAddress, type PeerAddress } from './types.js';

/** Smallest congestion-window room worth starting an ack-eliciting packet for. */
const MIN_SEND_ROOM = 256;
/** Smallest budget a PATH_RESPONSE to an unvalidated address is sent with (a 1-RTT packet with it and an ACK). */
const MIN_OFF_PATH_RESPONSE = 48;
/** Below this much room left in a datagram, no further coalesced packet is started. */
const MIN_COALESCE_ROOM = 64;

export interface TransmitDeps {
  builder: PacketBuilder;
  ack: AckManager;
  close: CloseManager;
  handshake: HandshakeDriver;
  paths: Paths;
  mtu: MtuDiscovery;
  timers: Timers;
  pacer: Pacer;
}

export type Transmit = { length: number; to: PeerAddress } | null;

export class Transmitter {
  constructor(
    private readonly ctx: ConnContext,
    private readonly d: TransmitDeps,
  ) {}

  /**
   * Writes the next datagram (with its CRC) into `buf`. Returns its length and destination, or null
   * when there is nothing to send now.
   */
  poll(now: number, buf: Uint8Array): Transmit {
    const ctx = this.ctx;
    const { paths, builder } = this.d;
    this.d.timers.pacedUntil = null;
    let limit = Math.min(buf.length, ctx.maxDatagramSize);
    if (!paths.addressValidated) {
      if (paths.amplificationBlocked()) {
        // Out of budget on a migrated path: a lone PATH_CHALLENGE may still go, at most once per
        // (backed-off) challenge interval, so a silent peer is not deadlocked (spec/transport.md §Migration).
        if (paths.challengePending && ctx.handshakeConfirmed) return this.sendPathChallengeOnly(now, buf);
        return null;
      }
      limit = Math.min(limit, paths.amplificationBudget());
    }
    // A PATH_RESPONSE owed to another address (the peer probing a path) goes alone, padded, to that address.
    if (paths.pendingResponse && !sameAddress(paths.pendingResponse.to, ctx.remote)) return this.sendProbeResponse(now, buf);
    if (this.d.mtu.pmtud && ctx.handshakeConfirmed && ctx.state === 'established' && paths.addressValidated && !this.d.ack.wantsAnyAck(now)) {
      const probe = this.sendMtuProbe(now, buf);
      if (probe) return probe;
    }
    const end = limit - CRC_LENGTH;
    let off = 0;
    // Which spaces have something to send decides which packet is last (and carries the padding).
    const wantInitial = this.spaceWantsToSend(INITIAL, now);
    const wantHandshake = this.spaceWantsToSend(HANDSHAKE, now);
    const wantApp = this.spaceWantsToSend(APP, now);
    const last = wantApp ? APP : wantHandshake ? HANDSHAKE : wantInitial ? INITIAL : -1;
    if (last < 0) return null;
    let containsInitial = false;
    let ackElicitingInitial = false;
    for (let id = 0 as SpaceId; id <= 2; id = (id + 1) as SpaceId) {
      if (!(id === INITIAL ? wantInitial : id === HANDSHAKE ? wantHandshake : wantApp)) continue;
      let padTo = 0;
      if (id === last && (containsInitial || id === INITIAL) && (ctx.isClient || ackElicitingInitial || id === INITIAL)) {
        padTo = MIN_INITIAL_DATAGRAM - CRC_LENGTH;
      }
      // Path validation datagrams are padded to 1200 bytes, as far as the amplification limit allows (RFC 9000 §8.2.1).
      if (id === APP && (paths.challengePending || paths.pendingResponse) && end >= MIN_INITIAL_DATAGRAM - CRC_LENGTH) {
        padTo = MIN_INITIAL_DATAGRAM - CRC_LENGTH;
      }
      const packetEnd = builder.build(id, buf, off, end, now, padTo);
      if (packetEnd > off) {
        if (id === INITIAL) {
          containsInitial = true;
          ackElicitingInitial = builder.lastAckEliciting;
        }
        off = packetEnd;
      }
      if (end - off < MIN_COALESCE_ROOM) break;
    }
    if (off === 0) return null;
    const total = appendChecksum(buf, off, ctx.env.crc32);
    ctx.counters.bytesSent += total;
    if (!paths.addressValidated) paths.onSentUnvalidated(total, true);
    return { length: total, to: ctx.remote };
  }

  private sendPathChallengeOnly(now: number, buf: Uint8Array): Transmit {
    const ctx = this.ctx;
    const builder = this.d.builder;
    builder.probeOnly = true;
    try {
      const packetEnd = builder.build(APP, buf, 0, Math.min(buf.length, ctx.maxDatagramSize) - CRC_LENGTH, now, 0);
      if (packetEnd === 0) return null;
      const total = appendChecksum(buf, packetEnd, ctx.env.crc32);
      ctx.counters.bytesSent += total;
      this.d.paths.onSentUnvalidated(total, false);
      return { length: total, to: ctx.remote };
    } finally {
      builder.probeOnly = false;
    }
  }

  private sendProbeResponse(now: number, buf: Uint8Array): Transmit {
    const ctx = this.ctx;
    const { paths, builder } = this.d;
    const target = paths.pendingResponse!.to;
    const saved = ctx.remote;
    if (!ctx.spaces[APP].write) {
      paths.pendingResponse = null;
      return null;
    }
    // Nobody has shown that address is the peer's: what goes there stays within 3× of what came from it,
    // and is padded towards 1200 bytes only as far as that allows (RFC 9000 §8.2.1; issue 11).
    const budget = paths.offPathBudget(target);
    if (budget < MIN_OFF_PATH_RESPONSE) {
      ctx.counters.countDrop('path_response_budget');
      paths.pendingResponse = null;
      return null;
    }
    ctx.remote = target;
    builder.probeOnly = true;
    try {
      const end = Math.min(buf.length, ctx.maxDatagramSize, budget) - CRC_LENGTH;
      const packetEnd = builder.build(APP, buf, 0, end, now, Math.min(MIN_INITIAL_DATAGRAM, budget) - CRC_LENGTH);
      if (packetEnd === 0) return null;
      const total = appendChecksum(buf, packetEnd, ctx.env.crc32);
      ctx.counters.bytesSent += total;
      paths.onSentOffPath(target, total);
      return { length: total, to: target };
    } finally {
      ctx.remote = saved;
      builder.probeOnly = false;
      paths.pendingResponse = null;
    }
  }

  /** A PMTU probe: a PING padded to the probe size, alone in its datagram (RFC 8899 §4.1). */
  private sendMtuProbe(now: number, buf: Uint8Array): Transmit {
    const ctx = this.ctx;
    const mtu = this.d.mtu;
    const pmtud = mtu.pmtud!;
    const size = pmtud.nextProbe(now);
    if (size === null || size > buf.length) return null;
    if (ctx.recovery.sendableBytes() < size || this.pacingDelay(now) > 0) return null;
    mtu.probeSize = size;
    try {
      const pn = ctx.spaces[APP].nextPn;
      const packetEnd = this.d.builder.build(APP, buf, 0, size - CRC_LENGTH, now, size - CRC_LENGTH);
      if (packetEnd === 0) return null;
      pmtud.onProbeSent(pn, size, now);
      const total = appendChecksum(buf, packetEnd, ctx.env.crc32);
      ctx.counters.bytesSent += total;
      return { length: total, to: ctx.remote };
    } finally {
      mtu.probeSize = 0;
    }
  }

  private spaceWantsToSend(id: SpaceId, now: number): boolean {
    const ctx = this.ctx;
    const { ack, close, handshake, paths } = this.d;
    const space = ctx.spaces[id];
    if (space.discarded || !(space.write ?? (id === APP ? handshake.early.write : null))) return false;
    if (ctx.state === 'closing') return close.framePending && close.sendsIn(id);
    if (ack.wantsAck(space, now)) return true;
    if (space.probes > 0) return true;
    // A nearly closed window waits for ACKs instead of dribbling tiny packets.
    const cwndOpen = ctx.recovery.sendableBytes() >= MIN_SEND_ROOM;
    // Handshake CRYPTO is not held by the window: 1-RTT packets the peer cannot decrypt yet may fill it
    // and never be acknowledged, and nothing else would then get a lost Finished out (a deadlock).
    if (space.cryptoSend.hasPending(Infinity) && (cwndOpen || id !== APP)) return true;
    if (id !== APP) return false;
    if (!handshake.appDataAllowed) return false;
    if (paths.pendingResponse) return true;
    const pending = this.d.builder.appHasPending();
    // App-limited (RFC 9002 §7.8): the window has room but the application has nothing to send, so
    // the congestion controller must not grow the window on what it cannot have tested.
    ctx.recovery.setAppLimited(!pending && cwndOpen);
    if (!cwndOpen || !pending) return false;
    const delay = this.pacingDelay(now);
    if (delay > 0) {
      this.d.timers.pacedUntil = now + delay;
      return false;
    }
    return true;
  }

  /** How long the pacer holds back the next full-size packet (0 = send now). */
  private pacingDelay(now: number): number {
    const ctx = this.ctx;
    // maxSendRate (bytes/s) caps the rate whatever the controller allows, and paces even with pacing off.
    const cap = ctx.opts.maxSendRate > 0 ? ctx.opts.maxSendRate / 1000 : Infinity;
    if (!ctx.opts.pacing && cap === Infinity) return 0;
    const rate = Math.min(ctx.opts.pacing ? (ctx.recovery.cc.pacingRate?.(ctx.recovery.rtt) ?? Infinity) : Infinity, cap);
    this.d.pacer.setRate(rate, ctx.recovery.cc.sendQuantum?.() ?? pacerBurstBytes(ctx.maxDatagramSize), now);
    return this.d.pacer.timeUntilSend(now, ctx.maxDatagramSize);
  }
}
