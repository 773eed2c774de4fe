/**
 * Streaming qlog writer: JSON-SEQ (RFC 7464) as qlog 0.3 defines it. Every record is RS + JSON + LF; the first is
 * the header (qlog_version, qlog_format, title, trace{vantage_point, common_fields}), then one record per event
 * `{"time": ms since reference, "name": "category:event", "data": {...}}`. Records go to the sink as soon as they
 * are written (one string each), so a crash loses at most the event being written. Platform-neutral: the driver
 * supplies the sink (a file stream in Node) and both clocks.
 */
import { toHex } from '../wire/buffer.js';
import { QLOG_FORMAT, QLOG_VERSION, type QlogEvent, type QlogEventDataMap, type QlogEventName } from './events.js';

const RS = '\x1e';

/** Receives one complete record (`\x1e{...}\n`) per call. */
export type QlogSink = (record: string) => void;

export type QlogVantagePoint = 'client' | 'server';

export interface QlogWriterOptions {
  vantagePoint: QlogVantagePoint;
  /** The connection's original destination connection id (bytes or hex): the qlog connection key. */
  odcid: Uint8Array | string;
  /** The time event times are relative to, on the clock the events use (the core's `now`, ms). */
  referenceTime: number;
  /**
   * `common_fields.reference_time` in the header: the same instant as ms since the Unix epoch, so tools can line up
   * several files. Default 0 (the driver knows the wall clock; the core does not).
   */
  referenceEpoch?: number;
  title?: string;
  description?: string;
  /** Extra `trace.configuration` members (e.g. code_version). */
  configuration?: Record<string, unknown>;
}

/** Times are written with microsecond precision: enough to order events, short enough to read. */
function relTime(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export interface QlogHeader {
  qlog_version: string;
  qlog_format: string;
  title?: string;
  description?: string;
  trace: {
    title?: string;
    vantage_point: { name?: string; type: QlogVantagePoint | 'network' | 'unknown' };
    common_fields: { ODCID?: string; reference_time: number; time_format: 'relative' };
    configuration?: Record<string, unknown>;
  };
}

export class QlogWriter {
  readonly referenceTime: number;
  readonly odcid: string;
  readonly vantagePoint: QlogVantagePoint;
  private readonly sink: QlogSink;
  private lastTime = 0;
  private count = 0;
  private isClosed = false;

  constructor(sink: QlogSink, opts: QlogWriterOptions) {
    this.sink = sink;
    this.referenceTime = opts.referenceTime;
    this.vantagePoint = opts.vantagePoint;
    this.odcid = typeof opts.odcid === 'string' ? opts.odcid : toHex(opts.odcid);
    const title = opts.title ?? `petrel ${opts.vantagePoint} ${this.odcid}`;
    const header: QlogHeader = {
      qlog_version: QLOG_VERSION,
      qlog_format: QLOG_FORMAT,
      title,
      description: opts.description,
      trace: {
        title,
        vantage_point: { name: 'petrel', type: opts.vantagePoint },
        common_fields: { ODCID: this.odcid, reference_time: opts.referenceEpoch ?? 0, time_format: 'relative' },
        configuration: opts.configuration,
      },
    };
    this.sink(RS + JSON.stringify(header) + '\n');
  }

  /** Events written so far (the header not counted). */
  get eventCount(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Writes one event at `now` (same clock as referenceTime). Times never go backwards in the file (qvis requires
   * ordered events): an earlier `now` is written as the last time.
   */
  event<N extends QlogEventName>(now: number, name: N, data: QlogEventDataMap[N]): void {
    if (this.isClosed) return;
    let t = relTime(now - this.referenceTime);
    if (!(t >= this.lastTime)) t = this.lastTime; // also catches NaN
    this.lastTime = t;
    this.count++;
    this.sink(`${RS}{"time":${t},"name":${JSON.stringify(name)},"data":${JSON.stringify(data)}}\n`);
  }

  /** Writes an event made by one of the builders in events.ts. */
  write(now: number, e: QlogEvent): void {
    this.event(now, e.name, e.data as never);
  }

  /** The last event time written, ms relative to the reference. */
  get lastEventTime(): number {
    return this.lastTime;
  }

  /** Later events are ignored. The sink's owner closes the file. */
  close(): void {
    this.isClosed = true;
  }
}

/** A file name for one connection's trace: `<odcid hex>_<vantage>.sqlog` (qvis recognises .sqlog as JSON-SEQ). */
export function qlogFileName(odcid: Uint8Array | string, vantagePoint: QlogVantagePoint): string {
  return `${typeof odcid === 'string' ? odcid : toHex(odcid)}_${vantagePoint}.sqlog`;
}
