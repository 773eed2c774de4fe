/**
 * Per packet-number-space state (RFC 9000 §12.3): numbering, received packets for ACKs and duplicate
 * detection, the CRYPTO streams of that level and its keys.
 */
import { RangeSet } from '../util/range-set.js';
import { SPACE_APPLICATION, SPACE_HANDSHAKE, SPACE_INITIAL, type SpaceId } from '../recovery/types.js';
import { SendBuffer } from '../stream/send-buffer.js';
import { TransportErrorCode } from '../errors.js';
import { RecvBuffer } from '../stream/recv-buffer.js';
import type { EncryptionLevel, PacketProtector } from '../crypto/types.js';

/** Duplicate detection remembers this many ranges; older packet numbers are treated as duplicates. */
const SEEN_RANGES = 128;

export const SPACE_LEVEL: readonly EncryptionLevel[] = ['initial', 'handshake', '1rtt'];
export const SPACE_NAME = ['initial', 'handshake', 'application'] as const;

export class PacketSpace {
  readonly id: SpaceId;
  nextPn = 0;
  /** Largest of our packet numbers the peer acknowledged (for packet-number truncation). */
  largestAckedByPeer = -1;

  /** Packet numbers received, for duplicate detection (bounded). */
  private readonly seen = new RangeSet();
  private seenFloor = 0;
  /** Packet numbers still to acknowledge; pruned once an ACK covering them is acknowledged. */
  readonly toAck = new RangeSet();
  largestRecv = -1;
  largestRecvTime = 0;
  /** Ack-eliciting packets received since our last ACK. */
  ackElicitingSinceAck = 0;
  /** New packet numbers arrived since the last ACK we sent. */
  ackNeeded = false;
  ackImmediate = false;
  ackDeadline: number | null = null;

  // The CRYPTO streams exist from first use and go with discard(): an established connection holds none for
  // the Initial and Handshake levels, and no receive side for the application level unless CRYPTO arrives there.
  private cryptoSendBuf: SendBuffer | null = null;
  private cryptoRecvBuf: RecvBuffer | null = null;
  get cryptoSend(): SendBuffer {
    return (this.cryptoSendBuf ??= new SendBuffer());
  }
  /** A handshake flight arrives in a few pieces: 256 disjoint fragments is far beyond any honest peer. */
  get cryptoRecv(): RecvBuffer {
    return (this.cryptoRecvBuf ??= new RecvBuffer({ maxFragments: 256, errorCode: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED }));
  }

  write: PacketProtector | null = null;
  read: PacketProtector | null = null;
  discarded = false;
  /** PTO probes still to send in this space. */
  probes = 0;

  constructor(id: SpaceId) {
    this.id = id;
  }

  isDuplicate(pn: number): boolean {
    return pn < this.seenFloor || this.seen.has(pn);
  }

  /** Records an authenticated packet. Returns whether it arrived out of order (a gap or a late fill). */
  onReceived(pn: number, now: number, ackEliciting: boolean): boolean {
    this.seen.insert(pn, pn);
    if (this.seen.rangeCount > SEEN_RANGES) {
      this.seen.keepHighest(SEEN_RANGES);
      this.seenFloor = this.seen.min();
    }
    const outOfOrder = this.largestRecv >= 0 && pn !== this.largestRecv + 1;
    if (pn > this.largestRecv) {
      this.largestRecv = pn;
      this.largestRecvTime = now;
    }
    this.toAck.insert(pn, pn);
    this.ackNeeded = true;
    if (ackEliciting) this.ackElicitingSinceAck++;
    return outOfOrder;
  }

  onAckSent(): void {
    this.ackNeeded = false;
    this.ackImmediate = false;
    this.ackElicitingSinceAck = 0;
    this.ackDeadline = null;
  }

  discard(): void {
    this.discarded = true;
    this.write = null;
    this.read = null;
    this.ackNeeded = false;
    this.ackDeadline = null;
    this.probes = 0;
    // A discarded space drops every packet before the duplicate check: its ranges go (clear() frees the arrays' storage).
    this.toAck.clear();
    this.seen.clear();
    this.cryptoSendBuf = null;
    this.cryptoRecvBuf = null;
  }
}

/** The space of an encryption level (0-RTT is not used: it maps to the application space). */
export function levelSpace(level: string): SpaceId {
  return level === 'initial' ? SPACE_INITIAL : level === 'handshake' ? SPACE_HANDSHAKE : SPACE_APPLICATION;
}
