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
  // Delivery-rate state recorded by Recovery when an in-flight packet is sent (draft-ietf-ccwg-bbr §4.1.2.1.2);
  // the sender leaves these out.
  /** C.delivered at send */
  delivered?: number;
  /** C.delivered_time at send, ms */
  deliveredTime?: number;
  /** C.first_send_time at send, ms */
  firstSentTime?: number;
  /** the connection was application-limited at send */
  appLimited?: boolean;
  /** bytes in flight just after this packet was sent */
  txInFlight?: number;
  /** C.lost at send */
  lostAtSend?: number;
}
