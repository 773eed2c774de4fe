/**
 * The ACK policy, in one place (RFC 9000 §13.2, draft-ietf-quic-ack-frequency): when a received packet
 * makes an ACK due, writing ACK frames, pruning what the peer has seen acknowledged, the ACK_FREQUENCY
 * the peer asked of us, and the ACK_FREQUENCY we ask of the peer to thin its ACKs on bulk transfers.
 */
import { TransportErrorCode } from '../errors.js';
import type { ByteWriter } from '../wire/buffer.js';
import { ackFrameSize, encodeFrame } from '../wire/frames.js';
import type { Frame } from '../wire/frame-types.js';
import { APP, type ConnContext, type FrameError } from './context.js';
import { writeIfFits } from './frame-room.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';
import type { PacketSpace } from './space.js';

/** Our min_ack_delay (µs) advertised so the peer may send ACK_FREQUENCY. */
export const MIN_ACK_DELAY_US = 1000;
/**
 * Ranges of received packet numbers we keep to acknowledge, per space. An ACK carries at most maxAckRanges
 * (the highest ones); a peer that makes many gaps cannot grow the set beyond this: the oldest ranges go
 * (they were acknowledged in earlier ACKs, or will be retransmitted by the peer).
 */
export const MAX_TRACKED_ACK_RANGES = 256;

/** The min_ack_delay we advertise: none when ACK_FREQUENCY is off or max_ack_delay leaves nothing to thin. */
export function localMinAckDelay(ackFrequency: boolean, maxAckDelayMs: number): number | undefined {
  return ackFrequency && maxAckDelayMs * 1000 >= MIN_ACK_DELAY_US ? MIN_ACK_DELAY_US : undefined;
}

export class AckManager {
  /** Ack-eliciting packets we may receive before acknowledging (the peer may change it). */
  private threshold: number;
  private maxDelay: number;
  /** Peer-requested reordering threshold (ACK_FREQUENCY); 0 = do not ack immediately on reordering. */
  private reorderThreshold = 1;
  private lastFrequencySeqRecv = -1;
  // Our ACK_FREQUENCY to the peer.
  private frequencySeq = 0;
  private sentThreshold = -1;
  /** Max ack delay (µs) our last ACK_FREQUENCY asked for. */
  private sentDelay = 0;
  frequencyPending = false;

  constructor(private readonly ctx: ConnContext) {
    this.threshold = ctx.opts.ackElicitingThreshold;
    this.maxDelay = ctx.opts.maxAckDelay;
  }

  /** An authenticated packet was processed: decide whether its ACK goes now or by a deadline. */
  onPacketReceived(space: PacketSpace, ackEliciting: boolean, outOfOrder: boolean, now: number): void {
    const cap = Math.max(MAX_TRACKED_ACK_RANGES, this.ctx.opts.maxAckRanges);
    if (space.toAck.rangeCount > cap) space.toAck.keepHighest(cap);
    if (!ackEliciting) return;
    if (space.id !== APP || (outOfOrder && this.reorderThreshold > 0) || space.ackElicitingSinceAck > this.threshold) {
      space.ackImmediate = true;
    } else if (space.ackDeadline === null) {
      space.ackDeadline = now + this.maxDelay;
    }
  }

  wantsAck(space: PacketSpace, now: number): boolean {
    if (!space.ackNeeded) return false;
    if (space.ackImmediate) return true;
    if (space.ackElicitingSinceAck > this.threshold) return true;
    return space.ackDeadline !== null && now >= space.ackDeadline;
  }

  wantsAnyAck(now: number): boolean {
    const s = this.ctx.spaces;
    return this.wantsAck(s[0], now) || this.wantsAck(s[1], now) || this.wantsAck(s[2], now);
  }

  /** Earliest delayed-ACK deadline over the spaces (the driver's timer). */
  deadline(): number | null {
    let t: number | null = null;
    for (const s of this.ctx.spaces) {
      if (s.ackNeeded && s.ackDeadline !== null && (t === null || s.ackDeadline < t)) t = s.ackDeadline;
    }
    return t;
  }

  writeAck(space: PacketSpace, w: ByteWriter, now: number, frames: SentFrame[]): void {
    if (space.toAck.isEmpty) {
      space.onAckSent();
      return;
    }
    const ranges = space.toAck.toAckRanges(this.ctx.opts.maxAckRanges);
    const exponent = this.ctx.localParams.ackDelayExponent;
    const delayUs = space.id === APP ? Math.max(0, Math.round((now - space.largestRecvTime) * 1000)) : 0;
    const ackDelay = Math.floor(delayUs / 2 ** exponent);
    if (ackFrameSize(ackDelay, ranges) > w.remaining) return;
    encodeFrame(w, { type: 'ack', ackDelay, ranges });
    frames.push({ k: 'ack', largest: ranges[0]!.largest, ranges, delay: ackDelay });
    space.onAckSent();
    this.ctx.counters.acksSent++;
  }

  /** ACK_FREQUENCY from the peer (it may only send one if we advertised min_ack_delay). */
  onAckFrequency(f: Extract<Frame, { type: 'ack_frequency' }>): FrameError | null {
    if (this.ctx.localParams.minAckDelay === undefined) {
      return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'ACK_FREQUENCY without min_ack_delay', frameType: 0xaf };
    }
    if (f.requestMaxAckDelay < MIN_ACK_DELAY_US) {
      return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'requested ack delay below min_ack_delay', frameType: 0xaf };
    }
    if (f.sequence > this.lastFrequencySeqRecv) {
      this.lastFrequencySeqRecv = f.sequence;
      this.threshold = f.ackElicitingThreshold;
      this.maxDelay = f.requestMaxAckDelay / 1000;
      this.reorderThreshold = f.reorderingThreshold;
    }
    return null;
  }

  /** Thins the peer's ACKs on bulk transfers: one ACK per ~1/8 of the window, at least every 2nd packet. */
  updateAckFrequency(): void {
    const { opts, peerParams, recovery } = this.ctx;
    if (!opts.ackFrequency || peerParams?.minAckDelay === undefined || !this.ctx.handshakeConfirmed) return;
    const packetsPerWindow = Math.floor(recovery.cc.window / this.ctx.maxDatagramSize);
    const threshold = Math.max(1, Math.min(10, Math.floor(packetsPerWindow / 8)));
    // The thinned ACKs must still come several times per RTT: ask for at most a quarter of the RTT of
    // delay (the ack-frequency draft's guidance), never below the peer's min_ack_delay.
    const minUs = peerParams.minAckDelay ?? MIN_ACK_DELAY_US;
    const rttUs = recovery.rtt.hasSample ? recovery.rtt.smoothed * 1000 : opts.maxAckDelay * 4000;
    const delayUs = Math.round(Math.max(minUs, Math.min(opts.maxAckDelay * 1000, rttUs / 4)));
    const old = this.sentDelay;
    if (threshold !== this.sentThreshold || old === 0 || Math.abs(delayUs - old) > old / 4) {
      this.sentThreshold = threshold;
      this.sentDelay = delayUs;
      this.frequencySeq++;
      this.frequencyPending = true;
    }
  }

  /** The frame writer for our ACK_FREQUENCY (1-RTT). */
  writeAckFrequency(w: ByteWriter, frames: SentFrame[]): boolean {
    if (!this.frequencyPending) return false;
    const f = {
      type: 'ack_frequency',
      sequence: this.frequencySeq,
      ackElicitingThreshold: this.sentThreshold,
      requestMaxAckDelay: this.sentDelay,
      reorderingThreshold: 1,
    } as const;
    if (!writeIfFits(w, f)) return false;
    frames.push({ k: 'ack_frequency', seq: this.frequencySeq, threshold: this.sentThreshold });
    this.frequencyPending = false;
    return true;
  }

  static readonly sentFrames: SentFrameHandlers<AckManager> = {
    // The peer has seen our ACK: stop acknowledging what it covered.
    ack: { acked: (_a, f, space) => space.toAck.removeBelow(f.largest + 1) },
    ack_frequency: { lost: (a) => void (a.frequencyPending = true) },
  };
}
