/**
 * listen() and connect() for the real-socket API tests, on the carrier this run is for. vitest.config.ts runs
 * these tests twice: over UDP, and with PETREL_TEST_TRANSPORT=websocket, where every server also listens for
 * WebSocket and every client connects through it (the UDP port names the server; its WebSocket URL is looked up).
 */
import { connect as realConnect, listen as realListen } from '../../lib/api/index.js';
import type { ConnectOptions, ListenOptions, PetrelConnection, PetrelServer } from '../../lib/api/index.js';

export const TRANSPORT: 'udp' | 'websocket' = process.env.PETREL_TEST_TRANSPORT === 'websocket' ? 'websocket' : 'udp';

/** UDP port of a live test server → its WebSocket URL. */
const urls = new Map<number, string>();

export async function listen(options: ListenOptions = {}): Promise<PetrelServer> {
  if (TRANSPORT === 'udp' || options.websocket) return realListen(options);
  const server = await realListen({ ...options, websocket: { port: 0, host: options.host ?? '127.0.0.1', upgradesPerSecond: Infinity } });
  const port = server.address().port;
  urls.set(port, `ws://127.0.0.1:${server.websocketAddress()!.port}/`);
  server.once('close', () => urls.delete(port));
  return server;
}

export function connect(options: ConnectOptions): Promise<PetrelConnection> {
  const url = TRANSPORT === 'websocket' && options.transport === undefined && options.port !== undefined ? urls.get(options.port) : undefined;
  if (url === undefined) return realConnect(options);
  return realConnect({ ...options, transport: 'websocket', url });
}
