/**
 * connect(): one client connection on its own connected UDP socket (so ICMP refusals are reported), driven by
 * one UdpEndpoint with its single timer — which also carries the connect deadline and the channel layer's.
 *
 * The promise resolves once the handshake completes and rejects with a PetrelError: CONNECT_TIMEOUT,
 * CONNECTION_REFUSED, ABORTED (AbortSignal, honoured during name lookup, bind and handshake), the handshake's
 * own reason (UNKNOWN_SERVER_KEY, NO_COMMON_ALPN…, from either side), HANDSHAKE_FAILED, SERVER_KEY_REQUIRED,
 * INVALID_OPTION or HOST_NOT_FOUND. A failed attempt leaves no socket,
 * timer or listener behind.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Connection } from '../connection/connection.js';
import type { CloseInfo, CryptoConfig } from '../connection/types.js';
import type { EndpointEvent } from '../endpoint/endpoint.js';
import { PetrelError, TransportErrorCode, transportErrorName } from '../errors.js';
import { UdpEndpoint, nodeEnv, type EndpointHandler } from '../transport/udp-endpoint.js';
import { reliableCarrierOptions } from '../transport/carrier.js';
import { CarrierClient, carrierRemote, type CarrierSocket } from '../transport/ws-client.js';
import { openNodeWebSocket } from '../transport/ws-node.js';
import { connectAuto } from './happy-eyeballs.js';
import { SessionTicketStore, type SessionTicket } from './tickets.js';
import { PetrelConnection, type ConnectionOwner } from './connection.js';
import { selectCryptoConfig } from './crypto-config.js';
import { coreOptions, validateOptions, type ConnectOptions } from './options.js';
import { qlogRecorder, type QlogRecorder } from './qlog.js';
import { REFUSAL_CODES } from '../endpoint/refusal.js';

const DEFAULT_CONNECT_TIMEOUT = 10_000;

function abortError(signal: AbortSignal): PetrelError {
  return new PetrelError('ABORTED', 'connect aborted', { cause: signal.reason });
}

/** The typed error for a connection that closed before its handshake completed. */
export function handshakeError(info: CloseInfo): PetrelError {
  if (info.initiator === 'idle') return new PetrelError('CONNECT_TIMEOUT', 'no answer from the server (idle timeout during the handshake)');
  // Local handshake failures carry the session's stable reason first ("NO_COMMON_ALPN: …").
  const crypto = !info.application && info.errorCode >= TransportErrorCode.CRYPTO_ERROR_BASE && info.errorCode <= 0x01ff;
  const m = /^([A-Z][A-Z0-9_]{2,}): /.exec(info.reason);
  if (m && (info.initiator === 'local' || crypto)) return new PetrelError(m[1]!, info.reason);
  if (!info.application && info.errorCode === TransportErrorCode.CONNECTION_REFUSED) {
    // The server's stateless refusals name a stable code first: SERVER_BUSY, REFUSED, INSECURE_MISMATCH.
    if (m && REFUSAL_CODES.has(m[1]!)) return new PetrelError(m[1]!, `server refused the connection: ${info.reason}`);
    return new PetrelError('CONNECTION_REFUSED', `server refused the connection${info.reason ? `: ${info.reason}` : ''}`);
  }
  if (crypto) {
    return new PetrelError('HANDSHAKE_FAILED', `handshake failed: ${transportErrorName(info.errorCode)}${info.reason ? ` (${info.reason})` : ''}`);
  }
  const what = info.application ? `application code ${info.errorCode}` : transportErrorName(info.errorCode);
  return new PetrelError(
    info.application ? 'CONNECTION_CLOSED' : transportErrorName(info.errorCode),
    `closed during the handshake: ${what}${info.reason ? ` (${info.reason})` : ''}`,
  );
}

async function resolveHost(host: string, signal: AbortSignal | undefined): Promise<{ address: string; family: 4 | 6 }> {
  const ip = isIP(host);
  if (ip !== 0) return { address: host, family: ip as 4 | 6 };
  let onAbort: (() => void) | null = null;
  const aborted = signal
    ? new Promise<never>((_, reject) => {
        onAbort = () => reject(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
      })
    : null;
  try {
    const r = await (aborted ? Promise.race([lookup(host), aborted]) : lookup(host));
    return { address: r.address, family: r.family === 6 ? 6 : 4 };
  } catch (e) {
    if (e instanceof PetrelError) throw e;
    throw new PetrelError('HOST_NOT_FOUND', `cannot resolve ${host}: ${(e as Error).message}`, { cause: e });
  } finally {
    if (onAbort) signal!.removeEventListener('abort', onAbort);
  }
}

/** Opens a connection. See ConnectOptions. */
export async function connect(options: ConnectOptions): Promise<PetrelConnection> {
  validateOptions(options);
  const transport = options?.transport ?? 'udp';
  if (transport === 'websocket') return connectWebSocket(options);
  if (transport === 'auto') return connectAuto(options, connect);
  if (transport !== 'udp') throw new PetrelError('INVALID_OPTION', `transport must be 'udp', 'websocket' or 'auto', got ${String(transport)}`);
  if (typeof options?.host !== 'string' || options.host === '') throw new PetrelError('INVALID_OPTION', 'host is required');
  if (typeof options.port !== 'number' || !Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
    throw new PetrelError('INVALID_OPTION', `port must be 1..65535, got ${String(options.port)}`);
  }
  // Like TLS SNI: a host name doubles as the server name unless one is given.
  const serverName = options.serverName ?? (isIP(options.host) === 0 ? options.host : undefined);
  const tickets = new TicketSink(options, serverName ?? `${options.host}:${options.port}`);
  const crypto = selectCryptoConfig({
    role: 'client',
    insecure: options.insecure,
    serverKey: options.serverKey,
    trustedCAs: options.trustedCAs,
    serverName,
    connectToken: options.connectToken,
    ...tickets.cryptoOptions(),
  });
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal);
  const target = await resolveHost(options.host, signal);
  if (signal?.aborted) throw abortError(signal);
  return new ClientSession(options, serverName, `${options.host}:${options.port}`, tickets).start(target, crypto);
}

/** connect({ transport: 'websocket', url }): the same connection over one WebSocket (docs/websocket.md). */
async function connectWebSocket(options: ConnectOptions): Promise<PetrelConnection> {
  const url = options.url;
  if (typeof url !== 'string' || !/^wss?:\/\//i.test(url)) throw new PetrelError('INVALID_OPTION', 'transport websocket needs url (ws:// or wss://)');
  let remote: { host: string; port: number };
  try {
    remote = carrierRemote(url);
  } catch (e) {
    throw new PetrelError('INVALID_OPTION', `bad websocket url ${JSON.stringify(url)}`, { cause: e });
  }
  const serverName = options.serverName ?? (isIP(remote.host) === 0 ? remote.host : undefined);
  const tickets = new TicketSink(options, serverName ?? url);
  const crypto = selectCryptoConfig({
    role: 'client',
    insecure: options.insecure,
    serverKey: options.serverKey,
    trustedCAs: options.trustedCAs,
    serverName,
    connectToken: options.connectToken,
    ...tickets.cryptoOptions(),
  });
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal);
  const t0 = performance.now();
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
  const socket = await openNodeWebSocket(url, { signal, handshakeTimeout: timeout });
  const left = Math.max(1, timeout - (performance.now() - t0));
  return new ClientSession({ ...options, timeout: left }, serverName, url, tickets).startOnCarrier(socket, crypto);
}

/**
 * The client's side of session tickets: the ticket to offer (connect({ session }) or one taken from the
 * store), and where the server's new tickets go (the store, and conn.sessionTicket).
 */
class TicketSink {
  latest: SessionTicket | null = null;
  private readonly ticket: SessionTicket | undefined;
  /** `key` names the server in the store: its server name, else "host:port" or the URL. */
  constructor(
    private readonly o: ConnectOptions,
    private readonly key: string,
  ) {
    if (o.ticketStore !== undefined && !(o.ticketStore instanceof SessionTicketStore)) {
      throw new PetrelError('INVALID_OPTION', 'ticketStore must be a SessionTicketStore');
    }
    this.ticket = o.session ?? o.ticketStore?.take(key, Date.now()) ?? undefined;
  }

  cryptoOptions(): { ticket?: SessionTicket; earlyData?: boolean; onTicket?: (t: SessionTicket) => void } {
    return {
      ticket: this.ticket,
      earlyData: this.o.earlyData,
      onTicket: (t) => {
        this.latest = t;
        this.o.ticketStore?.add(t, this.key);
      },
    };
  }
}

/** The driver a client session runs on: the UDP endpoint or a carrier (WebSocket) client. */
type ClientDriver = Pick<UdpEndpoint, 'connect' | 'kick' | 'pump' | 'close'> & { address(): { address: string; port: number } };

class ClientSession implements EndpointHandler, ConnectionOwner {
  private readonly options: ConnectOptions;
  private udp!: ClientDriver;
  private pc!: PetrelConnection;
  private connectDeadline: number | null = null;
  private layerDeadline: number | null = null;
  private settle: { resolve: (c: PetrelConnection) => void; reject: (e: Error) => void } | null = null;
  private onAbort: (() => void) | null = null;
  private releasing: Promise<void> | null = null;
  private qlog: QlogRecorder | null = null;

  private readonly serverName: string | undefined;
  /** host:port or the URL, for error messages. */
  private readonly target: string;

  constructor(
    options: ConnectOptions,
    serverName: string | undefined,
    target: string,
    private readonly tickets: TicketSink,
  ) {
    this.options = options;
    this.serverName = serverName;
    this.target = target;
  }

  /** Runs the connection over an open carrier socket (WebSocket). */
  startOnCarrier(socket: CarrierSocket, crypto: CryptoConfig): Promise<PetrelConnection> {
    const o = this.options;
    this.qlog = qlogRecorder(o.qlog, 'client', () => ({ host: socket.local.address, port: socket.local.port }));
    const client = new CarrierClient(socket, this, { env: nodeEnv(), traceFor: this.qlog?.traceFor });
    this.udp = client;
    const core = client.connect({ remote: socket.remote, crypto, options: reliableCarrierOptions(coreOptions(o, this.serverName)) });
    return this.begin(core, 'websocket');
  }

  async start(target: { address: string; family: 4 | 6 }, crypto: CryptoConfig): Promise<PetrelConnection> {
    const o = this.options;
    this.qlog = qlogRecorder(o.qlog, 'client', () => {
      const a = this.udp.address();
      return { host: a.address, port: a.port };
    });
    const udp = await UdpEndpoint.bind(
      {
        host: o.localHost,
        port: o.localPort,
        type: target.family === 6 ? 'udp6' : 'udp4',
        connectTo: { host: target.address, port: o.port! },
        recvBufferSize: o.recvBufferSize,
        sendBufferSize: o.sendBufferSize,
        statelessResetKey: o.statelessResetKey,
        traceFor: this.qlog?.traceFor,
      },
      this,
    );
    this.udp = udp;
    const signal = o.signal;
    if (signal?.aborted) {
      await this.udp.close();
      throw abortError(signal);
    }
    // The kernel's spelling of the peer address is what received datagrams will carry.
    const peer = udp.socket.remoteAddress();
    const core = this.udp.connect({ remote: { host: peer.address, port: peer.port }, crypto, options: coreOptions(o, this.serverName) });
    return this.begin(core, 'udp');
  }

  private begin(core: Connection, transport: 'udp' | 'websocket'): Promise<PetrelConnection> {
    const o = this.options;
    const signal = o.signal;
    this.qlog?.attach(core);
    this.pc = new PetrelConnection(this, core, o, transport);
    this.pc.sessionTicketSource = () => this.tickets.latest;
    this.connectDeadline = performance.now() + (o.timeout ?? DEFAULT_CONNECT_TIMEOUT);
    return new Promise<PetrelConnection>((resolve, reject) => {
      this.settle = { resolve, reject };
      // 0-RTT: usable at once; a later handshake failure closes the connection ('close' event) instead.
      if (core.earlyDataWritable) this.established(this.pc);
      if (signal) {
        this.onAbort = () => this.fail(abortError(signal), true);
        signal.addEventListener('abort', this.onAbort, { once: true });
      }
      this.udp.kick(); // arms the timer with the connect deadline
    });
  }

  /** Rejects the attempt and releases everything; `tellPeer` sends a CONNECTION_CLOSE first. */
  private fail(err: PetrelError, tellPeer: boolean): void {
    const s = this.settle;
    if (!s) return;
    this.settle = null;
    this.connectDeadline = null;
    this.removeAbortListener();
    this.pc.abort({ errorCode: TransportErrorCode.APPLICATION_ERROR, reason: err.code, application: false, initiator: 'local' });
    // After the current pump (we may be inside it): flush the close frame once, then release the socket.
    void Promise.resolve()
      .then(() => {
        if (tellPeer) this.udp.pump(performance.now());
        return this.release();
      })
      .then(() => s.reject(err));
  }

  private removeAbortListener(): void {
    if (this.onAbort && this.options.signal) this.options.signal.removeEventListener('abort', this.onAbort);
    this.onAbort = null;
  }

  private release(): Promise<void> {
    if (!this.releasing) {
      // With qlog, the trace file is complete before close() / the failed connect() settles.
      const qlog = this.qlog;
      this.releasing = this.udp.close().then(() => (qlog ? qlog.closeAll().then(() => this.pc.markEnded()) : this.pc.markEnded()));
    }
    return this.releasing;
  }

  // ─────────────── ConnectionOwner ───────────────

  setLayerDeadline(_pc: PetrelConnection, t: number | null): void {
    this.layerDeadline = t;
  }

  established(pc: PetrelConnection): void {
    const s = this.settle;
    if (!s) return;
    this.settle = null;
    this.connectDeadline = null;
    this.removeAbortListener();
    s.resolve(pc);
  }

  closed(pc: PetrelConnection): void {
    if (this.settle) this.fail(handshakeError(closeInfoOf(pc)), true);
  }

  // ─────────────── EndpointHandler ───────────────

  onEvent(ev: EndpointEvent, now: number): void {
    this.qlog?.onEvent(ev, now);
    if (ev.kind === 'connection') this.pc.handleEvent(ev.event, now);
  }

  pollTimeout(): number | null {
    const a = this.connectDeadline;
    const b = this.layerDeadline;
    if (a === null) return b;
    if (b === null) return a;
    return Math.min(a, b);
  }

  onTimeout(now: number): void {
    if (this.connectDeadline !== null && now >= this.connectDeadline) {
      this.fail(
        new PetrelError('CONNECT_TIMEOUT', `no handshake with ${this.target} within ${this.options.timeout ?? DEFAULT_CONNECT_TIMEOUT} ms`),
        true,
      );
      return;
    }
    if (this.layerDeadline !== null && now >= this.layerDeadline) this.pc.handleTimeout(now);
  }

  afterPump(now: number): void {
    this.qlog?.afterPump(now);
    // An established connection that finished its closing period: release the socket.
    if (!this.settle && this.pc.closeResult !== null && this.pc.core.isTerminated) void this.release();
  }

  onRefused(): void {
    if (this.settle) {
      this.fail(
        new PetrelError(
          'CONNECTION_REFUSED',
          `${this.target} refused (${this.pc.transport === 'udp' ? 'ICMP port unreachable' : 'websocket closed'})`,
        ),
        false,
      );
      return;
    }
    // The peer's port is closed: nobody holds this connection's state any more.
    this.pc.abort({ errorCode: TransportErrorCode.CONNECTION_REFUSED, reason: 'port unreachable', application: false, initiator: 'reset' });
    void this.release();
  }
}

function closeInfoOf(pc: PetrelConnection): CloseInfo {
  const r = pc.closeResult!;
  return { errorCode: r.code, reason: r.reason, application: r.application, initiator: r.initiator };
}
