/**
 * listen() and PetrelServer: one UDP socket, one core Endpoint, one timer, every accepted connection.
 * A connection is surfaced ('connection' event and async iteration) once its handshake completed.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../connection/connection.js';
import type { EndpointEvent } from '../endpoint/endpoint.js';
import { DeadlineHeap } from '../endpoint/deadline-heap.js';
import { PetrelError } from '../errors.js';
import { UdpEndpoint, nodeEnv, type EndpointHandler, type UdpEndpointStats } from '../transport/udp-endpoint.js';
import { reliableCarrierOptions } from '../transport/carrier.js';
import { WsServer, type WsServerStats } from '../transport/ws-server.js';
import { PetrelConnection, type ConnectionOwner } from './connection.js';
import { otherModeInitialProtectors, selectCryptoConfig } from './crypto-config.js';
import type { AcceptInfo } from '../endpoint/endpoint.js';
import type { TicketPolicy } from '../crypto/handshake/tickets.js';
import { ticketPolicy, type TicketStats } from './tickets.js';

/** The endpoint's accept hook (a reason or null) from the public one (true/undefined, false or a reason). */
function acceptHook(fn: (info: AcceptInfo) => boolean | string | undefined): (info: AcceptInfo) => string | null {
  return (info) => {
    let r: boolean | string | undefined;
    try {
      r = fn(info);
    } catch (e) {
      return `accept hook failed: ${(e as Error)?.message ?? String(e)}`;
    }
    if (r === true || r === undefined) return null;
    return r === false ? 'refused' : String(r);
  };
}
import { coreOptions, validateOptions, type ListenOptions } from './options.js';
import { qlogRecorder, type QlogRecorder } from './qlog.js';

export interface ServerCloseOptions {
  /** Application error code sent to every connection (0). */
  code?: number;
  reason?: string;
  /** Do not wait for connections to finish closing: send the close frames once and release the socket. */
  force?: boolean;
}

export interface PetrelServerEvents {
  connection: [conn: PetrelConnection];
  close: [];
}

export interface ServerStats extends UdpEndpointStats, Partial<WsServerStats> {
  /** Connections surfaced to the application and not yet closed. */
  connectionsOpen: number;
}

const DEFAULT_MAX_CONNECTIONS = 10_000;

export class PetrelServer extends EventEmitter<PetrelServerEvents> implements AsyncIterable<PetrelConnection>, EndpointHandler, ConnectionOwner {
  private udp!: UdpEndpoint;
  /** The WebSocket carrier (listen({ websocket })), or null. */
  private ws: WsServer | null = null;
  private readonly options: ListenOptions;
  private readonly all = new Map<Connection, PetrelConnection>();
  private readonly open = new Set<PetrelConnection>();
  /** Closed connections whose core is still in its closing period. */
  private readonly closing = new Set<PetrelConnection>();
  /** Closing connections whose core has terminated since the last afterPump (the core's onTerminated hook). */
  private readonly terminated: PetrelConnection[] = [];
  private readonly deadlines = new DeadlineHeap<PetrelConnection>();
  private readonly backlog: PetrelConnection[] = [];
  private readonly waiters: Array<(r: IteratorResult<PetrelConnection>) => void> = [];
  private closePromise: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  private stopped = false;
  private qlog: QlogRecorder | null = null;
  private tickets: TicketPolicy | undefined;

  /** @internal Use listen(). */
  constructor(options: ListenOptions) {
    super();
    this.options = options;
  }

  /** @internal */
  async start(): Promise<void> {
    const o = this.options;
    const crypto = selectCryptoConfig({
      role: 'server',
      insecure: o.insecure,
      identity: o.identity,
      certificateChain: o.certificateChain,
      requireConnectToken: o.requireConnectToken,
      tickets:
        (o.tickets !== undefined && o.tickets !== false) || o.earlyData
          ? (provider) => (this.tickets = ticketPolicy(o.tickets, o.earlyData, provider))
          : undefined,
      // With connect tokens the accept hook runs once the token is verified, so it can see it (issue 15).
      admit:
        o.accept && o.requireConnectToken
          ? (info) =>
              acceptHook(o.accept!)({
                address: info.address ?? { host: '', port: 0 },
                alpn: info.alpn,
                serverName: info.serverName,
                connectToken: info.connectToken,
              } as AcceptInfo)
          : undefined,
      boundAddress: () => {
        const a = this.udp.address();
        return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
      },
    });
    this.qlog = qlogRecorder(o.qlog, 'server', () => {
      const a = this.udp.address();
      return { host: a.address, port: a.port };
    });
    this.udp = await UdpEndpoint.bind(
      {
        host: o.host,
        port: o.port,
        ipv6Only: o.ipv6Only,
        recvBufferSize: o.recvBufferSize,
        sendBufferSize: o.sendBufferSize,
        server: {
          crypto,
          options: coreOptions(o),
          maxConnections: o.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
          accept: o.accept && !o.requireConnectToken ? acceptHook(o.accept) : undefined,
          otherModeInitialProtectors: otherModeInitialProtectors(o.insecure),
          maxHalfOpen: o.maxHalfOpen,
          maxHalfOpenPerPrefix: o.maxHalfOpenPerPrefix,
          handshakeTimeout: o.handshakeTimeout,
          retry: o.retry,
          retryThreshold: o.retryThreshold,
        },
        statelessResetKey: o.statelessResetKey,
        traceFor: this.qlog?.traceFor,
      },
      this,
    );
    if (o.websocket) {
      try {
        this.ws = await WsServer.start(o.websocket, {
          env: nodeEnv(),
          server: { crypto, options: reliableCarrierOptions(coreOptions(o)), maxConnections: o.maxConnections ?? DEFAULT_MAX_CONNECTIONS },
          traceFor: this.qlog?.traceFor,
          onEvent: (ev, now) => this.onEvent(ev, now, 'websocket'),
          afterPump: (now) => {
            this.afterPump(now);
            // Channel-layer deadlines live on the UDP driver's timer: let it re-arm.
            if (this.deadlines.peekTime() !== null) this.udp.kick();
          },
        });
      } catch (e) {
        await this.udp.close();
        throw e;
      }
    }
  }

  /** The WebSocket carrier's bound address (listen({ websocket })), or null without one. */
  websocketAddress(): { address: string; port: number; family: string } | null {
    return this.ws?.address() ?? null;
  }

  /**
   * listen({ tickets }): makes `key` (32 bytes; default a fresh random one) the ticket-sealing key. Tickets
   * sealed under the previous keys stay usable for one ticket lifetime, then get a full handshake.
   */
  rotateTicketKey(key?: Uint8Array): void {
    if (!this.tickets) throw new PetrelError('INVALID_OPTION', 'this server issues no session tickets (listen({ tickets }))');
    this.tickets.keys.rotate(key);
  }

  /** listen({ tickets }): tickets issued, resumptions, offered tickets not usable, 0-RTT accepted and rejected. */
  ticketStats(): TicketStats | null {
    return this.tickets ? { ...this.tickets.stats } : null;
  }

  address(): { address: string; port: number; family: string } {
    return this.udp.address();
  }

  /** Connections surfaced and still open. */
  get connections(): ReadonlySet<PetrelConnection> {
    return this.open;
  }

  stats(): ServerStats {
    return { ...this.udp.stats(), ...this.ws?.stats(), connectionsOpen: this.open.size };
  }

  /**
   * Stops accepting, closes every connection with `code`/`reason` and waits until they have ended
   * (unless `force`), then releases the socket. Idempotent.
   */
  close(opts: ServerCloseOptions = {}): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closePromise = this.shutdown(opts);
    return this.closePromise;
  }

  private async shutdown(opts: ServerCloseOptions): Promise<void> {
    this.stopped = true;
    this.udp.core.refuseNew = true;
    this.ws?.refuseNew();
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
    for (const pc of [...this.all.values()]) void pc.close({ code: opts.code ?? 0, reason: opts.reason ?? 'server closing' });
    if (opts.force || this.udp.isClosed) {
      this.udp.pump(performance.now()); // the close frames go out now, once
      this.ws?.pumpAll(performance.now());
    } else if (this.all.size > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        this.udp.kick();
      });
    }
    await this.udp.close();
    await this.ws?.close();
    for (const pc of this.all.values()) pc.markEnded();
    this.all.clear();
    this.closing.clear();
    this.terminated.length = 0;
    if (this.qlog) await this.qlog.closeAll(); // every trace file complete before 'close'
    this.emit('close');
  }

  [Symbol.asyncIterator](): AsyncIterator<PetrelConnection> {
    return {
      next: (): Promise<IteratorResult<PetrelConnection>> => {
        const c = this.backlog.shift();
        if (c) return Promise.resolve({ value: c, done: false });
        if (this.stopped) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
      return: (): Promise<IteratorResult<PetrelConnection>> => Promise.resolve({ value: undefined, done: true }),
    };
  }

  // ─────────────── EndpointHandler ───────────────

  /** @internal */
  onEvent(ev: EndpointEvent, now: number, transport: 'udp' | 'websocket' = 'udp'): void {
    this.qlog?.onEvent(ev, now);
    if (ev.kind === 'accept') {
      this.all.set(ev.connection, new PetrelConnection(this, ev.connection, this.options, transport));
      return;
    }
    this.all.get(ev.connection)?.handleEvent(ev.event, now);
  }

  /** @internal */
  pollTimeout(): number | null {
    return this.deadlines.peekTime();
  }

  /** @internal */
  onTimeout(now: number): void {
    const due: PetrelConnection[] = [];
    for (let pc = this.deadlines.popDue(now); pc; pc = this.deadlines.popDue(now)) due.push(pc);
    for (const pc of due) pc.handleTimeout(now);
  }

  /** @internal */
  afterPump(now: number): void {
    this.qlog?.afterPump(now);
    // Only the connections that terminated: scanning every closing connection per pump cost O(closing) each time.
    if (this.terminated.length === 0) return this.afterPumpDrained();
    for (const pc of this.terminated.splice(0)) {
      if (!this.closing.delete(pc)) continue;
      this.all.delete(pc.core);
      this.deadlines.delete(pc);
      // With qlog, close() resolves once the connection's trace file is complete.
      if (this.qlog) void this.qlog.end(pc.core).then(() => pc.markEnded());
      else pc.markEnded();
    }
    this.afterPumpDrained();
  }

  private afterPumpDrained(): void {
    if (this.drained && this.all.size === 0) {
      const d = this.drained;
      this.drained = null;
      d();
    }
  }

  // ─────────────── ConnectionOwner ───────────────

  /** @internal */
  setLayerDeadline(pc: PetrelConnection, t: number | null): void {
    this.deadlines.set(pc, t);
  }

  /** @internal */
  established(pc: PetrelConnection): void {
    if (this.stopped) return;
    this.open.add(pc);
    const w = this.waiters.shift();
    if (w) w({ value: pc, done: false });
    else if (this.listenerCount('connection') === 0) this.backlog.push(pc);
    // A throwing 'connection' listener is the application's bug: reported, and the server carries on.
    try {
      this.emit('connection', pc);
    } catch (e) {
      this.udp.reportListenerError(e);
    }
  }

  /** @internal */
  closed(pc: PetrelConnection): void {
    this.open.delete(pc);
    this.deadlines.delete(pc);
    if (!this.closing.has(pc)) {
      this.closing.add(pc);
      if (pc.core.isTerminated) this.terminated.push(pc);
      else pc.core.onTerminated = () => this.terminated.push(pc);
    }
    const i = this.backlog.indexOf(pc);
    if (i >= 0) this.backlog.splice(i, 1);
  }
}

/** Binds a server. Rejects with PetrelError (IDENTITY_REQUIRED, INVALID_OPTION, ADDRESS_IN_USE, SOCKET_ERROR). */
export async function listen(options: ListenOptions = {}): Promise<PetrelServer> {
  validateOptions(options);
  if (options.maxConnections !== undefined && !(options.maxConnections >= 0)) {
    throw new PetrelError('INVALID_OPTION', 'maxConnections must be >= 0');
  }
  for (const k of ['maxHalfOpen', 'maxHalfOpenPerPrefix', 'handshakeTimeout', 'retryThreshold'] as const) {
    const v = options[k];
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) throw new PetrelError('INVALID_OPTION', `${k} must be a number >= 0`);
  }
  if (options.retry !== undefined && !['auto', 'always', 'never'].includes(options.retry)) {
    throw new PetrelError('INVALID_OPTION', `retry must be 'auto', 'always' or 'never'`);
  }
  const server = new PetrelServer(options);
  await server.start();
  return server;
}
