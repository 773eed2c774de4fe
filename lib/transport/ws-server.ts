/**
 * The server side of the WebSocket carrier: accepts Petrel over WebSocket (the `ws` package) next to UDP.
 *
 * Each accepted socket gets its own CarrierEndpoint (one core Endpoint that accepts one connection), so a
 * slow reader's backpressure stalls only its own connection. Events go to the same handler as the UDP side
 * (the PetrelServer), so the application sees one connection type whatever the carrier.
 *
 * Abuse limits, all checked before a socket costs more than an HTTP request: the upgrade path, an origin
 * check (option), a per-IP upgrade rate (token bucket, bounded table), the server's connection limit, the
 * largest message (ws closes with 1009 above it), text messages (closed with 1003) and a handshake timeout
 * (a socket whose Petrel handshake has not completed in time is closed with 1008).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Connection } from '../connection/connection.js';
import type { CoreEnv } from '../connection/types.js';
import type { EndpointConfig, EndpointEvent, ServerConfig } from '../endpoint/endpoint.js';
import { PetrelError } from '../errors.js';
import { CarrierEndpoint, type CarrierHandler } from './carrier.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './ws-client.js';
import { wsCarrierSocket } from './ws-node.js';

export interface WebSocketListenOptions {
  /** Own HTTP server: port (0 = any free one, see websocketAddress()) and address ('127.0.0.1' unless given). */
  port?: number;
  host?: string;
  /** Attach to an existing HTTP(S) server instead (its other requests and upgrade paths are left alone). */
  server?: http.Server;
  /** Upgrade path accepted (default '/'). */
  path?: string;
  /** Largest binary message accepted, bytes (2048; a Petrel datagram is at most 1472). */
  maxMessageSize?: number;
  /** A socket must complete the Petrel handshake within this many ms of its upgrade (10000). */
  handshakeTimeout?: number;
  /** Upgrades accepted per second per remote IP (20), with bursts of twice that. Infinity = no limit. */
  upgradesPerSecond?: number;
  /** Accepted Origin headers: a list, or a predicate (the header may be absent for non-browser clients). Default: any. */
  origins?: readonly string[] | ((origin: string | undefined) => boolean);
}

export interface WsServerStats {
  websocketUpgrades: number;
  websocketOpen: number;
  /** Upgrades refused, by reason: path, origin, rate, capacity, closing. */
  websocketRefused: Record<string, number>;
  websocketHandshakeTimeouts: number;
  /** Datagrams that arrived over WebSocket and were dropped before reaching a connection, by reason. */
  websocketDrops: Record<string, number>;
}

/** What the WebSocket side needs from the server that owns it. */
export interface WsServerHost {
  env: CoreEnv;
  server: ServerConfig;
  traceFor?: EndpointConfig['traceFor'];
  /** Receives every endpoint event (accept and connection events), as from the UDP driver. */
  onEvent(ev: EndpointEvent, now: number): void;
  afterPump?(now: number): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
/** How long a socket outlives its ended connection unless the client closes it first (ms). */
const LINGER_MS = 1000;
const DEFAULT_UPGRADES_PER_SECOND = 20;
/** Remote IPs tracked by the upgrade rate limiter at most; the oldest entry goes first. */
const MAX_TRACKED_IPS = 10_000;

/** Token bucket per remote IP. */
class UpgradeRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perSecond: number) {}

  take(ip: string, now: number): boolean {
    if (this.perSecond === Infinity) return true;
    const burst = 2 * this.perSecond;
    let b = this.buckets.get(ip);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED_IPS) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: burst, at: now };
      this.buckets.set(ip, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}

function addDrops(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => {});
  try {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  } catch {
    // already gone
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class WsServer {
  private readonly host: WsServerHost;
  private readonly http: http.Server;
  private readonly ownServer: boolean;
  private readonly path: string;
  private readonly maxMessageSize: number;
  private readonly handshakeTimeout: number;
  private readonly rate: UpgradeRate;
  private readonly origins: WebSocketListenOptions['origins'];
  private readonly wss: WebSocketServer;
  private readonly links = new Map<CarrierEndpoint, WebSocket>();
  private refusing = false;
  private closing: Promise<void> | null = null;
  private readonly counters = { websocketUpgrades: 0, websocketHandshakeTimeouts: 0 };
  private readonly refused: Record<string, number> = {};
  /** Drops of the links already gone (live links are added in stats()). */
  private readonly pastDrops: Record<string, number> = {};
  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => this.upgrade(req, socket, head);

  private constructor(opts: WebSocketListenOptions, host: WsServerHost) {
    this.host = host;
    this.ownServer = opts.server === undefined;
    this.http =
      opts.server ??
      http.createServer((_req, res) => {
        res.writeHead(426, { Connection: 'close', Upgrade: 'websocket' }).end();
      });
    if (this.ownServer) {
      this.http.headersTimeout = 10_000;
      this.http.requestTimeout = 10_000;
    }
    this.path = opts.path ?? '/';
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.handshakeTimeout = opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.rate = new UpgradeRate(opts.upgradesPerSecond ?? DEFAULT_UPGRADES_PER_SECOND);
    this.origins = opts.origins;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxMessageSize, perMessageDeflate: false, clientTracking: false });
    this.http.on('upgrade', this.onUpgrade);
  }

  /** Starts listening (own server) or attaches to the given one. Rejects with a PetrelError. */
  static async start(opts: WebSocketListenOptions, host: WsServerHost): Promise<WsServer> {
    checkWebSocketOptions(opts);
    const s = new WsServer(opts, host);
    if (s.ownServer) {
      try {
        await new Promise<void>((resolve, reject) => {
          s.http.once('error', reject);
          s.http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
            s.http.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new PetrelError(err.code === 'EADDRINUSE' ? 'ADDRESS_IN_USE' : 'SOCKET_ERROR', `websocket listen: ${err.message}`, { cause: e });
      }
    }
    return s;
  }

  address(): { address: string; port: number; family: string } {
    const a = this.http.address();
    if (a === null || typeof a === 'string') return { address: String(a ?? ''), port: 0, family: '' };
    return { address: a.address, port: a.port, family: a.family };
  }

  stats(): WsServerStats {
    const drops = { ...this.pastDrops };
    for (const ep of this.links.keys()) addDrops(drops, ep.core.drops);
    return { ...this.counters, websocketOpen: this.links.size, websocketRefused: { ...this.refused }, websocketDrops: drops };
  }

  private refuseWith(socket: Duplex, reason: string, status: number, text: string): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + 1;
    refuse(socket, status, text);
  }

  private originOk(origin: string | undefined): boolean {
    const o = this.origins;
    if (o === undefined) return true;
    if (typeof o === 'function') return o(origin);
    return origin !== undefined && o.includes(origin);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== this.path) {
      // Someone else's upgrade path on a shared server is theirs to answer.
      if (this.ownServer) this.refuseWith(socket, 'path', 404, 'Not Found');
      return;
    }
    if (this.refusing) return this.refuseWith(socket, 'closing', 503, 'Service Unavailable');
    if (!this.originOk(req.headers.origin)) return this.refuseWith(socket, 'origin', 403, 'Forbidden');
    if (!this.rate.take(req.socket.remoteAddress ?? '', performance.now())) return this.refuseWith(socket, 'rate', 429, 'Too Many Requests');
    if (this.links.size >= (this.host.server.maxConnections ?? Infinity)) return this.refuseWith(socket, 'capacity', 503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
  }

  private accept(ws: WebSocket, req: http.IncomingMessage): void {
    this.counters.websocketUpgrades++;
    const peer = { host: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
    const sock = wsCarrierSocket(ws, peer, { address: req.socket.localAddress ?? '', port: req.socket.localPort ?? 0 });
    let conn: Connection | null = null;
    let established = false;
    let done = false;
    let linger: ReturnType<typeof setTimeout> | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(linger);
      ep.close(1000, 'petrel connection closed');
      if (this.links.delete(ep)) addDrops(this.pastDrops, ep.core.drops);
    };
    const handler: CarrierHandler = {
      onEvent: (ev, now) => {
        if (ev.kind === 'accept') conn = ev.connection;
        else if (ev.event.type === 'connected') {
          established = true;
          clearTimeout(timer);
        }
        this.host.onEvent(ev, now);
      },
      afterPump: (now) => {
        this.host.afterPump?.(now);
        // The connection is over: the socket has nothing more to carry. It stays open a moment so that a
        // client whose connection ends on its own at the same time (both idle timers) closes first and
        // sees its own reason, not a vanished socket.
        if (conn !== null && ep.connectionCount === 0 && linger === undefined && !done) linger = setTimeout(finish, LINGER_MS);
      },
    };
    // One connection per socket; the server-wide limit is counted in sockets (upgrade()).
    const ep = new CarrierEndpoint(sock.link, handler, {
      env: this.host.env,
      peer,
      server: { ...this.host.server, maxConnections: 1 },
      traceFor: this.host.traceFor,
    });
    this.links.set(ep, ws);
    const timer = setTimeout(() => {
      if (established || done) return;
      this.counters.websocketHandshakeTimeouts++;
      ws.close(1008, 'petrel handshake timeout');
      setTimeout(() => ws.terminate(), 1000).unref();
    }, this.handshakeTimeout);
    sock.onMessage((d) => ep.receive(d));
    sock.onClose(() => {
      const c = conn as Connection | null;
      if (c === null || c.isTerminated) {
        finish();
        return;
      }
      // The carrier is gone, and with it the peer's way back: end the connection now, as a reset would.
      c.onStatelessReset();
      ep.core.touch(c);
      ep.pump(performance.now());
      finish();
    });
  }

  /** Stops accepting upgrades (server closing). */
  refuseNew(): void {
    this.refusing = true;
    for (const ep of this.links.keys()) ep.core.refuseNew = true;
  }

  /** Sends what every connection has queued (close frames), once. */
  pumpAll(now: number): void {
    for (const ep of this.links.keys()) ep.pump(now);
  }

  /**
   * Closes every socket and (when it is ours) the HTTP server. Each socket's close ends its connection as a
   * reset would (if it has not ended already), so the owner sees every connection finish. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.refusing = true;
    this.http.off('upgrade', this.onUpgrade);
    await Promise.all(
      [...this.links.values()].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(1001, 'server closing');
            setTimeout(() => ws.terminate(), 1000).unref();
          }),
      ),
    );
    for (const ep of this.links.keys()) {
      ep.close(1001, 'server closing');
      addDrops(this.pastDrops, ep.core.drops);
    }
    this.links.clear();
    if (this.ownServer) {
      await new Promise<void>((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
    }
  }
}

/** Rejects malformed websocket listen options with INVALID_OPTION. */
export function checkWebSocketOptions(o: WebSocketListenOptions): void {
  if (typeof o !== 'object' || o === null) throw new PetrelError('INVALID_OPTION', 'websocket must be an object');
  for (const k of ['port', 'maxMessageSize', 'handshakeTimeout', 'upgradesPerSecond'] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || Number.isNaN(v))) {
      throw new PetrelError('INVALID_OPTION', `websocket.${k} must be a number >= 0`);
    }
  }
  if (o.maxMessageSize !== undefined && o.maxMessageSize < 1500) {
    throw new PetrelError('INVALID_OPTION', 'websocket.maxMessageSize must be >= 1500 (a Petrel datagram)');
  }
  if (o.path !== undefined && (typeof o.path !== 'string' || !o.path.startsWith('/'))) {
    throw new PetrelError('INVALID_OPTION', "websocket.path must start with '/'");
  }
}
