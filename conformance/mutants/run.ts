/**
 * Builds each mutant in `.mutants/<name>/` (a copy of lib/ and conformance/ with one patch; inside the
 * repository so node_modules resolves), starts its echo server, runs the cases that cover the broken
 * requirement, and reports whether the mutant was caught (some case FAILed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { runServerCases, type CaseResult } from '../lib/runner.js';
import { MUTANTS, type Mutant } from './mutants.js';

export interface MutantResult {
  name: string;
  breaks: string;
  caught: boolean;
  /** Set when the mutant could not be built or started (an error of the suite, not a catch). */
  error?: string;
  results: CaseResult[];
}

/** The repository root (the folder holding lib/ and conformance/). */
export const ROOT = resolve(import.meta.dirname, '..', '..');

export function buildMutant(m: Mutant, root = ROOT): string {
  const dir = join(root, '.mutants', m.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(root, 'lib'), join(dir, 'lib'), { recursive: true });
  cpSync(join(root, 'conformance'), join(dir, 'conformance'), { recursive: true });
  const file = join(dir, m.file);
  const src = readFileSync(file, 'utf8');
  const count = src.split(m.find).length - 1;
  if (count === 0 || (count > 1 && !m.all)) throw new Error(`mutant ${m.name}: the text to patch occurs ${count} times in ${m.file}`);
  writeFileSync(file, m.all ? src.split(m.find).join(m.replace) : src.replace(m.find, m.replace));
  return dir;
}

/** Starts serve.ts from `dir`; resolves with its port and fingerprint. */
export function startServer(
  dir: string,
  insecure: boolean,
  extra: readonly string[] = [],
): Promise<{ child: ChildProcess; port: number; fingerprint: string }> {
  return new Promise((res, rej) => {
    const args = ['--import', 'tsx', join(dir, 'conformance', 'mutants', 'serve.ts')];
    if (insecure) args.push('--insecure');
    args.push(...extra);
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`server did not start in 20 s: ${err.slice(0, 500)}`));
    }, 20_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(t);
      try {
        const { port, fingerprint } = JSON.parse(line) as { port: number; fingerprint: string };
        res({ child, port, fingerprint });
      } catch {
        rej(new Error(`bad server line: ${line}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`server exited ${code}: ${err.slice(0, 500)}`));
    });
  });
}

export async function runMutant(m: Mutant, root = ROOT): Promise<MutantResult> {
  let child: ChildProcess | undefined;
  try {
    const dir = buildMutant(m, root);
    const s = await startServer(dir, m.insecure === true, m.serverArgs);
    child = s.child;
    const results = await runServerCases({ host: '127.0.0.1', port: s.port, serverKey: s.fingerprint, insecure: m.insecure, filter: m.cases });
    if (results.length === 0) return { name: m.name, breaks: m.breaks, caught: false, error: 'no case matched', results };
    return { name: m.name, breaks: m.breaks, caught: results.some((r) => r.verdict === 'FAIL'), results };
  } catch (err) {
    return { name: m.name, breaks: m.breaks, caught: false, error: (err as Error).message, results: [] };
  } finally {
    child?.stdin?.end();
    child?.kill('SIGTERM');
    rmSync(join(root, '.mutants', m.name), { recursive: true, force: true });
  }
}

export async function runAllMutants(mutants: readonly Mutant[] = MUTANTS, onResult?: (r: MutantResult) => void): Promise<MutantResult[]> {
  const out: MutantResult[] = [];
  for (const m of mutants) {
    const r = await runMutant(m);
    out.push(r);
    onResult?.(r);
  }
  return out;
}

/** `node --import tsx conformance/mutants/run.ts`: prints each mutant's fate and the kill rate. */
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'run.ts')) {
  const results = await runAllMutants(MUTANTS, (r) => {
    const fails = r.results.filter((x) => x.verdict === 'FAIL').map((x) => x.id);
    process.stdout.write(`${r.caught ? 'CAUGHT ' : 'MISSED '} ${r.name.padEnd(38)} ${r.error ?? fails.join(', ')}\n`);
  });
  const caught = results.filter((r) => r.caught).length;
  process.stdout.write(`\nmutant kill rate: ${caught}/${results.length}\n`);
  process.exitCode = caught === results.length ? 0 : 1;
}
