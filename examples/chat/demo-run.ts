/**
 * The core of `npm run demo`: a chat server, the impairment proxy (petrel/impair) in front of it, and two scripted
 * users chatting through the proxy. Returns what each side saw and whether every line arrived exactly once and in
 * order; examples/demo.ts prints it, test/examples/chat-demo.test.ts runs a shorter one.
 *
 * The check: each user numbers its lines 1..N (`seq`) and keeps a SHA-256 over (seq, text) of what it said. Every
 * receiver (both users, the sender included, since the server echoes) must see, per sender, seq 1..N each exactly
 * once, in order, with the same hash; and the server's room numbering (`id`) must run 1, 2, 3… without a gap or a
 * repeat, identically on both sides.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { generateIdentity } from '../../lib/api/index.js';
import { ImpairProxy, type ImpairStats } from '../../tools/impair/index.js';
import { ChatClient, type LinkSummary } from './client.js';
import type { ChatLine } from './protocol.js';
import { ChatServer } from './server.js';

export interface DemoOptions {
  /** lines each user says (default 20) */
  lines?: number;
  /** mean pause between one user's lines, ms (default 180) */
  pause?: number;
  /** loss probability per datagram, each direction (default 0.05) */
  loss?: number;
  /** round-trip propagation delay through the proxy, ms (default 60) */
  rtt?: number;
  /** impairment seed (default 7) */
  seed?: number;
  /** directory for alice's qlog (none if absent) */
  qlogDir?: string;
  /** give up waiting for delivery after this long, ms (default 20000) */
  deadline?: number;
}

export interface SeenLine {
  /** ms since the demo started */
  t: number;
  line: ChatLine;
}

export interface SideReport {
  nick: string;
  /** every line this user received, in arrival order */
  seen: SeenLine[];
  said: number;
  saidHash: string;
  typingSent: number;
  typingSeen: number;
  link: LinkSummary;
}

export interface Verdict {
  ok: boolean;
  /** one sentence per check, each starting with "ok" or "FAIL" */
  checks: string[];
}

export interface DemoResult {
  users: SideReport[];
  verdict: Verdict;
  proxy: ImpairStats;
  server: { lines: number; typingRelayed: number; typingDropped: number; rejected: number };
  /** the server's side of each user's connection */
  serverLinks: Array<{ nick: string; smoothedRtt: number; packetsSent: number; packetsLost: number; packetsRetransmitted: number }>;
  elapsedMs: number;
  qlogDir: string | null;
}

const SCRIPT = [
  'anyone up for a match?',
  'sure, give me a minute',
  'which map?',
  'the harbour one, with the cranes',
  'ok. lag is a bit rough tonight',
  'petrel keeps it smooth: lost packets come back',
  'ready when you are',
  'gg',
];

/** A deterministic pseudo-random sequence (the demo must not depend on Math.random to be reproducible). */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const hashOf = (lines: ReadonlyArray<{ seq: number; text: string }>): string => {
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l.seq}\x00${l.text}\x00`);
  return h.digest('hex');
};

/** Checks what each user saw against what every user said. Pure, so tests can feed it broken transcripts. */
export function verify(
  said: ReadonlyMap<string, ReadonlyArray<{ seq: number; text: string }>>,
  views: ReadonlyArray<{ nick: string; seen: ReadonlyArray<{ line: ChatLine }> }>,
): Verdict {
  const checks: string[] = [];
  let ok = true;
  const total = [...said.values()].reduce((n, l) => n + l.length, 0);
  const roomOrder: string[] = [];
  for (const v of views) {
    for (const [sender, lines] of said) {
      const got = v.seen.filter((s) => s.line.from === sender).map((s) => s.line);
      const seqs = got.map((l) => l.seq);
      const inOrder = seqs.every((s, i) => s === i + 1);
      const sameHash = hashOf(got) === hashOf(lines);
      const good = got.length === lines.length && inOrder && sameHash;
      ok &&= good;
      const why = good
        ? ''
        : ` (got ${got.length}, seqs ${seqs.slice(0, 12).join(',')}${seqs.length > 12 ? ',…' : ''}${sameHash ? '' : ', hash differs'})`;
      checks.push(`${good ? 'ok  ' : 'FAIL'} ${v.nick} saw ${sender}'s ${lines.length} lines exactly once, in order, same SHA-256${why}`);
    }
    const ids = v.seen.map((s) => s.line.id);
    const consecutive = ids.length === total && ids.every((id, i) => id === i + 1);
    ok &&= consecutive;
    checks.push(
      `${consecutive ? 'ok  ' : 'FAIL'} ${v.nick} saw room lines #1..#${total} without a gap or repeat${consecutive ? '' : ` (got ${ids.length})`}`,
    );
    roomOrder.push(v.seen.map((s) => `${s.line.id}:${s.line.from}:${s.line.seq}`).join(' '));
  }
  const same = roomOrder.every((o) => o === roomOrder[0]);
  ok &&= same;
  checks.push(`${same ? 'ok  ' : 'FAIL'} every user saw the same conversation in the same order`);
  return { ok, checks };
}

export async function runChatDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const lines = o.lines ?? 20;
  const pause = o.pause ?? 180;
  const loss = o.loss ?? 0.05;
  const oneWay = (o.rtt ?? 60) / 2;
  const t0 = performance.now();
  const identity = generateIdentity();
  const server = await ChatServer.start({ identity });
  const proxy = new ImpairProxy({
    listen: { host: '127.0.0.1', port: 0 },
    target: server.address(),
    seed: o.seed ?? 7,
    upstream: { loss, delay: oneWay },
    downstream: { loss, delay: oneWay },
  });
  const via = await proxy.start();
  if (o.qlogDir !== undefined) mkdirSync(o.qlogDir, { recursive: true });
  const users: ChatClient[] = [];
  const reports: SideReport[] = [];
  const said = new Map<string, Array<{ seq: number; text: string }>>();
  try {
    for (const nick of ['alice', 'bob']) {
      const c = await ChatClient.connect({
        host: via.host,
        port: via.port,
        nick,
        room: 'harbour',
        serverKey: identity.fingerprint,
        ...(nick === 'alice' && o.qlogDir !== undefined ? { qlog: o.qlogDir } : {}),
      });
      const report: SideReport = { nick: c.nick, seen: [], said: 0, saidHash: '', typingSent: 0, typingSeen: 0, link: c.link() };
      c.on('line', (line) => report.seen.push({ t: performance.now() - t0, line }));
      c.on('typing', () => report.typingSeen++);
      users.push(c);
      reports.push(report);
      said.set(c.nick, []);
    }

    // Both talk at once: a typing hint now and then, and a line after each seeded pause.
    const rnd = prng(o.seed ?? 7);
    await Promise.all(
      users.map(async (c, u) => {
        const mine = said.get(c.nick)!;
        let lastTyping = -Infinity;
        for (let i = 0; i < lines; i++) {
          // Like the terminal client: while typing, at most one hint a second.
          if (performance.now() - lastTyping >= 1000) {
            lastTyping = performance.now();
            c.typing();
            reports[u]!.typingSent++;
          }
          await sleep(pause * (0.5 + rnd()));
          const text = `${SCRIPT[(i + u * 3) % SCRIPT.length]} (${i + 1}/${lines})`;
          const seq = c.say(text);
          mine.push({ seq, text });
        }
      }),
    );
    // Wait until everyone has everything (retransmissions through the lossy link take a few RTTs).
    const total = lines * users.length;
    const until = performance.now() + (o.deadline ?? 20_000);
    while (reports.some((r) => r.seen.length < total) && performance.now() < until) await sleep(20);
    for (const [u, c] of users.entries()) {
      const r = reports[u]!;
      r.said = said.get(c.nick)!.length;
      r.saidHash = hashOf(said.get(c.nick)!);
      r.link = c.link();
    }
    const serverLinks = server.members().map(({ nick, conn }) => {
      const s = conn.stats();
      return {
        nick,
        smoothedRtt: s.smoothedRtt,
        packetsSent: s.packetsSent,
        packetsLost: s.packetsLost,
        packetsRetransmitted: s.packetsRetransmitted,
      };
    });
    const st = server.stats();
    const verdict = verify(said, reports);
    for (const c of users) await c.close();
    const proxyStats = await proxy.stop();
    await server.close();
    return {
      users: reports,
      verdict,
      proxy: proxyStats,
      server: { lines: st.lines, typingRelayed: st.typingRelayed, typingDropped: st.typingDropped, rejected: st.rejected },
      serverLinks,
      elapsedMs: performance.now() - t0,
      qlogDir: o.qlogDir ?? null,
    };
  } catch (e) {
    for (const c of users) await c.close().catch(() => {});
    await proxy.stop().catch(() => {});
    await server.close().catch(() => {});
    throw e;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
