/**
 * Reassembly of fragmented channel datagrams (spec/wire.md §Game channels, DATAGRAM payloads).
 *
 * Fragments of one message share (channel id, message id). A partial message is kept until all its
 * fragments arrived, it expires (`timeout` ms after its first fragment), or it is evicted to respect the
 * bounds on held bytes and partial messages (oldest first). Lost fragments are never recovered: the
 * message is simply dropped and counted. Sans-IO: time comes in as `now`.
 */
import { MAX_DATAGRAM_MESSAGE_SIZE } from '../wire/channel.js';

export interface ReassemblyLimits {
  /** Fragment bytes held across all partial messages. */
  maxBytes: number;
  /** Partial messages held at once. */
  maxMessages: number;
  /** How long a partial message may wait for its missing fragments (ms). */
  timeout: number;
}

/** Why a message (not a single fragment) was given up. */
export type ReassemblyDropReason = 'reassembly_timeout' | 'reassembly_evicted' | 'oversize' | 'stale';

interface Partial {
  channelId: number;
  messageId: number;
  count: number;
  sequence: number | undefined;
  parts: Array<Uint8Array | undefined>;
  received: number;
  bytes: number;
  deadline: number;
}

export type FragmentResult =
  | { kind: 'complete'; data: Uint8Array; sequence: number | undefined }
  | { kind: 'pending' }
  /** The fragment disagrees with earlier fragments of its message (count, sequence) or repeats an index. */
  | { kind: 'inconsistent' }
  /** The fragment belongs to a message already given up (or given up because of it). */
  | { kind: 'dropped' };

/** Messages given up are remembered (this many, newest) so their late fragments do not start a new partial. */
const TOMBSTONES = 1024;

export class Reassembly {
  readonly limits: ReassemblyLimits;
  /** Insertion order is first-fragment order, so deadlines ascend: the first entry is the oldest. */
  private partialsLazy: Map<string, Partial> | null = null;
  private get partials(): Map<string, Partial> {
    return (this.partialsLazy ??= new Map<string, Partial>());
  }
  private heldBytes = 0;
  private tombstonesLazy: Set<string> | null = null;
  private get tombstones(): Set<string> {
    return (this.tombstonesLazy ??= new Set<string>());
  }
  /** Messages given up, by reason. Read by the channel layer's stats. */
  readonly dropped: Record<ReassemblyDropReason, number> = { reassembly_timeout: 0, reassembly_evicted: 0, oversize: 0, stale: 0 };
  completed = 0;

  constructor(limits: ReassemblyLimits) {
    this.limits = limits;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get messages(): number {
    return this.partialsLazy?.size ?? 0;
  }

  /** Adds one fragment. `payload` is kept by reference (callers pass bytes they own). */
  add(
    channelId: number,
    frag: { messageId: number; index: number; count: number },
    sequence: number | undefined,
    payload: Uint8Array,
    now: number,
  ): FragmentResult {
    const key = `${channelId}:${frag.messageId}`;
    let p = this.partials.get(key);
    if (p === undefined) {
      if (this.tombstonesLazy?.has(key)) return { kind: 'dropped' };
      p = {
        channelId,
        messageId: frag.messageId,
        count: frag.count,
        sequence,
        parts: new Array<Uint8Array | undefined>(frag.count),
        received: 0,
        bytes: 0,
        deadline: now + this.limits.timeout,
      };
      this.partials.set(key, p);
    } else if (p.count !== frag.count || p.sequence !== sequence || p.parts[frag.index] !== undefined) {
      return { kind: 'inconsistent' };
    }
    if (p.bytes + payload.length > MAX_DATAGRAM_MESSAGE_SIZE || p.bytes + payload.length > this.limits.maxBytes) {
      this.remove(key, p, 'oversize');
      return { kind: 'dropped' };
    }
    p.parts[frag.index] = payload;
    p.received++;
    p.bytes += payload.length;
    this.heldBytes += payload.length;
    if (p.received === p.count) {
      this.partials.delete(key);
      this.heldBytes -= p.bytes;
      this.completed++;
      const out = new Uint8Array(p.bytes);
      let o = 0;
      for (const part of p.parts) {
        out.set(part!, o);
        o += part!.length;
      }
      return { kind: 'complete', data: out, sequence: p.sequence };
    }
    this.enforceBounds(p);
    return { kind: 'pending' };
  }

  /** Evicts the oldest partial messages (never `keep`) until both bounds hold. */
  private enforceBounds(keep: Partial): void {
    for (const [key, p] of this.partials) {
      if (this.heldBytes <= this.limits.maxBytes && this.partials.size <= this.limits.maxMessages) return;
      if (p !== keep) this.remove(key, p, 'reassembly_evicted');
    }
  }

  /** Sequenced channels: partial messages at or below a delivered sequence can never be delivered. */
  discardStale(channelId: number, delivered: number): void {
    for (const [key, p] of this.partials) {
      if (p.channelId === channelId && p.sequence !== undefined && p.sequence <= delivered) this.remove(key, p, 'stale');
    }
  }

  /** Earliest expiry, or null. */
  nextDeadline(): number | null {
    if (this.partialsLazy === null) return null;
    for (const p of this.partialsLazy.values()) return p.deadline;
    return null;
  }

  /** Drops every partial message whose deadline passed. Returns how many. */
  expire(now: number): number {
    let n = 0;
    if (this.partialsLazy === null) return 0;
    for (const [key, p] of this.partialsLazy) {
      if (p.deadline > now) break;
      this.remove(key, p, 'reassembly_timeout');
      n++;
    }
    return n;
  }

  clear(): void {
    this.partialsLazy?.clear();
    this.tombstonesLazy?.clear();
    this.heldBytes = 0;
  }

  private remove(key: string, p: Partial, reason: ReassemblyDropReason): void {
    this.partials.delete(key);
    this.heldBytes -= p.bytes;
    this.dropped[reason]++;
    this.tombstones.add(key);
    if (this.tombstones.size > TOMBSTONES) {
      for (const old of this.tombstones) {
        this.tombstones.delete(old);
        break;
      }
    }
  }
}
