import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createConnectionQlog,
  createQlogTrace,
  qlogConnectionCode,
  qlogTraceFor,
  toQlogFrame,
  type CoreSentFrame,
  type QlogTraceFn,
} from '../../lib/qlog/adapter.js';
import { QlogWriter } from '../../lib/qlog/writer.js';
import { validateQlogRecord, validateQlogText } from '../../lib/qlog/schema.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { DEFAULT_TRANSPORT_PARAMETERS } from '../../lib/wire/transport-params.js';
import type { CoreEnv } from '../../lib/connection/types.js';

interface Rec {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

function setup(opts: Parameters<typeof createQlogTrace>[1] = {}): {
  trace: QlogTraceFn;
  events: () => Rec[];
  text: () => string;
  writer: QlogWriter;
} {
  const out: string[] = [];
  const writer = new QlogWriter((r) => void out.push(r), { vantagePoint: 'client', odcid: 'a1b2', referenceTime: 1000 });
  const trace = createQlogTrace(writer, opts);
  return { trace, writer, text: () => out.join(''), events: () => out.slice(1).map((r) => JSON.parse(r.slice(1)) as Rec) };
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** One decoded wire frame of every kind (lib/wire/frame-types.ts). */
const WIRE: Frame[] = [
  { type: 'padding', length: 20 },
  { type: 'ping' },
  {
    type: 'ack',
    ackDelay: 125,
    ranges: [
      { smallest: 9, largest: 10 },
      { smallest: 0, largest: 6 },
    ],
    ecn: { ect0: 3, ect1: 0, ce: 1 },
  },
  { type: 'reset_stream', streamId: 4, errorCode: 9, finalSize: 1000 },
  { type: 'stop_sending', streamId: 4, errorCode: 9 },
  { type: 'crypto', offset: 100, data: new Uint8Array(50) },
  { type: 'new_token', token: new Uint8Array(16) },
  { type: 'stream', streamId: 8, offset: 0, data: new Uint8Array(30), fin: false },
  { type: 'max_data', maximum: 5000 },
  { type: 'max_stream_data', streamId: 8, maximum: 6000 },
  { type: 'max_streams', bidi: false, maximum: 10 },
  { type: 'data_blocked', limit: 5000 },
  { type: 'stream_data_blocked', streamId: 8, limit: 6000 },
  { type: 'streams_blocked', bidi: true, limit: 10 },
  { type: 'new_connection_id', sequence: 2, retirePriorTo: 1, connectionId: bytes(1, 2, 3, 4), resetToken: new Uint8Array(16).fill(0xee) },
  { type: 'retire_connection_id', sequence: 1 },
  { type: 'path_challenge', data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
  { type: 'path_response', data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
  { type: 'connection_close', application: false, errorCode: 0x0a, frameType: 0x08, reason: new TextEncoder().encode('bad frame') },
  { type: 'handshake_done' },
  { type: 'immediate_ack' },
  { type: 'datagram', data: new Uint8Array(12) },
  { type: 'ack_frequency', sequence: 3, ackElicitingThreshold: 9, requestMaxAckDelay: 25000, reorderingThreshold: 0 },
];

/** One sent-frame record of every kind, with the fields qlog needs. */
const SENT: CoreSentFrame[] = [
  { k: 'stream', id: 4, offset: 100, length: 50, fin: true },
  { k: 'crypto', offset: 0, length: 200 },
  {
    k: 'ack',
    largest: 9,
    ranges: [
      { smallest: 8, largest: 9 },
      { smallest: 2, largest: 5 },
    ],
    delay: 1000,
  },
  { k: 'max_data', max: 1 << 20 },
  { k: 'max_stream_data', id: 4, max: 1 << 18 },
  { k: 'max_streams', bidi: true, max: 100 },
  { k: 'data_blocked', limit: 1 << 20 },
  { k: 'stream_data_blocked', id: 4, limit: 1 << 18 },
  { k: 'streams_blocked', bidi: false, limit: 100 },
  { k: 'reset_stream', id: 4, code: 3, finalSize: 150 },
  { k: 'stop_sending', id: 5, code: 3 },
  { k: 'handshake_done' },
  { k: 'ack_frequency', seq: 1, threshold: 9, maxDelay: 25000, reorder: 0 },
  { k: 'datagram', id: 17, length: 40 },
  { k: 'ping' },
  { k: 'immediate_ack' },
  { k: 'padding', length: 30 },
  { k: 'close', code: 0x0a, app: false, reason: 'oops', frameType: 8 },
  { k: 'new_cid', seq: 1, retirePriorTo: 0, cid: bytes(0xaa, 0xbb), resetToken: new Uint8Array(16) },
  { k: 'retire_cid', seq: 0 },
  { k: 'path_challenge', data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
  { k: 'path_response' },
];

describe('qlogTraceFor / createQlogTrace', () => {
  it('gives no trace function without a writer, so the core builds nothing', () => {
    expect(qlogTraceFor(null)).toBeUndefined();
    expect(qlogTraceFor(undefined)).toBeUndefined();
    const env: Pick<CoreEnv, 'trace'> = { trace: qlogTraceFor(null) };
    let built = 0;
    // The core's pattern: data objects are built only inside the guard.
    if (env.trace) env.trace('transport:packet_sent', { built: ++built });
    expect(built).toBe(0);
  });

  it('gives a function assignable to CoreEnv.trace when there is a writer, and writes nothing until called', () => {
    const out: string[] = [];
    const writer = new QlogWriter((r) => void out.push(r), { vantagePoint: 'server', odcid: 'ff', referenceTime: 0 });
    const env: Pick<CoreEnv, 'trace'> = { trace: qlogTraceFor(writer) };
    expect(typeof env.trace).toBe('function');
    expect(out).toHaveLength(1); // the header only
    env.trace!('transport:packet_received', { space: 'initial', pn: 0, size: 1200 });
    expect(out).toHaveLength(2);
  });

  it('createConnectionQlog wires a writer and its trace function together', () => {
    const out: string[] = [];
    const { writer, trace } = createConnectionQlog((r) => void out.push(r), { vantagePoint: 'client', odcid: bytes(1, 2), referenceTime: 0 });
    trace('connectivity:connection_state_updated', { state: 'handshake' }, 3);
    expect(writer.eventCount).toBe(1);
    expect(validateQlogText(out.join('')).errors).toEqual([]);
  });
});

describe('core → qlog mapping', () => {
  it('packet_sent: space → packet type, size → raw.length, sent-frame records → qlog frames', () => {
    const { trace, events } = setup();
    trace(
      'transport:packet_sent',
      {
        space: 'application',
        pn: 7,
        size: 1200,
        frames: [
          { k: 'stream', id: 4, offset: 100, length: 50, fin: true },
          { k: 'stream', id: 8, offset: 0, length: 10, fin: false },
          // default ack_delay_exponent 3: 1000 × 2^3 µs = 8 ms
          {
            k: 'ack',
            largest: 9,
            ranges: [
              { smallest: 8, largest: 9 },
              { smallest: 2, largest: 5 },
            ],
            delay: 1000,
          },
        ],
        probe: true,
      },
      1012.5,
    );
    expect(events()).toEqual([
      {
        time: 12.5,
        name: 'transport:packet_sent',
        data: {
          header: { packet_type: '1RTT', packet_number: 7 },
          frames: [
            { frame_type: 'stream', stream_id: 4, offset: 100, length: 50, fin: true },
            { frame_type: 'stream', stream_id: 8, offset: 0, length: 10 },
            {
              frame_type: 'ack',
              ack_delay: 8,
              acked_ranges: [
                [2, 5],
                [8, 9],
              ],
            },
          ],
          raw: { length: 1200 },
          trigger: 'pto_probe',
        },
      },
    ]);
  });

  it('scales ACK delays with the exponent each side announced in parameters_set', () => {
    const { trace, events } = setup();
    trace('transport:parameters_set', { owner: 'local', params: { ackDelayExponent: 0 } }, 1000);
    trace('transport:parameters_set', { owner: 'remote', params: { ackDelayExponent: 2 } }, 1000);
    trace('transport:packet_sent', { space: 'application', pn: 1, size: 50, frames: [{ k: 'ack', largest: 0, delay: 1000 }] }, 1001);
    trace(
      'transport:packet_received',
      { space: 'application', pn: 3, size: 60, frames: [{ type: 'ack', ackDelay: 250, ranges: [{ smallest: 0, largest: 1 }] }] },
      1002,
    );
    const [, , s, r] = events();
    expect((s!.data['frames'] as unknown[])[0]).toEqual({ frame_type: 'ack', ack_delay: 1 }); // 1000 µs
    expect((r!.data['frames'] as unknown[])[0]).toEqual({ frame_type: 'ack', ack_delay: 1, acked_ranges: [[0, 1]] }); // 250 × 4 µs
  });

  it('packet_received / packet_lost / handshake space / spaces given as ids', () => {
    const { trace, events } = setup();
    trace('transport:packet_received', { space: 'handshake', pn: 0, size: 300 }, 1000);
    trace('recovery:packet_lost', { space: 2, pn: 12, trigger: 'time_threshold' }, 1000);
    trace('recovery:packet_lost', { space: 'initial', pn: 1 }, 1000);
    expect(events().map((e) => e.data)).toEqual([
      { header: { packet_type: 'handshake', packet_number: 0 }, raw: { length: 300 } },
      { header: { packet_type: '1RTT', packet_number: 12 }, trigger: 'time_threshold' },
      { header: { packet_type: 'initial', packet_number: 1 } },
    ]);
  });

  it("today's name-only frame lists pass through, and the validator flags the frames that need fields", () => {
    const { trace, events } = setup();
    trace('transport:packet_sent', { space: 'application', pn: 1, size: 80, frames: ['ping', 'stream'] }, 1000);
    const e = events()[0]!;
    expect(e.data['frames']).toEqual([{ frame_type: 'ping' }, { frame_type: 'stream' }]);
    expect(validateQlogRecord(e)).toEqual([
      'data.frames[1]: missing required field "stream_id"',
      'data.frames[1]: missing required field "offset"',
      'data.frames[1]: missing required field "length"',
    ]);
  });

  it('an unknown sent-frame kind is kept by name so validation reports it', () => {
    const f = toQlogFrame({ k: 'warp_drive' } as unknown as CoreSentFrame);
    expect(f).toEqual({ frame_type: 'warp_drive' });
  });

  it('metrics_updated writes only what changed, leaves out Infinity, and derives congestion_state_updated', () => {
    const { trace, events } = setup();
    const base = { minRtt: 10, smoothedRtt: 12, latestRtt: 11, rttVariance: 3, cwnd: 14720, bytesInFlight: 1200, ssthresh: Infinity, ptoCount: 0 };
    trace('recovery:metrics_updated', { ...base, congestionState: 'slow_start' }, 1000);
    trace('recovery:metrics_updated', { ...base, congestionState: 'slow_start' }, 1001); // nothing new
    trace('recovery:metrics_updated', { ...base, cwnd: 7360, ssthresh: 7360, congestionState: 'recovery' }, 1002);
    expect(events()).toEqual([
      {
        time: 0,
        name: 'recovery:metrics_updated',
        data: { min_rtt: 10, smoothed_rtt: 12, latest_rtt: 11, rtt_variance: 3, pto_count: 0, congestion_window: 14720, bytes_in_flight: 1200 },
      },
      { time: 0, name: 'recovery:congestion_state_updated', data: { new: 'slow_start' } },
      { time: 2, name: 'recovery:metrics_updated', data: { congestion_window: 7360, ssthresh: 7360 } },
      { time: 2, name: 'recovery:congestion_state_updated', data: { old: 'slow_start', new: 'recovery' } },
    ]);
  });

  it('explicit congestion_state_updated tracks the same state', () => {
    const { trace, events } = setup();
    trace('recovery:congestion_state_updated', { state: 'slow_start' }, 1000);
    trace('recovery:congestion_state_updated', { state: 'slow_start' }, 1000);
    trace('recovery:metrics_updated', { congestionState: 'congestion_avoidance' }, 1000);
    trace('recovery:congestion_state_updated', { state: 'slow_start', trigger: 'persistent_congestion' }, 1000);
    expect(events().map((e) => e.data)).toEqual([
      { new: 'slow_start' },
      { old: 'slow_start', new: 'congestion_avoidance' },
      { old: 'congestion_avoidance', new: 'slow_start', trigger: 'persistent_congestion' },
    ]);
  });

  it('connection states map to qlog names, with old, and repeats are dropped', () => {
    const { trace, events } = setup();
    for (const state of ['attempted', 'handshake', 'handshake', 'established', 'confirmed', 'closing', 'draining', 'closed']) {
      trace('connectivity:connection_state_updated', { state }, 1000);
    }
    expect(events().map((e) => e.data)).toEqual([
      { new: 'attempted' },
      { old: 'attempted', new: 'handshake_started' },
      { old: 'handshake_started', new: 'handshake_complete' },
      { old: 'handshake_complete', new: 'handshake_confirmed' },
      { old: 'handshake_confirmed', new: 'closing' },
      { old: 'closing', new: 'draining' },
      { old: 'draining', new: 'closed' },
    ]);
  });

  it('connection_closed from CloseInfo: owner, code field and trigger per initiator', () => {
    const close = (info: Record<string, unknown>, state?: string): Record<string, unknown> => {
      const { trace, events } = setup();
      if (state) trace('connectivity:connection_state_updated', { state }, 1000);
      trace('connectivity:connection_closed', info, 1000);
      return events().at(-1)!.data;
    };
    expect(close({ errorCode: 0, reason: '', application: false, initiator: 'local' }, 'established')).toEqual({
      owner: 'local',
      connection_code: 'no_error',
      trigger: 'clean',
    });
    expect(close({ errorCode: 0x0a, reason: 'bad', application: false, initiator: 'peer' })).toEqual({
      owner: 'remote',
      connection_code: 'protocol_violation',
      reason: 'bad',
      trigger: 'error',
    });
    expect(close({ errorCode: 42, reason: 'bye', application: true, initiator: 'peer' })).toEqual({
      owner: 'remote',
      application_code: 42,
      reason: 'bye',
      trigger: 'application',
    });
    expect(close({ errorCode: 0x56, reason: 'idle', application: false, initiator: 'idle' }, 'confirmed')).toEqual({
      owner: 'local',
      reason: 'idle',
      trigger: 'idle_timeout',
    });
    expect(close({ errorCode: 0x56, reason: 'idle', application: false, initiator: 'idle' }, 'handshake')).toEqual({
      owner: 'local',
      reason: 'idle',
      trigger: 'handshake_timeout',
    });
    expect(close({ errorCode: 0, application: false, initiator: 'reset' })).toEqual({ owner: 'remote', trigger: 'stateless_reset' });
  });

  it('the legacy connection_error becomes connection_closed, written once per connection', () => {
    const { trace, events } = setup();
    trace('transport:connection_error', { code: 'PROTOCOL_VIOLATION', message: 'reserved bits set' }, 1000);
    trace('connectivity:connection_closed', { errorCode: 0x0a, reason: 'reserved bits set', application: false, initiator: 'local' }, 1001);
    expect(events()).toEqual([
      {
        time: 0,
        name: 'connectivity:connection_closed',
        data: { owner: 'local', connection_code: 'protocol_violation', reason: 'reserved bits set', trigger: 'error' },
      },
    ]);
  });

  it('transport parameters: snake_case, hex ids, min_ack_delay in ms, Petrel-only fields left out', () => {
    const { trace, events } = setup();
    trace(
      'transport:parameters_set',
      {
        owner: 'remote',
        params: {
          ...DEFAULT_TRANSPORT_PARAMETERS,
          maxIdleTimeout: 30000,
          initialSourceConnectionId: bytes(0xde, 0xad),
          originalDestinationConnectionId: bytes(0xbe, 0xef),
          minAckDelay: 1000,
          channelsSupported: true,
        },
      },
      1000,
    );
    const e = events()[0]!;
    expect(e.data).toEqual({
      owner: 'remote',
      original_destination_connection_id: 'beef',
      initial_source_connection_id: 'dead',
      disable_active_migration: false,
      max_idle_timeout: 30000,
      max_udp_payload_size: 1472,
      ack_delay_exponent: 3,
      max_ack_delay: 25,
      active_connection_id_limit: 2,
      initial_max_data: 0,
      initial_max_stream_data_bidi_local: 0,
      initial_max_stream_data_bidi_remote: 0,
      initial_max_stream_data_uni: 0,
      initial_max_streams_bidi: 0,
      initial_max_streams_uni: 0,
      max_datagram_frame_size: 0,
      min_ack_delay: 1,
    });
    expect(validateQlogRecord(e)).toEqual([]);
  });

  it('connection_started, id updates, streams, drops, datagrams, timers, recovery parameters, paths', () => {
    const { trace, events } = setup({ local: { host: '10.0.0.1', port: 5000 } });
    trace('connectivity:connection_started', { remote: { host: '10.0.0.2', port: 4433 }, scid: bytes(1), dcid: bytes(2) }, 1000);
    trace('connectivity:connection_started', { remote: { host: '::1', port: 4433 }, local: { host: '::1', port: 6000 } }, 1000);
    trace('connectivity:connection_id_updated', { owner: 'remote', old: bytes(2), new: bytes(3) }, 1000);
    trace('transport:stream_state_updated', { id: 6, state: 'closed', side: 'sending' }, 1000);
    trace('transport:packet_dropped', { reason: 'auth_failed', size: 1200, space: 'handshake', pn: 3 }, 1000);
    trace('transport:packet_dropped', { reason: 'something_new' }, 1000);
    trace('transport:datagrams_sent', { size: 1200 }, 1000);
    trace('transport:datagrams_received', { sizes: [100, 200] }, 1000);
    trace('transport:datagram_dropped', { size: 9 }, 1000);
    trace('recovery:loss_timer_updated', { event: 'set', timer: 'pto', space: 'application', delta: 45 }, 1000);
    trace('recovery:parameters_set', { reorderingThreshold: 3, timeThreshold: 1.125, initialRtt: 333 }, 1000);
    trace('connectivity:path_changed', { host: '10.0.0.3', port: 4434, hostChanged: true }, 1000);
    trace('connectivity:path_validated', { host: '10.0.0.3', port: 4434 }, 1000);
    expect(events().map((e) => [e.name, e.data])).toEqual([
      [
        'connectivity:connection_started',
        {
          ip_version: 'ipv4',
          src_ip: '10.0.0.1',
          dst_ip: '10.0.0.2',
          protocol: 'QUIC',
          src_port: 5000,
          dst_port: 4433,
          src_cid: '01',
          dst_cid: '02',
        },
      ],
      ['connectivity:connection_started', { ip_version: 'ipv6', src_ip: '::1', dst_ip: '::1', protocol: 'QUIC', src_port: 6000, dst_port: 4433 }],
      ['connectivity:connection_id_updated', { owner: 'remote', old: '02', new: '03' }],
      ['transport:stream_state_updated', { stream_id: 6, stream_type: 'unidirectional', new: 'closed', stream_side: 'sending' }],
      [
        'transport:packet_dropped',
        { header: { packet_type: 'handshake', packet_number: 3 }, raw: { length: 1200 }, trigger: 'payload_decrypt_error' },
      ],
      ['transport:packet_dropped', {}],
      ['transport:datagrams_sent', { count: 1, raw: [{ length: 1200 }] }],
      ['transport:datagrams_received', { count: 2, raw: [{ length: 100 }, { length: 200 }] }],
      ['transport:datagram_dropped', { raw: { length: 9 } }],
      ['recovery:loss_timer_updated', { timer_type: 'pto', packet_number_space: 'application_data', event_type: 'set', delta: 45 }],
      ['recovery:parameters_set', { reordering_threshold: 3, time_threshold: 1.125, initial_rtt: 333 }],
      ['petrel:path_changed', { dst_ip: '10.0.0.3', dst_port: 4434, ip_changed: true }],
      ['petrel:path_validated', { dst_ip: '10.0.0.3', dst_port: 4434 }],
    ]);
    for (const e of events()) expect(validateQlogRecord(e), e.name).toEqual([]);
  });

  it('unknown core events are reported and not written', () => {
    const unmapped: string[] = [];
    const { trace, events } = setup({ onUnmapped: (n) => unmapped.push(n) });
    trace('sim:datagram_sent', {}, 1000);
    trace('transport:teleported', { x: 1 }, 1000);
    expect(events()).toEqual([]);
    expect(unmapped).toEqual(['sim:datagram_sent', 'transport:teleported']);
  });

  it('takes the time from `now`, else the clock option, else the last event time', () => {
    let clock = 1100;
    const a = setup({ clock: () => clock });
    a.trace('transport:datagrams_sent', { size: 1 });
    clock = 1150;
    a.trace('transport:datagrams_sent', { size: 1 });
    a.trace('transport:datagrams_sent', { size: 1 }, 1200);
    expect(a.events().map((e) => e.time)).toEqual([100, 150, 200]);
    const b = setup();
    b.trace('transport:datagrams_sent', { size: 1 }, 1042);
    b.trace('transport:datagrams_sent', { size: 1 });
    expect(b.events().map((e) => e.time)).toEqual([42, 42]);
  });
});

describe('frame conversion', () => {
  it('every decoded wire frame converts to a schema-valid qlog frame', () => {
    const kinds = new Set<string>();
    for (const f of WIRE) {
      const q = toQlogFrame(f);
      kinds.add(q.frame_type);
      expect(
        validateQlogRecord({ time: 0, name: 'transport:packet_received', data: { header: { packet_type: '1RTT', packet_number: 0 }, frames: [q] } }),
        f.type,
      ).toEqual([]);
    }
    expect(kinds.size).toBe(WIRE.length);
  });

  it('wire frames carry their values (hand-checked)', () => {
    const q = WIRE.map((f) => toQlogFrame(f, 3));
    expect(q[2]).toEqual({
      frame_type: 'ack',
      ack_delay: 1,
      acked_ranges: [
        [0, 6],
        [9, 10],
      ],
      ect0: 3,
      ect1: 0,
      ce: 1,
    }); // 125 × 8 µs
    expect(q[5]).toEqual({ frame_type: 'crypto', offset: 100, length: 50 });
    expect(q[7]).toEqual({ frame_type: 'stream', stream_id: 8, offset: 0, length: 30 });
    expect(q[10]).toEqual({ frame_type: 'max_streams', stream_type: 'unidirectional', maximum: 10 });
    expect(q[14]).toEqual({
      frame_type: 'new_connection_id',
      sequence_number: 2,
      retire_prior_to: 1,
      connection_id_length: 4,
      connection_id: '01020304',
      stateless_reset_token: 'ee'.repeat(16),
    });
    expect(q[18]).toEqual({
      frame_type: 'connection_close',
      error_space: 'transport',
      error_code: 'protocol_violation',
      raw_error_code: 10,
      reason: 'bad frame',
      trigger_frame_type: 8,
    });
    expect(q[22]).toEqual({
      frame_type: 'ack_frequency',
      sequence_number: 3,
      ack_eliciting_threshold: 9,
      request_max_ack_delay: 25,
      reordering_threshold: 0,
    });
    expect(toQlogFrame({ type: 'connection_close', application: true, errorCode: 7, frameType: 0, reason: new Uint8Array(0) })).toEqual({
      frame_type: 'connection_close',
      error_space: 'application',
      error_code: 7,
      raw_error_code: 7,
      reason: '',
    });
  });

  it('every enriched sent-frame record converts to a schema-valid qlog frame', () => {
    const kinds = new Set<string>();
    for (const f of SENT) {
      const q = toQlogFrame(f);
      kinds.add(f.k);
      expect(
        validateQlogRecord({ time: 0, name: 'transport:packet_sent', data: { header: { packet_type: '1RTT', packet_number: 0 }, frames: [q] } }),
        f.k,
      ).toEqual([]);
    }
    expect(kinds.size).toBe(SENT.length);
    expect(toQlogFrame({ k: 'close', code: 0x10a, app: false })).toEqual({
      frame_type: 'connection_close',
      error_space: 'transport',
      error_code: 'crypto_error_0x10a',
      raw_error_code: 0x10a,
    });
    expect(toQlogFrame({ k: 'reset_stream', id: 4, code: 3, finalSize: 150 })).toEqual({
      frame_type: 'reset_stream',
      stream_id: 4,
      error_code: 3,
      final_size: 150,
    });
  });

  it('sent records without the qlog fields still convert, and fail validation on exactly those fields', () => {
    const q = toQlogFrame({ k: 'max_streams', bidi: true });
    expect(q).toEqual({ frame_type: 'max_streams', stream_type: 'bidirectional' });
    expect(
      validateQlogRecord({ time: 0, name: 'transport:packet_sent', data: { header: { packet_type: '1RTT', packet_number: 0 }, frames: [q] } }),
    ).toEqual(['data.frames[0]: missing required field "maximum"']);
  });

  it('property: stream and ack records always produce valid frames with ascending, faithful ranges', () => {
    const streamArb = fc.record({
      k: fc.constant('stream' as const),
      id: fc.nat(2 ** 40),
      offset: fc.nat(2 ** 50),
      length: fc.nat(1500),
      fin: fc.boolean(),
    });
    // Descending disjoint ranges, built from gaps and lengths like an ACK frame encodes them.
    const ackArb = fc
      .record({ top: fc.nat(2 ** 40), parts: fc.array(fc.tuple(fc.nat(5), fc.nat(5)), { minLength: 1, maxLength: 8 }), delay: fc.nat(1 << 16) })
      .map(({ top, parts, delay }) => {
        const ranges: Array<{ smallest: number; largest: number }> = [];
        let hi = top + 100;
        for (const [len, gap] of parts) {
          const lo = Math.max(0, hi - len);
          ranges.push({ smallest: lo, largest: hi });
          hi = lo - gap - 2;
          if (hi < 0) break;
        }
        return { k: 'ack' as const, largest: ranges[0]!.largest, ranges, delay };
      });
    fc.assert(
      fc.property(fc.array(fc.oneof(streamArb, ackArb), { maxLength: 6 }), (frames) => {
        const { trace, events } = setup();
        trace('transport:packet_sent', { space: 'application', pn: 1, size: 1200, frames }, 1000);
        const e = events()[0]!;
        expect(validateQlogRecord(e)).toEqual([]);
        const out = e.data['frames'] as Array<Record<string, unknown>>;
        frames.forEach((f, i) => {
          if (f.k === 'stream') {
            expect(out[i]!['fin']).toBe(f.fin ? true : undefined);
            expect(out[i]!['length']).toBe(f.length);
          } else {
            const r = out[i]!['acked_ranges'] as Array<[number, number]>;
            expect(r).toEqual([...f.ranges].reverse().map((x) => [x.smallest, x.largest]));
            expect(out[i]!['ack_delay']).toBe((f.delay * 8) / 1000);
          }
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('qlogConnectionCode', () => {
  it('maps numbers and the core names to qlog error names', () => {
    expect(qlogConnectionCode(0)).toBe('no_error');
    expect(qlogConnectionCode(0x0a)).toBe('protocol_violation');
    expect(qlogConnectionCode(0x10)).toBe('no_viable_path');
    expect(qlogConnectionCode(0x12a)).toBe('crypto_error_0x12a');
    expect(qlogConnectionCode(0x56)).toBe(86);
    expect(qlogConnectionCode('PROTOCOL_VIOLATION')).toBe('protocol_violation');
    expect(qlogConnectionCode('CRYPTO_ERROR(0x2a)')).toBe('crypto_error_0x12a');
    expect(qlogConnectionCode('IDLE_TIMEOUT')).toBe(86);
    expect(qlogConnectionCode('nonsense')).toBeUndefined();
    expect(qlogConnectionCode(-1)).toBeUndefined();
  });
});
