/**
 * A hand-written, JSON-Schema-like description of every qlog record Petrel writes (header, events, frames), and a
 * small validator for it. Strict on purpose: unknown events, unknown fields and wrong types are errors, so a test
 * or `tools/qlog/validate.ts` catches a core change that would make a file qvis misreads.
 *
 * Error messages are `<path>: <problem>`, e.g. `data.header: missing required field "packet_number"`,
 * `data.frames[0].offset: expected integer, got string`, `name: unknown event name "transport:foo"`.
 */
import { QLOG_FORMAT, QLOG_TRANSPORT_ERRORS, QLOG_VERSION, type QlogEventName } from './events.js';

export type SchemaNode =
  | { type: 'string'; enum?: readonly string[]; pattern?: RegExp }
  | { type: 'number'; minimum?: number }
  | { type: 'integer'; minimum?: number }
  | { type: 'boolean'; const?: boolean }
  | { type: 'array'; items: SchemaNode; minItems?: number; maxItems?: number }
  | ObjectSchema
  /** Discriminated union of objects: `variants[value[tag]]` applies. */
  | { type: 'tagged'; tag: string; variants: Readonly<Record<string, ObjectSchema>> }
  /** Valid when any alternative is; `description` names the alternatives in messages. */
  | { anyOf: readonly SchemaNode[]; description: string };

export interface ObjectSchema {
  type: 'object';
  properties: Readonly<Record<string, SchemaNode>>;
  required?: readonly string[];
  /** Default false: fields not listed are errors. */
  additionalProperties?: boolean;
  /** Cross-field rule; returns a problem or null. */
  check?: (value: Record<string, unknown>) => string | null;
}

// ---- building blocks ----

const str: SchemaNode = { type: 'string' };
const hex: SchemaNode = { type: 'string', pattern: /^[0-9a-f]*$/ };
const num: SchemaNode = { type: 'number', minimum: 0 };
const uint: SchemaNode = { type: 'integer', minimum: 0 };
const bool: SchemaNode = { type: 'boolean' };
const trueOnly: SchemaNode = { type: 'boolean', const: true };
const oneOf = (...values: string[]): SchemaNode => ({ type: 'string', enum: values });
const arrayOf = (items: SchemaNode, minItems?: number, maxItems?: number): SchemaNode => ({ type: 'array', items, minItems, maxItems });

function obj(properties: Record<string, SchemaNode>, required: readonly string[] = [], check?: ObjectSchema['check']): ObjectSchema {
  return { type: 'object', properties, required, check };
}

const owner = oneOf('local', 'remote');
const streamType = oneOf('bidirectional', 'unidirectional');
const rawInfo = obj({ length: uint, payload_length: uint });

const PACKET_TYPES = ['initial', 'handshake', '0RTT', '1RTT', 'retry', 'version_negotiation', 'stateless_reset', 'unknown'];
const NUMBERED = new Set(['initial', 'handshake', '0RTT', '1RTT']);

const packetHeader = obj({ packet_type: oneOf(...PACKET_TYPES), packet_number: uint, dcid: hex, scid: hex }, ['packet_type'], (h) =>
  NUMBERED.has(h['packet_type'] as string) && h['packet_number'] === undefined ? 'missing required field "packet_number"' : null,
);

const connectionCode: SchemaNode = {
  anyOf: [oneOf(...QLOG_TRANSPORT_ERRORS), { type: 'string', pattern: /^crypto_error_0x1[0-9a-f]{2}$/ }, uint],
  description: 'a transport error name, crypto_error_0x1XX or an integer',
};

// ---- frames (quic-events-02 §QUIC frames) ----

export const FRAME_SCHEMAS: Readonly<Record<string, ObjectSchema>> = {
  padding: obj({ length: uint, payload_length: uint }, ['payload_length']),
  ping: obj({}),
  ack: obj({
    ack_delay: num,
    acked_ranges: arrayOf(arrayOf(uint, 1, 2)),
    ect1: uint,
    ect0: uint,
    ce: uint,
  }),
  reset_stream: obj({ stream_id: uint, error_code: uint, final_size: uint }, ['stream_id', 'error_code', 'final_size']),
  stop_sending: obj({ stream_id: uint, error_code: uint }, ['stream_id', 'error_code']),
  crypto: obj({ offset: uint, length: uint }, ['offset', 'length']),
  new_token: obj({ token: obj({ raw: rawInfo }) }, ['token']),
  stream: obj({ stream_id: uint, offset: uint, length: uint, fin: trueOnly }, ['stream_id', 'offset', 'length']),
  max_data: obj({ maximum: uint }, ['maximum']),
  max_stream_data: obj({ stream_id: uint, maximum: uint }, ['stream_id', 'maximum']),
  max_streams: obj({ stream_type: streamType, maximum: uint }, ['stream_type', 'maximum']),
  data_blocked: obj({ limit: uint }, ['limit']),
  stream_data_blocked: obj({ stream_id: uint, limit: uint }, ['stream_id', 'limit']),
  streams_blocked: obj({ stream_type: streamType, limit: uint }, ['stream_type', 'limit']),
  new_connection_id: obj(
    { sequence_number: uint, retire_prior_to: uint, connection_id_length: uint, connection_id: hex, stateless_reset_token: hex },
    ['sequence_number', 'retire_prior_to', 'connection_id'],
  ),
  retire_connection_id: obj({ sequence_number: uint }, ['sequence_number']),
  path_challenge: obj({ data: hex }),
  path_response: obj({ data: hex }),
  connection_close: obj({
    error_space: oneOf('transport', 'application'),
    error_code: connectionCode,
    raw_error_code: uint,
    reason: str,
    trigger_frame_type: uint,
  }),
  handshake_done: obj({}),
  datagram: obj({ length: uint }),
  ack_frequency: obj({ sequence_number: uint, ack_eliciting_threshold: uint, request_max_ack_delay: num, reordering_threshold: uint }),
  immediate_ack: obj({}),
  unknown: obj({ raw_frame_type: uint }, ['raw_frame_type']),
};

const frame: SchemaNode = { type: 'tagged', tag: 'frame_type', variants: FRAME_SCHEMAS };
const frames = arrayOf(frame);

// ---- events ----

const CONNECTION_STATES = [
  'attempted',
  'peer_validated',
  'handshake_started',
  'early_write',
  'handshake_complete',
  'handshake_confirmed',
  'closing',
  'draining',
  'closed',
];
const STREAM_STATES = [
  'idle',
  'open',
  'half_closed_local',
  'half_closed_remote',
  'closed',
  'ready',
  'send',
  'data_sent',
  'reset_sent',
  'reset_received',
  'receive',
  'size_known',
  'data_read',
  'reset_read',
  'data_received',
  'destroyed',
];
const CC_STATES = ['slow_start', 'congestion_avoidance', 'recovery', 'application_limited'];
const pathData = obj({ dst_ip: str, dst_port: uint, ip_changed: bool }, ['dst_ip', 'dst_port']);

export const EVENT_SCHEMAS: Readonly<Record<QlogEventName, ObjectSchema>> = {
  'connectivity:connection_started': obj(
    {
      ip_version: oneOf('ipv4', 'ipv6'),
      src_ip: str,
      dst_ip: str,
      protocol: str,
      src_port: uint,
      dst_port: uint,
      src_cid: hex,
      dst_cid: hex,
    },
    ['src_ip', 'dst_ip'],
  ),
  'connectivity:connection_closed': obj({
    owner,
    connection_code: connectionCode,
    application_code: uint,
    internal_code: uint,
    reason: str,
    trigger: oneOf('clean', 'handshake_timeout', 'idle_timeout', 'error', 'stateless_reset', 'version_mismatch', 'application'),
  }),
  'connectivity:connection_state_updated': obj({ old: oneOf(...CONNECTION_STATES), new: oneOf(...CONNECTION_STATES) }, ['new']),
  'connectivity:connection_id_updated': obj({ owner, old: hex, new: hex }, ['owner']),
  'transport:parameters_set': obj({
    owner,
    resumption_allowed: bool,
    early_data_enabled: bool,
    tls_cipher: str,
    original_destination_connection_id: hex,
    initial_source_connection_id: hex,
    retry_source_connection_id: hex,
    stateless_reset_token: hex,
    disable_active_migration: bool,
    max_idle_timeout: uint,
    max_udp_payload_size: uint,
    ack_delay_exponent: uint,
    max_ack_delay: uint,
    active_connection_id_limit: uint,
    initial_max_data: uint,
    initial_max_stream_data_bidi_local: uint,
    initial_max_stream_data_bidi_remote: uint,
    initial_max_stream_data_uni: uint,
    initial_max_streams_bidi: uint,
    initial_max_streams_uni: uint,
    max_datagram_frame_size: uint,
    min_ack_delay: num,
  }),
  'transport:packet_sent': obj(
    {
      header: packetHeader,
      frames,
      is_coalesced: bool,
      raw: rawInfo,
      trigger: oneOf('retransmit_reordered', 'retransmit_timeout', 'pto_probe', 'retransmit_crypto', 'cc_bandwidth_probe'),
    },
    // qlog makes frames optional; Petrel always knows them, and qvis draws little without them.
    ['header', 'frames'],
  ),
  'transport:packet_received': obj({ header: packetHeader, frames, is_coalesced: bool, raw: rawInfo, trigger: oneOf('keys_available') }, ['header']),
  'transport:packet_dropped': obj({
    header: packetHeader,
    raw: rawInfo,
    trigger: oneOf(
      'key_unavailable',
      'unknown_connection_id',
      'header_parse_error',
      'payload_decrypt_error',
      'protocol_violation',
      'dos_prevention',
      'unsupported_version',
      'unexpected_packet',
      'unexpected_source_connection_id',
      'unexpected_version',
      'duplicate',
      'invalid_initial',
    ),
  }),
  'transport:datagrams_sent': obj({ count: uint, raw: arrayOf(rawInfo) }),
  'transport:datagrams_received': obj({ count: uint, raw: arrayOf(rawInfo) }),
  'transport:datagram_dropped': obj({ raw: rawInfo }),
  'transport:stream_state_updated': obj(
    {
      stream_id: uint,
      stream_type: streamType,
      old: oneOf(...STREAM_STATES),
      new: oneOf(...STREAM_STATES),
      stream_side: oneOf('sending', 'receiving'),
    },
    ['stream_id', 'new'],
  ),
  'recovery:parameters_set': obj({
    reordering_threshold: uint,
    time_threshold: num,
    timer_granularity: num,
    initial_rtt: num,
    max_datagram_size: uint,
    initial_congestion_window: uint,
    minimum_congestion_window: uint,
    loss_reduction_factor: num,
    persistent_congestion_threshold: uint,
  }),
  'recovery:metrics_updated': obj(
    {
      min_rtt: num,
      smoothed_rtt: num,
      latest_rtt: num,
      rtt_variance: num,
      pto_count: uint,
      congestion_window: uint,
      bytes_in_flight: uint,
      ssthresh: uint,
      packets_in_flight: uint,
      pacing_rate: num,
    },
    [],
    (m) => (Object.keys(m).length === 0 ? 'metrics_updated carries no metric' : null),
  ),
  'recovery:congestion_state_updated': obj({ old: oneOf(...CC_STATES), new: oneOf(...CC_STATES), trigger: oneOf('persistent_congestion', 'ECN') }, [
    'new',
  ]),
  'recovery:loss_timer_updated': obj(
    {
      timer_type: oneOf('ack', 'pto'),
      packet_number_space: oneOf('initial', 'handshake', 'application_data'),
      event_type: oneOf('set', 'expired', 'cancelled'),
      delta: num,
    },
    ['event_type'],
  ),
  'recovery:packet_lost': obj({ header: packetHeader, frames, trigger: oneOf('reordering_threshold', 'time_threshold', 'pto_expired') }),
  'petrel:path_changed': pathData,
  'petrel:path_validated': pathData,
};

export const QLOG_EVENT_NAMES: readonly QlogEventName[] = Object.keys(EVENT_SCHEMAS) as QlogEventName[];

const HEADER_SCHEMA: ObjectSchema = {
  type: 'object',
  properties: {
    qlog_version: { type: 'string', enum: [QLOG_VERSION] },
    qlog_format: { type: 'string', enum: [QLOG_FORMAT] },
    title: str,
    description: str,
    trace: {
      type: 'object',
      properties: {
        title: str,
        description: str,
        vantage_point: obj({ name: str, type: oneOf('client', 'server', 'network', 'unknown'), flow: oneOf('client', 'server') }, ['type']),
        common_fields: {
          type: 'object',
          properties: {
            ODCID: hex,
            reference_time: num,
            time_format: oneOf('relative'),
            group_id: str,
            protocol_type: arrayOf(str),
          },
          required: ['reference_time', 'time_format'],
        },
        configuration: { type: 'object', properties: {}, additionalProperties: true },
      },
      required: ['vantage_point', 'common_fields'],
    },
  },
  required: ['qlog_version', 'qlog_format', 'trace'],
};

// ---- validator ----

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : Number.isNaN(v) ? 'NaN' : 'number';
  return typeof v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateNode(node: SchemaNode, v: unknown, path: string, errors: string[]): void {
  if ('anyOf' in node) {
    for (const alt of node.anyOf) {
      const sub: string[] = [];
      validateNode(alt, v, path, sub);
      if (sub.length === 0) return;
    }
    errors.push(`${path}: expected ${node.description}, got ${typeof v === 'string' ? JSON.stringify(v) : typeName(v)}`);
    return;
  }
  switch (node.type) {
    case 'string':
      if (typeof v !== 'string') errors.push(`${path}: expected string, got ${typeName(v)}`);
      else if (node.enum && !node.enum.includes(v)) errors.push(`${path}: ${JSON.stringify(v)} is not one of ${node.enum.join(', ')}`);
      else if (node.pattern && !node.pattern.test(v)) errors.push(`${path}: ${JSON.stringify(v)} does not match ${node.pattern}`);
      return;
    case 'number':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isFinite(v) || (node.type === 'integer' && !Number.isInteger(v))) {
        errors.push(`${path}: expected ${node.type}, got ${typeName(v)}`);
      } else if (node.minimum !== undefined && v < node.minimum) {
        errors.push(`${path}: ${v} is below the minimum ${node.minimum}`);
      }
      return;
    }
    case 'boolean':
      if (typeof v !== 'boolean') errors.push(`${path}: expected boolean, got ${typeName(v)}`);
      else if (node.const !== undefined && v !== node.const) errors.push(`${path}: must be ${node.const} when present`);
      return;
    case 'array': {
      if (!Array.isArray(v)) {
        errors.push(`${path}: expected array, got ${typeName(v)}`);
        return;
      }
      if (node.minItems !== undefined && v.length < node.minItems) errors.push(`${path}: expected at least ${node.minItems} items, got ${v.length}`);
      if (node.maxItems !== undefined && v.length > node.maxItems) errors.push(`${path}: expected at most ${node.maxItems} items, got ${v.length}`);
      for (let i = 0; i < v.length; i++) validateNode(node.items, v[i], `${path}[${i}]`, errors);
      return;
    }
    case 'object':
      validateObject(node, v, path, errors);
      return;
    case 'tagged': {
      if (!isRecord(v)) {
        errors.push(`${path}: expected object, got ${typeName(v)}`);
        return;
      }
      const tag = v[node.tag];
      if (typeof tag !== 'string') {
        errors.push(
          tag === undefined ? `${path}: missing required field "${node.tag}"` : `${path}.${node.tag}: expected string, got ${typeName(tag)}`,
        );
        return;
      }
      const variant = Object.hasOwn(node.variants, tag) ? node.variants[tag] : undefined;
      if (!variant) {
        errors.push(`${path}.${node.tag}: unknown ${node.tag} ${JSON.stringify(tag)}`);
        return;
      }
      validateObject(variant, v, path, errors, node.tag);
      return;
    }
  }
}

function validateObject(node: ObjectSchema, v: unknown, path: string, errors: string[], tagField?: string): void {
  if (!isRecord(v)) {
    errors.push(`${path}: expected object, got ${typeName(v)}`);
    return;
  }
  for (const r of node.required ?? []) {
    if (v[r] === undefined) errors.push(`${path}: missing required field "${r}"`);
  }
  for (const k of Object.keys(v)) {
    // An undefined member is absent once serialised, so it is judged as absent (by `required` above).
    if (k === tagField || v[k] === undefined) continue;
    const sub = Object.hasOwn(node.properties, k) ? node.properties[k] : undefined;
    if (sub) validateNode(sub, v[k], `${path}.${k}`, errors);
    else if (!node.additionalProperties) errors.push(`${path}: unknown field "${k}"`);
  }
  if (node.check) {
    const problem = node.check(v);
    if (problem !== null) errors.push(`${path}: ${problem}`);
  }
}

/** Problems with a JSON-SEQ header record; empty when valid. */
export function validateQlogHeader(record: unknown): string[] {
  const errors: string[] = [];
  validateObject(HEADER_SCHEMA, record, 'header', errors);
  return errors;
}

export interface ValidateOptions {
  /** Accept event names this schema does not know (their data is not checked), e.g. the simulator's `sim:` events. */
  allowUnknownEvents?: boolean;
}

/** Problems with one event record `{time, name, data}`; empty when valid. */
export function validateQlogRecord(record: unknown, opts: ValidateOptions = {}): string[] {
  const errors: string[] = [];
  if (!isRecord(record)) return [`record: expected object, got ${typeName(record)}`];
  for (const k of Object.keys(record)) {
    if (k !== 'time' && k !== 'name' && k !== 'data') errors.push(`record: unknown field "${k}"`);
  }
  const { time, name, data } = record;
  if (time === undefined) errors.push('record: missing required field "time"');
  else validateNode(num, time, 'time', errors);
  if (name === undefined) errors.push('record: missing required field "name"');
  else if (typeof name !== 'string') errors.push(`name: expected string, got ${typeName(name)}`);
  if (data === undefined) errors.push('record: missing required field "data"');
  else if (!isRecord(data)) errors.push(`data: expected object, got ${typeName(data)}`);
  if (typeof name !== 'string' || !isRecord(data)) return errors;
  const schema = Object.hasOwn(EVENT_SCHEMAS, name) ? EVENT_SCHEMAS[name as QlogEventName] : undefined;
  if (!schema) {
    if (!opts.allowUnknownEvents) errors.push(`name: unknown event name ${JSON.stringify(name)}`);
    return errors;
  }
  validateObject(schema, data, 'data', errors);
  return errors;
}

// ---- whole files ----

/** Splits JSON-SEQ text into parsed records. Unparseable records are reported by their 0-based index. */
export function parseJsonSeq(text: string): { records: unknown[]; errors: Array<{ index: number; message: string }> } {
  const records: unknown[] = [];
  const errors: Array<{ index: number; message: string }> = [];
  const parts = text.split('\x1e');
  if (parts[0]!.trim() !== '') errors.push({ index: -1, message: 'text before the first record separator (is this JSON-SEQ?)' });
  for (let i = 1; i < parts.length; i++) {
    const body = parts[i]!.trim();
    if (body === '') continue;
    try {
      records.push(JSON.parse(body));
    } catch (e) {
      errors.push({ index: records.length, message: `invalid JSON: ${(e as Error).message}` });
      records.push(undefined);
    }
  }
  return { records, errors };
}

export interface QlogFileReport {
  /** Event records (header excluded). */
  events: number;
  /** Events per name, in first-seen order. */
  counts: Map<string, number>;
  /** `record N: problem` (N counts records from 0 = header). */
  errors: string[];
}

/** Validates a whole .sqlog text: header first, then events with valid data and non-decreasing times. */
export function validateQlogText(text: string, opts: ValidateOptions = {}): QlogFileReport {
  const { records, errors: parseErrors } = parseJsonSeq(text);
  const errors = parseErrors.map((e) => (e.index < 0 ? e.message : `record ${e.index}: ${e.message}`));
  const counts = new Map<string, number>();
  if (records.length === 0) {
    errors.push('no records');
    return { events: 0, counts, errors };
  }
  if (records[0] !== undefined) for (const e of validateQlogHeader(records[0])) errors.push(`record 0: ${e}`);
  let lastTime = -Infinity;
  for (let i = 1; i < records.length; i++) {
    const r = records[i];
    if (r === undefined) continue; // already reported as invalid JSON
    for (const e of validateQlogRecord(r, opts)) errors.push(`record ${i}: ${e}`);
    if (isRecord(r)) {
      if (typeof r['name'] === 'string') counts.set(r['name'], (counts.get(r['name']) ?? 0) + 1);
      const t = r['time'];
      if (typeof t === 'number') {
        if (t < lastTime) errors.push(`record ${i}: time ${t} is before the previous event's ${lastTime}`);
        else lastTime = t;
      }
    }
  }
  return { events: records.length - 1, counts, errors };
}
