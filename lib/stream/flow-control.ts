/**
 * Credit-based flow control (spec/streams.md §Flow control, RFC 9000 §4). The same two classes serve the
 * connection level (MAX_DATA / DATA_BLOCKED) and the stream level (MAX_STREAM_DATA / STREAM_DATA_BLOCKED);
 * SendCredit also counts streams we open against the peer's MAX_STREAMS (STREAMS_BLOCKED), and
 * StreamCountWindow grants the peer new streams as its old ones close (our MAX_STREAMS).
 */
import { PetrelError } from '../errors.js';
import { MAX_STREAM_COUNT } from './stream-id.js';

/** Defaults the connection uses unless configured (spec/streams.md §Defaults). */
export const FLOW_CONTROL_DEFAULTS = {
  /** Initial per-stream receive window (initial_max_stream_data_*). */
  streamWindow: 256 * 1024,
  /** Auto-tuning cap per stream. */
  maxStreamWindow: 16 * 1024 * 1024,
  /** Initial connection receive window (initial_max_data). */
  connectionWindow: 1024 * 1024,
  /** Auto-tuning cap for the connection: 1.5x the stream cap, so one fast stream cannot starve the others. */
  maxConnectionWindow: 24 * 1024 * 1024,
  /** Concurrent streams the peer may open, per direction (initial_max_streams_*). */
  maxStreamsBidi: 100,
  maxStreamsUni: 100,
} as const;

/** Our permission to send, granted by the peer (MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS). */
export class SendCredit {
  private _limit: number;
  private _used = 0;
  /** The limit a *_BLOCKED frame was last produced for (-1: none). */
  private blockedAt = -1;

  constructor(initialLimit: number) {
    this._limit = initialLimit;
  }

  get limit(): number {
    return this._limit;
  }
  get used(): number {
    return this._used;
  }
  get available(): number {
    return Math.max(0, this._limit - this._used);
  }

  /** Applies a new limit from the peer. Decreases are ignored (reordered frames); true when the limit grew. */
  raise(newLimit: number): boolean {
    if (newLimit <= this._limit) return false;
    this._limit = newLimit;
    return true;
  }

  consume(bytes: number): void {
    if (this._used + bytes > this._limit) {
      throw new PetrelError('INTERNAL_ERROR', `flow control: consuming ${bytes} exceeds the limit ${this._limit} (used ${this._used})`);
    }
    this._used += bytes;
  }

  /**
   * Call when there is something to send: returns the limit to report in a *_BLOCKED frame when the credit is
   * exhausted and none was reported for this limit yet, else null. One report per limit value.
   */
  pollBlocked(): number | null {
    if (this._used < this._limit || this.blockedAt === this._limit) return null;
    this.blockedAt = this._limit;
    return this._limit;
  }

  /** The *_BLOCKED frame carrying `limit` was lost: report again if still blocked at that limit. */
  onBlockedLost(limit: number): void {
    if (limit === this.blockedAt) this.blockedAt = -1;
  }
}

export interface RecvWindowOptions {
  initialWindow: number;
  /** Auto-tuning never grows the window beyond this. */
  maxWindow: number;
  /** When the initial limit was granted (e.g. handshake start); without it the first window is not auto-tuned. */
  now?: number;
}

/**
 * The permission we grant the peer (our MAX_DATA / MAX_STREAM_DATA). The limit follows what the application
 * consumed, not what arrived, so a reader that stops reading stops the sender after one window.
 */
export class RecvWindow {
  private _limit: number;
  private _window: number;
  private readonly maxWindow: number;
  private received = 0;
  private consumed = 0;
  /** When the current limit was advertised. */
  private lastUpdateAt: number;
  /** Auto-tuning already judged the current update epoch. */
  private tuned = false;
  /** Re-advertise even without new credit (the frame carrying the limit was lost). */
  private forced = false;

  constructor(opts: RecvWindowOptions) {
    this._limit = opts.initialWindow;
    this._window = opts.initialWindow;
    this.maxWindow = Math.max(opts.maxWindow, opts.initialWindow);
    this.lastUpdateAt = opts.now ?? -Infinity;
  }

  /** Highest offset the peer may send up to (exclusive end). */
  get limit(): number {
    return this._limit;
  }
  /** Current window size (auto-tuned). */
  get window(): number {
    return this._window;
  }
  /** Highest offset received so far. */
  get receivedOffset(): number {
    return this.received;
  }
  /** Offset the application consumed up to. */
  get consumedOffset(): number {
    return this.consumed;
  }
  /** pollUpdate() would return a limit. */
  get needsUpdate(): boolean {
    return this.forced || this.pastThreshold();
  }

  /** Peer data arrived up to `maxOffset`. False when that exceeds the limit: the caller closes with FLOW_CONTROL_ERROR. */
  onReceived(maxOffset: number): boolean {
    if (maxOffset > this._limit) return false;
    if (maxOffset > this.received) this.received = maxOffset;
    return true;
  }

  /** The application consumed bytes up to `consumedOffset` (for a reset stream: its final size). */
  onConsumed(consumedOffset: number, now: number, rtt: number): void {
    if (consumedOffset <= this.consumed) return;
    this.consumed = consumedOffset;
    this.tune(now, rtt);
  }

  /**
   * A new limit to advertise once the peer has less than half a window of credit left, else null. When the
   * previous update is less than 2 RTTs old, the window is too small for the data rate and doubles (up to
   * maxWindow) first, the way quinn, quiche and Chromium tune their windows.
   */
  pollUpdate(now: number, rtt: number): number | null {
    this.tune(now, rtt);
    if (!this.needsUpdate) return null;
    this._limit = Math.max(this._limit, this.consumed + this._window);
    this.lastUpdateAt = now;
    this.tuned = false;
    this.forced = false;
    return this._limit;
  }

  /** The frame advertising `limit` was lost: advertise again unless a newer limit superseded it. */
  onUpdateLost(limit: number): void {
    if (limit === this._limit) this.forced = true;
  }

  /** Raises the window to at least `minWindow` (capped): keeps the connection window above its fastest stream's. */
  ensureWindow(minWindow: number): void {
    if (minWindow > this._window) this._window = Math.min(minWindow, this.maxWindow);
  }

  private pastThreshold(): boolean {
    return this._limit - this.consumed < this._window / 2;
  }

  /** Once per update epoch, when the threshold is reached: double the window if the last update was recent. */
  private tune(now: number, rtt: number): void {
    if (this.tuned || !this.pastThreshold()) return;
    this.tuned = true;
    if (now - this.lastUpdateAt < 2 * rtt) this._window = Math.min(this._window * 2, this.maxWindow);
  }
}

/**
 * Streams of one type (bidi or uni) the peer may open: our MAX_STREAMS. The limit is a count, so stream index
 * i is allowed while i < limit. Every stream the peer opened that fully closes frees one slot; the new limit
 * goes out once half of maxConcurrent (at least one) has accumulated: few frames, and a peer that keeps
 * maxConcurrent streams busy is never blocked for long.
 */
export class StreamCountWindow {
  private _limit: number;
  private closed = 0;
  private forced = false;
  private readonly threshold: number;

  constructor(readonly maxConcurrent: number) {
    this._limit = Math.min(maxConcurrent, MAX_STREAM_COUNT);
    this.threshold = Math.max(1, Math.ceil(maxConcurrent / 2));
  }

  /** Streams with index < limit may be opened by the peer. */
  get limit(): number {
    return this._limit;
  }
  get needsUpdate(): boolean {
    return this.forced || this.target() - this._limit >= this.threshold;
  }

  /** Whether the peer may use stream `index` (false: STREAM_LIMIT_ERROR). */
  allows(index: number): boolean {
    return index < this._limit;
  }

  /** A peer-initiated stream of this type is fully closed (both directions done and its state dropped). */
  onClosed(): void {
    this.closed++;
  }

  /** The MAX_STREAMS value to send, or null when no update is due. */
  pollUpdate(): number | null {
    if (!this.needsUpdate) return null;
    this._limit = Math.max(this._limit, this.target());
    this.forced = false;
    return this._limit;
  }

  /** The MAX_STREAMS frame carrying `limit` was lost: send the current value again unless it moved on. */
  onUpdateLost(limit: number): void {
    if (limit === this._limit) this.forced = true;
  }

  private target(): number {
    return Math.min(this.closed + this.maxConcurrent, MAX_STREAM_COUNT);
  }
}
