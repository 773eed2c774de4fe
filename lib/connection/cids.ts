/**
 * Connection ids over the connection's life (RFC 9000 §5.1): issuing ours up to the peer's limit, the
 * peer's NEW_CONNECTION_ID / RETIRE_CONNECTION_ID, their frame writers, and the endpoint's routing hooks.
 */
import { TransportErrorCode } from '../errors.js';
import type { ByteWriter } from '../wire/buffer.js';
import { CID_LENGTH } from '../wire/packet.js';
import { LocalCids, PeerCids } from './cid-manager.js';
import type { ConnContext, FrameError } from './context.js';
import { writeIfFits } from './frame-room.js';
import type { SentFrame, SentFrameHandlers } from './sent-frame.js';

/** Connection ids we accept from the peer and issue to it at most (active_connection_id_limit). */
export const MAX_ACTIVE_CIDS = 4;
/**
 * Peer ids we may owe RETIRE_CONNECTION_ID for at once. A peer that makes us retire more (e.g. a flood of
 * NEW_CONNECTION_ID below its own retire_prior_to) is closed with CONNECTION_ID_LIMIT_ERROR (RFC 9000 §5.1.2).
 */
export const MAX_RETIRE_PENDING = 8 * MAX_ACTIVE_CIDS;

export class CidController {
  /** Ids we issued to the peer and ids it issued to us. */
  readonly local: LocalCids;
  readonly peer: PeerCids;
  /** The peer's source id in its first packet (checked against its initial_source_connection_id). */
  peerInitialScid: Uint8Array;
  /** Client: the server's first Initial told us its chosen id. */
  peerCidLearned = false;
  /** Client after a Retry: the Retry's SCID (our DCID since, checked against retry_source_connection_id) and its token. */
  retrySourceCid: Uint8Array | null = null;
  retryToken: Uint8Array | null = null;
  /** Set by the endpoint: ids we issued or retired (it routes by them). */
  onCidChange: ((added: Uint8Array[], removed: Uint8Array[]) => void) | null = null;
  /** Set by the endpoint: the peer's reset tokens that became valid or invalid. */
  onResetTokens: ((added: Uint8Array[], removed: Uint8Array[]) => void) | null = null;

  constructor(
    private readonly ctx: ConnContext,
    localCid: Uint8Array,
    localToken: Uint8Array | null,
    remoteCid: Uint8Array,
  ) {
    this.local = new LocalCids(localCid, localToken);
    this.peer = new PeerCids(remoteCid);
    this.peerInitialScid = remoteCid;
  }

  /** Client: the server's first long-header packet carries the id it chose. */
  learnPeerCid(scid: Uint8Array): void {
    this.peerInitialScid = scid.slice();
    this.peer.replaceInitial(this.peerInitialScid);
    this.peerCidLearned = true;
  }

  /** Client: the server's stateless_reset_token transport parameter belongs to its handshake id. */
  setInitialResetToken(token: Uint8Array): void {
    this.peer.replaceInitial(this.peerInitialScid, token);
    this.onResetTokens?.([token], []);
  }

  /** Issues connection ids up to the peer's limit (ours are routed by the endpoint). */
  issue(): void {
    const ctx = this.ctx;
    if (!ctx.handshakeConfirmed || ctx.state !== 'established') return;
    const limit = Math.min(ctx.peerParams?.activeConnectionIdLimit ?? 2, MAX_ACTIVE_CIDS);
    const added: Uint8Array[] = [];
    while (this.local.count < limit) {
      // The id and its token share one buffer (one ArrayBuffer per entry instead of two).
      const entry = new Uint8Array(CID_LENGTH + 16);
      const cid = entry.subarray(0, CID_LENGTH);
      ctx.env.randomFill(cid);
      const token = entry.subarray(CID_LENGTH);
      if (ctx.env.resetToken) token.set(ctx.env.resetToken(cid));
      else ctx.env.randomFill(token);
      this.local.issue(cid, token);
      added.push(cid);
    }
    if (added.length) this.onCidChange?.(added, []);
  }

  onNewConnectionId(seq: number, cid: Uint8Array, token: Uint8Array, retirePriorTo: number): FrameError | null {
    // Copies (the frame's bytes are views of the datagram), the id and its token in one buffer.
    const entry = new Uint8Array(cid.length + token.length);
    entry.set(cid);
    entry.set(token, cid.length);
    const res = this.peer.add(seq, entry.subarray(0, cid.length), entry.subarray(cid.length), retirePriorTo, MAX_ACTIVE_CIDS);
    if (!Array.isArray(res)) return { ...res, frameType: 0x18 };
    if (this.peer.retirePending.size > MAX_RETIRE_PENDING) {
      return {
        code: TransportErrorCode.CONNECTION_ID_LIMIT_ERROR,
        message: `${this.peer.retirePending.size} connection ids waiting to be retired`,
        frameType: 0x18,
      };
    }
    // Only an id that is active now has a token worth recognising: one retired on arrival registers nothing.
    this.onResetTokens?.(this.peer.isActive(seq) ? [token.slice()] : [], res);
    return null;
  }

  onRetireConnectionId(seq: number): FrameError | null {
    const res = this.local.retire(seq);
    if (res && 'code' in res) return { ...res, frameType: 0x19 };
    if (res) {
      this.onCidChange?.([], [res.cid]);
      this.issue();
    }
    return null;
  }

  get hasPending(): boolean {
    return this.local.pending.size > 0 || this.peer.retirePending.size > 0;
  }

  writeNewConnectionIds(w: ByteWriter, frames: SentFrame[]): boolean {
    let wrote = false;
    for (const seq of this.local.pending) {
      const e = this.local.get(seq);
      if (!e) break;
      if (
        !writeIfFits(w, {
          type: 'new_connection_id',
          sequence: seq,
          retirePriorTo: this.local.retirePriorTo,
          connectionId: e.cid,
          resetToken: e.token!,
        })
      ) {
        break;
      }
      frames.push({ k: 'new_cid', seq, retirePriorTo: this.local.retirePriorTo, cid: e.cid });
      this.local.pending.delete(seq);
      wrote = true;
    }
    return wrote;
  }

  writeRetireConnectionIds(w: ByteWriter, frames: SentFrame[]): boolean {
    let wrote = false;
    for (const seq of this.peer.retirePending) {
      if (!writeIfFits(w, { type: 'retire_connection_id', sequence: seq })) break;
      frames.push({ k: 'retire_cid', seq });
      this.peer.retirePending.delete(seq);
      wrote = true;
    }
    return wrote;
  }

  static readonly sentFrames: SentFrameHandlers<CidController> = {
    new_cid: { lost: (c, f) => void (c.local.get(f.seq) && c.local.pending.add(f.seq)) },
    retire_cid: {
      acked: (c, f) => void c.peer.retirePending.delete(f.seq),
      lost: (c, f) => void c.peer.retirePending.add(f.seq),
    },
  };
}
