/**
 * What happens to our sent packets (RFC 9002): an ACK frame goes to recovery, and the packets it
 * acknowledges or declares lost are routed frame by frame to their owners (sent-frame.ts), with PMTUD
 * probes and black-hole evidence, the delivery-rate estimate, and retransmission counters on the way.
 */
import { TransportErrorCode } from '../errors.js';
import type { SentPacket } from '../recovery/types.js';
import type { AckRange } from '../wire/frame-types.js';
import { DEFAULT_TRANSPORT_PARAMETERS } from '../wire/transport-params.js';
import type { AckManager } from './ack-manager.js';
import { APP, type ConnContext, type FrameError } from './context.js';
import type { MtuDiscovery } from './mtu.js';
import type { SentFrame, SentFrameRouter } from './sent-frame.js';
import { SPACE_NAME, type PacketSpace } from './space.js';
import { DeliveryRate } from './stats.js';

export class Outcomes {
  readonly delivery = new DeliveryRate();

  constructor(
    private readonly ctx: ConnContext,
    private readonly router: SentFrameRouter,
    private readonly mtu: MtuDiscovery,
    private readonly ack: AckManager,
  ) {}

  onAckFrame(space: PacketSpace, ranges: readonly AckRange[], ackDelayRaw: number, now: number): FrameError | null {
    const ctx = this.ctx;
    const exponent = ctx.peerParams?.ackDelayExponent ?? DEFAULT_TRANSPORT_PARAMETERS.ackDelayExponent;
    const ackDelayMs = space.id === APP ? (ackDelayRaw * 2 ** exponent) / 1000 : 0;
    const res = ctx.recovery.onAckReceived(space.id, ranges, ackDelayMs, now);
    if (res.error) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: res.error, frameType: 0x02 };
    const largest = ranges[0]!.largest;
    if (largest > space.largestAckedByPeer) space.largestAckedByPeer = largest;
    if (space.id === APP) this.mtu.feedBlackHoleDetector(res.acked, res.lost);
    for (const p of res.acked) {
      this.delivery.onAcked(p.size);
      this.mtu.onAcked(p);
      this.router.acked(p, ctx.spaces[p.space]);
    }
    this.delivery.sample(now, ctx.recovery.rtt.smoothed);
    this.onLost(res.lost);
    if (ctx.handshakeConfirmed || !ctx.isClient) this.ack.updateAckFrequency();
    return null;
  }

  /** The loss-detection timer: declared losses and PTO probes. */
  onLossTimeout(now: number): void {
    const ctx = this.ctx;
    const res = ctx.recovery.onLossDetectionTimeout(now);
    if (this.mtu.pmtud) {
      this.mtu.feedBlackHoleDetector(
        [],
        res.lost.filter((p) => p.space === APP),
      );
    }
    this.onLost(res.lost);
    if (res.probe) ctx.spaces[res.probe.space].probes = res.probe.count;
  }

  private onLost(lost: readonly SentPacket<SentFrame[]>[]): void {
    const ctx = this.ctx;
    for (const p of lost) {
      if (ctx.env.trace) ctx.env.trace('recovery:packet_lost', { space: SPACE_NAME[p.space], pn: p.pn }, ctx.now);
      if (this.mtu.onLost(p)) continue; // a probe carries nothing to retransmit and is no congestion signal
      if (this.router.lost(p, ctx.spaces[p.space])) {
        ctx.counters.packetsRetransmitted++;
        ctx.counters.bytesRetransmitted += p.size;
      }
    }
  }
}
