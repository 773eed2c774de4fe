/**
 * Every connection timer in one table keyed by timer kind: pollTimeout is the earliest deadline of the
 * table, handleTimeout fires the expired entries in table order. Adding a timer is one row here.
 * Also owns the idle timer's inputs (RFC 9000 §10.1) and keep-alive.
 */
import { TransportErrorCode } from '../errors.js';
import type { AckManager } from './ack-manager.js';
import type { CloseManager } from './close.js';
import { APP, type ConnContext } from './context.js';
import type { MtuDiscovery } from './mtu.js';
import type { Outcomes } from './outcomes.js';
import type { Paths } from './paths.js';
import { PeerLiveness } from './liveness.js';

/**
 * The backed-off PTO is capped so that at least this many probe rounds fit in the idle timeout: on a
 * path that loses half the round trips, a connection keeps probing instead of timing out mid-transfer.
 */
export const PROBES_PER_IDLE = 8;

export type TimerKind = 'idle' | 'liveness' | 'loss' | 'ack' | 'keepAlive' | 'pathValidation' | 'pathChallenge' | 'pacing' | 'pmtud';

interface TimerRow {
  kind: TimerKind;
  deadline(): number | null;
  /** Runs when the deadline passed; returns true when the connection ended (stop firing). */
  fire(now: number): boolean | void;
}

export interface TimerDeps {
  close: CloseManager;
  paths: Paths;
  mtu: MtuDiscovery;
  ack: AckManager;
  outcomes: Outcomes;
}

export class Timers {
  /** Negotiated idle timeout (ms; 0 = none). */
  idleTimeout: number;
  private lastActivity: number;
  private ackElicitingSentSinceRecv = false;
  private lastSendTime = 0;
  /** When pacing holds back pending data: the time it may go. */
  pacedUntil: number | null = null;
  private readonly table: readonly TimerRow[];
  /** peerTimeout: dead-peer detection (lib/connection/liveness.ts). */
  readonly liveness: PeerLiveness;

  constructor(
    private readonly ctx: ConnContext,
    now: number,
    private readonly deps: TimerDeps,
  ) {
    this.idleTimeout = ctx.opts.idleTimeout;
    this.lastActivity = now;
    this.liveness = new PeerLiveness(ctx.opts.peerTimeout, now);
    const { paths, mtu, outcomes } = deps;
    this.table = [
      {
        kind: 'idle',
        deadline: () => this.idleDeadline(),
        fire: () => {
          deps.close.terminate({ errorCode: TransportErrorCode.IDLE_TIMEOUT, reason: 'idle timeout', application: false, initiator: 'idle' });
          return true;
        },
      },
      {
        // peerTimeout counts once the handshake is complete (connect() has its own timeout before).
        kind: 'liveness',
        deadline: () => this.livenessDeadline(),
        fire: (now) => {
          const change = this.liveness.onTimeout(now);
          if (change === 'unresponsive') ctx.events.push({ type: 'unresponsive', silentFor: this.liveness.silentFor(now) });
          if (change !== 'dead') return false;
          const reason = `PEER_TIMEOUT: nothing heard from the peer for ${this.liveness.timeout} ms`;
          // Silent, like the idle timeout: a dead peer cannot read a CONNECTION_CLOSE.
          deps.close.terminate({ errorCode: TransportErrorCode.NO_ERROR, reason, application: false, initiator: 'peer_timeout' });
          return true;
        },
      },
      { kind: 'loss', deadline: () => ctx.recovery.lossDetectionDeadline(), fire: (now) => outcomes.onLossTimeout(now) },
      // An ACK that the amplification limit keeps from leaving is not a deadline: more bytes from the
      // peer (which unblock it) arrive as input anyway. Due ACKs go out from pollTransmit.
      { kind: 'ack', deadline: () => this.ackDeadline(), fire: () => {} },
      {
        kind: 'keepAlive',
        deadline: () => this.keepAliveDeadline(),
        // A keep-alive goes out like a PTO probe: one ack-eliciting packet regardless of the congestion
        // window (it is tiny, and liveness must not wait for a window that only ACKs would open).
        fire: () => void (ctx.spaces[APP].probes = Math.max(ctx.spaces[APP].probes, 1)),
      },
      // The challenge resend runs before validation is judged (both may expire together).
      { kind: 'pathChallenge', deadline: () => paths.resendDeadline(), fire: (now) => paths.onResendTimeout(now, this.idleTimeout) },
      { kind: 'pathValidation', deadline: () => paths.validationDeadlineAt(), fire: (now) => paths.onValidationDeadline(now) },
      { kind: 'pacing', deadline: () => this.pacedUntil, fire: () => void (this.pacedUntil = null) },
      { kind: 'pmtud', deadline: () => mtu.deadline(), fire: (now) => mtu.onTimeout(now) },
    ];
  }

  /** The peer's max_idle_timeout arrived: the minimum of the non-zero values applies. */
  negotiateIdleTimeout(peer: number): void {
    const a = this.ctx.opts.idleTimeout;
    this.idleTimeout = a > 0 && peer > 0 ? Math.min(a, peer) : Math.max(a, peer);
    if (this.idleTimeout > 0) this.ctx.recovery.setMaxPtoPeriod(this.idleTimeout / PROBES_PER_IDLE);
  }

  /** An authenticated, processed packet restarts the idle timer. */
  onPacketReceived(now: number): void {
    this.lastActivity = now;
    this.ackElicitingSentSinceRecv = false;
    if (this.liveness.onHeard(now) === 'responsive') this.ctx.events.push({ type: 'responsive' });
  }

  onAckElicitingSent(app: boolean, now: number): void {
    // Keep-alive counts 1-RTT ack-eliciting packets only: handshake retransmissions neither refresh a
    // NAT mapping for the data path nor tell the server where we are.
    if (app) this.lastSendTime = now;
    if (!this.ackElicitingSentSinceRecv) {
      // The idle timer restarts when we send the first ack-eliciting packet after receiving.
      this.lastActivity = Math.max(this.lastActivity, now);
      this.ackElicitingSentSinceRecv = true;
    }
  }

  private idleDeadline(): number | null {
    if (this.idleTimeout <= 0) return null;
    // At least three PTOs (RFC 9000 §10.1). The un-backed-off PTO: with backoff the deadline would
    // recede forever while a peer that is gone keeps being probed.
    const pto = this.ctx.recovery.rtt.pto(this.ctx.peerParams?.maxAckDelay ?? 0, true);
    return this.lastActivity + Math.max(this.idleTimeout, 3 * pto);
  }

  private livenessDeadline(): number | null {
    return this.ctx.handshakeComplete ? this.liveness.deadline() : null;
  }

  private ackDeadline(): number | null {
    return this.deps.paths.amplificationBlocked() ? null : this.deps.ack.deadline();
  }

  private keepAliveDeadline(): number | null {
    const ctx = this.ctx;
    // peerTimeout needs the peer to answer several times per period: it shortens the keep-alive.
    const interval = Math.min(ctx.opts.keepAlive || Infinity, this.liveness.keepAliveInterval);
    if (interval === Infinity || !ctx.handshakeComplete || ctx.spaces[APP].probes > 0 || this.deps.paths.amplificationBlocked()) return null;
    return Math.max(this.lastActivity, this.lastSendTime) + interval;
  }

  /** Earliest time `handleTimeout` must be called, or null. */
  pollTimeout(): number | null {
    const ctx = this.ctx;
    if (ctx.state === 'closed') return null;
    if (ctx.state === 'closing' || ctx.state === 'draining') return this.deps.close.deadline;
    // The minimum over the table's rows, written out: asked after every datagram in and out, and nine calls
    // through per-row closures cost more than the rows' own work (test/connection/timers-poll.test.ts checks
    // it against the table).
    const { paths, mtu } = this.deps;
    let t = this.idleDeadline();
    t = earlier(t, this.livenessDeadline());
    t = earlier(t, ctx.recovery.lossDetectionDeadline());
    t = earlier(t, this.ackDeadline());
    t = earlier(t, this.keepAliveDeadline());
    t = earlier(t, paths.resendDeadline());
    t = earlier(t, paths.validationDeadlineAt());
    t = earlier(t, this.pacedUntil);
    return earlier(t, mtu.deadline());
  }

  /** pollTimeout by walking the table (what pollTimeout must equal; for tests). */
  tableTimeout(): number | null {
    const ctx = this.ctx;
    if (ctx.state === 'closed') return null;
    if (ctx.state === 'closing' || ctx.state === 'draining') return this.deps.close.deadline;
    let t: number | null = null;
    for (const row of this.table) t = earlier(t, row.deadline());
    return t;
  }

  handleTimeout(now: number): void {
    const ctx = this.ctx;
    if (ctx.state === 'closed') return;
    if (ctx.state === 'closing' || ctx.state === 'draining') {
      this.deps.close.onTimeout(now);
      return;
    }
    for (const row of this.table) {
      const d = row.deadline();
      if (d !== null && now >= d && row.fire(now) === true) return;
    }
  }
}

function earlier(a: number | null, b: number | null): number | null {
  return b === null ? a : a === null || b < a ? b : a;
}
