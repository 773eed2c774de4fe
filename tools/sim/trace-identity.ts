/**
 * Trace identity: proves a refactor did not change behaviour. Replays seeds FROM..TO of the simulator with the
 * qlog-shaped JSON-SEQ trace on (the same trace `npm run sim -- --seed N --trace FILE` writes) and compares the
 * sha256 of each seed's trace, byte for byte, against a baseline.
 *
 *   npm run sim:trace-identity                                  # compare against tools/sim/trace-baseline.json
 *   npm run sim:trace-identity -- --write tools/sim/trace-baseline.json   # (re)write the baseline from this tree
 *   npm run sim:trace-identity -- --ref e295f98                 # baseline computed from a git commit (temp worktree)
 *   npm run sim:trace-identity -- --tree /path/to/other/worktree  # baseline computed from another checkout
 *   options: --from 1 --to 200 (default), --baseline FILE
 *
 * Exit status 0 only when every seed's hash matches. A baseline file is JSON:
 * `{ "source": "...", "seeds": { "1": "<sha256 hex>", ... } }`.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Baseline {
  source: string;
  seeds: Record<string, string>;
}

type RunScenario = (o: { seed: number; trace?: string[] }) => { ok: boolean };

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function loadRunner(root: string): Promise<RunScenario> {
  const mod = (await import(pathToFileURL(join(root, 'tools', 'sim', 'scenario.ts')).href)) as { runScenario: RunScenario };
  return mod.runScenario;
}

async function hashSeeds(root: string, from: number, to: number, label: string): Promise<Record<string, string>> {
  const run = await loadRunner(root);
  const out: Record<string, string> = {};
  for (let seed = from; seed <= to; seed++) {
    const trace: string[] = [];
    run({ seed, trace });
    const h = createHash('sha256');
    for (const rec of trace) h.update(rec);
    out[String(seed)] = h.digest('hex');
    if (seed % 25 === 0) process.stderr.write(`  ${label}: seed ${seed}\n`);
  }
  return out;
}

/** Checks out `ref` into a temporary worktree (node_modules linked from this tree) and hashes its traces. */
async function hashRef(ref: string, from: number, to: number): Promise<Baseline> {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-trace-ref-'));
  const commit = execFileSync('git', ['-C', repoRoot, 'rev-parse', ref], { encoding: 'utf8' }).trim();
  execFileSync('git', ['-C', repoRoot, 'worktree', 'add', '--detach', dir, commit], { stdio: 'ignore' });
  try {
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    return { source: `git ${commit}`, seeds: await hashSeeds(dir, from, to, `ref ${ref}`) };
  } finally {
    execFileSync('git', ['-C', repoRoot, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const from = Number(arg('from') ?? '1');
  const to = Number(arg('to') ?? '200');
  const writePath = arg('write');
  if (writePath) {
    const head = execFileSync('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const seeds = await hashSeeds(repoRoot, from, to, 'this tree');
    const b: Baseline = { source: `working tree at ${head}`, seeds };
    writeFileSync(writePath, JSON.stringify(b, null, 1) + '\n');
    console.log(`wrote ${Object.keys(seeds).length} seed hashes to ${writePath}`);
    return 0;
  }

  const ref = arg('ref');
  const tree = arg('tree');
  let base: Baseline;
  if (ref) base = await hashRef(ref, from, to);
  else if (tree) base = { source: `tree ${tree}`, seeds: await hashSeeds(resolve(tree), from, to, 'other tree') };
  else {
    const file = arg('baseline') ?? join(here, 'trace-baseline.json');
    if (!existsSync(file)) {
      console.error(`no baseline at ${file}; pass --ref COMMIT, --tree DIR or --baseline FILE`);
      return 2;
    }
    base = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
  }

  const mine = await hashSeeds(repoRoot, from, to, 'this tree');
  const differ: number[] = [];
  let same = 0;
  for (let seed = from; seed <= to; seed++) {
    const want = base.seeds[String(seed)];
    if (want === undefined) {
      console.error(`seed ${seed}: not in baseline (${base.source})`);
      differ.push(seed);
    } else if (want !== mine[String(seed)]) differ.push(seed);
    else same++;
  }
  const n = to - from + 1;
  if (differ.length) {
    console.log(
      `differing seeds: ${differ.join(' ')}\n  inspect: npm run sim -- --seed ${differ[0]} --trace a.sqlog (here and in the baseline tree), then diff`,
    );
  }
  console.log(`trace identity ${same}/${n} against ${base.source}`);
  return differ.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
