/**
 * The game workload of issue 12, shared by the simulated and the real-socket runs (tools/sim/game-scenario.ts,
 * tools/bench/game.ts): an authoritative server sends 20 Hz snapshots of 50 entities (about 3.9 KB of
 * MessagePack) on an unreliable-sequenced channel, clients send 30 Hz inputs (unreliable-sequenced) and chat
 * (reliable-ordered) that the server relays to everybody. The metrics collector computes snapshot age and loss,
 * and checks chat delivery exactly-once and in order with a hash per client.
 */
import { createHash } from 'node:crypto';
import { Packr, Unpackr } from 'msgpackr';

export const GAME = {
  snapshotHz: 20,
  inputHz: 30,
  /** chat lines per client per second */
  chatHz: 1,
  entities: 50,
} as const;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export interface Snapshot {
  tick: number;
  /** server send time (ms, the run's clock) */
  ts: number;
  e: Array<Record<string, number | string>>;
}

/** One snapshot: 50 entities with float64 positions, velocities and angles (≈3.9 KB of msgpack). */
export function encodeSnapshot(tick: number, ts: number): Uint8Array {
  const e: Snapshot['e'] = [];
  for (let i = 0; i < GAME.entities; i++) {
    const p = tick * 0.05 + i;
    e.push({
      id: 1000 + i,
      x: Math.sin(p) * 512.123,
      y: Math.cos(p) * 512.321,
      z: Math.round(Math.sin(p * 0.3) * 10),
      vx: Math.cos(p) * 3.3,
      vy: -Math.sin(p) * 3.1,
      r: (p * 0.7) % 6.283,
      hp: 100 - (i % 37),
      st: i % 4,
    });
  }
  return packr.pack({ tick, ts, e } satisfies Snapshot);
}

export function decodeSnapshot(b: Uint8Array): { tick: number; ts: number } {
  const v = unpackr.unpack(b) as Snapshot;
  return { tick: v.tick, ts: v.ts };
}

export function encodeInput(seq: number, ts: number): Uint8Array {
  return packr.pack({ seq, ts, mx: (seq % 7) - 3, my: (seq % 5) - 2, btn: seq % 3, aim: (seq * 0.37) % 6.283 });
}

export function decodeInput(b: Uint8Array): { seq: number; ts: number } {
  return unpackr.unpack(b) as { seq: number; ts: number };
}

export function encodeChat(text: string): Uint8Array {
  return packr.pack({ text });
}

export function decodeChat(b: Uint8Array): string {
  return (unpackr.unpack(b) as { text: string }).text;
}

export interface AgeFigures {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

export function ageFigures(values: number[]): AgeFigures {
  if (values.length === 0) return { samples: 0, p50: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(values).sort();
  const q = (x: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(x * s.length) - 1))]!;
  return { samples: s.length, p50: q(0.5), p99: q(0.99), max: s[s.length - 1]! };
}

/** Per-client receive-side records of the run. */
export class ClientMetrics {
  /** age at delivery (now − server send time) of every snapshot received in the measured window */
  readonly ages: number[] = [];
  /** newest tick seen and its send time */
  newestTick = -1;
  newestTs = -Infinity;
  readonly ticksSeen = new Set<number>();
  /** staleness of the newest snapshot, sampled at every server tick in the window */
  readonly staleness: number[] = [];
  readonly chatIn: string[] = [];
  stale = 0;

  onSnapshot(tick: number, ts: number, now: number, windowStart: number, windowEnd: number): void {
    if (tick <= this.newestTick) {
      this.stale++;
      return;
    }
    this.newestTick = tick;
    this.newestTs = ts;
    if (ts >= windowStart && ts < windowEnd) {
      this.ages.push(now - ts);
      this.ticksSeen.add(tick);
    }
  }

  sample(now: number): void {
    this.staleness.push(now - this.newestTs);
  }
}

export interface GameFigures {
  snapshotAge: AgeFigures;
  /** time since the newest snapshot's send, sampled at each tick (what the player sees) */
  staleness: AgeFigures;
  /** snapshots of the window never delivered (sender drops + network loss) / sent */
  snapshotLoss: number;
  snapshotsSent: number;
  inputAge: AgeFigures;
  inputLoss: number;
  /** every client's chat arrived exactly once, in the server's order (hash per client), and the server got each client's in order */
  chatOk: boolean;
  chatLines: number;
  snapshotBytes: number;
}

export function sha(lines: readonly string[]): string {
  const h = createHash('sha256');
  for (const l of lines) h.update(l).update('\n');
  return h.digest('hex');
}

/** Server-side records: relayed chat order, inputs per client. */
export class ServerMetrics {
  readonly chatOut: string[] = [];
  /** lines relayed to each client (a client that joined late gets the lines from then on) */
  readonly relayedTo = new Map<number, string[]>();
  readonly chatFrom = new Map<number, string[]>();
  readonly inputAges: number[] = [];
  readonly inputSeen = new Map<number, Set<number>>();
  inputsSentInWindow = 0;
  newestInput = new Map<number, number>();

  onInput(client: number, seq: number, ts: number, now: number, windowStart: number, windowEnd: number): void {
    const last = this.newestInput.get(client) ?? -1;
    if (seq <= last) return;
    this.newestInput.set(client, seq);
    if (ts >= windowStart && ts < windowEnd) {
      this.inputAges.push(now - ts);
      let s = this.inputSeen.get(client);
      if (!s) this.inputSeen.set(client, (s = new Set()));
      s.add(seq);
    }
  }
}

/** The figures of a run from both sides' records. */
export function gameFigures(o: {
  clients: ClientMetrics[];
  server: ServerMetrics;
  snapshotsInWindow: number;
  chatSent: string[][];
  snapshotBytes: number;
}): GameFigures {
  const ages: number[] = [];
  const stal: number[] = [];
  let seen = 0;
  for (const c of o.clients) {
    for (const a of c.ages) ages.push(a);
    for (const s of c.staleness) stal.push(s);
    seen += c.ticksSeen.size;
  }
  const sent = o.snapshotsInWindow * o.clients.length;
  let inputsSeen = 0;
  for (const s of o.server.inputSeen.values()) inputsSeen += s.size;
  let chatOk = true;
  let chatLines = 0;
  o.clients.forEach((c, i) => {
    const relayed = o.server.relayedTo.get(i) ?? [];
    if (c.chatIn.length !== relayed.length || sha(c.chatIn) !== sha(relayed)) chatOk = false;
  });
  o.chatSent.forEach((lines, i) => {
    chatLines += lines.length;
    if (sha(o.server.chatFrom.get(i) ?? []) !== sha(lines)) chatOk = false;
  });
  return {
    snapshotAge: ageFigures(ages),
    staleness: ageFigures(stal),
    snapshotLoss: sent > 0 ? 1 - seen / sent : NaN,
    snapshotsSent: sent,
    inputAge: ageFigures(o.server.inputAges),
    inputLoss: o.server.inputsSentInWindow > 0 ? 1 - inputsSeen / o.server.inputsSentInWindow : NaN,
    chatOk,
    chatLines,
    snapshotBytes: o.snapshotBytes,
  };
}
