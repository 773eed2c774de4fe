/** Conformance reports: a console summary, JSON, JUnit XML, and the per-case wire logs. */
import type { CaseResult } from './runner.js';
import type { Verdict } from './case.js';

export function counts(results: readonly CaseResult[]): Record<Verdict, number> {
  const c: Record<Verdict, number> = { PASS: 0, FAIL: 0, 'NON-STRICT': 0, UNSUPPORTED: 0 };
  for (const r of results) c[r.verdict]++;
  return c;
}

export function consoleLine(r: CaseResult): string {
  return `${r.verdict.padEnd(11)} ${r.id.padEnd(52)} ${r.detail}`;
}

export function consoleSummary(results: readonly CaseResult[]): string {
  const c = counts(results);
  const lines = [`${results.length} cases: ${c.PASS} PASS, ${c.FAIL} FAIL, ${c['NON-STRICT']} NON-STRICT, ${c.UNSUPPORTED} UNSUPPORTED`];
  const bySpec = new Map<string, number>();
  for (const r of results) bySpec.set(r.spec.file, (bySpec.get(r.spec.file) ?? 0) + 1);
  lines.push('by spec file: ' + [...bySpec].map(([f, n]) => `${f} ${n}`).join(', '));
  for (const r of results.filter((x) => x.verdict === 'FAIL')) lines.push(`  FAIL ${r.id}: ${r.detail}`);
  return lines.join('\n');
}

export function toJson(results: readonly CaseResult[], target: string): string {
  return JSON.stringify(
    {
      target,
      counts: counts(results),
      cases: results.map(({ log: _log, ...r }) => r),
    },
    null,
    2,
  );
}

const esc = (s: string): string => s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!);

/** JUnit XML: one testsuite per spec file; FAIL is a failure, UNSUPPORTED is skipped, NON-STRICT passes with a note. */
export function toJUnit(results: readonly CaseResult[], target: string): string {
  const bySpec = new Map<string, CaseResult[]>();
  for (const r of results) bySpec.set(r.spec.file, [...(bySpec.get(r.spec.file) ?? []), r]);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="petrel-conformance" tests="${results.length}" failures="${counts(results).FAIL}">`,
  ];
  for (const [file, rs] of bySpec) {
    const fails = rs.filter((r) => r.verdict === 'FAIL').length;
    const skipped = rs.filter((r) => r.verdict === 'UNSUPPORTED').length;
    out.push(`  <testsuite name="${esc(file)}" tests="${rs.length}" failures="${fails}" skipped="${skipped}" hostname="${esc(target)}">`);
    for (const r of rs) {
      out.push(`    <testcase classname="${esc(file)}" name="${esc(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}">`);
      if (r.verdict === 'FAIL') out.push(`      <failure message="${esc(r.detail)}">${esc(r.requirement)}</failure>`);
      else if (r.verdict === 'UNSUPPORTED') out.push(`      <skipped message="${esc(r.detail)}"/>`);
      else if (r.verdict === 'NON-STRICT') out.push(`      <system-out>${esc('NON-STRICT: ' + r.detail)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
