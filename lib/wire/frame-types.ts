/**
 * The decoded form of every Petrel frame (spec/wire.md §Frames). Byte fields are views into the
 * decoded packet (no copies); a consumer that keeps one beyond the packet's lifetime copies it.
 */

export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  STREAM: 0x08, // 0x08..0x0f: OFF=0x04, LEN=0x02, FIN=0x01
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c,
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  IMMEDIATE_ACK: 0x1f,
  DATAGRAM: 0x30, // 0x30 without length (extends to the packet end), 0x31 with length
  DATAGRAM_LEN: 0x31,
  ACK_FREQUENCY: 0xaf,
} as const;

/** One acknowledged range, inclusive on both ends; ranges in a frame are in descending order. */
export interface AckRange {
  smallest: number;
  largest: number;
}

export interface EcnCounts {
  ect0: number;
  ect1: number;
  ce: number;
}

export interface PaddingFrame {
  type: 'padding';
  /** Number of consecutive 0x00 bytes (the decoder collapses a run into one frame). */
  length: number;
}
export interface PingFrame {
  type: 'ping';
}
export interface AckFrame {
  type: 'ack';
  /** Encoded ack delay (microseconds shifted right by the ack_delay_exponent). */
  ackDelay: number;
  /** Descending, non-overlapping, non-adjacent; ranges[0].largest is the Largest Acknowledged. */
  ranges: AckRange[];
  ecn?: EcnCounts;
}
export interface ResetStreamFrame {
  type: 'reset_stream';
  streamId: number;
  errorCode: number;
  finalSize: number;
}
export interface StopSendingFrame {
  type: 'stop_sending';
  streamId: number;
  errorCode: number;
}
export interface CryptoFrame {
  type: 'crypto';
  offset: number;
  data: Uint8Array;
}
export interface NewTokenFrame {
  type: 'new_token';
  token: Uint8Array;
}
export interface StreamFrame {
  type: 'stream';
  streamId: number;
  offset: number;
  data: Uint8Array;
  fin: boolean;
  /** Encoder hint: omit the Length field (the frame extends to the end of the packet). Decoders set it from the type bits. */
  implicitLength?: boolean;
}
export interface MaxDataFrame {
  type: 'max_data';
  maximum: number;
}
export interface MaxStreamDataFrame {
  type: 'max_stream_data';
  streamId: number;
  maximum: number;
}
export interface MaxStreamsFrame {
  type: 'max_streams';
  bidi: boolean;
  maximum: number;
}
export interface DataBlockedFrame {
  type: 'data_blocked';
  limit: number;
}
export interface StreamDataBlockedFrame {
  type: 'stream_data_blocked';
  streamId: number;
  limit: number;
}
export interface StreamsBlockedFrame {
  type: 'streams_blocked';
  bidi: boolean;
  limit: number;
}
export interface NewConnectionIdFrame {
  type: 'new_connection_id';
  sequence: number;
  retirePriorTo: number;
  connectionId: Uint8Array;
  /** 16 bytes. */
  resetToken: Uint8Array;
}
export interface RetireConnectionIdFrame {
  type: 'retire_connection_id';
  sequence: number;
}
export interface PathChallengeFrame {
  type: 'path_challenge';
  /** 8 bytes. */
  data: Uint8Array;
}
export interface PathResponseFrame {
  type: 'path_response';
  /** 8 bytes. */
  data: Uint8Array;
}
export interface ConnectionCloseFrame {
  type: 'connection_close';
  /** true: application close (0x1d), false: transport close (0x1c). */
  application: boolean;
  errorCode: number;
  /** Transport close only: the frame type that caused the error (0 if unknown). */
  frameType: number;
  /** UTF-8 reason phrase bytes. */
  reason: Uint8Array;
}
export interface HandshakeDoneFrame {
  type: 'handshake_done';
}
export interface ImmediateAckFrame {
  type: 'immediate_ack';
}
export interface DatagramFrame {
  type: 'datagram';
  data: Uint8Array;
  /** Encoder hint: omit the Length field (type 0x30). Decoders set it from the type. */
  implicitLength?: boolean;
}
export interface AckFrequencyFrame {
  type: 'ack_frequency';
  sequence: number;
  /** Ack after this many ack-eliciting packets have arrived unacknowledged (RFC 9000 default behaviour = 2, i.e. threshold 1). */
  ackElicitingThreshold: number;
  /** Microseconds. */
  requestMaxAckDelay: number;
  /** Out-of-order distance that triggers an immediate ACK; 0 = never for reordering. */
  reorderingThreshold: number;
}

export type Frame =
  | PaddingFrame
  | PingFrame
  | AckFrame
  | ResetStreamFrame
  | StopSendingFrame
  | CryptoFrame
  | NewTokenFrame
  | StreamFrame
  | MaxDataFrame
  | MaxStreamDataFrame
  | MaxStreamsFrame
  | DataBlockedFrame
  | StreamDataBlockedFrame
  | StreamsBlockedFrame
  | NewConnectionIdFrame
  | RetireConnectionIdFrame
  | PathChallengeFrame
  | PathResponseFrame
  | ConnectionCloseFrame
  | HandshakeDoneFrame
  | ImmediateAckFrame
  | DatagramFrame
  | AckFrequencyFrame;

export type FrameKind = Frame['type'];
