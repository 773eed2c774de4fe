/**
 * The `ws` package side of the WebSocket carrier on Node: a DatagramLink over a `ws` socket (drain known from
 * send callbacks, no polling) and the client's socket opener. The server is ws-server.ts.
 */
import WebSocket from 'ws';
import { PetrelError } from '../errors.js';
import type { DatagramLink } from './carrier.js';
import { carrierRemote, DEFAULT_MAX_MESSAGE_SIZE, type CarrierSocket } from './ws-client.js';

/** The TCP socket under a `ws` socket (not in its public types), or null before open / after close. */
function socketOf(ws: WebSocket): { cork(): void; uncork(): void } | null {
  return (ws as unknown as { _socket?: { cork(): void; uncork(): void } | null })._socket ?? null;
}

/** A DatagramLink over a `ws` socket: one binary message per datagram, no compression. */
export function wsPackageLink(ws: WebSocket): DatagramLink {
  let closed = false;
  const waiters: Array<{ low: number; cb: () => void }> = [];
  const check = (): void => {
    for (let i = 0; i < waiters.length;) {
      const w = waiters[i]!;
      if (closed || ws.readyState !== WebSocket.OPEN || ws.bufferedAmount <= w.low) {
        waiters.splice(i, 1);
        w.cb();
      } else i++;
    }
  };
  // One shared callback for every send: runs when that message reached the kernel.
  const written = (): void => {
    if (waiters.length > 0) check();
  };
  ws.once('close', () => {
    closed = true;
    check();
  });
  return {
    send(d) {
      if (closed || ws.readyState !== WebSocket.OPEN) return;
      ws.send(d, { binary: true, compress: false }, written);
    },
    get buffered() {
      return ws.bufferedAmount;
    },
    // ws writes each message's header and payload under its own cork; an outer cork makes a burst of
    // datagrams one write to the socket instead of one per datagram.
    cork() {
      socketOf(ws)?.cork();
    },
    uncork() {
      socketOf(ws)?.uncork();
    },
    onceDrained(low, cb) {
      waiters.push({ low, cb });
      // The socket may have drained between the caller's check and now.
      queueMicrotask(check);
    },
    close(code, reason) {
      if (closed) return;
      closed = true;
      check();
      try {
        ws.close(code, reason);
      } catch {
        ws.terminate();
      }
    },
  };
}

/** Wires a `ws` socket's messages and close into a CarrierSocket; text messages close it (1003). */
export function wsCarrierSocket(ws: WebSocket, remote: CarrierSocket['remote'], local: CarrierSocket['local']): CarrierSocket {
  const link = wsPackageLink(ws);
  let onMsg: ((d: Uint8Array) => void) | null = null;
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (!isBinary || !Buffer.isBuffer(data)) {
      link.close(1003, 'binary messages only');
      return;
    }
    onMsg?.(data);
  });
  ws.on('error', () => {
    // A protocol error (oversize message, bad frame): ws closes the socket itself; 'close' follows.
  });
  return {
    link,
    remote,
    local,
    onMessage(cb) {
      onMsg = cb;
    },
    onClose(cb) {
      ws.once('close', (code: number, reason: Buffer) => cb(code, reason.toString()));
    },
  };
}

export interface OpenWebSocketOptions {
  maxMessageSize?: number;
  /** Opening handshake (TCP + HTTP upgrade) deadline, ms. */
  handshakeTimeout?: number;
  signal?: AbortSignal;
  /** Extra HTTP headers for the upgrade request (e.g. Origin). */
  headers?: Record<string, string>;
}

/** Opens a WebSocket to `url` with the `ws` package. Rejects with a PetrelError. */
export function openNodeWebSocket(url: string, opts: OpenWebSocketOptions = {}): Promise<CarrierSocket> {
  let remote: CarrierSocket['remote'];
  try {
    const u = new URL(url);
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`not a ws:// or wss:// URL`);
    remote = carrierRemote(url);
  } catch (e) {
    return Promise.reject(new PetrelError('INVALID_OPTION', `bad websocket url ${JSON.stringify(url)}: ${(e as Error).message}`));
  }
  return new Promise<CarrierSocket>((resolve, reject) => {
    const ws = new WebSocket(url, {
      maxPayload: opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      perMessageDeflate: false,
      handshakeTimeout: opts.handshakeTimeout,
      followRedirects: false,
      headers: opts.headers,
    });
    ws.binaryType = 'nodebuffer';
    let settled = false;
    const onAbort = (): void => fail(new PetrelError('ABORTED', 'connect aborted', { cause: opts.signal?.reason }));
    const fail = (err: PetrelError): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    if (opts.signal) {
      if (opts.signal.aborted) {
        onAbort();
        return;
      }
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      // 503 is the server's "full or closing", as SERVER_BUSY is over UDP; anything else is a refusal.
      const code = res.statusCode === 503 ? 'SERVER_BUSY' : 'CONNECTION_REFUSED';
      fail(new PetrelError(code, `websocket upgrade refused: HTTP ${res.statusCode ?? '?'}`));
    });
    ws.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ECONNREFUSED' ? 'CONNECTION_REFUSED' : /timed out/i.test(err.message) ? 'CONNECT_TIMEOUT' : 'SOCKET_ERROR';
      fail(new PetrelError(code, `websocket ${url}: ${err.message}`, { cause: err }));
    });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners('error');
      ws.removeAllListeners('unexpected-response');
      const sock = (ws as unknown as { _socket: { localAddress?: string; localPort?: number } })._socket;
      resolve(wsCarrierSocket(ws, remote, { address: sock.localAddress ?? '', port: sock.localPort ?? 0 }));
    });
  });
}
