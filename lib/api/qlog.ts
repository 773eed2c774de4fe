/**
 * The `qlog` option of listen() and connect(): one qlog 0.3 JSON-SEQ trace per connection (spec/qlog.md).
 *
 * A QlogRecorder hangs off one UdpEndpoint. The core Endpoint asks its `traceFor` once per new connection; the
 * recorder opens that connection's sink (a file `<odcid>_<vantage>.sqlog` in a directory, or whatever a
 * user function returns), puts a QlogWriter and the core adapter behind it, and returns the adapter as the
 * connection's trace function. Without the option there is no recorder at all: traceFor is absent, the core
 * gets no trace function, and its `if (this.env.trace)` guards skip everything.
 *
 * The core traces packets, losses, path changes and MTU changes. The recorder adds what the API layer sees:
 * connection_started (addresses), the peer's transport parameters at handshake completion, connection states,
 * connection_closed (the core's CloseInfo), and recovery:metrics_updated sampled from stats() after each pump
 * in which the connection traced something. The last two step aside as soon as the core traces them itself.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../connection/connection.js';
import type { PeerAddress } from '../connection/types.js';
import type { EndpointConfig, EndpointEvent } from '../endpoint/endpoint.js';
import { PetrelError } from '../errors.js';
import { createQlogTrace, type QlogTraceFn } from '../qlog/adapter.js';
import { QlogWriter, qlogFileName, type QlogSink, type QlogVantagePoint } from '../qlog/writer.js';
import { toHex } from '../wire/buffer.js';

/** What a qlog sink factory is told about a new connection. */
export interface QlogConnectionInfo {
  /** The original destination connection id in hex: the same on both ends, the qlog connection key. */
  odcid: string;
  vantage: QlogVantagePoint;
}

/** Returns the sink of one connection's records (`\x1e{...}\n` strings, header first), or undefined for none. */
export type QlogSinkFactory = (info: QlogConnectionInfo) => ((record: string) => void) | undefined;

/**
 * A directory (created if missing) to get one `<odcid>_<client|server>.sqlog` file per connection, or a
 * function choosing a sink per connection.
 */
export type QlogOption = string | { dir: string } | QlogSinkFactory;

type TraceFor = NonNullable<EndpointConfig['traceFor']>;

/** One traced connection. */
interface Session {
  readonly writer: QlogWriter;
  readonly trace: QlogTraceFn;
  readonly file: WriteStream | null;
  conn: Connection | null;
  /** Traced something since the last metrics sample. */
  dirty: boolean;
  /** The core traced these itself: the recorder's fallbacks stay quiet. */
  coreMetrics: boolean;
  coreRemoteParams: boolean;
  ended: Promise<void> | null;
}

/** Validates the option's shape (listen/connect reject a bad one before binding). */
export function checkQlogOption(o: unknown): void {
  if (o === undefined || typeof o === 'function') return;
  if (typeof o === 'string' && o !== '') return;
  if (typeof o === 'object' && o !== null && typeof (o as { dir?: unknown }).dir === 'string' && (o as { dir: string }).dir !== '') return;
  throw new PetrelError('INVALID_OPTION', 'qlog must be a directory, { dir }, or a function returning a sink per connection');
}

export class QlogRecorder {
  private readonly dir: string | null;
  private readonly factory: QlogSinkFactory | null;
  private readonly vantage: QlogVantagePoint;
  private readonly local: () => PeerAddress | undefined;
  /** Created by traceFor, not yet matched with their Connection (by original destination id). */
  private readonly pending = new Map<string, Session[]>();
  private readonly byConn = new Map<Connection, Session>();
  private readonly dirty: Session[] = [];
  /** Files still flushing after their connection ended (closeAll waits for them too). */
  private readonly flushing = new Set<Promise<void>>();
  private warned = false;

  /**
   * `local` gives the socket's address for connection_started (called once per connection). Throws
   * PetrelError INVALID_OPTION when the directory cannot be created.
   */
  constructor(option: QlogOption, vantage: QlogVantagePoint, local: () => PeerAddress | undefined) {
    this.vantage = vantage;
    this.local = local;
    if (typeof option === 'function') {
      this.dir = null;
      this.factory = option;
    } else {
      this.dir = typeof option === 'string' ? option : option.dir;
      this.factory = null;
      try {
        mkdirSync(this.dir, { recursive: true });
      } catch (e) {
        throw new PetrelError('INVALID_OPTION', `qlog directory ${this.dir}: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** For the core Endpoint: opens the connection's sink and returns its trace function (or undefined). */
  readonly traceFor: TraceFor = ({ odcid, remote }) => {
    const key = toHex(odcid);
    let file: WriteStream | null = null;
    let sink: QlogSink | undefined;
    if (this.factory) {
      // The application's code runs inside the core here: a throw must not cost the connection.
      let user: ((record: string) => void) | undefined;
      try {
        user = this.factory({ odcid: key, vantage: this.vantage });
      } catch (e) {
        this.warn(key, e);
      }
      if (user === undefined) return undefined;
      const u = user;
      let failed = false;
      sink = (record) => {
        if (failed) return;
        try {
          u(record);
        } catch (e) {
          failed = true;
          this.warn(key, e);
        }
      };
    } else {
      const f = createWriteStream(join(this.dir!, qlogFileName(key, this.vantage)));
      file = f;
      sink = (record) => void f.write(record);
    }
    // Event times are the core's clock (performance.now()); the header's reference_time is the wall clock.
    const writer = new QlogWriter(sink, { vantagePoint: this.vantage, odcid: key, referenceTime: performance.now(), referenceEpoch: Date.now() });
    const s: Session = {
      writer,
      trace: createQlogTrace(writer, { clock: () => performance.now() }),
      file,
      conn: null,
      dirty: false,
      coreMetrics: false,
      coreRemoteParams: false,
      ended: null,
    };
    // A failing file must never take the process down: stop writing to it and warn once.
    file?.on('error', (e) => {
      writer.close();
      this.warn(key, e);
    });
    const local = this.local();
    s.trace('connectivity:connection_started', { remote, local });
    const list = this.pending.get(key);
    if (list) list.push(s);
    else this.pending.set(key, [s]);
    return (name, data, now) => {
      if (!s.dirty) {
        s.dirty = true;
        this.dirty.push(s);
      }
      if (name === 'recovery:metrics_updated') s.coreMetrics = true;
      else if (name === 'transport:parameters_set' && data['owner'] === 'remote') s.coreRemoteParams = true;
      s.trace(name, data, now);
    };
  };

  private warn(key: string, e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    process.emitWarning(`petrel: qlog sink for connection ${key} failed (tracing stops for it): ${(e as Error)?.message ?? String(e)}`);
  }

  /** Binds the oldest pending session with this connection's original destination id to it. */
  attach(conn: Connection): void {
    const key = toHex(conn.originalDcid);
    const list = this.pending.get(key);
    const s = list?.shift();
    if (!s) return;
    if (list!.length === 0) this.pending.delete(key);
    s.conn = conn;
    this.byConn.set(conn, s);
  }

  /** Every endpoint event of the owner: binds accepted connections, logs handshake and close milestones. */
  onEvent(ev: EndpointEvent, now: number): void {
    if (ev.kind === 'accept') {
      this.attach(ev.connection);
      return;
    }
    const s = this.byConn.get(ev.connection);
    if (!s) return;
    const e = ev.event;
    switch (e.type) {
      case 'connected': {
        const p = ev.connection.peerTransportParameters;
        if (p && !s.coreRemoteParams) s.trace('transport:parameters_set', { owner: 'remote', params: p }, now);
        s.trace('connectivity:connection_state_updated', { state: 'established' }, now);
        this.sample(s, now);
        return;
      }
      case 'handshake_confirmed':
        s.trace('connectivity:connection_state_updated', { state: 'confirmed' }, now);
        return;
      case 'closed':
        // The adapter writes connection_closed once: a core connection_error before this one wins.
        s.trace('connectivity:connection_closed', { ...e.info }, now);
        return;
      default:
        return;
    }
  }

  /** After each pump: one metrics sample per connection that traced something in it. */
  afterPump(now: number): void {
    for (const s of this.dirty) {
      s.dirty = false;
      if (s.conn && !s.coreMetrics && !s.conn.isTerminated) this.sample(s, now);
    }
    this.dirty.length = 0;
  }

  private sample(s: Session, now: number): void {
    if (s.coreMetrics || !s.conn) return;
    const st = s.conn.stats();
    const rtt = st.minRtt > 0;
    s.trace(
      'recovery:metrics_updated',
      {
        minRtt: rtt ? st.minRtt : undefined,
        smoothedRtt: rtt ? st.smoothedRtt : undefined,
        latestRtt: rtt ? st.latestRtt : undefined,
        rttVariance: rtt ? st.rttVariance : undefined,
        cwnd: st.cwnd,
        bytesInFlight: st.bytesInFlight,
        ssthresh: st.ssthresh,
        // bytes per ms → bits per second (Infinity, unpaced, is left out by the adapter)
        pacingRate: st.pacingRate * 8000,
      },
      now,
    );
  }

  /** The connection is over: logs the final state and closes its sink. Resolves when the file is closed. */
  end(conn: Connection): Promise<void> {
    const s = this.byConn.get(conn);
    if (!s) return Promise.resolve();
    this.byConn.delete(conn);
    return this.finish(s);
  }

  private finish(s: Session): Promise<void> {
    if (s.ended) return s.ended;
    if (s.conn?.isTerminated) s.trace('connectivity:connection_state_updated', { state: 'closed' });
    s.writer.close();
    const f = s.file;
    if (f === null || f.closed) return (s.ended = Promise.resolve());
    const done = new Promise<void>((resolve) => {
      f.once('close', () => resolve());
      f.end();
    }).then(() => void this.flushing.delete(done));
    this.flushing.add(done);
    return (s.ended = done);
  }

  /** Ends every session (the endpoint is going away), bound or not; resolves when every file is closed. */
  closeAll(): Promise<void> {
    const all: Array<Promise<void>> = [...this.flushing];
    for (const s of this.byConn.values()) all.push(this.finish(s));
    for (const list of this.pending.values()) for (const s of list) all.push(this.finish(s));
    this.byConn.clear();
    this.pending.clear();
    this.dirty.length = 0;
    return Promise.all(all).then(() => undefined);
  }
}

/** The recorder for an endpoint's `qlog` option, or null without one (then nothing qlog exists at all). */
export function qlogRecorder(option: QlogOption | undefined, vantage: QlogVantagePoint, local: () => PeerAddress | undefined): QlogRecorder | null {
  return option === undefined ? null : new QlogRecorder(option, vantage, local);
}
