import { describe, expect, it } from 'vitest';
import { QlogWriter, qlogFileName } from '../../lib/qlog/writer.js';
import { packetHeader, packetSent } from '../../lib/qlog/events.js';
import { parseJsonSeq, validateQlogText } from '../../lib/qlog/schema.js';

function capture(): { records: string[]; sink: (r: string) => void } {
  const records: string[] = [];
  return { records, sink: (r) => void records.push(r) };
}

const ODCID = new Uint8Array([0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71]);

describe('QlogWriter', () => {
  it('writes the qlog 0.3 JSON-SEQ header as the first record, at construction', () => {
    const { records, sink } = capture();
    new QlogWriter(sink, { vantagePoint: 'client', odcid: ODCID, referenceTime: 500, referenceEpoch: 1_700_000_000_000 });
    expect(records).toHaveLength(1);
    expect(records[0]!.startsWith('\x1e')).toBe(true);
    expect(records[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(records[0]!.slice(1))).toEqual({
      qlog_version: '0.3',
      qlog_format: 'JSON-SEQ',
      title: 'petrel client 0a1b2c3d4e5f6071',
      trace: {
        title: 'petrel client 0a1b2c3d4e5f6071',
        vantage_point: { name: 'petrel', type: 'client' },
        common_fields: { ODCID: '0a1b2c3d4e5f6071', reference_time: 1_700_000_000_000, time_format: 'relative' },
      },
    });
  });

  it('keeps title, description and configuration when given; reference_time defaults to 0', () => {
    const { records, sink } = capture();
    new QlogWriter(sink, {
      vantagePoint: 'server',
      odcid: 'abcd',
      referenceTime: 0,
      title: 't',
      description: 'd',
      configuration: { code_version: '0.1.0' },
    });
    const h = JSON.parse(records[0]!.slice(1));
    expect(h.title).toBe('t');
    expect(h.description).toBe('d');
    expect(h.trace.vantage_point.type).toBe('server');
    expect(h.trace.common_fields.reference_time).toBe(0);
    expect(h.trace.configuration).toEqual({ code_version: '0.1.0' });
  });

  it('streams one record per event with the time relative to the reference, in ms with µs precision', () => {
    const { records, sink } = capture();
    const w = new QlogWriter(sink, { vantagePoint: 'client', odcid: ODCID, referenceTime: 1000 });
    w.event(1012.3456, 'connectivity:connection_state_updated', { new: 'handshake_started' });
    expect(records).toHaveLength(2);
    // 1012.3456 - 1000 = 12.3456 → 12.346
    expect(records[1]).toBe('\x1e{"time":12.346,"name":"connectivity:connection_state_updated","data":{"new":"handshake_started"}}\n');
    w.write(1020, packetSent(packetHeader('1RTT', 3), [{ frame_type: 'ping' }], { length: 40 }));
    expect(JSON.parse(records[2]!.slice(1))).toEqual({
      time: 20,
      name: 'transport:packet_sent',
      data: { header: { packet_type: '1RTT', packet_number: 3 }, frames: [{ frame_type: 'ping' }], raw: { length: 40 } },
    });
    expect(w.eventCount).toBe(2);
    expect(w.lastEventTime).toBe(20);
  });

  it('never lets time go backwards (qvis needs ordered events)', () => {
    const { records, sink } = capture();
    const w = new QlogWriter(sink, { vantagePoint: 'client', odcid: ODCID, referenceTime: 100 });
    w.event(150, 'recovery:metrics_updated', { congestion_window: 1 });
    w.event(120, 'recovery:metrics_updated', { congestion_window: 2 });
    w.event(Number.NaN, 'recovery:metrics_updated', { congestion_window: 3 });
    w.event(90, 'recovery:metrics_updated', { congestion_window: 4 });
    const times = records.slice(1).map((r) => JSON.parse(r.slice(1)).time);
    expect(times).toEqual([50, 50, 50, 50]);
  });

  it('ignores events after close', () => {
    const { records, sink } = capture();
    const w = new QlogWriter(sink, { vantagePoint: 'client', odcid: ODCID, referenceTime: 0 });
    w.event(1, 'transport:datagrams_sent', { count: 1 });
    w.close();
    w.event(2, 'transport:datagrams_sent', { count: 1 });
    expect(w.closed).toBe(true);
    expect(records).toHaveLength(2);
    expect(w.eventCount).toBe(1);
  });

  it('produces text that parses as JSON-SEQ with the header first and validates', () => {
    const { records, sink } = capture();
    const w = new QlogWriter(sink, { vantagePoint: 'server', odcid: ODCID, referenceTime: 0 });
    w.event(1, 'connectivity:connection_started', { src_ip: '10.0.0.1', dst_ip: '10.0.0.2', src_port: 4433, dst_port: 50000 });
    w.event(2, 'transport:packet_received', { header: { packet_type: 'initial', packet_number: 0 }, raw: { length: 1200 } });
    const text = records.join('');
    const { records: parsed, errors } = parseJsonSeq(text);
    expect(errors).toEqual([]);
    expect(parsed).toHaveLength(3);
    expect((parsed[0] as { qlog_format: string }).qlog_format).toBe('JSON-SEQ');
    const report = validateQlogText(text);
    expect(report.errors).toEqual([]);
    expect(report.events).toBe(2);
  });

  it('names files <odcid>_<vantage>.sqlog', () => {
    expect(qlogFileName(ODCID, 'server')).toBe('0a1b2c3d4e5f6071_server.sqlog');
    expect(qlogFileName('ff00', 'client')).toBe('ff00_client.sqlog');
  });
});
