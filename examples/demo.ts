/**
 * `npm run demo`: chat over a lossy link, end to end through the public API.
 *
 * A chat server, the impairment proxy (petrel/impair) in front of it at 5 % loss each way and 60 ms RTT, and two
 * scripted users (alice, bob) talking at once for a few seconds: lines on a reliable-ordered channel, "typing…" hints
 * on an unreliable one. Prints the conversation as each side saw it, proves every line arrived exactly once and in
 * order, prints each connection's statistics, writes alice's qlog and an SVG plot of it, and exits 0 only if every
 * check passed. `--lines N` changes the length of the conversation; `--out DIR` where the qlog and plot go.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseJsonSeq } from '../lib/qlog/schema.js';
import { extractSeries, renderSvg } from '../tools/qlog-plot/plot.js';
import { runChatDemo, type DemoResult } from './chat/demo-run.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const pct = (n: number, d: number) => (d === 0 ? '0.0' : ((100 * n) / d).toFixed(1));

function printConversation(r: DemoResult): void {
  const [a, b] = r.users as [DemoResult['users'][0], DemoResult['users'][0]];
  const atB = new Map(b.seen.map((s) => [s.line.id, s.t]));
  console.log(`\nThe conversation in #harbour (arrival time at each side, seconds since start):`);
  console.log(`  ${'#'.padStart(3)}  ${a.nick.padStart(7)}  ${b.nick.padStart(7)}  line`);
  for (const s of a.seen) {
    const tb = atB.get(s.line.id);
    console.log(
      `  ${String(s.line.id).padStart(3)}  ${(s.t / 1000).toFixed(2).padStart(7)}  ${tb === undefined ? '      -' : (tb / 1000).toFixed(2).padStart(7)}  ${s.line.from}: ${s.line.text}`,
    );
  }
  const onlyB = b.seen.filter((s) => !a.seen.some((x) => x.line.id === s.line.id));
  for (const s of onlyB) {
    console.log(`  ${String(s.line.id).padStart(3)}        -  ${(s.t / 1000).toFixed(2).padStart(7)}  ${s.line.from}: ${s.line.text}`);
  }
}

function printStats(r: DemoResult): void {
  console.log("\nConnections (each client's own view, then the server's view of each):");
  for (const u of r.users) {
    const l = u.link;
    console.log(
      `  ${u.nick.padEnd(13)} rtt ${l.smoothedRtt.toFixed(1)} ms (min ${l.minRtt.toFixed(1)}), packets sent ${l.packetsSent}, lost ${l.packetsLost} (${(l.lossRate * 100).toFixed(1)} %), ` +
        `retransmitted ${l.packetsRetransmitted}; typing hints sent ${u.typingSent}, shown ${u.typingSeen}`,
    );
  }
  r.serverLinks.forEach((l) =>
    console.log(
      `  server→${l.nick.padEnd(6)} rtt ${l.smoothedRtt.toFixed(1)} ms, packets sent ${l.packetsSent}, lost ${l.packetsLost} (${pct(l.packetsLost, l.packetsSent)} %), retransmitted ${l.packetsRetransmitted}`,
    ),
  );
  const up = r.proxy.upstream;
  const down = r.proxy.downstream;
  const dropped = (d: typeof up) => Object.values(d.dropped).reduce((x, y) => x + y, 0);
  console.log(
    `  proxy         upstream ${up.sent} datagrams, ${dropped(up)} dropped (${pct(dropped(up), up.sent)} %); downstream ${down.sent}, ${dropped(down)} dropped (${pct(dropped(down), down.sent)} %)`,
  );
  console.log(
    `  server        relayed ${r.server.lines} lines and ${r.server.typingRelayed} typing hints (${r.server.typingDropped} dropped by its 2/s per-user limit; hints that never arrived were lost: unreliable); rejected ${r.server.rejected} messages`,
  );
}

async function main(): Promise<number> {
  const lines = Number(arg('lines') ?? 20);
  const out = arg('out') ?? 'demo-output';
  console.log(
    `petrel demo: a chat server behind an impairment proxy (5 % loss each way, 60 ms RTT); alice and bob say ${lines} lines each, at once.`,
  );
  rmSync(join(out, 'qlog'), { recursive: true, force: true }); // only this run's qlog in there
  const r = await runChatDemo({ lines, qlogDir: join(out, 'qlog') });
  printConversation(r);
  console.log('\nDelivery checks:');
  for (const c of r.verdict.checks) console.log(`  ${c}`);
  printStats(r);

  // alice's qlog, and a picture of it.
  const dir = join(out, 'qlog');
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.sqlog'))
    .map((f) => join(dir, f))
    .sort()
    .at(-1);
  if (file !== undefined) {
    const series = extractSeries(parseJsonSeq(readFileSync(file, 'utf8')).records);
    series.title = 'alice: chat through 5 % loss, 60 ms RTT';
    const svg = join(out, 'alice.svg');
    writeFileSync(svg, renderSvg(series));
    console.log(
      `\nqlog: ${relative('.', file)} (open in https://qvis.quictools.info); plot: ${relative('.', svg)} (npx petrel qlog-plot FILE -o OUT.svg)`,
    );
  }
  console.log(
    `\n${r.verdict.ok ? 'OK' : 'FAILED'}: ${r.users.map((u) => `${u.nick} saw ${u.seen.length} lines`).join(', ')} in ${(r.elapsedMs / 1000).toFixed(1)} s`,
  );
  return r.verdict.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
