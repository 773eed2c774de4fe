/**
 * qlog event vocabulary Petrel writes: qlog 0.3 (draft-ietf-quic-qlog-main-schema-02) records carrying the event
 * names and data shapes of draft-ietf-quic-qlog-quic-events-02, the generation qvis reads as "0.3" (spec/qlog.md).
 *
 * The builders are thin: they fix the event name, keep a stable key order, drop absent optionals and non-finite
 * numbers (JSON has no Infinity), and write booleans such as `fin` only when true, as the drafts ask.
 */

export const QLOG_VERSION = '0.3';
export const QLOG_FORMAT = 'JSON-SEQ';

// ---- shared field types ----

export type QlogPacketType = 'initial' | 'handshake' | '0RTT' | '1RTT' | 'retry' | 'version_negotiation' | 'stateless_reset' | 'unknown';

export type QlogOwner = 'local' | 'remote';
export type QlogStreamType = 'bidirectional' | 'unidirectional';
export type QlogPacketNumberSpace = 'initial' | 'handshake' | 'application_data';

export interface QlogPacketHeader {
  packet_type: QlogPacketType;
  /** Required for initial, handshake, 0RTT and 1RTT packets. */
  packet_number?: number;
  /** Hex. */
  dcid?: string;
  scid?: string;
}

/** Lengths on the wire, bytes. */
export interface QlogRawInfo {
  length?: number;
  payload_length?: number;
}

/** draft-ietf-quic-qlog-quic-events-02 TransportError names (RFC 9000 §20.1, lower case). */
export const QLOG_TRANSPORT_ERRORS = [
  'no_error',
  'internal_error',
  'connection_refused',
  'flow_control_error',
  'stream_limit_error',
  'stream_state_error',
  'final_size_error',
  'frame_encoding_error',
  'transport_parameter_error',
  'connection_id_limit_error',
  'protocol_violation',
  'invalid_token',
  'application_error',
  'crypto_buffer_exceeded',
  'key_update_error',
  'aead_limit_reached',
  'no_viable_path',
] as const;
export type QlogTransportError = (typeof QLOG_TRANSPORT_ERRORS)[number];
/** A TransportError name, `crypto_error_0x1XX`, or a number for codes qlog has no name for. */
export type QlogConnectionCode = QlogTransportError | `crypto_error_0x${string}` | number;

// ---- frames ----

export interface QlogPaddingFrame {
  frame_type: 'padding';
  length?: number;
  payload_length: number;
}
export interface QlogPingFrame {
  frame_type: 'ping';
}
export interface QlogAckFrame {
  frame_type: 'ack';
  /** Milliseconds. */
  ack_delay?: number;
  /** Inclusive [smallest, largest] pairs (a single number = a one-packet range). */
  acked_ranges?: Array<[number, number] | [number]>;
  ect1?: number;
  ect0?: number;
  ce?: number;
}
export interface QlogResetStreamFrame {
  frame_type: 'reset_stream';
  stream_id: number;
  error_code: number;
  final_size: number;
}
export interface QlogStopSendingFrame {
  frame_type: 'stop_sending';
  stream_id: number;
  error_code: number;
}
export interface QlogCryptoFrame {
  frame_type: 'crypto';
  offset: number;
  length: number;
}
export interface QlogNewTokenFrame {
  frame_type: 'new_token';
  token: { raw?: QlogRawInfo };
}
export interface QlogStreamFrame {
  frame_type: 'stream';
  stream_id: number;
  offset: number;
  length: number;
  /** Present only when true. */
  fin?: true;
}
export interface QlogMaxDataFrame {
  frame_type: 'max_data';
  maximum: number;
}
export interface QlogMaxStreamDataFrame {
  frame_type: 'max_stream_data';
  stream_id: number;
  maximum: number;
}
export interface QlogMaxStreamsFrame {
  frame_type: 'max_streams';
  stream_type: QlogStreamType;
  maximum: number;
}
export interface QlogDataBlockedFrame {
  frame_type: 'data_blocked';
  limit: number;
}
export interface QlogStreamDataBlockedFrame {
  frame_type: 'stream_data_blocked';
  stream_id: number;
  limit: number;
}
export interface QlogStreamsBlockedFrame {
  frame_type: 'streams_blocked';
  stream_type: QlogStreamType;
  limit: number;
}
export interface QlogNewConnectionIdFrame {
  frame_type: 'new_connection_id';
  sequence_number: number;
  retire_prior_to: number;
  connection_id_length?: number;
  connection_id: string;
  stateless_reset_token?: string;
}
export interface QlogRetireConnectionIdFrame {
  frame_type: 'retire_connection_id';
  sequence_number: number;
}
export interface QlogPathChallengeFrame {
  frame_type: 'path_challenge';
  data?: string;
}
export interface QlogPathResponseFrame {
  frame_type: 'path_response';
  data?: string;
}
export interface QlogConnectionCloseFrame {
  frame_type: 'connection_close';
  error_space?: 'transport' | 'application';
  error_code?: QlogConnectionCode;
  raw_error_code?: number;
  reason?: string;
  trigger_frame_type?: number;
}
export interface QlogHandshakeDoneFrame {
  frame_type: 'handshake_done';
}
/** RFC 9221 DATAGRAM frame (quic-events-02 §Extensions). */
export interface QlogDatagramFrame {
  frame_type: 'datagram';
  length?: number;
}
/** draft-ietf-quic-ack-frequency; the field names follow the later qlog definition. Times in ms. */
export interface QlogAckFrequencyFrame {
  frame_type: 'ack_frequency';
  sequence_number?: number;
  ack_eliciting_threshold?: number;
  request_max_ack_delay?: number;
  reordering_threshold?: number;
}
export interface QlogImmediateAckFrame {
  frame_type: 'immediate_ack';
}
export interface QlogUnknownFrame {
  frame_type: 'unknown';
  raw_frame_type: number;
}

export type QlogFrame =
  | QlogPaddingFrame
  | QlogPingFrame
  | QlogAckFrame
  | QlogResetStreamFrame
  | QlogStopSendingFrame
  | QlogCryptoFrame
  | QlogNewTokenFrame
  | QlogStreamFrame
  | QlogMaxDataFrame
  | QlogMaxStreamDataFrame
  | QlogMaxStreamsFrame
  | QlogDataBlockedFrame
  | QlogStreamDataBlockedFrame
  | QlogStreamsBlockedFrame
  | QlogNewConnectionIdFrame
  | QlogRetireConnectionIdFrame
  | QlogPathChallengeFrame
  | QlogPathResponseFrame
  | QlogConnectionCloseFrame
  | QlogHandshakeDoneFrame
  | QlogDatagramFrame
  | QlogAckFrequencyFrame
  | QlogImmediateAckFrame
  | QlogUnknownFrame;

export type QlogFrameType = QlogFrame['frame_type'];

// ---- event data ----

export type QlogConnectionState =
  | 'attempted'
  | 'peer_validated'
  | 'handshake_started'
  | 'early_write'
  | 'handshake_complete'
  | 'handshake_confirmed'
  | 'closing'
  | 'draining'
  | 'closed';

export type QlogCloseTrigger = 'clean' | 'handshake_timeout' | 'idle_timeout' | 'error' | 'stateless_reset' | 'version_mismatch' | 'application';

export interface ConnectionStartedData {
  ip_version?: 'ipv4' | 'ipv6';
  src_ip: string;
  dst_ip: string;
  protocol?: string;
  src_port?: number;
  dst_port?: number;
  src_cid?: string;
  dst_cid?: string;
}

export interface ConnectionClosedData {
  owner?: QlogOwner;
  connection_code?: QlogConnectionCode;
  application_code?: number;
  internal_code?: number;
  reason?: string;
  trigger?: QlogCloseTrigger;
}

export interface ConnectionStateUpdatedData {
  old?: QlogConnectionState;
  new: QlogConnectionState;
}

export interface ConnectionIdUpdatedData {
  owner: QlogOwner;
  old?: string;
  new?: string;
}

export interface TransportParametersSetData {
  owner?: QlogOwner;
  resumption_allowed?: boolean;
  early_data_enabled?: boolean;
  tls_cipher?: string;
  original_destination_connection_id?: string;
  initial_source_connection_id?: string;
  retry_source_connection_id?: string;
  stateless_reset_token?: string;
  disable_active_migration?: boolean;
  max_idle_timeout?: number;
  max_udp_payload_size?: number;
  ack_delay_exponent?: number;
  max_ack_delay?: number;
  active_connection_id_limit?: number;
  initial_max_data?: number;
  initial_max_stream_data_bidi_local?: number;
  initial_max_stream_data_bidi_remote?: number;
  initial_max_stream_data_uni?: number;
  initial_max_streams_bidi?: number;
  initial_max_streams_uni?: number;
  /** RFC 9221 (quic-events-02 §Extensions). */
  max_datagram_frame_size?: number;
  /** draft-ietf-quic-ack-frequency, ms. */
  min_ack_delay?: number;
}

export type QlogPacketSentTrigger = 'retransmit_reordered' | 'retransmit_timeout' | 'pto_probe' | 'retransmit_crypto' | 'cc_bandwidth_probe';

export interface PacketSentData {
  header: QlogPacketHeader;
  frames: QlogFrame[];
  is_coalesced?: boolean;
  raw?: QlogRawInfo;
  trigger?: QlogPacketSentTrigger;
}

export interface PacketReceivedData {
  header: QlogPacketHeader;
  frames?: QlogFrame[];
  is_coalesced?: boolean;
  raw?: QlogRawInfo;
  trigger?: 'keys_available';
}

export type QlogPacketDroppedTrigger =
  | 'key_unavailable'
  | 'unknown_connection_id'
  | 'header_parse_error'
  | 'payload_decrypt_error'
  | 'protocol_violation'
  | 'dos_prevention'
  | 'unsupported_version'
  | 'unexpected_packet'
  | 'unexpected_source_connection_id'
  | 'unexpected_version'
  | 'duplicate'
  | 'invalid_initial';

export interface PacketDroppedData {
  header?: QlogPacketHeader;
  raw?: QlogRawInfo;
  trigger?: QlogPacketDroppedTrigger;
}

export interface DatagramsData {
  count?: number;
  /** UDP payload lengths, one per datagram. */
  raw?: QlogRawInfo[];
}

export interface DatagramDroppedData {
  raw?: QlogRawInfo;
}

export type QlogStreamState =
  | 'idle'
  | 'open'
  | 'half_closed_local'
  | 'half_closed_remote'
  | 'closed'
  | 'ready'
  | 'send'
  | 'data_sent'
  | 'reset_sent'
  | 'reset_received'
  | 'receive'
  | 'size_known'
  | 'data_read'
  | 'reset_read'
  | 'data_received'
  | 'destroyed';

export interface StreamStateUpdatedData {
  stream_id: number;
  stream_type?: QlogStreamType;
  old?: QlogStreamState;
  new: QlogStreamState;
  stream_side?: 'sending' | 'receiving';
}

export interface RecoveryParametersSetData {
  reordering_threshold?: number;
  time_threshold?: number;
  timer_granularity?: number;
  initial_rtt?: number;
  max_datagram_size?: number;
  initial_congestion_window?: number;
  minimum_congestion_window?: number;
  loss_reduction_factor?: number;
  persistent_congestion_threshold?: number;
}

/** Times in ms, sizes in bytes, pacing_rate in bits per second. */
export interface MetricsUpdatedData {
  min_rtt?: number;
  smoothed_rtt?: number;
  latest_rtt?: number;
  rtt_variance?: number;
  pto_count?: number;
  congestion_window?: number;
  bytes_in_flight?: number;
  ssthresh?: number;
  packets_in_flight?: number;
  pacing_rate?: number;
}

export type QlogCongestionState = 'slow_start' | 'congestion_avoidance' | 'recovery' | 'application_limited';

export interface CongestionStateUpdatedData {
  old?: QlogCongestionState;
  new: QlogCongestionState;
  trigger?: 'persistent_congestion' | 'ECN';
}

export interface LossTimerUpdatedData {
  timer_type?: 'ack' | 'pto';
  packet_number_space?: QlogPacketNumberSpace;
  event_type: 'set' | 'expired' | 'cancelled';
  /** ms until the timer fires (event_type "set"). */
  delta?: number;
}

export interface PacketLostData {
  header?: QlogPacketHeader;
  frames?: QlogFrame[];
  trigger?: 'reordering_threshold' | 'time_threshold' | 'pto_expired';
}

/** Petrel extension events (custom category, allowed by the main schema): the peer's address changed / was validated. */
export interface PetrelPathData {
  dst_ip: string;
  dst_port: number;
  /** path_changed: the IP changed, not only the port (a NAT rebinding usually changes the port alone). */
  ip_changed?: boolean;
}

export interface QlogEventDataMap {
  'connectivity:connection_started': ConnectionStartedData;
  'connectivity:connection_closed': ConnectionClosedData;
  'connectivity:connection_state_updated': ConnectionStateUpdatedData;
  'connectivity:connection_id_updated': ConnectionIdUpdatedData;
  'transport:parameters_set': TransportParametersSetData;
  'transport:packet_sent': PacketSentData;
  'transport:packet_received': PacketReceivedData;
  'transport:packet_dropped': PacketDroppedData;
  'transport:datagrams_sent': DatagramsData;
  'transport:datagrams_received': DatagramsData;
  'transport:datagram_dropped': DatagramDroppedData;
  'transport:stream_state_updated': StreamStateUpdatedData;
  'recovery:parameters_set': RecoveryParametersSetData;
  'recovery:metrics_updated': MetricsUpdatedData;
  'recovery:congestion_state_updated': CongestionStateUpdatedData;
  'recovery:loss_timer_updated': LossTimerUpdatedData;
  'recovery:packet_lost': PacketLostData;
  'petrel:path_changed': PetrelPathData;
  'petrel:path_validated': PetrelPathData;
}

export type QlogEventName = keyof QlogEventDataMap;

/** An event before it gets its time: the writer stamps it. */
export type QlogEvent<N extends QlogEventName = QlogEventName> = { [K in N]: { name: K; data: QlogEventDataMap[K] } }[N];

/** One serialised event record (what a JSON-SEQ line holds after the header). */
export interface QlogEventRecord {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

// ---- builders ----

/** Copies `src` without undefined values and non-finite numbers, keeping key order. */
function clean<T extends object>(src: T): T {
  const out: Record<string, unknown> = {};
  for (const k in src) {
    const v = (src as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (typeof v === 'number' && !Number.isFinite(v)) continue;
    out[k] = v;
  }
  return out as T;
}

function ev<N extends QlogEventName>(name: N, data: QlogEventDataMap[N]): QlogEvent<N> {
  return { name, data } as QlogEvent<N>;
}

export function connectionStarted(d: ConnectionStartedData): QlogEvent<'connectivity:connection_started'> {
  return ev('connectivity:connection_started', clean(d));
}

export function connectionClosed(d: ConnectionClosedData): QlogEvent<'connectivity:connection_closed'> {
  return ev('connectivity:connection_closed', clean(d));
}

export function connectionStateUpdated(next: QlogConnectionState, old?: QlogConnectionState): QlogEvent<'connectivity:connection_state_updated'> {
  return ev('connectivity:connection_state_updated', old === undefined ? { new: next } : { old, new: next });
}

export function connectionIdUpdated(d: ConnectionIdUpdatedData): QlogEvent<'connectivity:connection_id_updated'> {
  return ev('connectivity:connection_id_updated', clean(d));
}

export function transportParametersSet(d: TransportParametersSetData): QlogEvent<'transport:parameters_set'> {
  return ev('transport:parameters_set', clean(d));
}

export function packetHeader(packetType: QlogPacketType, packetNumber?: number): QlogPacketHeader {
  return packetNumber === undefined ? { packet_type: packetType } : { packet_type: packetType, packet_number: packetNumber };
}

export function packetSent(
  header: QlogPacketHeader,
  frames: QlogFrame[],
  opts: { length?: number; trigger?: QlogPacketSentTrigger; isCoalesced?: boolean } = {},
): QlogEvent<'transport:packet_sent'> {
  const d: PacketSentData = { header, frames };
  if (opts.isCoalesced) d.is_coalesced = true;
  if (opts.length !== undefined) d.raw = { length: opts.length };
  if (opts.trigger !== undefined) d.trigger = opts.trigger;
  return ev('transport:packet_sent', d);
}

export function packetReceived(
  header: QlogPacketHeader,
  frames: QlogFrame[] | undefined,
  opts: { length?: number; isCoalesced?: boolean } = {},
): QlogEvent<'transport:packet_received'> {
  const d: PacketReceivedData = { header };
  if (frames !== undefined) d.frames = frames;
  if (opts.isCoalesced) d.is_coalesced = true;
  if (opts.length !== undefined) d.raw = { length: opts.length };
  return ev('transport:packet_received', d);
}

export function packetDropped(d: PacketDroppedData): QlogEvent<'transport:packet_dropped'> {
  return ev('transport:packet_dropped', clean(d));
}

/** One event for `lengths.length` UDP datagrams. */
export function datagramsSent(lengths: readonly number[]): QlogEvent<'transport:datagrams_sent'> {
  return ev('transport:datagrams_sent', { count: lengths.length, raw: lengths.map((length) => ({ length })) });
}

export function datagramsReceived(lengths: readonly number[]): QlogEvent<'transport:datagrams_received'> {
  return ev('transport:datagrams_received', { count: lengths.length, raw: lengths.map((length) => ({ length })) });
}

export function datagramDropped(length?: number): QlogEvent<'transport:datagram_dropped'> {
  return ev('transport:datagram_dropped', length === undefined ? {} : { raw: { length } });
}

/** Stream ids carry their direction in bit 1 (RFC 9000 §2.1). */
export function streamTypeOf(streamId: number): QlogStreamType {
  return streamId % 4 >= 2 ? 'unidirectional' : 'bidirectional';
}

export function streamStateUpdated(d: StreamStateUpdatedData): QlogEvent<'transport:stream_state_updated'> {
  return ev('transport:stream_state_updated', clean(d));
}

export function recoveryParametersSet(d: RecoveryParametersSetData): QlogEvent<'recovery:parameters_set'> {
  return ev('recovery:parameters_set', clean(d));
}

export function metricsUpdated(d: MetricsUpdatedData): QlogEvent<'recovery:metrics_updated'> {
  return ev('recovery:metrics_updated', clean(d));
}

export function congestionStateUpdated(
  next: QlogCongestionState,
  old?: QlogCongestionState,
  trigger?: CongestionStateUpdatedData['trigger'],
): QlogEvent<'recovery:congestion_state_updated'> {
  return ev('recovery:congestion_state_updated', clean({ old, new: next, trigger }));
}

export function lossTimerUpdated(d: LossTimerUpdatedData): QlogEvent<'recovery:loss_timer_updated'> {
  return ev('recovery:loss_timer_updated', clean(d));
}

export function packetLost(
  header: QlogPacketHeader,
  opts: { frames?: QlogFrame[]; trigger?: PacketLostData['trigger'] } = {},
): QlogEvent<'recovery:packet_lost'> {
  return ev('recovery:packet_lost', clean({ header, frames: opts.frames, trigger: opts.trigger }));
}

export function pathChanged(d: PetrelPathData): QlogEvent<'petrel:path_changed'> {
  return ev('petrel:path_changed', clean(d));
}

export function pathValidated(d: PetrelPathData): QlogEvent<'petrel:path_validated'> {
  return ev('petrel:path_validated', clean(d));
}
