/**
 * Petrel for browsers: a client over the browser's WebSocket, with no Node built-ins (bundled by tsup as
 * dist/browser.js). Same handshake, packet protection, streams, channels and datagrams as the Node client;
 * the server is a Node `listen({ websocket })`. See docs/websocket.md.
 */
import type { ConnectionOptions, CryptoConfig } from '../connection/types.js';
import { browserCryptoProvider } from '../crypto/browser-provider.js';
import { parseFingerprint } from '../crypto/handshake/index.js';
import { insecureCrypto } from '../crypto/insecure.js';
import { secureCrypto } from '../crypto/secure.js';
import { PetrelError } from '../errors.js';
import { reliableCarrierOptions } from '../transport/carrier.js';
import { CarrierClient, carrierRemote, DEFAULT_MAX_MESSAGE_SIZE, domWebSocketLink, type CarrierSocket } from '../transport/ws-client.js';
import { BrowserConnection } from './connection.js';
import { crc32 } from './crc32.js';

export { BrowserChannel, BrowserConnection, BrowserStream } from './connection.js';
export type { BrowserCloseResult } from './connection.js';
export { browserCryptoProvider } from '../crypto/browser-provider.js';
export { PetrelError } from '../errors.js';

export interface BrowserConnectOptions {
  /** The server's WebSocket URL (ws:// or wss://). */
  url: string;
  /** Pinned server key: a fingerprint ("ed25519:…") or the raw 32-byte key. This or trustedCAs, unless insecure. */
  serverKey?: string | Uint8Array;
  trustedCAs?: ReadonlyArray<string | Uint8Array>;
  serverName?: string;
  alpn?: string | readonly string[];
  /** A connect token from the matchmaker (mintConnectToken), sent inside the encrypted handshake. */
  connectToken?: Uint8Array;
  /** Plaintext handshake and packets: tests only. */
  insecure?: boolean;
  /** Gives up after this many ms without a completed handshake (10000). */
  timeout?: number;
  idleTimeout?: number;
  keepAlive?: number;
}

interface DomSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, fn: (ev: { data?: unknown; code?: number; reason?: string }) => void): void;
}

function anchor(a: string | Uint8Array): Uint8Array {
  if (typeof a === 'string') return parseFingerprint(a);
  if (a instanceof Uint8Array && a.length === 32) return a;
  throw new PetrelError('INVALID_OPTION', 'a trust anchor is a fingerprint string or a 32-byte Ed25519 public key');
}

function cryptoFor(o: BrowserConnectOptions, serverName: string | undefined): CryptoConfig {
  if (o.insecure === true && o.connectToken !== undefined) {
    throw new PetrelError('INVALID_OPTION', 'connect tokens need the secure handshake (not insecure: true)');
  }
  if (o.insecure === true) return insecureCrypto;
  const serverKey = o.serverKey === undefined ? undefined : anchor(o.serverKey);
  const trustedCAs = (o.trustedCAs ?? []).map(anchor);
  if (serverKey === undefined && trustedCAs.length === 0) {
    throw new PetrelError('SERVER_KEY_REQUIRED', 'serverKey or trustedCAs is required (or insecure: true)');
  }
  return secureCrypto({
    provider: browserCryptoProvider,
    client: { serverKey, trustedCAs, serverName, now: () => Date.now(), connectToken: o.connectToken },
  });
}

/** Opens the browser's WebSocket; rejects with CONNECTION_REFUSED if it does not open. */
function openDomWebSocket(url: string, timeout: number): Promise<CarrierSocket> {
  const Ctor = (globalThis as unknown as { WebSocket?: new (url: string) => DomSocket }).WebSocket;
  if (!Ctor) return Promise.reject(new PetrelError('SOCKET_ERROR', 'no WebSocket in this runtime'));
  const remote = carrierRemote(url);
  return new Promise((resolve, reject) => {
    const ws = new Ctor(url);
    ws.binaryType = 'arraybuffer';
    let open = false;
    let onMsg: ((d: Uint8Array) => void) | null = null;
    let onClose: ((code: number, reason: string) => void) | null = null;
    const link = domWebSocketLink(ws);
    const timer = setTimeout(() => {
      if (open) return;
      link.close(1000, 'timeout');
      reject(new PetrelError('CONNECT_TIMEOUT', `websocket ${url} did not open within ${timeout} ms`));
    }, timeout);
    ws.addEventListener('open', () => {
      open = true;
      clearTimeout(timer);
      resolve({
        link,
        remote,
        local: { address: '', port: 0 },
        onMessage: (cb) => (onMsg = cb),
        onClose: (cb) => (onClose = cb),
      });
    });
    ws.addEventListener('message', (ev) => {
      if (ev.data instanceof ArrayBuffer && ev.data.byteLength <= DEFAULT_MAX_MESSAGE_SIZE) onMsg?.(new Uint8Array(ev.data));
      else link.close(1003, 'binary datagrams only');
    });
    ws.addEventListener('close', (ev) => {
      clearTimeout(timer);
      if (!open) reject(new PetrelError('CONNECTION_REFUSED', `websocket ${url} closed before opening (${ev.code ?? '?'})`));
      else onClose?.(ev.code ?? 1006, ev.reason ?? '');
    });
  });
}

/** Connects to a Petrel server's WebSocket endpoint. Resolves once the handshake completed. */
export async function connect(o: BrowserConnectOptions): Promise<BrowserConnection> {
  if (typeof o?.url !== 'string' || !/^wss?:\/\//i.test(o.url)) throw new PetrelError('INVALID_OPTION', 'url (ws:// or wss://) is required');
  const remote = carrierRemote(o.url);
  const isIp = /^[0-9.]+$/.test(remote.host) || remote.host.includes(':');
  const serverName = o.serverName ?? (isIp ? undefined : remote.host);
  const crypto = cryptoFor(o, serverName);
  const timeout = o.timeout ?? 10_000;
  const t0 = performance.now();
  const socket = await openDomWebSocket(o.url, timeout);
  const conn = new BrowserConnection();
  const client = new CarrierClient(socket, conn, {
    env: { randomFill: (b) => b.set(browserCryptoProvider.randomBytes(b.length)), crc32 },
  });
  const options: ConnectionOptions = {};
  if (o.idleTimeout !== undefined) options.idleTimeout = o.idleTimeout;
  if (o.keepAlive !== undefined) options.keepAlive = o.keepAlive;
  if (o.alpn !== undefined) options.alpn = typeof o.alpn === 'string' ? [o.alpn] : o.alpn;
  if (serverName !== undefined) options.serverName = serverName;
  const core = client.connect({ remote: socket.remote, crypto, options: reliableCarrierOptions(options) });
  return conn.start(client, core, Math.max(1, timeout - (performance.now() - t0)));
}
