/**
 * Top frames of a V8 CPU profile (`node --cpu-prof`), by self time and by total (inclusive) time per
 * function, so docs/performance.md can quote where a run spent its CPU.
 *
 *   node --import tsx tools/bench/profile-top.ts FILE.cpuprofile [--top 25]
 *
 * Profiles of both bulk sides: NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx petrel bench --tests bulk --cases petrel_default --reps 1
 */
import { readFileSync } from 'node:fs';
import { numberArg } from './common.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: node --import tsx tools/bench/profile-top.ts FILE.cpuprofile [--top 25]');
  process.exit(2);
}
const top = numberArg('top', 25);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
/** Percentages are of busy samples: (idle) is left out, so the two sides of a run compare directly. */
const idleIds = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
const total = p.samples.filter((id) => !idleIds.has(id)).length;

const name = (n: Node): string => {
  const url = n.callFrame.url.replace(/^file:\/\/.*?\/(lib|tools|node_modules)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const id of p.samples) {
  if (idleIds.has(id)) continue;
  const leaf = byId.get(id)!;
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + 1);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
  }
}
const print = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}, % of ${total} busy samples (${((p.endTime - p.startTime) / 1e6).toFixed(1)} s profiled)\n`);
  console.log('| % | function |\n|---:|---|');
  for (const [k, v] of [...m]
    .filter(([k]) => k !== '(root)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`| ${((v / total) * 100).toFixed(1)} | ${k.replace(/\|/g, '\\|')} |`);
  }
};
print('Self time', self);
print('Inclusive time', inclusive);
