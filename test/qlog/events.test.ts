import { describe, expect, it } from 'vitest';
import * as E from '../../lib/qlog/events.js';
import type { QlogEvent, QlogFrame } from '../../lib/qlog/events.js';
import { FRAME_SCHEMAS, QLOG_EVENT_NAMES, validateQlogRecord } from '../../lib/qlog/schema.js';

/** One sample of every frame Petrel can log, full fields. */
const FRAMES: QlogFrame[] = [
  { frame_type: 'padding', payload_length: 10 },
  { frame_type: 'ping' },
  { frame_type: 'ack', ack_delay: 1.25, acked_ranges: [[0, 3], [5]], ect0: 1, ect1: 0, ce: 0 },
  { frame_type: 'reset_stream', stream_id: 4, error_code: 7, final_size: 100 },
  { frame_type: 'stop_sending', stream_id: 4, error_code: 7 },
  { frame_type: 'crypto', offset: 0, length: 300 },
  { frame_type: 'new_token', token: { raw: { length: 32 } } },
  { frame_type: 'stream', stream_id: 0, offset: 0, length: 10, fin: true },
  { frame_type: 'max_data', maximum: 1 << 20 },
  { frame_type: 'max_stream_data', stream_id: 8, maximum: 65536 },
  { frame_type: 'max_streams', stream_type: 'unidirectional', maximum: 100 },
  { frame_type: 'data_blocked', limit: 1000 },
  { frame_type: 'stream_data_blocked', stream_id: 8, limit: 1000 },
  { frame_type: 'streams_blocked', stream_type: 'bidirectional', limit: 100 },
  {
    frame_type: 'new_connection_id',
    sequence_number: 1,
    retire_prior_to: 0,
    connection_id_length: 2,
    connection_id: 'abcd',
    stateless_reset_token: '00'.repeat(16),
  },
  { frame_type: 'retire_connection_id', sequence_number: 0 },
  { frame_type: 'path_challenge', data: '0102030405060708' },
  { frame_type: 'path_response', data: '0102030405060708' },
  {
    frame_type: 'connection_close',
    error_space: 'transport',
    error_code: 'protocol_violation',
    raw_error_code: 10,
    reason: 'x',
    trigger_frame_type: 8,
  },
  { frame_type: 'handshake_done' },
  { frame_type: 'datagram', length: 50 },
  { frame_type: 'ack_frequency', sequence_number: 0, ack_eliciting_threshold: 9, request_max_ack_delay: 25, reordering_threshold: 0 },
  { frame_type: 'immediate_ack' },
  { frame_type: 'unknown', raw_frame_type: 0x40 },
];

const H = E.packetHeader('1RTT', 12);

/** One output of every builder. */
const EVENTS: QlogEvent[] = [
  E.connectionStarted({
    ip_version: 'ipv4',
    src_ip: '10.0.0.1',
    dst_ip: '10.0.0.2',
    protocol: 'QUIC',
    src_port: 1,
    dst_port: 2,
    src_cid: 'aa',
    dst_cid: 'bb',
  }),
  E.connectionClosed({ owner: 'remote', connection_code: 'crypto_error_0x12a', reason: 'bad cert', trigger: 'error' }),
  E.connectionStateUpdated('handshake_confirmed', 'handshake_complete'),
  E.connectionIdUpdated({ owner: 'remote', old: 'aa', new: 'bb' }),
  E.transportParametersSet({ owner: 'local', max_idle_timeout: 30000, ack_delay_exponent: 3, initial_max_data: 1 << 20, min_ack_delay: 1 }),
  E.packetSent(H, FRAMES, { length: 1200, trigger: 'pto_probe', isCoalesced: true }),
  E.packetReceived(E.packetHeader('handshake', 0), [{ frame_type: 'crypto', offset: 0, length: 10 }], { length: 60 }),
  E.packetDropped({ header: E.packetHeader('initial', 2), raw: { length: 1200 }, trigger: 'payload_decrypt_error' }),
  E.datagramsSent([1200, 1000]),
  E.datagramsReceived([64]),
  E.datagramDropped(1300),
  E.streamStateUpdated({ stream_id: 2, stream_type: E.streamTypeOf(2), old: 'open', new: 'closed', stream_side: 'sending' }),
  E.recoveryParametersSet({ reordering_threshold: 3, time_threshold: 1.125, timer_granularity: 1, initial_rtt: 333, max_datagram_size: 1472 }),
  E.metricsUpdated({
    min_rtt: 10,
    smoothed_rtt: 12.5,
    latest_rtt: 11,
    rtt_variance: 2,
    congestion_window: 14720,
    bytes_in_flight: 2400,
    ssthresh: 7360,
    pto_count: 0,
  }),
  E.congestionStateUpdated('recovery', 'slow_start'),
  E.lossTimerUpdated({ timer_type: 'pto', packet_number_space: 'application_data', event_type: 'set', delta: 40 }),
  E.packetLost(H, { frames: [{ frame_type: 'stream', stream_id: 0, offset: 0, length: 10 }], trigger: 'time_threshold' }),
  E.pathChanged({ dst_ip: '10.0.0.9', dst_port: 7000, ip_changed: false }),
  E.pathValidated({ dst_ip: '10.0.0.9', dst_port: 7000 }),
];

describe('qlog event builders', () => {
  it('cover every event name in the schema', () => {
    expect(new Set(EVENTS.map((e) => e.name))).toEqual(new Set(QLOG_EVENT_NAMES));
  });

  it('produce records that validate', () => {
    for (const e of EVENTS) {
      expect(validateQlogRecord({ time: 1, name: e.name, data: e.data }), e.name).toEqual([]);
    }
  });

  it('every frame type in the schema has a sample here, and each validates inside a packet', () => {
    expect(new Set(FRAMES.map((f) => f.frame_type))).toEqual(new Set(Object.keys(FRAME_SCHEMAS)));
    for (const f of FRAMES) {
      const e = E.packetSent(H, [f]);
      expect(validateQlogRecord({ time: 0, ...e }), f.frame_type).toEqual([]);
    }
  });

  it('drop undefined fields and non-finite numbers (JSON has no Infinity)', () => {
    const e = E.metricsUpdated({ congestion_window: 12000, ssthresh: Infinity, latest_rtt: Number.NaN, min_rtt: undefined });
    expect(e.data).toEqual({ congestion_window: 12000 });
    expect(Object.keys(e.data)).toEqual(['congestion_window']);
  });

  it('write optional packet fields only when set', () => {
    expect(E.packetSent(H, []).data).toEqual({ header: { packet_type: '1RTT', packet_number: 12 }, frames: [] });
    expect(E.packetReceived(H, undefined).data).toEqual({ header: { packet_type: '1RTT', packet_number: 12 } });
    expect(E.packetHeader('version_negotiation')).toEqual({ packet_type: 'version_negotiation' });
    expect(E.connectionStateUpdated('attempted').data).toEqual({ new: 'attempted' });
    expect(E.datagramDropped().data).toEqual({});
    expect(E.datagramsSent([7]).data).toEqual({ count: 1, raw: [{ length: 7 }] });
  });

  it('derive the stream type from bit 1 of the stream id', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 2 ** 40 + 2].map(E.streamTypeOf)).toEqual([
      'bidirectional',
      'bidirectional',
      'unidirectional',
      'unidirectional',
      'bidirectional',
      'bidirectional',
      'unidirectional',
      'unidirectional',
      'unidirectional',
    ]);
  });
});
