/**
 * `petrel conformance`: checks a Petrel implementation against spec/.
 *
 *   petrel conformance --server host:port [--server-key FP | --insecure] [--alpn P] [--cases REGEX]
 *   petrel conformance --client "<command with {host} {port} {key}>" [--insecure]
 *   options: --json FILE  --junit FILE  --log-dir DIR  --list
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_CASES, runServerCases, type CaseResult } from './lib/runner.js';
import { CLIENT_CASE_IDS, runClientCases } from './lib/client-mode.js';
import { consoleLine, consoleSummary, counts, toJUnit, toJson } from './lib/report.js';

const HELP = `Usage: petrel conformance --server HOST:PORT [--server-key FINGERPRINT | --insecure] [options]
       petrel conformance --client "COMMAND {host} {port} {key}" [--insecure] [options]

Runs the conformance cases of spec/ against a server (the runner is the client) or against a client
implementation launched once per case against the runner's own echo server. Verdicts: PASS, FAIL,
NON-STRICT, UNSUPPORTED (a client command exiting 127 means unsupported).

Options:
  --alpn PROTO        ALPN to offer (server mode)
  --cases REGEX       run only cases whose id matches
  --json FILE         write a JSON report
  --junit FILE        write a JUnit XML report
  --log-dir DIR       write one qlog-shaped wire log (JSON-SEQ) per case
  --list              list the cases and exit
Exit status: 0 when no case failed, 1 otherwise, 2 for usage errors.
`;

export async function main(argv: readonly string[]): Promise<number> {
  const a = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (!k.startsWith('--')) {
      process.stderr.write(`unexpected argument ${k}\n${HELP}`);
      return 2;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) a.set(k, true);
    else {
      a.set(k, next);
      i++;
    }
  }
  if (a.has('--help') || a.has('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (a.has('--list')) {
    for (const c of SERVER_CASES) process.stdout.write(`${c.id}\t[${c.spec.file} §${c.spec.section}] ${c.requirement}\n`);
    for (const id of CLIENT_CASE_IDS) process.stdout.write(`${id}\t(client mode)\n`);
    return 0;
  }
  const str = (k: string): string | undefined => {
    const v = a.get(k);
    return typeof v === 'string' ? v : undefined;
  };
  const filter = str('--cases') ? new RegExp(str('--cases')!) : undefined;
  const insecure = a.get('--insecure') === true;
  const onResult = (r: CaseResult): void => void process.stdout.write(consoleLine(r) + '\n');
  let results: CaseResult[];
  let target: string;
  if (str('--server')) {
    target = str('--server')!;
    const m = /^(.*):(\d+)$/.exec(target);
    if (!m) {
      process.stderr.write(`--server must be host:port\n`);
      return 2;
    }
    const host = m[1]!.replace(/^\[|\]$/g, '');
    if (!insecure && !str('--server-key')) {
      process.stderr.write('--server-key FINGERPRINT is required unless --insecure\n');
      return 2;
    }
    const alpn = str('--alpn');
    results = await runServerCases({
      host,
      port: Number(m[2]),
      serverKey: str('--server-key'),
      insecure,
      alpn: alpn ? [alpn] : undefined,
      filter,
      onResult,
    });
  } else if (str('--client')) {
    target = str('--client')!;
    results = await runClientCases({ command: target, insecure, filter, onResult });
  } else {
    process.stderr.write(HELP);
    return 2;
  }
  process.stdout.write('\n' + consoleSummary(results) + '\n');
  if (str('--json')) writeFileSync(str('--json')!, toJson(results, target));
  if (str('--junit')) writeFileSync(str('--junit')!, toJUnit(results, target));
  if (str('--log-dir')) {
    mkdirSync(str('--log-dir')!, { recursive: true });
    for (const r of results) writeFileSync(join(str('--log-dir')!, r.id.replaceAll('/', '_') + '.sqlog'), r.log.toJsonSeq(r.id));
  }
  return counts(results).FAIL === 0 ? 0 : 1;
}
