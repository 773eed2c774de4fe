/**
 * Translates the connection core's trace calls (`env.trace(name, data, now)`) into qlog events on a QlogWriter.
 *
 * The core passes compact, camel-case records it already has at hand (its SentFrame list, decoded wire frames, its
 * CloseInfo, transport parameters...); everything qlog-specific (snake_case names, hex ids, packet types, error
 * names, ack-delay scaling, deduplicated metrics, derived congestion state) happens here, and only when a writer
 * exists: `qlogTraceFor(null)` is undefined, so a connection without qlog gets no trace function and the core's
 * `if (this.env.trace)` guards skip building anything. The accepted shapes are the `CoreTrace*` types below and
 * spec/qlog.md §Core events.
 */
import { TransportErrorCode } from '../errors.js';
import { toHex } from '../wire/buffer.js';
import type { AckRange, Frame } from '../wire/frame-types.js';
import type { TransportParameters } from '../wire/transport-params.js';
import {
  QLOG_TRANSPORT_ERRORS,
  connectionClosed,
  connectionIdUpdated,
  connectionStarted,
  connectionStateUpdated,
  congestionStateUpdated,
  datagramDropped,
  datagramsReceived,
  datagramsSent,
  lossTimerUpdated,
  metricsUpdated,
  packetDropped,
  packetHeader,
  packetLost,
  packetReceived,
  packetSent,
  pathChanged,
  pathValidated,
  recoveryParametersSet,
  streamStateUpdated,
  streamTypeOf,
  transportParametersSet,
  type ConnectionClosedData,
  type MetricsUpdatedData,
  type QlogCloseTrigger,
  type QlogCongestionState,
  type QlogConnectionCode,
  type QlogConnectionState,
  type QlogEvent,
  type QlogFrame,
  type QlogPacketDroppedTrigger,
  type QlogPacketHeader,
  type QlogPacketNumberSpace,
  type QlogPacketType,
  type QlogStreamState,
  type TransportParametersSetData,
} from './events.js';
import { QlogWriter, type QlogSink, type QlogWriterOptions } from './writer.js';

// ---- what the core passes ----

/** Packet-number space, by the core's SPACE_NAME or its SpaceId. */
export type CoreSpace = 'initial' | 'handshake' | 'application' | 0 | 1 | 2;

/**
 * One frame of a sent packet: the connection's SentFrame record (tag `k`) plus the fields marked "qlog" that the
 * record lacks today. Without a required one the frame is still written, but it fails validation (spec/qlog.md).
 */
export type CoreSentFrame =
  | { k: 'stream'; id: number; offset: number; length: number; fin: boolean }
  | { k: 'crypto'; offset: number; length: number }
  /** qlog: `ranges` (as encoded, descending) and `delay` (encoded ACK Delay field, before the exponent). */
  | { k: 'ack'; largest: number; ranges?: readonly AckRange[]; delay?: number }
  /** qlog (required): `max`. */
  | { k: 'max_data'; max?: number }
  | { k: 'max_stream_data'; id: number; max?: number }
  | { k: 'max_streams'; bidi: boolean; max?: number }
  /** qlog (required): `limit`. */
  | { k: 'data_blocked'; limit?: number }
  | { k: 'stream_data_blocked'; id: number; limit?: number }
  | { k: 'streams_blocked'; bidi: boolean; limit?: number }
  /** qlog (required): `code`, `finalSize`. */
  | { k: 'reset_stream'; id: number; code?: number; finalSize?: number }
  /** qlog (required): `code`. */
  | { k: 'stop_sending'; id: number; code?: number }
  | { k: 'handshake_done' }
  /** qlog (optional): the frame's values; `maxDelay` in microseconds, as on the wire. */
  | { k: 'ack_frequency'; seq?: number; threshold?: number; maxDelay?: number; reorder?: number }
  /** `id` is the application's datagram id (not logged); qlog (optional): `length` of the payload. */
  | { k: 'datagram'; id: number; length?: number }
  | { k: 'ping' }
  | { k: 'immediate_ack' }
  | { k: 'padding'; length: number }
  /** qlog (optional): `code`, `app` (application close), `reason`, `frameType` (transport close trigger). */
  | { k: 'close'; code?: number; app?: boolean; reason?: string; frameType?: number }
  /** qlog (required): `retirePriorTo`, `cid`; optional `resetToken`. */
  | { k: 'new_cid'; seq: number; retirePriorTo?: number; cid?: Uint8Array; resetToken?: Uint8Array }
  | { k: 'retire_cid'; seq: number }
  /** qlog (optional): the 8 `data` bytes. */
  | { k: 'path_challenge'; data?: Uint8Array }
  | { k: 'path_response'; data?: Uint8Array };

/**
 * A frame as the core has it: its compact sent record, a decoded wire Frame (received packets: push the frames
 * processFrames decodes), or just the kind name (today's `frames.map(f => f.k)`; frames with fields then fail
 * validation).
 */
export type CoreFrame = CoreSentFrame | Frame | string;

export interface CoreAddress {
  host: string;
  port: number;
}

export type CoreConnectionState =
  'attempted' | 'handshake' | 'established' | 'confirmed' | 'peer_validated' | 'closing' | 'draining' | 'closed' | QlogConnectionState;

export type CoreCongestionState = QlogCongestionState;

/** Core event name → the data the adapter reads (all other fields are ignored). */
export interface CoreTraceEvents {
  'transport:packet_sent': {
    space: CoreSpace;
    pn: number;
    /** Bytes of this packet on the wire. */
    size: number;
    frames: readonly CoreFrame[];
    /** A PTO probe. */
    probe?: boolean;
    /** Shares its UDP datagram with other packets. */
    coalesced?: boolean;
  };
  'transport:packet_received': { space: CoreSpace; pn: number; size: number; frames?: readonly CoreFrame[]; coalesced?: boolean };
  /** `reason` is the core's drop counter name (spec/qlog.md maps it). */
  'transport:packet_dropped': { reason: string; size?: number; space?: CoreSpace; pn?: number };
  'transport:datagrams_sent': { size?: number; sizes?: readonly number[] };
  'transport:datagrams_received': { size?: number; sizes?: readonly number[] };
  'transport:datagram_dropped': { size?: number };
  'transport:parameters_set': { owner: 'local' | 'remote'; params: Partial<TransportParameters> };
  'transport:stream_state_updated': { id: number; state: QlogStreamState; old?: QlogStreamState; side?: 'sending' | 'receiving' };
  /** Legacy: logged as connection_closed (owner local, trigger error). */
  'transport:connection_error': { code: number | string; message?: string };
  'recovery:packet_lost': {
    space: CoreSpace;
    pn: number;
    trigger?: 'reordering_threshold' | 'time_threshold' | 'pto_expired';
    frames?: readonly CoreFrame[];
  };
  /** Any subset; only values that changed since the last call are written, and nothing when none did. */
  'recovery:metrics_updated': {
    minRtt?: number;
    smoothedRtt?: number;
    latestRtt?: number;
    rttVariance?: number;
    ptoCount?: number;
    cwnd?: number;
    bytesInFlight?: number;
    /** Infinity (no congestion event yet) is left out. */
    ssthresh?: number;
    packetsInFlight?: number;
    /** bits per second */
    pacingRate?: number;
    /** A change writes recovery:congestion_state_updated. */
    congestionState?: CoreCongestionState;
  };
  'recovery:congestion_state_updated': { state: CoreCongestionState; trigger?: 'persistent_congestion' | 'ECN' };
  'recovery:parameters_set': {
    reorderingThreshold?: number;
    timeThreshold?: number;
    timerGranularity?: number;
    initialRtt?: number;
    maxDatagramSize?: number;
    initialCongestionWindow?: number;
    minimumCongestionWindow?: number;
    lossReductionFactor?: number;
    persistentCongestionThreshold?: number;
  };
  'recovery:loss_timer_updated': { event: 'set' | 'expired' | 'cancelled'; timer?: 'ack' | 'pto'; space?: CoreSpace; delta?: number };
  'connectivity:connection_started': { remote: CoreAddress; local?: CoreAddress; scid?: Uint8Array; dcid?: Uint8Array };
  'connectivity:connection_state_updated': { state: CoreConnectionState };
  /** The connection's CloseInfo (lib/connection/types.ts). Written once per connection. */
  'connectivity:connection_closed': {
    errorCode: number;
    reason?: string;
    application: boolean;
    initiator: 'local' | 'peer' | 'idle' | 'reset';
  };
  'connectivity:connection_id_updated': { owner: 'local' | 'remote'; old?: Uint8Array; new?: Uint8Array };
  'connectivity:path_changed': { host: string; port: number; hostChanged?: boolean };
  'connectivity:path_validated': { host: string; port: number };
}

export type CoreTraceName = keyof CoreTraceEvents;

/** The function the driver installs as `CoreEnv.trace`. `now` is the core's clock (ms). */
export type QlogTraceFn = (name: string, data: Record<string, unknown>, now?: number) => void;

export interface QlogTraceOptions {
  /** Time source when the core calls without `now`; without either, the last event's time is reused. */
  clock?: () => number;
  /** Our address, for connection_started when the core does not pass `local`. */
  local?: CoreAddress;
  /** Called with core event names the adapter does not know (they are not written). */
  onUnmapped?: (name: string) => void;
}

// ---- conversions ----

const PACKET_TYPE: Record<string, QlogPacketType> = {
  initial: 'initial',
  handshake: 'handshake',
  application: '1RTT',
  '0': 'initial',
  '1': 'handshake',
  '2': '1RTT',
};
const PN_SPACE: Record<string, QlogPacketNumberSpace> = {
  initial: 'initial',
  handshake: 'handshake',
  application: 'application_data',
  '0': 'initial',
  '1': 'handshake',
  '2': 'application_data',
};

export function qlogPacketType(space: CoreSpace): QlogPacketType {
  return PACKET_TYPE[String(space)] ?? 'unknown';
}

function header(space: CoreSpace, pn: number | undefined): QlogPacketHeader {
  return packetHeader(qlogPacketType(space), pn);
}

const ERROR_CODES: Record<string, number> = TransportErrorCode;

/** qlog's name for a transport error code: RFC 9000 names, `crypto_error_0x1XX`, else the number. */
export function qlogConnectionCode(code: number | string): QlogConnectionCode | undefined {
  if (typeof code === 'string') {
    const crypto = /^CRYPTO_ERROR\(0x([0-9a-f]{1,2})\)$/i.exec(code);
    if (crypto) return qlogConnectionCode(0x100 + parseInt(crypto[1]!, 16));
    const n = Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code] : undefined;
    return n === undefined ? undefined : qlogConnectionCode(n);
  }
  if (!Number.isInteger(code) || code < 0) return undefined;
  if (code < QLOG_TRANSPORT_ERRORS.length) return QLOG_TRANSPORT_ERRORS[code];
  if (code >= 0x100 && code <= 0x1ff) return `crypto_error_0x${code.toString(16)}`;
  return code;
}

/** The core's drop counter names → qlog packet_dropped triggers (unlisted reasons: no trigger). */
export const DROP_TRIGGERS: Readonly<Record<string, QlogPacketDroppedTrigger>> = {
  auth_failed: 'payload_decrypt_error',
  duplicate: 'duplicate',
  short_packet: 'header_parse_error',
  malformed_packet: 'header_parse_error',
  version_mismatch: 'unexpected_version',
  version_negotiation: 'unexpected_packet',
  retry_unsupported: 'unexpected_packet',
  '0rtt_unsupported': 'unexpected_packet',
  keys_unavailable: 'key_unavailable',
  space_discarded: 'key_unavailable',
  unknown_connection_id: 'unknown_connection_id',
};

const CONNECTION_STATE: Record<string, QlogConnectionState> = {
  handshake: 'handshake_started',
  established: 'handshake_complete',
  confirmed: 'handshake_confirmed',
};

function ackRanges(ranges: readonly AckRange[]): Array<[number, number]> {
  // Frames list ranges from the largest down; qlog readers expect nothing in particular, ascending reads best.
  const out: Array<[number, number]> = [];
  for (let i = ranges.length - 1; i >= 0; i--) out.push([ranges[i]!.smallest, ranges[i]!.largest]);
  return out;
}

/** Encoded ACK Delay → ms, with the sender's ack_delay_exponent (RFC 9000 §19.3). */
function ackDelayMs(encoded: number, exponent: number): number {
  return Math.round(encoded * 2 ** exponent) / 1000;
}

function optional<T extends object>(o: T): T {
  for (const k in o) if (o[k] === undefined) delete o[k];
  return o;
}

/** One core frame → its qlog form. `ackDelayExponent` is the exponent of the ACK's sender. */
export function toQlogFrame(f: CoreFrame, ackDelayExponent = 3): QlogFrame {
  if (typeof f === 'string') return fromSent({ k: f } as CoreSentFrame, ackDelayExponent);
  if ('k' in f) return fromSent(f, ackDelayExponent);
  return fromWire(f, ackDelayExponent);
}

function streamKind(bidi: boolean): 'bidirectional' | 'unidirectional' {
  return bidi ? 'bidirectional' : 'unidirectional';
}

function fromSent(f: CoreSentFrame, exp: number): QlogFrame {
  switch (f.k) {
    case 'stream':
      return f.fin
        ? { frame_type: 'stream', stream_id: f.id, offset: f.offset, length: f.length, fin: true }
        : { frame_type: 'stream', stream_id: f.id, offset: f.offset, length: f.length };
    case 'crypto':
      return { frame_type: 'crypto', offset: f.offset, length: f.length };
    case 'ack':
      return optional({
        frame_type: 'ack',
        ack_delay: f.delay === undefined ? undefined : ackDelayMs(f.delay, exp),
        acked_ranges: f.ranges ? ackRanges(f.ranges) : undefined,
      });
    case 'max_data':
      return optional({ frame_type: 'max_data', maximum: f.max! });
    case 'max_stream_data':
      return optional({ frame_type: 'max_stream_data', stream_id: f.id, maximum: f.max! });
    case 'max_streams':
      return optional({ frame_type: 'max_streams', stream_type: streamKind(f.bidi), maximum: f.max! });
    case 'data_blocked':
      return optional({ frame_type: 'data_blocked', limit: f.limit! });
    case 'stream_data_blocked':
      return optional({ frame_type: 'stream_data_blocked', stream_id: f.id, limit: f.limit! });
    case 'streams_blocked':
      return optional({ frame_type: 'streams_blocked', stream_type: streamKind(f.bidi), limit: f.limit! });
    case 'reset_stream':
      return optional({ frame_type: 'reset_stream', stream_id: f.id, error_code: f.code!, final_size: f.finalSize! });
    case 'stop_sending':
      return optional({ frame_type: 'stop_sending', stream_id: f.id, error_code: f.code! });
    case 'handshake_done':
      return { frame_type: 'handshake_done' };
    case 'ack_frequency':
      return optional({
        frame_type: 'ack_frequency',
        sequence_number: f.seq,
        ack_eliciting_threshold: f.threshold,
        request_max_ack_delay: f.maxDelay === undefined ? undefined : f.maxDelay / 1000,
        reordering_threshold: f.reorder,
      });
    case 'datagram':
      return optional({ frame_type: 'datagram', length: f.length });
    case 'ping':
      return { frame_type: 'ping' };
    case 'immediate_ack':
      return { frame_type: 'immediate_ack' };
    case 'padding':
      return { frame_type: 'padding', payload_length: f.length };
    case 'close':
      return optional({
        frame_type: 'connection_close',
        error_space: f.app === undefined ? undefined : f.app ? 'application' : 'transport',
        error_code: f.code === undefined ? undefined : f.app ? f.code : qlogConnectionCode(f.code),
        raw_error_code: f.code,
        reason: f.reason,
        trigger_frame_type: f.app ? undefined : f.frameType,
      });
    case 'new_cid':
      return optional({
        frame_type: 'new_connection_id',
        sequence_number: f.seq,
        retire_prior_to: f.retirePriorTo!,
        connection_id_length: f.cid?.length,
        connection_id: f.cid ? toHex(f.cid) : undefined!,
        stateless_reset_token: f.resetToken ? toHex(f.resetToken) : undefined,
      });
    case 'retire_cid':
      return { frame_type: 'retire_connection_id', sequence_number: f.seq };
    case 'path_challenge':
      return optional({ frame_type: 'path_challenge', data: f.data ? toHex(f.data) : undefined });
    case 'path_response':
      return optional({ frame_type: 'path_response', data: f.data ? toHex(f.data) : undefined });
  }
  // An unknown kind is written as is, so validation names it instead of the trace silently losing it.
  return { frame_type: (f as { k: string }).k } as unknown as QlogFrame;
}

const utf8 = new TextDecoder();

function fromWire(f: Frame, exp: number): QlogFrame {
  switch (f.type) {
    case 'padding':
      return { frame_type: 'padding', payload_length: f.length };
    case 'ping':
      return { frame_type: 'ping' };
    case 'ack': {
      const out: QlogFrame = { frame_type: 'ack', ack_delay: ackDelayMs(f.ackDelay, exp), acked_ranges: ackRanges(f.ranges) };
      if (f.ecn) {
        out.ect0 = f.ecn.ect0;
        out.ect1 = f.ecn.ect1;
        out.ce = f.ecn.ce;
      }
      return out;
    }
    case 'reset_stream':
      return { frame_type: 'reset_stream', stream_id: f.streamId, error_code: f.errorCode, final_size: f.finalSize };
    case 'stop_sending':
      return { frame_type: 'stop_sending', stream_id: f.streamId, error_code: f.errorCode };
    case 'crypto':
      return { frame_type: 'crypto', offset: f.offset, length: f.data.length };
    case 'new_token':
      return { frame_type: 'new_token', token: { raw: { length: f.token.length } } };
    case 'stream':
      return f.fin
        ? { frame_type: 'stream', stream_id: f.streamId, offset: f.offset, length: f.data.length, fin: true }
        : { frame_type: 'stream', stream_id: f.streamId, offset: f.offset, length: f.data.length };
    case 'max_data':
      return { frame_type: 'max_data', maximum: f.maximum };
    case 'max_stream_data':
      return { frame_type: 'max_stream_data', stream_id: f.streamId, maximum: f.maximum };
    case 'max_streams':
      return { frame_type: 'max_streams', stream_type: streamKind(f.bidi), maximum: f.maximum };
    case 'data_blocked':
      return { frame_type: 'data_blocked', limit: f.limit };
    case 'stream_data_blocked':
      return { frame_type: 'stream_data_blocked', stream_id: f.streamId, limit: f.limit };
    case 'streams_blocked':
      return { frame_type: 'streams_blocked', stream_type: streamKind(f.bidi), limit: f.limit };
    case 'new_connection_id':
      return {
        frame_type: 'new_connection_id',
        sequence_number: f.sequence,
        retire_prior_to: f.retirePriorTo,
        connection_id_length: f.connectionId.length,
        connection_id: toHex(f.connectionId),
        stateless_reset_token: toHex(f.resetToken),
      };
    case 'retire_connection_id':
      return { frame_type: 'retire_connection_id', sequence_number: f.sequence };
    case 'path_challenge':
      return { frame_type: 'path_challenge', data: toHex(f.data) };
    case 'path_response':
      return { frame_type: 'path_response', data: toHex(f.data) };
    case 'connection_close':
      return f.application
        ? {
            frame_type: 'connection_close',
            error_space: 'application',
            error_code: f.errorCode,
            raw_error_code: f.errorCode,
            reason: utf8.decode(f.reason),
          }
        : optional({
            frame_type: 'connection_close',
            error_space: 'transport',
            error_code: qlogConnectionCode(f.errorCode),
            raw_error_code: f.errorCode,
            reason: utf8.decode(f.reason),
            trigger_frame_type: f.frameType,
          });
    case 'handshake_done':
      return { frame_type: 'handshake_done' };
    case 'immediate_ack':
      return { frame_type: 'immediate_ack' };
    case 'datagram':
      return { frame_type: 'datagram', length: f.data.length };
    case 'ack_frequency':
      return {
        frame_type: 'ack_frequency',
        sequence_number: f.sequence,
        ack_eliciting_threshold: f.ackElicitingThreshold,
        request_max_ack_delay: f.requestMaxAckDelay / 1000,
        reordering_threshold: f.reorderingThreshold,
      };
  }
}

function ipVersion(host: string): 'ipv4' | 'ipv6' | undefined {
  if (host.includes(':')) return 'ipv6';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return 'ipv4';
  return undefined;
}

function hexOf(b: Uint8Array | undefined): string | undefined {
  return b === undefined ? undefined : toHex(b);
}

function transportParams(owner: 'local' | 'remote', p: Partial<TransportParameters>): TransportParametersSetData {
  return {
    owner,
    original_destination_connection_id: hexOf(p.originalDestinationConnectionId),
    initial_source_connection_id: hexOf(p.initialSourceConnectionId),
    retry_source_connection_id: hexOf(p.retrySourceConnectionId),
    stateless_reset_token: hexOf(p.statelessResetToken),
    disable_active_migration: p.disableActiveMigration,
    max_idle_timeout: p.maxIdleTimeout,
    max_udp_payload_size: p.maxUdpPayloadSize,
    ack_delay_exponent: p.ackDelayExponent,
    max_ack_delay: p.maxAckDelay,
    active_connection_id_limit: p.activeConnectionIdLimit,
    initial_max_data: p.initialMaxData,
    initial_max_stream_data_bidi_local: p.initialMaxStreamDataBidiLocal,
    initial_max_stream_data_bidi_remote: p.initialMaxStreamDataBidiRemote,
    initial_max_stream_data_uni: p.initialMaxStreamDataUni,
    initial_max_streams_bidi: p.initialMaxStreamsBidi,
    initial_max_streams_uni: p.initialMaxStreamsUni,
    max_datagram_frame_size: p.maxDatagramFrameSize,
    min_ack_delay: p.minAckDelay === undefined ? undefined : p.minAckDelay / 1000,
  };
}

const METRIC_FIELDS: ReadonlyArray<[keyof CoreTraceEvents['recovery:metrics_updated'], keyof MetricsUpdatedData]> = [
  ['minRtt', 'min_rtt'],
  ['smoothedRtt', 'smoothed_rtt'],
  ['latestRtt', 'latest_rtt'],
  ['rttVariance', 'rtt_variance'],
  ['ptoCount', 'pto_count'],
  ['cwnd', 'congestion_window'],
  ['bytesInFlight', 'bytes_in_flight'],
  ['ssthresh', 'ssthresh'],
  ['packetsInFlight', 'packets_in_flight'],
  ['pacingRate', 'pacing_rate'],
];

// ---- the adapter ----

/** Per-connection translation state: the negotiated ack-delay exponents, last metrics, states. */
class QlogTraceAdapter {
  private localAckExponent = 3;
  private peerAckExponent = 3;
  private readonly metrics = new Map<string, number>();
  private ccState: QlogCongestionState | undefined;
  private connState: QlogConnectionState | undefined;
  private closedLogged = false;

  constructor(
    private readonly writer: QlogWriter,
    private readonly opts: QlogTraceOptions,
  ) {}

  readonly trace: QlogTraceFn = (name, data, now) => {
    const t = now ?? this.opts.clock?.() ?? this.writer.referenceTime + this.writer.lastEventTime;
    const e = this.translate(name, data);
    if (e === undefined) return;
    if (Array.isArray(e)) for (const x of e) this.writer.write(t, x);
    else this.writer.write(t, e);
  };

  private frames(list: readonly CoreFrame[] | undefined, exponent: number): QlogFrame[] | undefined {
    if (list === undefined) return undefined;
    const out: QlogFrame[] = new Array(list.length);
    for (let i = 0; i < list.length; i++) out[i] = toQlogFrame(list[i]!, exponent);
    return out;
  }

  private translate(name: string, raw: Record<string, unknown>): QlogEvent | QlogEvent[] | undefined {
    switch (name as CoreTraceName) {
      case 'transport:packet_sent': {
        const d = raw as unknown as CoreTraceEvents['transport:packet_sent'];
        return packetSent(header(d.space, d.pn), this.frames(d.frames, this.localAckExponent) ?? [], {
          length: d.size,
          trigger: d.probe ? 'pto_probe' : undefined,
          isCoalesced: d.coalesced,
        });
      }
      case 'transport:packet_received': {
        const d = raw as unknown as CoreTraceEvents['transport:packet_received'];
        return packetReceived(header(d.space, d.pn), this.frames(d.frames, this.peerAckExponent), { length: d.size, isCoalesced: d.coalesced });
      }
      case 'transport:packet_dropped': {
        const d = raw as unknown as CoreTraceEvents['transport:packet_dropped'];
        return packetDropped({
          header: d.space === undefined ? undefined : header(d.space, d.pn),
          raw: d.size === undefined ? undefined : { length: d.size },
          trigger: Object.hasOwn(DROP_TRIGGERS, d.reason) ? DROP_TRIGGERS[d.reason] : undefined,
        });
      }
      case 'transport:datagrams_sent':
      case 'transport:datagrams_received': {
        const d = raw as unknown as CoreTraceEvents['transport:datagrams_sent'];
        const sizes = d.sizes ?? (d.size === undefined ? [] : [d.size]);
        return name === 'transport:datagrams_sent' ? datagramsSent(sizes) : datagramsReceived(sizes);
      }
      case 'transport:datagram_dropped':
        return datagramDropped((raw as CoreTraceEvents['transport:datagram_dropped']).size);
      case 'transport:parameters_set': {
        const d = raw as unknown as CoreTraceEvents['transport:parameters_set'];
        if (d.params.ackDelayExponent !== undefined) {
          if (d.owner === 'local') this.localAckExponent = d.params.ackDelayExponent;
          else this.peerAckExponent = d.params.ackDelayExponent;
        }
        return transportParametersSet(transportParams(d.owner, d.params));
      }
      case 'transport:stream_state_updated': {
        const d = raw as unknown as CoreTraceEvents['transport:stream_state_updated'];
        return streamStateUpdated({ stream_id: d.id, stream_type: streamTypeOf(d.id), old: d.old, new: d.state, stream_side: d.side });
      }
      case 'transport:connection_error': {
        const d = raw as unknown as CoreTraceEvents['transport:connection_error'];
        return this.closed({ owner: 'local', connection_code: qlogConnectionCode(d.code), reason: d.message, trigger: 'error' });
      }
      case 'recovery:packet_lost': {
        const d = raw as unknown as CoreTraceEvents['recovery:packet_lost'];
        return packetLost(header(d.space, d.pn), { frames: this.frames(d.frames, this.localAckExponent), trigger: d.trigger });
      }
      case 'recovery:metrics_updated':
        return this.metricsUpdated(raw as CoreTraceEvents['recovery:metrics_updated']);
      case 'recovery:congestion_state_updated': {
        const d = raw as unknown as CoreTraceEvents['recovery:congestion_state_updated'];
        if (d.state === this.ccState && d.trigger === undefined) return undefined;
        const e = congestionStateUpdated(d.state, this.ccState, d.trigger);
        this.ccState = d.state;
        return e;
      }
      case 'recovery:parameters_set': {
        const d = raw as CoreTraceEvents['recovery:parameters_set'];
        return recoveryParametersSet({
          reordering_threshold: d.reorderingThreshold,
          time_threshold: d.timeThreshold,
          timer_granularity: d.timerGranularity,
          initial_rtt: d.initialRtt,
          max_datagram_size: d.maxDatagramSize,
          initial_congestion_window: d.initialCongestionWindow,
          minimum_congestion_window: d.minimumCongestionWindow,
          loss_reduction_factor: d.lossReductionFactor,
          persistent_congestion_threshold: d.persistentCongestionThreshold,
        });
      }
      case 'recovery:loss_timer_updated': {
        const d = raw as unknown as CoreTraceEvents['recovery:loss_timer_updated'];
        return lossTimerUpdated({
          timer_type: d.timer,
          packet_number_space: d.space === undefined ? undefined : PN_SPACE[String(d.space)],
          event_type: d.event,
          delta: d.delta,
        });
      }
      case 'connectivity:connection_started': {
        const d = raw as unknown as CoreTraceEvents['connectivity:connection_started'];
        const local = d.local ?? this.opts.local;
        return connectionStarted({
          ip_version: ipVersion(d.remote.host),
          src_ip: local?.host ?? '',
          dst_ip: d.remote.host,
          protocol: 'QUIC',
          src_port: local?.port,
          dst_port: d.remote.port,
          src_cid: hexOf(d.scid),
          dst_cid: hexOf(d.dcid),
        });
      }
      case 'connectivity:connection_state_updated': {
        const s = (raw as CoreTraceEvents['connectivity:connection_state_updated']).state;
        const next = CONNECTION_STATE[s] ?? (s as QlogConnectionState);
        if (next === this.connState) return undefined;
        const e = connectionStateUpdated(next, this.connState);
        this.connState = next;
        return e;
      }
      case 'connectivity:connection_closed':
        return this.closed(this.closeData(raw as unknown as CoreTraceEvents['connectivity:connection_closed']));
      case 'connectivity:connection_id_updated': {
        const d = raw as unknown as CoreTraceEvents['connectivity:connection_id_updated'];
        return connectionIdUpdated({ owner: d.owner, old: hexOf(d.old), new: hexOf(d.new) });
      }
      case 'connectivity:path_changed': {
        const d = raw as unknown as CoreTraceEvents['connectivity:path_changed'];
        return pathChanged({ dst_ip: d.host, dst_port: d.port, ip_changed: d.hostChanged });
      }
      case 'connectivity:path_validated': {
        const d = raw as unknown as CoreTraceEvents['connectivity:path_validated'];
        return pathValidated({ dst_ip: d.host, dst_port: d.port });
      }
    }
    this.opts.onUnmapped?.(name);
    return undefined;
  }

  private closed(d: ConnectionClosedData): QlogEvent | undefined {
    if (this.closedLogged) return undefined;
    this.closedLogged = true;
    return connectionClosed(d);
  }

  private closeData(c: CoreTraceEvents['connectivity:connection_closed']): ConnectionClosedData {
    const handshakeDone = this.connState !== undefined && this.connState !== 'attempted' && this.connState !== 'handshake_started';
    let trigger: QlogCloseTrigger;
    if (c.initiator === 'idle') trigger = handshakeDone ? 'idle_timeout' : 'handshake_timeout';
    else if (c.initiator === 'reset') trigger = 'stateless_reset';
    else if (c.application) trigger = 'application';
    else trigger = c.errorCode === TransportErrorCode.NO_ERROR ? 'clean' : 'error';
    return {
      owner: c.initiator === 'local' || c.initiator === 'idle' ? 'local' : 'remote',
      connection_code: c.application || c.initiator === 'idle' || c.initiator === 'reset' ? undefined : qlogConnectionCode(c.errorCode),
      application_code: c.application ? c.errorCode : undefined,
      reason: c.reason === undefined || c.reason === '' ? undefined : c.reason,
      trigger,
    };
  }

  private metricsUpdated(d: CoreTraceEvents['recovery:metrics_updated']): QlogEvent[] | QlogEvent | undefined {
    const out: MetricsUpdatedData = {};
    let changed = false;
    for (const [from, to] of METRIC_FIELDS) {
      const v = d[from];
      if (typeof v !== 'number' || !Number.isFinite(v) || this.metrics.get(to) === v) continue;
      this.metrics.set(to, v);
      out[to] = v;
      changed = true;
    }
    const metrics = changed ? metricsUpdated(out) : undefined;
    const s = d.congestionState;
    if (s === undefined || s === this.ccState) return metrics;
    const cc = congestionStateUpdated(s, this.ccState);
    this.ccState = s;
    return metrics ? [metrics, cc] : cc;
  }
}

/** A trace function writing to `writer`. Install it as `CoreEnv.trace` for that one connection. */
export function createQlogTrace(writer: QlogWriter, opts: QlogTraceOptions = {}): QlogTraceFn {
  return new QlogTraceAdapter(writer, opts).trace;
}

/** `createQlogTrace` when there is a writer, else undefined: what the driver puts into `CoreEnv.trace`. */
export function qlogTraceFor(writer: QlogWriter | null | undefined, opts?: QlogTraceOptions): QlogTraceFn | undefined {
  return writer ? createQlogTrace(writer, opts) : undefined;
}

/** Writer + trace function for one connection, in one call (the driver's usual path). */
export function createConnectionQlog(
  sink: QlogSink,
  writerOptions: QlogWriterOptions,
  traceOptions?: QlogTraceOptions,
): { writer: QlogWriter; trace: QlogTraceFn } {
  const writer = new QlogWriter(sink, writerOptions);
  return { writer, trace: createQlogTrace(writer, traceOptions) };
}
