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
import type { CloseInfo, CryptoConfig } from '../connection/types.js';
import type { EndpointEvent } from '../endpoint/endpoint.js';
import { PetrelError, TransportErrorCode, transportErrorName } from '../errors.js';
import { UdpEndpoint, type EndpointHandler } from '../transport/udp-endpoint.js';
import { PetrelConnection, type ConnectionOwner } from './connection.js';
import { selectCryptoConfig } from './crypto-config.js';
import { coreOptions, validateOptions, type ConnectOptions } from './options.js';
import { qlogRecorder, type QlogRecorder } from './qlog.js';

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
    return new PetrelError('CONNECTION_REFUSED', `server refused the connection${info.reason ? `: ${info.reason}` : ''}`);
  }
  if (crypto) {
    return new PetrelError('HANDSHAKE_FAILED', `handshake failed: ${transportErrorName(info.errorCode)}${info.reason ? ` (${info.reason})` : ''}`);
  }
  const what = info.application ? `application code ${info.errorCode}` : transportErrorName(info.errorCode);
  return new PetrelError(info.application ? 'CONNECTION_CLOSED' : transportErrorName(info.errorCode), `closed during the handshake: ${what}${info.reason ? ` (${info.reason})` : ''}`);
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
  if (typeof options?.host !== 'string' || options.host === '') throw new PetrelError('INVALID_OPTION', 'host is required');
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
    throw new PetrelError('INVALID_OPTION', `port must be 1..65535, got ${String(options.port)}`);
  }
  // Like TLS SNI: a host name doubles as the server name unless one is given.
  const serverName = options.serverName ?? (isIP(options.host) === 0 ? options.host : undefined);
  const crypto = selectCryptoConfig({
    role: 'client',
    insecure: options.insecure,
    serverKey: options.serverKey,
    trustedCAs: options.trustedCAs,
    serverName,
  });
  const signal = options.signal;
  if (signal?.aborted) throw abortError(signal);
  const target = await resolveHost(options.host, signal);
  if (signal?.aborted) throw abortError(signal);
  return new ClientSession(options, serverName).start(target, crypto);
}

class ClientSession implements EndpointHandler, ConnectionOwner {
  private readonly options: ConnectOptions;
  private udp!: UdpEndpoint;
  private pc!: PetrelConnection;
  private connectDeadline: number | null = null;
  private layerDeadline: number | null = null;
  private settle: { resolve: (c: PetrelConnection) => void; reject: (e: Error) => void } | null = null;
  private onAbort: (() => void) | null = null;
  private releasing: Promise<void> | null = null;
  private qlog: QlogRecorder | null = null;

  private readonly serverName: string | undefined;

  constructor(options: ConnectOptions, serverName: string | undefined) {
    this.options = options;
    this.serverName = serverName;
  }

  async start(target: { address: string; family: 4 | 6 }, crypto: CryptoConfig): Promise<PetrelConnection> {
    const o = this.options;
    this.qlog = qlogRecorder(o.qlog, 'client', () => {
      const a = this.udp.address();
      return { host: a.address, port: a.port };
    });
    this.udp = await UdpEndpoint.bind(
      {
        host: o.localHost,
        port: o.localPort,
        type: target.family === 6 ? 'udp6' : 'udp4',
        connectTo: { host: target.address, port: o.port },
        recvBufferSize: o.recvBufferSize,
        sendBufferSize: o.sendBufferSize,
        statelessResetKey: o.statelessResetKey,
        traceFor: this.qlog?.traceFor,
      },
      this,
    );
    const signal = o.signal;
    if (signal?.aborted) {
      await this.udp.close();
      throw abortError(signal);
    }
    // The kernel's spelling of the peer address is what received datagrams will carry.
    const peer = this.udp.socket.remoteAddress();
    const core = this.udp.connect({ remote: { host: peer.address, port: peer.port }, crypto, options: coreOptions(o, this.serverName) });
    this.qlog?.attach(core);
    this.pc = new PetrelConnection(this, core, o);
    this.connectDeadline = performance.now() + (o.timeout ?? DEFAULT_CONNECT_TIMEOUT);
    return new Promise<PetrelConnection>((resolve, reject) => {
      this.settle = { resolve, reject };
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
      this.fail(new PetrelError('CONNECT_TIMEOUT', `no handshake with ${this.options.host}:${this.options.port} within ${this.options.timeout ?? DEFAULT_CONNECT_TIMEOUT} ms`), true);
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
      this.fail(new PetrelError('CONNECTION_REFUSED', `${this.options.host}:${this.options.port} refused (ICMP port unreachable)`), false);
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
