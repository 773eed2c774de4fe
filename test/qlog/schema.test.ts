import { describe, expect, it } from 'vitest';
import { parseJsonSeq, validateQlogHeader, validateQlogRecord, validateQlogText } from '../../lib/qlog/schema.js';

const HEADER = {
  qlog_version: '0.3',
  qlog_format: 'JSON-SEQ',
  title: 't',
  trace: { vantage_point: { type: 'client' }, common_fields: { ODCID: 'ab', reference_time: 0, time_format: 'relative' } },
};

function sent(data: Record<string, unknown>): Record<string, unknown> {
  return { time: 1, name: 'transport:packet_sent', data };
}
const HDR = { packet_type: '1RTT', packet_number: 1 };

function seq(...records: unknown[]): string {
  return records.map((r) => `\x1e${JSON.stringify(r)}\n`).join('');
}

describe('validateQlogRecord', () => {
  it('accepts a well-formed packet_sent', () => {
    expect(
      validateQlogRecord(
        sent({ header: HDR, frames: [{ frame_type: 'stream', stream_id: 0, offset: 0, length: 5, fin: true }], raw: { length: 50 } }),
      ),
    ).toEqual([]);
  });

  it('names a missing required field', () => {
    expect(validateQlogRecord(sent({ frames: [] }))).toEqual(['data: missing required field "header"']);
    expect(validateQlogRecord(sent({ header: { packet_type: '1RTT' }, frames: [] }))).toEqual([
      'data.header: missing required field "packet_number"',
    ]);
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'stream', stream_id: 0, offset: 0 }] }))).toEqual([
      'data.frames[0]: missing required field "length"',
    ]);
    expect(validateQlogRecord({ name: 'transport:packet_sent', data: { header: HDR, frames: [] } })).toEqual([
      'record: missing required field "time"',
    ]);
  });

  it('names a wrong type', () => {
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'stream', stream_id: 0, offset: '5', length: 1 }] }))).toEqual([
      'data.frames[0].offset: expected integer, got string',
    ]);
    expect(validateQlogRecord(sent({ header: { packet_type: '1RTT', packet_number: 1.5 }, frames: [] }))).toEqual([
      'data.header.packet_number: expected integer, got number',
    ]);
    expect(validateQlogRecord(sent({ header: HDR, frames: {} }))).toEqual(['data.frames: expected array, got object']);
    expect(validateQlogRecord({ time: '1', name: 'transport:datagrams_sent', data: {} })).toEqual(['time: expected number, got string']);
    expect(validateQlogRecord({ time: 1, name: 'transport:datagrams_sent', data: [] })).toEqual(['data: expected object, got array']);
    expect(validateQlogRecord(null)).toEqual(['record: expected object, got null']);
  });

  it('rejects an unknown event name, unless allowed', () => {
    const r = { time: 1, name: 'transport:foo', data: {} };
    expect(validateQlogRecord(r)).toEqual(['name: unknown event name "transport:foo"']);
    expect(validateQlogRecord(r, { allowUnknownEvents: true })).toEqual([]);
    expect(validateQlogRecord({ time: 1, name: 7, data: {} })).toEqual(['name: expected string, got integer']);
  });

  it('rejects unknown fields, unknown frame types and values outside an enum', () => {
    expect(validateQlogRecord(sent({ header: HDR, frames: [], bogus: 1 }))).toEqual(['data: unknown field "bogus"']);
    expect(validateQlogRecord({ ...sent({ header: HDR, frames: [] }), extra: true })).toEqual(['record: unknown field "extra"']);
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'telepathy' }] }))).toEqual([
      'data.frames[0].frame_type: unknown frame_type "telepathy"',
    ]);
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ stream_id: 1 }] }))).toEqual(['data.frames[0]: missing required field "frame_type"']);
    expect(validateQlogRecord(sent({ header: { packet_type: '2RTT', packet_number: 1 }, frames: [] }))).toEqual([
      'data.header.packet_type: "2RTT" is not one of initial, handshake, 0RTT, 1RTT, retry, version_negotiation, stateless_reset, unknown',
    ]);
  });

  it('checks ranges, bounds and the fin/true-only rule', () => {
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'ack', acked_ranges: [[1, 2, 3]] }] }))).toEqual([
      'data.frames[0].acked_ranges[0]: expected at most 2 items, got 3',
    ]);
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'ack', acked_ranges: [[]] }] }))).toEqual([
      'data.frames[0].acked_ranges[0]: expected at least 1 items, got 0',
    ]);
    expect(validateQlogRecord(sent({ header: { packet_type: '1RTT', packet_number: -1 }, frames: [] }))).toEqual([
      'data.header.packet_number: -1 is below the minimum 0',
    ]);
    expect(validateQlogRecord(sent({ header: HDR, frames: [{ frame_type: 'stream', stream_id: 0, offset: 0, length: 1, fin: false }] }))).toEqual([
      'data.frames[0].fin: must be true when present',
    ]);
    expect(validateQlogRecord({ time: 1, name: 'transport:packet_received', data: { header: { packet_type: 'version_negotiation' } } })).toEqual([]);
  });

  it('accepts connection codes as names, crypto_error_0x1XX or integers, and nothing else', () => {
    const closed = (code: unknown) => validateQlogRecord({ time: 1, name: 'connectivity:connection_closed', data: { connection_code: code } });
    expect(closed('protocol_violation')).toEqual([]);
    expect(closed('crypto_error_0x12a')).toEqual([]);
    expect(closed(86)).toEqual([]);
    expect(closed('PROTOCOL_VIOLATION')).toEqual([
      'data.connection_code: expected a transport error name, crypto_error_0x1XX or an integer, got "PROTOCOL_VIOLATION"',
    ]);
  });

  it('judges undefined members as absent, as JSON would', () => {
    expect(validateQlogRecord(sent({ header: HDR, frames: [], raw: undefined }))).toEqual([]);
    expect(validateQlogRecord(sent({ header: undefined, frames: [] }))).toEqual(['data: missing required field "header"']);
  });

  it('applies cross-field rules', () => {
    expect(validateQlogRecord({ time: 1, name: 'recovery:metrics_updated', data: {} })).toEqual(['data: metrics_updated carries no metric']);
  });
});

describe('validateQlogHeader', () => {
  it('accepts what the writer writes and names what is wrong', () => {
    expect(validateQlogHeader(HEADER)).toEqual([]);
    expect(validateQlogHeader({ ...HEADER, qlog_version: 'draft-02' })).toEqual(['header.qlog_version: "draft-02" is not one of 0.3']);
    const { trace: _t, ...noTrace } = HEADER;
    expect(validateQlogHeader(noTrace)).toEqual(['header: missing required field "trace"']);
    expect(validateQlogHeader({ ...HEADER, trace: { ...HEADER.trace, common_fields: { reference_time: 0, time_format: 'absolute' } } })).toEqual([
      'header.trace.common_fields.time_format: "absolute" is not one of relative',
    ]);
  });
});

describe('JSON-SEQ files', () => {
  it('parseJsonSeq splits on RS and reports unparseable records by index', () => {
    const { records, errors } = parseJsonSeq('\x1e{"a":1}\n\x1e{oops\n\x1e{"b":2}\n');
    expect(records).toEqual([{ a: 1 }, undefined, { b: 2 }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.index).toBe(1);
    expect(errors[0]!.message).toMatch(/^invalid JSON/);
    expect(parseJsonSeq('{"a":1}\n').errors[0]!.message).toBe('text before the first record separator (is this JSON-SEQ?)');
  });

  it('validateQlogText counts events per name and locates errors by record', () => {
    const text = seq(
      HEADER,
      { time: 0, name: 'transport:datagrams_sent', data: { count: 1 } },
      { time: 1, name: 'transport:datagrams_sent', data: { count: 1 } },
      { time: 2, name: 'transport:packet_sent', data: { header: HDR } },
    );
    const r = validateQlogText(text);
    expect(r.events).toBe(3);
    expect([...r.counts]).toEqual([
      ['transport:datagrams_sent', 2],
      ['transport:packet_sent', 1],
    ]);
    expect(r.errors).toEqual(['record 3: data: missing required field "frames"']);
  });

  it('requires the header first and times in order', () => {
    const r = validateQlogText(
      seq(
        { time: 0, name: 'transport:datagrams_sent', data: {} },
        { time: 5, name: 'transport:datagrams_sent', data: {} },
        { time: 4, name: 'transport:datagrams_sent', data: {} },
      ),
    );
    expect(r.errors[0]).toBe('record 0: header: missing required field "qlog_version"');
    expect(r.errors).toContain("record 2: time 4 is before the previous event's 5");
    expect(validateQlogText('').errors).toEqual(['no records']);
  });
});
