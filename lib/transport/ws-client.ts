/**
 * The client side of the WebSocket carrier, platform-neutral: a CarrierEndpoint on one open socket, shaped
 * like the UDP driver as far as the client session needs (connect, kick, pump, close, address). How the
 * socket is opened is injected: the `ws` package on Node (ws-node.ts), the browser's WebSocket (lib/browser).
 */
import type { Connection } from '../connection/connection.js';
import type { ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../connection/types.js';
import type { EndpointConfig } from '../endpoint/endpoint.js';
import { CarrierEndpoint, type CarrierHandler, type CarrierStats, type DatagramLink } from './carrier.js';

/** An open carrier socket, as the driver sees it. */
export interface CarrierSocket {
  link: DatagramLink;
  /** The server as the core sees it (from the URL). */
  remote: PeerAddress;
  /** Our side of the socket, when known (for qlog and diagnostics). */
  local: { address: string; port: number };
  /** Every binary message, in order. */
  onMessage(cb: (datagram: Uint8Array) => void): void;
  /** The socket closed (either side, or an error). Called once. */
  onClose(cb: (code: number, reason: string) => void): void;
}

export interface CarrierClientHandler extends CarrierHandler {
  /** The socket closed underneath the connection. */
  onRefused?(err: Error): void;
}

/** Binary messages larger than this are refused by both sides of the carrier (bytes). */
export const DEFAULT_MAX_MESSAGE_SIZE = 2048;

/** Parses a ws:// or wss:// URL into the address the core uses for the peer. */
export function carrierRemote(url: string): PeerAddress {
  const u = new URL(url);
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'wss:' ? 443 : 80;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

export class CarrierClient {
  readonly carrier: CarrierEndpoint;
  private readonly socket: CarrierSocket;
  private closing: Promise<void> | null = null;
  private resolveClosed!: () => void;
  private readonly socketClosed: Promise<void>;

  constructor(socket: CarrierSocket, handler: CarrierClientHandler, opts: { env: CoreEnv; traceFor?: EndpointConfig['traceFor'] }) {
    this.socket = socket;
    this.carrier = new CarrierEndpoint(socket.link, handler, { env: opts.env, peer: socket.remote, traceFor: opts.traceFor });
    this.socketClosed = new Promise<void>((r) => (this.resolveClosed = r));
    socket.onMessage((d) => this.carrier.receive(d));
    socket.onClose((code, reason) => {
      this.resolveClosed();
      if (this.carrier.isClosed) return;
      handler.onRefused?.(new Error(`websocket closed (${code}${reason ? `: ${reason}` : ''})`));
    });
  }

  get core(): CarrierEndpoint['core'] {
    return this.carrier.core;
  }

  get isClosed(): boolean {
    return this.carrier.isClosed;
  }

  address(): { address: string; port: number } {
    return this.socket.local;
  }

  connect(args: { remote: PeerAddress; crypto: CryptoConfig; options?: ConnectionOptions }): Connection {
    return this.carrier.connect(args);
  }

  kick(): void {
    this.carrier.kick();
  }

  pump(now: number): void {
    this.carrier.pump(now);
  }

  stats(): CarrierStats {
    return this.carrier.stats();
  }

  /** Stops the driver and closes the socket once what was queued on it is out; resolves when it is closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.carrier.close(1000, 'petrel connection closed');
    let t: ReturnType<typeof setTimeout> | undefined;
    // A peer that never completes the close handshake costs at most a second.
    this.closing = Promise.race([this.socketClosed, new Promise<void>((r) => (t = setTimeout(r, 1000)))]).then(() => clearTimeout(t));
    return this.closing;
  }
}

/**
 * A DatagramLink over a browser-style WebSocket (the DOM API; the `ws` package implements it too). The DOM
 * API has no drain event, so a full link is polled every few milliseconds until it drains.
 */
export interface DomWebSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

const DRAIN_POLL_MS = 2;

export function domWebSocketLink(ws: DomWebSocket): DatagramLink {
  let closed = false;
  return {
    send(d) {
      if (closed || ws.readyState !== 1) return;
      ws.send(d);
    },
    get buffered() {
      return ws.bufferedAmount;
    },
    onceDrained(lowWater, cb) {
      const check = (): void => {
        if (closed || ws.readyState !== 1 || ws.bufferedAmount <= lowWater) cb();
        else setTimeout(check, DRAIN_POLL_MS);
      };
      setTimeout(check, DRAIN_POLL_MS);
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    },
  };
}
