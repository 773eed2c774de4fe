/**
 * Send scheduling by priority, in the RFC 9218 model: urgency 0 (most urgent) to 7, default 3, and an
 * incremental flag. Lower urgency is served first; within one urgency, non-incremental streams are
 * served one at a time in stream-id order (each finishes before the next starts), then incremental
 * streams round-robin, one frame per turn. The connection writes ACKs, flow-control credit and close
 * frames before any of this, so they are never starved.
 */
export const URGENCY_LEVELS = 8;
export const DEFAULT_URGENCY = 3;

export interface Schedulable {
  readonly id: number;
  urgency: number;
  incremental: boolean;
  queued: boolean;
}

/** What an urgency level reads as before anything was ever queued (never written to). */
const NOTHING: readonly never[] = Object.freeze([]);

export class PriorityScheduler<T extends Schedulable> {
  // The per-urgency lists exist from the first enqueue: a connection that never sends stream data holds none.
  /** Per urgency: non-incremental items sorted by id. */
  private sequential: T[][] | null = null;
  /** Per urgency: incremental items in round-robin order. */
  private roundRobin: T[][] = [];

  enqueue(s: T): void {
    if (s.queued) return;
    s.queued = true;
    if (this.sequential === null) {
      this.sequential = Array.from({ length: URGENCY_LEVELS }, () => []);
      this.roundRobin = Array.from({ length: URGENCY_LEVELS }, () => []);
    }
    if (s.incremental) {
      this.roundRobin[s.urgency]!.push(s);
      return;
    }
    const list = this.sequential[s.urgency]!;
    // Usually appended (ids grow); insert in order otherwise.
    let i = list.length;
    while (i > 0 && list[i - 1]!.id > s.id) i--;
    list.splice(i, 0, s);
  }

  /** Removes an item wherever it is queued (priority change). */
  remove(s: T): void {
    if (!s.queued) return;
    s.queued = false;
    if (this.sequential === null) return;
    for (const lists of [this.sequential, this.roundRobin]) {
      const list = lists[s.urgency]!;
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
    }
  }

  /** The list of urgency `u` (empty and shared before the first enqueue: only take from it when non-empty). */
  sequentialAt(u: number): T[] {
    return this.sequential === null ? (NOTHING as unknown as T[]) : this.sequential[u]!;
  }

  roundRobinAt(u: number): T[] {
    return this.sequential === null ? (NOTHING as unknown as T[]) : this.roundRobin[u]!;
  }

  /** Whether any queued item satisfies `pred` (used to ask "is there data to send"). */
  some(pred: (s: T) => boolean): boolean {
    if (this.sequential === null) return false;
    for (let u = 0; u < URGENCY_LEVELS; u++) {
      for (const s of this.sequential[u]!) if (pred(s)) return true;
      for (const s of this.roundRobin[u]!) if (pred(s)) return true;
    }
    return false;
  }
}

/** An urgency from the application, clamped to 0..7. */
export function clampUrgency(u: number): number {
  return Math.max(0, Math.min(URGENCY_LEVELS - 1, Math.floor(u)));
}
