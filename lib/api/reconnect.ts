/**
 * reconnecting(): an opt-in client that opens a connection and, when it is lost, opens a new one with
 * exponential backoff, jitter and a cap, until it succeeds, `maxAttempts` is spent, or `close()` is called.
 *
 * Events: 'attempt' before every try (number, delay waited), 'attempt_failed' with the typed error,
 * 'connected' with the new PetrelConnection and how long the outage lasted (from losing the previous connection
 * to completing the new handshake), 'disconnected' with the lost connection's CloseResult, 'give_up' with the
 * last error. The `onConnect` hook runs on every connection before 'connected' (re-join rooms, re-subscribe);
 * if it throws, that connection is closed and the client tries again.
 *
 * Errors that a retry cannot fix (the server's key or name is wrong, no common ALPN, an `insecure` mismatch,
 * an explicit refusal by the server's accept hook, invalid options) end the client at once with 'give_up'.
 * SERVER_BUSY, timeouts, refusals by the network and every close of an established connection are retried.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { PetrelError } from '../errors.js';
import { connect } from './connect.js';
import type { CloseResult, PetrelConnection } from './connection.js';
import type { ConnectOptions } from './options.js';

export interface BackoffOptions {
  /** Delay before the first retry (ms). Default 100. */
  initialDelay?: number;
  /** Largest delay between attempts (ms), jitter included. Default 5000. */
  maxDelay?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay that is randomised: delay × (1 − jitter × U[0,1)). Default 0.5. */
  jitter?: number;
}

export interface ReconnectOptions extends BackoffOptions {
  /** Tries after a loss (or before the first success) before giving up. Default Infinity. */
  maxAttempts?: number;
  /** Runs on every new connection before 'connected': re-join rooms here. */
  onConnect?: (conn: PetrelConnection, info: ConnectedInfo) => void | Promise<void>;
  /** Whether to reconnect after an established connection closed (default: unless it was closed locally). */
  shouldReconnect?: (result: CloseResult) => boolean;
  /** Randomness for the jitter (tests); default Math.random. */
  random?: () => number;
}

export interface ConnectedInfo {
  /** 0 for the first connection, then 1, 2… */
  reconnects: number;
  /** Attempts this (re)connection took. */
  attempts: number;
  /** ms from losing the previous connection to this handshake's completion (0 for the first connection). */
  outage: number;
}

export interface ReconnectingClientEvents {
  attempt: [info: { attempt: number; delay: number }];
  attempt_failed: [error: PetrelError, info: { attempt: number }];
  connected: [conn: PetrelConnection, info: ConnectedInfo];
  disconnected: [result: CloseResult];
  give_up: [error: PetrelError];
  close: [];
}

/** Handshake errors that another attempt cannot fix. */
const FATAL = new Set([
  'INVALID_OPTION',
  'SERVER_KEY_REQUIRED',
  'UNKNOWN_SERVER_KEY',
  'BAD_SIGNATURE',
  'WRONG_SERVER_NAME',
  'CERTIFICATE_EXPIRED',
  'NO_COMMON_ALPN',
  'INSECURE_MISMATCH',
  'REFUSED',
  'HOST_NOT_FOUND',
]);

/** The delay before attempt `n` (1-based) of a series. */
export function backoffDelay(n: number, o: Required<BackoffOptions>, random: () => number): number {
  const base = Math.min(o.maxDelay, o.initialDelay * o.factor ** Math.max(0, n - 1));
  return base * (1 - o.jitter * random());
}

export class ReconnectingClient extends EventEmitter<ReconnectingClientEvents> {
  private readonly connectOptions: ConnectOptions;
  private readonly opts: Required<BackoffOptions> & { maxAttempts: number };
  private readonly hooks: Pick<ReconnectOptions, 'onConnect' | 'shouldReconnect'>;
  private readonly random: () => number;
  private current: PetrelConnection | null = null;
  private stopped = false;
  private reconnects = 0;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(connectOptions: ConnectOptions, options: ReconnectOptions = {}) {
    super();
    this.connectOptions = connectOptions;
    this.opts = {
      initialDelay: options.initialDelay ?? 100,
      maxDelay: options.maxDelay ?? 5000,
      factor: options.factor ?? 2,
      jitter: options.jitter ?? 0.5,
      maxAttempts: options.maxAttempts ?? Infinity,
    };
    for (const [k, v] of Object.entries(this.opts)) {
      if (!(v >= 0)) throw new PetrelError('INVALID_OPTION', `reconnect option ${k} must be >= 0`);
    }
    if (this.opts.jitter > 1) throw new PetrelError('INVALID_OPTION', 'reconnect option jitter must be in [0, 1]');
    if (this.opts.factor < 1) throw new PetrelError('INVALID_OPTION', 'reconnect option factor must be >= 1');
    this.hooks = { onConnect: options.onConnect, shouldReconnect: options.shouldReconnect };
    this.random = options.random ?? Math.random;
  }

  /** The live connection, or null between connections. */
  get connection(): PetrelConnection | null {
    return this.current;
  }

  /** Starts connecting; resolves with the first connection, rejects if the first series gives up. */
  start(): Promise<PetrelConnection> {
    if (this.loop) throw new PetrelError('INVALID_STATE', 'reconnecting client already started');
    return new Promise<PetrelConnection>((resolve, reject) => {
      const onUp = (c: PetrelConnection): void => {
        this.off('give_up', onDown);
        resolve(c);
      };
      const onDown = (e: PetrelError): void => {
        this.off('connected', onUp);
        reject(e);
      };
      this.once('connected', onUp);
      this.once('give_up', onDown);
      this.loop = this.run();
    });
  }

  /** Stops reconnecting and closes the current connection. */
  async close(opts: { code?: number; reason?: string } = {}): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    const c = this.current;
    if (c) await c.close(opts);
    await this.loop;
    this.emit('close');
  }

  private async run(): Promise<void> {
    let lostAt = -1; // when the previous connection was lost; -1 before the first one
    while (!this.stopped) {
      const conn = await this.series(lostAt);
      if (conn === null) return;
      const result = await conn.closed;
      this.current = null;
      lostAt = performance.now();
      if (this.stopped) return;
      this.emit('disconnected', result);
      const again = this.hooks.shouldReconnect ? this.hooks.shouldReconnect(result) : result.initiator !== 'local';
      if (!again) {
        this.stopped = true;
        return;
      }
      this.reconnects++;
    }
  }

  /** One series of attempts; the connection, or null when stopped or given up. */
  private async series(lostAt: number): Promise<PetrelConnection | null> {
    let last: PetrelError = new PetrelError('CONNECT_TIMEOUT', 'no attempt made');
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      // The first try after a loss (and the very first) goes at once; backoff grows from the second.
      const delay = attempt === 1 ? 0 : backoffDelay(attempt - 1, this.opts, this.random);
      if (delay > 0) await this.sleep(delay);
      if (this.stopped) return null;
      this.emit('attempt', { attempt, delay });
      this.abort = new AbortController();
      let conn: PetrelConnection;
      try {
        conn = await connect({ ...this.connectOptions, signal: this.abort.signal });
      } catch (e) {
        if (this.stopped) return null;
        last = e instanceof PetrelError ? e : new PetrelError('CONNECT_FAILED', (e as Error).message, { cause: e });
        this.emit('attempt_failed', last, { attempt });
        if (FATAL.has(last.code)) break;
        continue;
      } finally {
        this.abort = null;
      }
      const info: ConnectedInfo = { reconnects: this.reconnects, attempts: attempt, outage: lostAt < 0 ? 0 : performance.now() - lostAt };
      try {
        await this.hooks.onConnect?.(conn, info);
      } catch (e) {
        last = e instanceof PetrelError ? e : new PetrelError('ON_CONNECT_FAILED', (e as Error).message, { cause: e });
        this.emit('attempt_failed', last, { attempt });
        await conn.close({ code: 0, reason: 'onConnect hook failed' });
        continue;
      }
      if (this.stopped) {
        await conn.close();
        return null;
      }
      this.current = conn;
      this.emit('connected', conn, info);
      return conn;
    }
    this.stopped = true;
    this.emit('give_up', last);
    return null;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}

/** A reconnecting client for `connectOptions`; call `start()` to begin. */
export function reconnecting(connectOptions: ConnectOptions, options: ReconnectOptions = {}): ReconnectingClient {
  return new ReconnectingClient(connectOptions, options);
}
