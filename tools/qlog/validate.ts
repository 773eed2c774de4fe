/**
 * `node --import tsx tools/qlog/validate.ts FILE.sqlog [...] [--allow-unknown] [--max-errors N]`
 * Checks JSON-SEQ qlog files against Petrel's qlog schema (lib/qlog/schema.ts): prints the event count per name
 * and every schema error. Exit code: 0 all valid, 1 errors found or a file unreadable, 2 usage error.
 * `main(argv, io)` is exported so tests (and a `petrel` subcommand) can run it in-process.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateQlogText } from '../../lib/qlog/schema.js';

export const HELP = `Usage: validate FILE.sqlog [FILE...] [options]

Validates qlog 0.3 JSON-SEQ files (what Petrel's qlog option writes) and prints
the number of events per name and any schema errors.

Options:
  --allow-unknown   accept event names outside Petrel's schema (e.g. the simulator's sim: events)
  --max-errors N    print at most N errors per file (default 50; all are counted)
  --help            this text

Exit code: 0 valid, 1 schema errors or unreadable file, 2 usage error.
`;

export interface ValidateIO {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  /** Reads a file (default: readFileSync as UTF-8). */
  readFile?: (path: string) => string;
}

export function main(argv: readonly string[], io: ValidateIO = { out: process.stdout, err: process.stderr }): number {
  const files: string[] = [];
  let allowUnknownEvents = false;
  let maxErrors = 50;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      io.out.write(HELP);
      return 0;
    } else if (a === '--allow-unknown') {
      allowUnknownEvents = true;
    } else if (a === '--max-errors') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) {
        io.err.write(`validate: --max-errors needs a non-negative integer\n`);
        return 2;
      }
      maxErrors = v;
    } else if (a.startsWith('-')) {
      io.err.write(`validate: unknown option ${a}\n${HELP}`);
      return 2;
    } else {
      files.push(a);
    }
  }
  if (files.length === 0) {
    io.err.write(`validate: no file given\n${HELP}`);
    return 2;
  }

  const read = io.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let failed = false;
  for (const file of files) {
    let text: string;
    try {
      text = read(file);
    } catch (e) {
      io.err.write(`${file}: cannot read: ${(e as Error).message}\n`);
      failed = true;
      continue;
    }
    const report = validateQlogText(text, { allowUnknownEvents });
    io.out.write(`${file}: ${report.events} events\n`);
    const names = [...report.counts.keys()].sort();
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const n of names) io.out.write(`  ${n.padEnd(width)}  ${report.counts.get(n)}\n`);
    if (report.errors.length === 0) {
      io.out.write(`  valid\n`);
      continue;
    }
    failed = true;
    io.out.write(`  ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}:\n`);
    for (const e of report.errors.slice(0, maxErrors)) io.out.write(`    ${e}\n`);
    if (report.errors.length > maxErrors) io.out.write(`    ... ${report.errors.length - maxErrors} more\n`);
  }
  return failed ? 1 : 0;
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) process.exitCode = main(process.argv.slice(2));
