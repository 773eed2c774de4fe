/**
 * Path MTU discovery glue (RFC 8899): creates the search once the peer's max_udp_payload_size is known,
 * feeds it probe outcomes and black-hole evidence from ACKs and losses, and applies the size it settles on.
 */
import { Pmtud } from '../path/pmtud.js';
import type { SentPacket } from '../recovery/types.js';
import { BASE_DATAGRAM_SIZE, CRC_LENGTH, MAX_DATAGRAM_IPV4, MAX_DATAGRAM_IPV6 } from '../wire/datagram.js';
import { APP, type ConnContext } from './context.js';
import type { SentFrame } from './sent-frame.js';

export class MtuDiscovery {
  /** Created once the peer's max_udp_payload_size is known (and PMTUD is on). */
  pmtud: Pmtud | null = null;
  /** Set while building a PMTU probe datagram: its total size. */
  probeSize = 0;
  /** Send time of the newest large (above base size) packet the peer acknowledged. */
  private largestAckedSendTime = -Infinity;

  constructor(private readonly ctx: ConnContext) {}

  /** The peer's transport parameters arrived: search up to the smallest of both limits and the family's. */
  start(peerMaxUdpPayload: number): void {
    const ctx = this.ctx;
    if (!ctx.opts.pmtud) return;
    const family = ctx.remote.host.includes(':') ? MAX_DATAGRAM_IPV6 : MAX_DATAGRAM_IPV4;
    const max = Math.min(ctx.opts.maxUdpPayloadSize, peerMaxUdpPayload, family);
    if (max > BASE_DATAGRAM_SIZE) this.pmtud = new Pmtud({ max });
  }

  /** Applies the size PMTUD settled on to packets and the congestion controller. */
  apply(): void {
    const ctx = this.ctx;
    const cur = this.pmtud!.current;
    if (cur !== ctx.maxDatagramSize) {
      ctx.maxDatagramSize = cur;
      ctx.recovery.cc.setMaxDatagramSize(cur);
      if (ctx.env.trace) ctx.env.trace('recovery:parameters_set', { maxDatagramSize: cur }, ctx.now);
    }
  }

  /** The peer's host changed: search again from the base size. */
  onPathChange(now: number): void {
    if (!this.pmtud) return;
    this.pmtud.reset(now);
    this.apply();
  }

  /** A packet was acknowledged: if it was a probe, the probed size works. */
  onAcked(p: SentPacket<SentFrame[]>): void {
    if (this.pmtud && p.space === APP && p.isPmtuProbe) {
      this.pmtud.onProbeAcked(p.pn, this.ctx.now);
      this.apply();
    }
  }

  /** Returns true when the lost packet was a probe (it carries nothing else and is no congestion signal). */
  onLost(p: SentPacket<SentFrame[]>): boolean {
    if (this.pmtud && p.space === APP && p.isPmtuProbe) {
      this.pmtud.onProbeLost(p.pn, this.ctx.now);
      return true;
    }
    return false;
  }

  /**
   * Black-hole evidence for PMTUD (RFC 8899 §4.3), stamped with send times. A lost packet counts only if
   * no packet of at least its size sent after it has been acknowledged: congestion losses (revealed by
   * ACKs of later packets, which is how packet- and time-threshold losses are found) never count; large
   * packets that stop getting through at all do.
   */
  feedBlackHoleDetector(acked: readonly SentPacket<SentFrame[]>[], lost: readonly SentPacket<SentFrame[]>[]): void {
    const pmtud = this.pmtud;
    if (!pmtud) return;
    let newest = this.largestAckedSendTime;
    for (const p of acked) if (!p.isPmtuProbe && p.size + CRC_LENGTH > BASE_DATAGRAM_SIZE && p.timeSent > newest) newest = p.timeSent;
    this.largestAckedSendTime = newest;
    let fellBack = false;
    for (const p of lost) {
      if (p.isPmtuProbe || p.timeSent < newest) continue;
      if (pmtud.onPacketLost(p.size + CRC_LENGTH, p.timeSent)) fellBack = true;
    }
    for (const p of acked) if (!p.isPmtuProbe) pmtud.onPacketAcked(p.size + CRC_LENGTH, p.timeSent);
    if (fellBack) this.apply();
  }

  deadline(): number | null {
    return this.pmtud?.nextTimeout() ?? null;
  }

  onTimeout(now: number): void {
    const mt = this.deadline();
    if (mt !== null && now >= mt) {
      this.pmtud!.onTimeout(now);
      this.apply();
    }
  }
}
