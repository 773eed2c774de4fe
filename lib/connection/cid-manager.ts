/**
 * Connection-id bookkeeping (RFC 9000 §5.1): the ids we issued to the peer (which it uses as the
 * destination of packets to us) and the ids the peer issued to us (which we send to).
 */
import { TransportErrorCode } from '../errors.js';

export interface IssuedCid {
  seq: number;
  cid: Uint8Array;
  token: Uint8Array | null;
}

/** The ids we issued. Seq 0 is the id of the handshake; the rest go out in NEW_CONNECTION_ID frames. */
export class LocalCids {
  private readonly active = new Map<number, IssuedCid>();
  private nextSeq = 1;
  /** Sequence numbers whose NEW_CONNECTION_ID must be (re)sent. */
  readonly pending = new Set<number>();
  /** Highest retire_prior_to we announced. */
  retirePriorTo = 0;

  constructor(initial: Uint8Array, token: Uint8Array | null) {
    this.active.set(0, { seq: 0, cid: initial, token });
  }

  get count(): number {
    return this.active.size;
  }

  get(seq: number): IssuedCid | undefined {
    return this.active.get(seq);
  }

  all(): IterableIterator<IssuedCid> {
    return this.active.values();
  }

  issue(cid: Uint8Array, token: Uint8Array): IssuedCid {
    const entry = { seq: this.nextSeq++, cid, token };
    this.active.set(entry.seq, entry);
    this.pending.add(entry.seq);
    return entry;
  }

  /** RETIRE_CONNECTION_ID from the peer. Returns the retired id, null if already gone, or an error. */
  retire(seq: number): IssuedCid | null | { code: number; message: string } {
    if (seq >= this.nextSeq) {
      return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: `retired connection id ${seq} was never issued` };
    }
    const e = this.active.get(seq);
    if (!e) return null;
    this.active.delete(seq);
    this.pending.delete(seq);
    return e;
  }
}

export interface PeerCid {
  seq: number;
  cid: Uint8Array;
  token: Uint8Array | null;
}

/** The ids the peer issued to us; `current` is the one we send with. */
export class PeerCids {
  private readonly active = new Map<number, PeerCid>();
  current: PeerCid;
  private retiredBelow = 0;
  /** Sequence numbers we must retire with RETIRE_CONNECTION_ID (until acknowledged). */
  readonly retirePending = new Set<number>();

  constructor(initial: Uint8Array) {
    this.current = { seq: 0, cid: initial, token: null };
    this.active.set(0, this.current);
  }

  get count(): number {
    return this.active.size;
  }

  isActive(seq: number): boolean {
    return this.active.has(seq);
  }

  tokens(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const c of this.active.values()) if (c.token) out.push(c.token);
    return out;
  }

  /** The handshake learned the peer's real id (client: from the server's first Initial) or its reset token. */
  replaceInitial(cid: Uint8Array, token: Uint8Array | null = this.current.token): void {
    const e = { seq: 0, cid, token };
    this.active.set(0, e);
    if (this.current.seq === 0) this.current = e;
  }

  /**
   * NEW_CONNECTION_ID. Returns an error, or the tokens that stopped being valid (retired ids).
   * `limit` is our active_connection_id_limit.
   */
  add(seq: number, cid: Uint8Array, token: Uint8Array, retirePriorTo: number, limit: number): { code: number; message: string } | Uint8Array[] {
    const existing = this.active.get(seq);
    if (existing) {
      if (!bytesEqual(existing.cid, cid) || (existing.token && !bytesEqual(existing.token, token))) {
        return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: `connection id ${seq} announced twice with different values` };
      }
      return [];
    }
    const removed: Uint8Array[] = [];
    if (seq < this.retiredBelow) {
      // Already retired by an earlier retire_prior_to: retire this one at once.
      this.retirePending.add(seq);
      return removed;
    }
    this.active.set(seq, { seq, cid, token });
    if (retirePriorTo > this.retiredBelow) {
      this.retiredBelow = retirePriorTo;
      for (const [s, c] of this.active) {
        if (s < retirePriorTo) {
          this.active.delete(s);
          this.retirePending.add(s);
          if (c.token) removed.push(c.token);
        }
      }
      if (this.current.seq < retirePriorTo) this.current = this.lowest()!;
    }
    if (this.active.size > limit) {
      return { code: TransportErrorCode.CONNECTION_ID_LIMIT_ERROR, message: `peer issued ${this.active.size} active connection ids, limit ${limit}` };
    }
    return removed;
  }

  /** Moves to a fresh id (after a path change, for unlinkability) if one is available; retires the old one. */
  rotate(): boolean {
    let next: PeerCid | null = null;
    for (const c of this.active.values()) if (c.seq > this.current.seq && (!next || c.seq < next.seq)) next = c;
    if (!next) return false;
    this.active.delete(this.current.seq);
    this.retirePending.add(this.current.seq);
    this.current = next;
    return true;
  }

  private lowest(): PeerCid | null {
    let best: PeerCid | null = null;
    for (const c of this.active.values()) if (!best || c.seq < best.seq) best = c;
    return best;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
