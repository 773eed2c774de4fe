/**
 * Connection termination (RFC 9000 §10): immediate close (closing state, CONNECTION_CLOSE answered at a
 * decreasing rate), draining after the peer's close, silent ends (idle timeout, stateless reset), and
 * the CONNECTION_CLOSE writer.
 */
import { TransportErrorCode, transportErrorName } from '../errors.js';
import type { SpaceId } from '../recovery/types.js';
import type { ByteWriter } from '../wire/buffer.js';
import { encodeFrame } from '../wire/frames.js';
import { APP, HANDSHAKE, INITIAL, isClosingOrGone, type ConnContext } from './context.js';
import type { SentFrame } from './sent-frame.js';
import type { CloseInfo } from './types.js';

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

export class CloseManager {
  info: CloseInfo | null = null;
  deadline: number | null = null;
  framePending = false;
  private packetsReceived = 0;
  private frameType = 0;

  /** Called once when the connection becomes terminated ('closed'), wherever that happens. */
  onTerminated: (() => void) | null = null;

  constructor(private readonly ctx: ConnContext) {}

  private setClosed(): void {
    this.ctx.state = 'closed';
    const f = this.onTerminated;
    this.onTerminated = null;
    f?.();
  }

  private closePeriod(): number {
    return 3 * this.ctx.recovery.rtt.pto(this.ctx.peerParams?.maxAckDelay ?? 0, true);
  }

  enterClosing(info: CloseInfo, now: number, frameType = 0): void {
    const ctx = this.ctx;
    if (isClosingOrGone(ctx.state)) return;
    ctx.state = 'closing';
    this.info = info;
    this.frameType = frameType;
    this.framePending = true;
    this.deadline = now + this.closePeriod();
    ctx.events.push({ type: 'closed', info });
  }

  enterDraining(info: CloseInfo, now: number): void {
    const ctx = this.ctx;
    if (ctx.state === 'draining' || ctx.state === 'closed') return;
    const wasClosing = ctx.state === 'closing';
    ctx.state = 'draining';
    this.framePending = false;
    this.deadline = now + this.closePeriod();
    if (!wasClosing) {
      this.info = info;
      ctx.events.push({ type: 'closed', info });
    }
  }

  /** Ends immediately, without a close period (idle timeout, version negotiation failure). */
  terminate(info: CloseInfo): void {
    const ctx = this.ctx;
    if (ctx.state === 'closed') return;
    const announce = ctx.state !== 'closing' && ctx.state !== 'draining';
    this.setClosed();
    if (announce) {
      this.info = info;
      ctx.events.push({ type: 'closed', info });
    }
  }

  /** Closes with a transport error; returns `ret` (handy for the packet parser's "next offset"). */
  protocolError(code: number, message: string, frameType: number, ret: number): number {
    const ctx = this.ctx;
    if (ctx.env.trace) ctx.env.trace('transport:connection_error', { code: transportErrorName(code), message }, ctx.now);
    this.enterClosing({ errorCode: code, reason: message, application: false, initiator: 'local' }, ctx.now, frameType);
    return ret;
  }

  /** The endpoint matched a stateless reset token from our peer: the peer lost our state. */
  onStatelessReset(): void {
    const ctx = this.ctx;
    if (ctx.state === 'closed') return;
    if (ctx.state === 'closing' || ctx.state === 'draining') {
      this.setClosed();
      return;
    }
    this.terminate({ errorCode: TransportErrorCode.NO_ERROR, reason: 'stateless reset', application: false, initiator: 'reset' });
  }

  /** A packet arrived while closing: answer with our CONNECTION_CLOSE on the 1st, 2nd, 4th, 8th… */
  onPacketWhileClosing(): void {
    this.packetsReceived++;
    if ((this.packetsReceived & (this.packetsReceived - 1)) === 0) this.framePending = true;
  }

  /** The close period ended: the connection is gone. */
  onTimeout(now: number): void {
    if (this.deadline !== null && now >= this.deadline) this.setClosed();
  }

  /** The space a CONNECTION_CLOSE goes in: the highest with keys (RFC 9000 §10.2.3). */
  space(): SpaceId {
    const s = this.ctx.spaces;
    if (s[APP].write && this.ctx.handshakeComplete) return APP;
    if (s[HANDSHAKE].write && !s[HANDSHAKE].discarded) return HANDSHAKE;
    if (!s[INITIAL].discarded) return INITIAL;
    return APP;
  }

  /**
   * Whether a CONNECTION_CLOSE goes in space `id`: the highest space with keys and, until the handshake is
   * confirmed, every lower space still kept, because the peer may not have the higher keys yet (RFC 9000
   * §10.2.3). A server that has not yet heard a Handshake packet thus closes in Initial and Handshake.
   */
  sendsIn(id: SpaceId): boolean {
    const top = this.space();
    if (id === top) return true;
    if (id > top || this.ctx.handshakeConfirmed) return false;
    const s = this.ctx.spaces[id];
    return s.write !== null && !s.discarded;
  }

  write(w: ByteWriter, id: SpaceId, frames: SentFrame[]): void {
    const info = this.info!;
    let reason = utf8.encode(info.reason);
    if (reason.length > 256) reason = reason.subarray(0, 256);
    // An application close before the handshake completes is sent as a transport APPLICATION_ERROR (RFC 9000 §10.2.3).
    const asApp = info.application && id === APP;
    encodeFrame(w, {
      type: 'connection_close',
      application: asApp,
      errorCode: info.application && !asApp ? TransportErrorCode.APPLICATION_ERROR : info.errorCode,
      frameType: asApp ? 0 : this.frameType,
      reason: info.application && !asApp ? EMPTY : reason,
    });
    frames.push({ k: 'close', code: info.errorCode, app: info.application, reason: info.reason, frameType: this.frameType });
    this.framePending = false;
  }
}
