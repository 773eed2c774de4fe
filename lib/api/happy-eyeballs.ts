/**
 * connect({ transport: 'auto' }): happy eyeballs between UDP and WebSocket (RFC 8305 §5, applied to carriers).
 *
 * The preferred carrier starts at once (UDP, or the carrier that won last time for this server); the other
 * starts `happyEyeballsDelay` ms later (250) — or at once if the first fails. The first handshake to complete
 * wins; the loser is aborted (or closed, if it completed too). The winner is remembered per server for
 * REMEMBER_MS so the next attempt starts with it. A server that never answers on UDP therefore costs the
 * delay and one WebSocket handshake.
 */
import { PetrelError } from '../errors.js';
import type { PetrelConnection } from './connection.js';
import type { ConnectOptions } from './options.js';

type Carrier = 'udp' | 'websocket';

export const DEFAULT_HAPPY_EYEBALLS_DELAY = 250;
/** How long a winner is remembered, and for how many servers at most. */
const REMEMBER_MS = 10 * 60_000;
const REMEMBER_MAX = 256;
const remembered = new Map<string, { carrier: Carrier; at: number }>();

function serverKey(o: ConnectOptions): string {
  return `${o.host ?? ''}|${o.port ?? ''}|${o.url ?? ''}`;
}

/** The carrier remembered for this server (or null). Exposed for tests and diagnostics. */
export function rememberedTransport(o: Pick<ConnectOptions, 'host' | 'port' | 'url'>): Carrier | null {
  const r = remembered.get(serverKey(o));
  if (!r || Date.now() - r.at > REMEMBER_MS) return null;
  return r.carrier;
}

function remember(key: string, carrier: Carrier): void {
  remembered.delete(key);
  if (remembered.size >= REMEMBER_MAX) remembered.delete(remembered.keys().next().value!);
  remembered.set(key, { carrier, at: Date.now() });
}

/** Forgets every remembered winner (tests). */
export function forgetTransports(): void {
  remembered.clear();
}

export function connectAuto(o: ConnectOptions, attempt: (o: ConnectOptions) => Promise<PetrelConnection>): Promise<PetrelConnection> {
  if (typeof o.url !== 'string') {
    return Promise.reject(new PetrelError('INVALID_OPTION', "transport 'auto' needs url (the server's WebSocket URL) as well as host and port"));
  }
  if (typeof o.host !== 'string' || o.host === '' || typeof o.port !== 'number') {
    return Promise.reject(new PetrelError('INVALID_OPTION', "transport 'auto' needs host and port (the server's UDP address) as well as url"));
  }
  const delay = o.happyEyeballsDelay ?? DEFAULT_HAPPY_EYEBALLS_DELAY;
  if (typeof delay !== 'number' || !(delay >= 0)) {
    return Promise.reject(new PetrelError('INVALID_OPTION', 'happyEyeballsDelay must be a number >= 0'));
  }
  const user = o.signal;
  if (user?.aborted) return Promise.reject(new PetrelError('ABORTED', 'connect aborted', { cause: user.reason }));
  const key = serverKey(o);
  const first: Carrier = rememberedTransport(o) ?? 'udp';
  const second: Carrier = first === 'udp' ? 'websocket' : 'udp';
  const controllers: Record<Carrier, AbortController> = { udp: new AbortController(), websocket: new AbortController() };

  return new Promise<PetrelConnection>((resolve, reject) => {
    let winner: Carrier | null = null;
    let started = 0;
    const errors: PetrelError[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onUserAbort = (): void => {
      controllers.udp.abort(user?.reason);
      controllers.websocket.abort(user?.reason);
    };
    user?.addEventListener('abort', onUserAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      user?.removeEventListener('abort', onUserAbort);
    };
    const start = (c: Carrier): void => {
      started++;
      attempt({ ...o, transport: c, signal: controllers[c].signal }).then(
        (conn) => {
          if (winner !== null) {
            void conn.close({ code: 0, reason: 'happy eyeballs: the other carrier won' });
            return;
          }
          winner = c;
          cleanup();
          controllers[c === 'udp' ? 'websocket' : 'udp'].abort();
          remember(key, c);
          resolve(conn);
        },
        (err: unknown) => {
          if (winner !== null) return;
          errors.push(err instanceof PetrelError ? err : new PetrelError('CONNECT_FAILED', String(err), { cause: err }));
          if (started === 1 && !user?.aborted) {
            // The first carrier failed outright: do not wait for the delay.
            clearTimeout(timer);
            start(second);
            return;
          }
          if (errors.length < 2) return;
          cleanup();
          // Both failed: report the more informative error (an ABORTED from our own race is not).
          reject(user?.aborted ? errors[0]! : (errors.find((e) => e.code !== 'ABORTED') ?? errors[0]!));
        },
      );
    };
    start(first);
    timer = setTimeout(() => {
      if (winner === null && started === 1) start(second);
    }, delay);
  });
}
