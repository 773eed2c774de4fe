/**
 * The thin Node glue between the sans-IO HTTP state machines (HttpSession, RequestStreamParser) and the public
 * connection API: PetrelStreams in, Node Readables and a response writer out. One HttpEndpoint per connection
 * (created by the first `request()` or by `serveHttp()`) owns our three unidirectional streams and reads the peer's.
 * A connection error closes the connection with its H3 code; a stream error resets that stream with its code.
 */
import { Readable } from 'node:stream';
import type { PetrelConnection } from '../api/connection.js';
import type { PetrelStream } from '../api/stream.js';
import { HttpError, HttpErrorCode } from './errors.js';
import { FrameType, concatBytes, encodeFrameHeader } from './frames.js';
import { checkRegularField, validateRequestFields, validateResponseFields, validateTrailerFields } from './message.js';
import type { Field } from './qpack/decoder.js';
import { RequestStreamParser, type MessageEvent } from './request-stream.js';
import { HttpSession, type HttpSessionOptions, type SessionEvent } from './session.js';

export type HeadersInput = Record<string, string | number | ReadonlyArray<string>> | ReadonlyArray<readonly [string, string]>;
export type BodyInput = string | Uint8Array | AsyncIterable<Uint8Array | string>;
export type HttpOptions = Omit<HttpSessionOptions, 'role'>;

/** Fields as a record: names lowercase, repeated fields joined with ', ' ('; ' for cookie). */
export function fieldsToRecord(fields: ReadonlyArray<Field>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of fields) out[n] = n in out ? out[n] + (n === 'cookie' ? '; ' : ', ') + v : v;
  return out;
}

function toFields(h: HeadersInput | undefined): Field[] {
  if (h === undefined) return [];
  const out: Field[] = [];
  const entries: ReadonlyArray<readonly [string, unknown]> = Array.isArray(h) ? (h as ReadonlyArray<readonly [string, string]>) : Object.entries(h);
  for (const [k, v] of entries) {
    const name = k.toLowerCase();
    for (const one of Array.isArray(v) ? (v as string[]) : [v]) {
      const value = String(one);
      checkRegularField(name, value);
      out.push([name, value]);
    }
  }
  return out;
}

const asBytes = (c: Uint8Array | string): Uint8Array => (typeof c === 'string' ? Buffer.from(c) : c);

/** Writes a DATA frame: header then the chunk as is. Resolves when the stream can take more. */
function writeData(s: PetrelStream, chunk: Uint8Array): boolean {
  if (chunk.length === 0) return true;
  s.write(encodeFrameHeader(FrameType.DATA, chunk.length));
  return s.write(chunk);
}

function drained(s: PetrelStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', closed);
      resolve();
    };
    const closed = (): void => {
      s.off('drain', done);
      reject(s.peerError ?? new HttpError('H3_REQUEST_CANCELLED', 'stream closed while writing'));
    };
    s.once('drain', done);
    s.once('close', closed);
  });
}

async function writeBody(s: PetrelStream, body: BodyInput | undefined): Promise<void> {
  if (body === undefined) return;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    if (!writeData(s, asBytes(body))) await drained(s);
    return;
  }
  for await (const c of body) if (!writeData(s, asBytes(c))) await drained(s);
}

/** A readable body fed by DATA frames, pausing the stream when the consumer is full. */
class BodyReadable extends Readable {
  constructor(private readonly source: PetrelStream) {
    super();
    // A peer's bad bytes end the body with an error; readers still see it (for await, pipeline), but an unread
    // body must not turn it into an uncaught exception.
    this.on('error', () => {});
  }
  override _read(): void {
    this.source.resume();
  }
  feed(chunk: Uint8Array): void {
    // The chunk may be a view into a buffer the stream reuses: copy it.
    if (!this.push(Buffer.from(chunk))) this.source.pause();
  }
}

export class HttpEndpoint {
  readonly session: HttpSession;
  readonly conn: PetrelConnection;
  readonly ready: Promise<void>;
  private control: PetrelStream | null = null;
  private encoderStream: PetrelStream | null = null;
  private decoderStream: PetrelStream | null = null;
  private readonly parsers = new Map<number, { parser: RequestStreamParser; onEvents: (evs: MessageEvent[]) => void; stream: PetrelStream }>();
  private closed = false;
  onGoaway: ((id: number) => void) | null = null;
  onRequestStream: ((s: PetrelStream) => void) | null = null;

  constructor(conn: PetrelConnection, opts: HttpSessionOptions) {
    this.conn = conn;
    this.session = new HttpSession(opts);
    conn.on('stream', (s) => this.peerStream(s));
    conn.once('close', () => (this.closed = true));
    // A server opens its streams only once the client has opened one: the client's endpoint (which exists before
    // the client opens anything) is then listening, so the server's SETTINGS cannot arrive unheard.
    this.ready = opts.role === 'client' ? this.open() : new Promise<void>((r) => (this.startServer = r)).then(() => this.open());
    this.ready.catch(() => {});
  }

  private startServer: (() => void) | null = null;

  /** True once our control stream is open. */
  get started(): boolean {
    return this.control !== null;
  }

  private async open(): Promise<void> {
    const [c, e, d] = await Promise.all([
      // Urgency 0: encoder-stream inserts go out ahead of the request streams whose sections need them.
      this.conn.openStream({ unidirectional: true, priority: 0 }),
      this.conn.openStream({ unidirectional: true, priority: 0 }),
      this.conn.openStream({ unidirectional: true, priority: 0 }),
    ]);
    for (const s of [c, e, d]) s.on('error', () => {});
    c.write(this.session.opening('control'));
    e.write(this.session.opening('encoder'));
    d.write(this.session.opening('decoder'));
    this.control = c;
    this.encoderStream = e;
    this.decoderStream = d;
    this.flush();
  }

  /** Writes whatever the session queued on our unidirectional streams. */
  flush(): void {
    if (this.control === null || this.closed) return;
    const c = this.session.takeControl();
    if (c.length > 0) this.control.write(c);
    const e = this.session.takeEncoder();
    if (e.length > 0) this.encoderStream!.write(e);
    const d = this.session.takeDecoder();
    if (d.length > 0) this.decoderStream!.write(d);
  }

  /** Ends the connection with the error's H3 code. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    const code = err instanceof HttpError ? err.errorCode : HttpErrorCode.H3_INTERNAL_ERROR;
    void this.conn.close({ code, reason: err instanceof Error ? err.message.slice(0, 200) : 'internal error' });
  }

  private peerStream(s: PetrelStream): void {
    s.on('error', () => {});
    if (this.startServer !== null) {
      this.startServer();
      this.startServer = null;
    }
    if (s.bidirectional) {
      if (this.session.role === 'server' && this.onRequestStream) this.onRequestStream(s);
      else s.reset(HttpErrorCode.H3_STREAM_CREATION_ERROR);
      return;
    }
    s.on('data', (chunk: Buffer) => {
      try {
        const evs = this.session.uniData(s.id, chunk);
        // An unknown or reserved stream type: stop the sender (RFC 9114 §6.2) and drop what still arrives.
        if (evs.some((e) => e.type === 'ignore-stream' && e.streamId === s.id)) s.stopSending(HttpErrorCode.H3_STREAM_CREATION_ERROR);
        this.sessionEvents(evs);
        this.flush();
      } catch (e) {
        this.fail(e);
      }
    });
    s.on('end', () => {
      try {
        this.session.uniEnd(s.id);
      } catch (e) {
        this.fail(e);
      }
    });
  }

  private sessionEvents(evs: SessionEvent[]): void {
    for (const ev of evs) {
      if (ev.type === 'unblocked') {
        const p = this.parsers.get(ev.streamId);
        if (p) {
          p.onEvents(p.parser.unblocked(ev.fields));
          if (!p.parser.isBlocked) p.stream.resume();
        }
      } else if (ev.type === 'goaway') this.onGoaway?.(ev.id);
      else if (ev.type === 'ignore-stream') {
        // Unknown or reserved stream type: we will not read it.
      }
    }
  }

  /**
   * Reads a request stream through a RequestStreamParser; events go to `onEvents`. A stream error resets and stops
   * the stream with its code; a connection error closes the connection.
   */
  attach(s: PetrelStream, parser: RequestStreamParser, onEvents: (evs: MessageEvent[]) => void, onError: (e: Error) => void): void {
    this.parsers.set(s.id, { parser, onEvents, stream: s });
    const guard = (fn: () => void): void => {
      try {
        fn();
        this.flush();
      } catch (e) {
        this.parsers.delete(s.id);
        if (e instanceof HttpError && isStreamError(e)) {
          s.reset(e.errorCode);
          s.stopSending(e.errorCode);
        } else this.fail(e);
        onError(e as Error);
      }
    };
    s.on('data', (chunk: Buffer) =>
      guard(() => {
        onEvents(parser.push(chunk));
        // Blocked on QPACK inserts: stop reading (flow control holds the peer) until they arrive.
        if (parser.isBlocked) s.pause();
      }),
    );
    s.on('end', () => guard(() => onEvents(parser.end())));
    s.on('close', () => {
      if (this.parsers.delete(s.id) && parser.isBlocked) {
        this.session.cancelStream(s.id);
        this.flush();
      }
      if (s.peerError) onError(s.peerError);
    });
  }

  detach(id: number): void {
    this.parsers.delete(id);
  }
}

/** Errors that end only one request (RFC 9114 §4.1.2: malformed messages, incomplete requests, excess). */
function isStreamError(e: HttpError): boolean {
  return e.code === 'H3_MESSAGE_ERROR' || e.code === 'H3_REQUEST_INCOMPLETE' || e.code === 'H3_EXCESSIVE_LOAD';
}

// ───────────────────────── client ─────────────────────────

export interface RequestOptions {
  method?: string;
  path: string;
  /** Default 'https'. */
  scheme?: string;
  /** Default `<remote address>:<port>`. */
  authority?: string;
  headers?: HeadersInput;
  /** Trailer fields sent after the body. */
  trailers?: HeadersInput;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  rawHeaders: Field[];
  /** The response body; ends after the last DATA frame. */
  body: Readable;
  /** Trailer fields (empty when none), once the body has ended. */
  trailers: Promise<Record<string, string>>;
  streamId: number;
}

const clients = new WeakMap<PetrelConnection, HttpEndpoint>();

/** The client endpoint of `conn` (created, with its control and QPACK streams, on first use). */
export function httpClient(conn: PetrelConnection, opts: HttpOptions = {}): HttpEndpoint {
  let ep = clients.get(conn);
  if (ep === undefined) {
    ep = new HttpEndpoint(conn, { ...opts, role: 'client' });
    clients.set(conn, ep);
  }
  return ep;
}

/** Sends a request on a new stream of `conn`; resolves with the response head (the body streams after). */
export async function request(conn: PetrelConnection, opts: RequestOptions, body?: BodyInput): Promise<HttpResponse> {
  const ep = httpClient(conn);
  await ep.ready;
  if (ep.session.peerGoaway !== null) throw new HttpError('H3_REQUEST_REJECTED', 'the server sent GOAWAY: no new requests on this connection');
  const headers = toFields(opts.headers);
  const trailers = toFields(opts.trailers);
  const s = await conn.openStream();
  const fields: Field[] = [
    [':method', opts.method ?? 'GET'],
    [':scheme', opts.scheme ?? 'https'],
    [':authority', opts.authority ?? `${conn.remoteAddress}:${conn.remotePort}`],
    [':path', opts.path],
    ...headers,
  ];
  const bodyStream = new BodyReadable(s);
  let resolveTrailers!: (t: Record<string, string>) => void;
  const trailersP = new Promise<Record<string, string>>((r) => (resolveTrailers = r));
  trailersP.catch(() => {});
  const response = new Promise<HttpResponse>((resolve, reject) => {
    let head = false;
    const parser = new RequestStreamParser(ep.session, s.id, (f) => {
      const st = f.find(([n]) => n === ':status')?.[1];
      return st !== undefined && st.length === 3 && st[0] === '1';
    });
    ep.attach(
      s,
      parser,
      (evs) => {
        for (const ev of evs) {
          if (ev.type === 'headers') {
            const h = validateResponseFields(ev.fields);
            head = true;
            resolve({
              status: h.status,
              headers: fieldsToRecord(h.headers),
              rawHeaders: h.headers,
              body: bodyStream,
              trailers: trailersP,
              streamId: s.id,
            });
          } else if (ev.type === 'data') bodyStream.feed(ev.chunk);
          else if (ev.type === 'trailers') resolveTrailers(fieldsToRecord(validateTrailerFields(ev.fields)));
          else {
            resolveTrailers({});
            bodyStream.push(null);
            ep.detach(s.id);
          }
        }
      },
      (err) => {
        if (!head) reject(err);
        else if (!bodyStream.readableEnded) bodyStream.destroy(err);
      },
    );
  });
  let head: Uint8Array;
  try {
    head = ep.session.encodeHeaders(s.id, fields);
  } catch (e) {
    s.reset(HttpErrorCode.H3_REQUEST_CANCELLED);
    throw e;
  }
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
    // Everything in one write, FIN included: one packet for a small request.
    const parts = [head];
    const b = body === undefined ? new Uint8Array(0) : asBytes(body);
    if (b.length > 0) parts.push(encodeFrameHeader(FrameType.DATA, b.length), b);
    if (trailers.length > 0) parts.push(ep.session.encodeHeaders(s.id, trailers));
    ep.flush();
    s.end(concatBytes(parts));
    return response;
  }
  s.write(head);
  ep.flush();
  // The request body streams while the response is awaited.
  void (async () => {
    try {
      await writeBody(s, body);
      if (trailers.length > 0) s.write(ep.session.encodeHeaders(s.id, trailers));
      ep.flush();
      s.end();
    } catch (e) {
      s.reset(HttpErrorCode.H3_REQUEST_CANCELLED);
      bodyStream.destroy(e as Error);
    }
  })();
  return response;
}

// ───────────────────────── server ─────────────────────────

export interface HttpRequest {
  method: string;
  path: string;
  scheme: string;
  authority: string;
  headers: Record<string, string>;
  rawHeaders: Field[];
  body: Readable;
  trailers: Promise<Record<string, string>>;
  streamId: number;
}

export class ResponseWriter {
  headersSent = false;
  private pendingHead: Uint8Array | null = null;
  private readonly ep: HttpEndpoint;
  private readonly s: PetrelStream;
  /** Resolves when the response is fully written (or the stream is gone). */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(ep: HttpEndpoint, s: PetrelStream) {
    this.ep = ep;
    this.s = s;
    this.finished = new Promise((r) => (this.resolveFinished = r));
    s.once('close', () => this.resolveFinished());
  }

  /** Sets the response head; it goes out with the first write() or end() (in the same packet). */
  writeHead(status: number, headers?: HeadersInput): this {
    if (this.headersSent) throw new HttpError('H3_INTERNAL_ERROR', 'headers already sent');
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new HttpError('H3_INTERNAL_ERROR', `invalid status ${status}`);
    this.headersSent = true;
    this.pendingHead = this.ep.session.encodeHeaders(this.s.id, [[':status', String(status)], ...toFields(headers)]);
    this.ep.flush();
    return this;
  }

  private takeHead(): Uint8Array[] {
    if (!this.headersSent) this.writeHead(200);
    const h = this.pendingHead;
    this.pendingHead = null;
    return h === null ? [] : [h];
  }

  /** Writes a body chunk as a DATA frame; false when the stream is over its buffer (then await drain()). */
  write(chunk: Uint8Array | string): boolean {
    const b = asBytes(chunk);
    const parts = this.takeHead();
    if (b.length > 0) parts.push(encodeFrameHeader(FrameType.DATA, b.length), b);
    return parts.length === 0 ? true : this.s.write(parts.length === 1 ? parts[0]! : concatBytes(parts));
  }

  /** Resolves when the stream can take more after write() returned false. */
  drain(): Promise<void> {
    return this.s.writableNeedDrain ? drained(this.s) : Promise.resolve();
  }

  /** Ends the response: the head if not sent yet, the last chunk and the trailers go out in one write with FIN. */
  end(chunk?: Uint8Array | string, trailers?: HeadersInput): Promise<void> {
    const parts = this.takeHead();
    const b = chunk === undefined ? new Uint8Array(0) : asBytes(chunk);
    if (b.length > 0) parts.push(encodeFrameHeader(FrameType.DATA, b.length), b);
    const t = toFields(trailers);
    if (t.length > 0) parts.push(this.ep.session.encodeHeaders(this.s.id, t));
    this.ep.flush();
    this.s.end(concatBytes(parts), () => this.resolveFinished());
    return this.finished;
  }

  /** Abandons the response (RESET_STREAM with the code). */
  abort(code: number = HttpErrorCode.H3_INTERNAL_ERROR): void {
    this.s.reset(code);
    this.resolveFinished();
  }
}

export type RequestHandler = (req: HttpRequest, res: ResponseWriter) => void | Promise<void>;

export interface HttpServerHandle {
  endpoint: HttpEndpoint;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Graceful shutdown: GOAWAY with the first request id not processed, then wait for in-flight requests and close
   * the connection with H3_NO_ERROR.
   */
  close(): Promise<void>;
}

/** Serves HTTP requests on `conn` with `handler`. */
export function serveHttp(conn: PetrelConnection, handler: RequestHandler, opts: HttpOptions = {}): HttpServerHandle {
  const ep = new HttpEndpoint(conn, { ...opts, role: 'server' });
  let nextId = 0; // first client bidi id not yet seen
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const done = (): void => {
    inFlight--;
    if (inFlight === 0 && idle) idle();
  };
  ep.onRequestStream = (s) => {
    if (ep.session.sentGoaway !== null && s.id >= ep.session.sentGoaway) {
      s.reset(HttpErrorCode.H3_REQUEST_REJECTED);
      s.stopSending(HttpErrorCode.H3_REQUEST_REJECTED);
      return;
    }
    if (s.id >= nextId) nextId = s.id + 4;
    inFlight++;
    const res = new ResponseWriter(ep, s);
    const body = new BodyReadable(s);
    let resolveTrailers!: (t: Record<string, string>) => void;
    const trailers = new Promise<Record<string, string>>((r) => (resolveTrailers = r));
    let started = false;
    let finished = false;
    const finish = (): void => {
      if (!finished) {
        finished = true;
        done();
      }
    };
    res.finished.then(finish, finish);
    ep.attach(
      s,
      new RequestStreamParser(ep.session, s.id),
      (evs) => {
        for (const ev of evs) {
          if (ev.type === 'headers') {
            const h = validateRequestFields(ev.fields);
            started = true;
            const req: HttpRequest = { ...h, headers: fieldsToRecord(h.headers), rawHeaders: h.headers, body, trailers, streamId: s.id };
            Promise.resolve()
              .then(() => handler(req, res))
              .catch(() => {
                // A throwing handler: 500 if nothing was sent yet, else the stream is reset.
                if (!res.headersSent) {
                  res.writeHead(500);
                  void res.end();
                } else res.abort(HttpErrorCode.H3_INTERNAL_ERROR);
              });
          } else if (ev.type === 'data') body.feed(ev.chunk);
          else if (ev.type === 'trailers') resolveTrailers(fieldsToRecord(validateTrailerFields(ev.fields)));
          else {
            resolveTrailers({});
            body.push(null);
            ep.detach(s.id);
          }
        }
      },
      (err) => {
        body.destroy(err);
        if (!started) finish();
      },
    );
  };
  return {
    endpoint: ep,
    get inFlight() {
      return inFlight;
    },
    async close() {
      // GOAWAY goes on our control stream, which exists once the client has opened a stream.
      if (ep.started || nextId > 0) {
        await ep.ready.catch(() => {});
        ep.session.goaway(nextId);
        ep.flush();
      }
      if (inFlight > 0) await new Promise<void>((r) => (idle = r));
      await conn.close({ code: HttpErrorCode.H3_NO_ERROR, reason: 'GOAWAY' });
    },
  };
}
