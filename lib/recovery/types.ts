/** Packet-number spaces (RFC 9000 §12.3): Initial, Handshake, Application data. */
export type SpaceId = 0 | 1 | 2;

export const SPACE_INITIAL = 0 as const;
export const SPACE_HANDSHAKE = 1 as const;
export const SPACE_APPLICATION = 2 as const;

/** What Recovery remembers about a sent packet; `frames` is the caller's opaque payload record. */
export interface SentPacket<F = unknown> {
  pn: number;
  space: SpaceId;
  /** ms */
  timeSent: number;
  /** bytes on the wire (the whole UDP payload share of this packet) */
  size: number;
  ackEliciting: boolean;
  /** counts toward bytes in flight and congestion control (ack-eliciting, PADDING-only or PMTU probes) */
  inFlight: boolean;
  frames: F;
  /** PMTU probes: their loss is expected and never signals congestion */
  isPmtuProbe?: boolean;
}
