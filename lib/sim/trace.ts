/**
 * qlog-shaped JSON-SEQ trace (RFC 7464 framing: each record is RS + JSON + LF). The first record is a qlog header,
 * then one record per event: `{"time": ms, "name": "sim:datagram_sent", "data": {...}}`. Serialisation is plain
 * JSON.stringify of objects built with a fixed key order, so equal inputs give byte-identical output.
 */

/** Where records go: nowhere (null: callers check `enabled` before building anything), an array, or a callback. */
export type TraceSink = null | string[] | ((record: string) => void);

const RS = '\x1e';

/** FNV-1a, 32-bit: a short, fast content fingerprint for traces (not a security hash). */
export function fnv1a32(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return h >>> 0;
}

/** fnv1a32 as 8 lowercase hex digits. */
export function fingerprint(data: Uint8Array): string {
  return fnv1a32(data).toString(16).padStart(8, '0');
}

/** Times are written with microsecond precision: enough to order events, short enough to read. */
export function traceTime(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export class Tracer {
  readonly enabled: boolean;
  private readonly write: (record: string) => void;

  constructor(sink: TraceSink) {
    this.enabled = sink !== null;
    if (sink === null) this.write = () => {};
    else if (Array.isArray(sink)) this.write = (r) => void sink.push(r);
    else this.write = sink;
  }

  /** The qlog header record; written once, before any event. */
  header(title: string, seed: number): void {
    if (!this.enabled) return;
    const header = {
      qlog_version: '0.3',
      qlog_format: 'JSON-SEQ',
      title,
      trace: {
        vantage_point: { name: title, type: 'network' },
        common_fields: { time_format: 'relative', reference_time: 0 },
        configuration: { seed },
      },
    };
    this.write(RS + JSON.stringify(header) + '\n');
  }

  /** One event. `data` must be JSON-serialisable; its key order is preserved. */
  event(time: number, name: string, data: unknown): void {
    if (!this.enabled) return;
    this.write(`${RS}{"time":${traceTime(time)},"name":${JSON.stringify(name)},"data":${JSON.stringify(data ?? {})}}\n`);
  }
}
