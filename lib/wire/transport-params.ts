/**
 * Transport parameters (spec/wire.md §Transport parameters; RFC 9000 §18 is the model).
 *
 * Encoding: a sequence of (id varint, length varint, value) entries. Integer values are one varint
 * filling exactly `length` bytes. Unknown ids are skipped (so senders may add reserved "GREASE" ids);
 * known ids are validated, and any violation is PetrelWireError(TRANSPORT_PARAMETER_ERROR).
 * Times are milliseconds except minAckDelay (microseconds, as the ack-frequency draft defines it).
 */
import { PetrelWireError, TransportErrorCode } from '../errors.js';
import { ByteReader, type ByteWriter } from './buffer.js';
import { varintSize } from './varint.js';
import { MAX_CID_LENGTH } from './packet.js';
import { STATELESS_RESET_TOKEN_LENGTH } from './datagram.js';

export const TransportParameterId = {
  ORIGINAL_DESTINATION_CONNECTION_ID: 0x00,
  MAX_IDLE_TIMEOUT: 0x01,
  STATELESS_RESET_TOKEN: 0x02,
  MAX_UDP_PAYLOAD_SIZE: 0x03,
  INITIAL_MAX_DATA: 0x04,
  INITIAL_MAX_STREAM_DATA_BIDI_LOCAL: 0x05,
  INITIAL_MAX_STREAM_DATA_BIDI_REMOTE: 0x06,
  INITIAL_MAX_STREAM_DATA_UNI: 0x07,
  INITIAL_MAX_STREAMS_BIDI: 0x08,
  INITIAL_MAX_STREAMS_UNI: 0x09,
  ACK_DELAY_EXPONENT: 0x0a,
  MAX_ACK_DELAY: 0x0b,
  DISABLE_ACTIVE_MIGRATION: 0x0c,
  // 0x0d preferred_address: not used by Petrel; skipped like any unknown id.
  ACTIVE_CONNECTION_ID_LIMIT: 0x0e,
  INITIAL_SOURCE_CONNECTION_ID: 0x0f,
  RETRY_SOURCE_CONNECTION_ID: 0x10,
  /** RFC 9221. */
  MAX_DATAGRAM_FRAME_SIZE: 0x20,
  /** Petrel: both ends speak the game-channel wire forms (spec §Game channels). Zero-length flag. */
  CHANNELS_SUPPORTED: 0x5043,
  /** draft-ietf-quic-ack-frequency (-05 onwards) value, microseconds. */
  MIN_ACK_DELAY: 0xff04de1b,
} as const;

export interface TransportParameters {
  /** Server only: dcid of the client's first Initial. */
  originalDestinationConnectionId?: Uint8Array;
  /** Milliseconds; 0 = no idle timeout announced. */
  maxIdleTimeout: number;
  /** Server only: 16 bytes. */
  statelessResetToken?: Uint8Array;
  /** Largest UDP payload (CRC included) the sender is willing to receive; ≥ 1200. */
  maxUdpPayloadSize: number;
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
  /** 0..20. */
  ackDelayExponent: number;
  /** Milliseconds, < 2^14. */
  maxAckDelay: number;
  disableActiveMigration: boolean;
  /** ≥ 2. */
  activeConnectionIdLimit: number;
  initialSourceConnectionId?: Uint8Array;
  /** Server only, after a Retry. */
  retrySourceConnectionId?: Uint8Array;
  /** Largest DATAGRAM frame (type byte, length and payload) accepted; 0 = DATAGRAM not supported. */
  maxDatagramFrameSize: number;
  /** Microseconds; absent = the sender does not take part in ack-frequency negotiation. ≤ maxAckDelay * 1000. */
  minAckDelay?: number;
  channelsSupported: boolean;
}

/** The value every absent parameter takes. */
export const DEFAULT_TRANSPORT_PARAMETERS: Readonly<TransportParameters> = Object.freeze({
  maxIdleTimeout: 0,
  maxUdpPayloadSize: 1472,
  initialMaxData: 0,
  initialMaxStreamDataBidiLocal: 0,
  initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0,
  initialMaxStreamsBidi: 0,
  initialMaxStreamsUni: 0,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  disableActiveMigration: false,
  activeConnectionIdLimit: 2,
  maxDatagramFrameSize: 0,
  channelsSupported: false,
});

export const MIN_UDP_PAYLOAD_SIZE = 1200;
export const MAX_ACK_DELAY_EXPONENT = 20;
/** max_ack_delay values at or above 2^14 ms are invalid. */
export const MAX_ACK_DELAY_LIMIT = 1 << 14;
// Stream counts above 2^60 are invalid in RFC 9000 §4.6; Petrel's 2^53 - 1 field limit (spec §Integers) is stricter.

type IntKey =
  | 'maxIdleTimeout'
  | 'maxUdpPayloadSize'
  | 'initialMaxData'
  | 'initialMaxStreamDataBidiLocal'
  | 'initialMaxStreamDataBidiRemote'
  | 'initialMaxStreamDataUni'
  | 'initialMaxStreamsBidi'
  | 'initialMaxStreamsUni'
  | 'ackDelayExponent'
  | 'maxAckDelay'
  | 'activeConnectionIdLimit'
  | 'maxDatagramFrameSize'
  | 'minAckDelay';
type CidKey = 'originalDestinationConnectionId' | 'initialSourceConnectionId' | 'retrySourceConnectionId';
type FlagKey = 'disableActiveMigration' | 'channelsSupported';

type Spec =
  | { kind: 'int'; key: IntKey; min?: number; max?: number }
  | { kind: 'cid'; key: CidKey }
  | { kind: 'flag'; key: FlagKey }
  | { kind: 'token'; key: 'statelessResetToken' };

const ID = TransportParameterId;
/** In ascending id order: the encoder writes them in this order. */
const SPECS: ReadonlyArray<readonly [number, Spec, boolean /* server only */]> = [
  [ID.ORIGINAL_DESTINATION_CONNECTION_ID, { kind: 'cid', key: 'originalDestinationConnectionId' }, true],
  [ID.MAX_IDLE_TIMEOUT, { kind: 'int', key: 'maxIdleTimeout' }, false],
  [ID.STATELESS_RESET_TOKEN, { kind: 'token', key: 'statelessResetToken' }, true],
  [ID.MAX_UDP_PAYLOAD_SIZE, { kind: 'int', key: 'maxUdpPayloadSize', min: MIN_UDP_PAYLOAD_SIZE }, false],
  [ID.INITIAL_MAX_DATA, { kind: 'int', key: 'initialMaxData' }, false],
  [ID.INITIAL_MAX_STREAM_DATA_BIDI_LOCAL, { kind: 'int', key: 'initialMaxStreamDataBidiLocal' }, false],
  [ID.INITIAL_MAX_STREAM_DATA_BIDI_REMOTE, { kind: 'int', key: 'initialMaxStreamDataBidiRemote' }, false],
  [ID.INITIAL_MAX_STREAM_DATA_UNI, { kind: 'int', key: 'initialMaxStreamDataUni' }, false],
  [ID.INITIAL_MAX_STREAMS_BIDI, { kind: 'int', key: 'initialMaxStreamsBidi' }, false],
  [ID.INITIAL_MAX_STREAMS_UNI, { kind: 'int', key: 'initialMaxStreamsUni' }, false],
  [ID.ACK_DELAY_EXPONENT, { kind: 'int', key: 'ackDelayExponent', max: MAX_ACK_DELAY_EXPONENT }, false],
  [ID.MAX_ACK_DELAY, { kind: 'int', key: 'maxAckDelay', max: MAX_ACK_DELAY_LIMIT - 1 }, false],
  [ID.DISABLE_ACTIVE_MIGRATION, { kind: 'flag', key: 'disableActiveMigration' }, false],
  [ID.ACTIVE_CONNECTION_ID_LIMIT, { kind: 'int', key: 'activeConnectionIdLimit', min: 2 }, false],
  [ID.INITIAL_SOURCE_CONNECTION_ID, { kind: 'cid', key: 'initialSourceConnectionId' }, false],
  [ID.RETRY_SOURCE_CONNECTION_ID, { kind: 'cid', key: 'retrySourceConnectionId' }, true],
  [ID.MAX_DATAGRAM_FRAME_SIZE, { kind: 'int', key: 'maxDatagramFrameSize' }, false],
  [ID.CHANNELS_SUPPORTED, { kind: 'flag', key: 'channelsSupported' }, false],
  [ID.MIN_ACK_DELAY, { kind: 'int', key: 'minAckDelay' }, false],
];
const BY_ID = new Map(SPECS.map((s) => [s[0], s] as const));

function tpError(message: string): never {
  throw new PetrelWireError(TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message);
}

function checkInt(spec: { key: string; min?: number; max?: number }, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) tpError(`${spec.key} is not a non-negative integer: ${v}`);
  if (spec.min !== undefined && v < spec.min) tpError(`${spec.key} ${v} below ${spec.min}`);
  if (spec.max !== undefined && v > spec.max) tpError(`${spec.key} ${v} above ${spec.max}`);
}

function checkCross(p: TransportParameters): void {
  if (p.minAckDelay !== undefined && p.minAckDelay > p.maxAckDelay * 1000) {
    tpError(`minAckDelay ${p.minAckDelay} µs above maxAckDelay ${p.maxAckDelay} ms`);
  }
}

/**
 * Writes the parameters `sender` announces, omitting every value equal to its default.
 * Throws TRANSPORT_PARAMETER_ERROR for a value the decoder would reject (a local bug).
 */
export function encodeTransportParameters(p: TransportParameters, w: ByteWriter, sender: 'client' | 'server'): void {
  checkCross(p);
  for (const [id, spec, serverOnly] of SPECS) {
    const v = p[spec.key];
    if (v === undefined) continue;
    if (serverOnly && sender === 'client') tpError(`${spec.key} is sent by servers only`);
    switch (spec.kind) {
      case 'int': {
        const n = v as number;
        checkInt(spec, n);
        if (n === DEFAULT_TRANSPORT_PARAMETERS[spec.key]) continue;
        w.varint(id);
        w.varint(varintSize(n));
        w.varint(n);
        break;
      }
      case 'flag':
        if (!v) continue;
        w.varint(id);
        w.varint(0);
        break;
      case 'cid':
      case 'token': {
        const b = v as Uint8Array;
        if (spec.kind === 'cid' ? b.length > MAX_CID_LENGTH : b.length !== STATELESS_RESET_TOKEN_LENGTH) {
          tpError(`${spec.key} has a bad length ${b.length}`);
        }
        w.varint(id);
        w.varint(b.length);
        w.bytes(b);
        break;
      }
    }
  }
}

/**
 * Decodes and validates the parameters a peer (`sender`) announced; absent ones take their defaults.
 * Byte fields are copies (the input is a handshake buffer the caller may reuse).
 */
export function decodeTransportParameters(bytes: Uint8Array, sender: 'client' | 'server'): TransportParameters {
  const p: TransportParameters = { ...DEFAULT_TRANSPORT_PARAMETERS };
  const seen = new Set<number>();
  const r = new ByteReader(bytes, 0, bytes.length, TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
  while (r.remaining > 0) {
    const id = r.varint();
    const len = r.varint();
    const value = r.bytes(len);
    const entry = BY_ID.get(id);
    if (!entry) continue; // unknown or reserved: skipped
    if (seen.has(id)) tpError(`parameter 0x${id.toString(16)} appears twice`);
    seen.add(id);
    const [, spec, serverOnly] = entry;
    if (serverOnly && sender === 'client') tpError(`${spec.key} sent by a client`);
    switch (spec.kind) {
      case 'int': {
        const vr = new ByteReader(value, 0, len, TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
        const n = vr.varint();
        if (vr.remaining !== 0) tpError(`${spec.key} value does not fill its length`);
        checkInt(spec, n);
        p[spec.key] = n;
        break;
      }
      case 'flag':
        if (len !== 0) tpError(`${spec.key} must be empty`);
        p[spec.key] = true;
        break;
      case 'cid':
        if (len > MAX_CID_LENGTH) tpError(`${spec.key} longer than ${MAX_CID_LENGTH} bytes`);
        p[spec.key] = value.slice();
        break;
      case 'token':
        if (len !== STATELESS_RESET_TOKEN_LENGTH) tpError('stateless_reset_token must be 16 bytes');
        p.statelessResetToken = value.slice();
        break;
    }
  }
  checkCross(p);
  return p;
}
