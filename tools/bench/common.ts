/**
 * Shared by the benchmarks in tools/bench: argument parsing, order statistics, number formatting, the
 * printed table and the final machine-readable `key=value ...` line (always the last line of stdout).
 */

/** The value after `--name` (e.g. `--n 500`), or undefined. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** A positive number option, or the fallback; a malformed value stops the benchmark with exit code 2. */
export function numberArg(name: string, fallback: number): number {
  const v = arg(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

/** The q-quantile (0..1) of the values, nearest-rank on a sorted copy. NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[rank]!;
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** Three significant digits (no exponent), e.g. 3.21, 48.7, 1520. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 10) return x.toFixed(2);
  if (a >= 1) return x.toFixed(3);
  return x.toPrecision(3);
}

/** 1234567 → "1.23M", 45600 → "45.6k". */
export function si(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 1e6) return `${fmt(x / 1e6)}M`;
  if (x >= 1e3) return `${fmt(x / 1e3)}k`;
  return fmt(x);
}

/** A markdown table: the first column left-aligned, the others right-aligned. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `-${'-'.repeat(w)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/**
 * Collects the results that go on the final line. Keys are snake_case with the unit last
 * (e.g. `aes_pinned_server_cpu_us_p50`); values are rounded to 4 significant digits.
 */
export class Results {
  private readonly entries: Array<[string, string]> = [];

  set(key: string, value: number | string): void {
    if (!/^[a-z0-9_.]+$/.test(key)) throw new Error(`bad result key ${key}`);
    const v = typeof value === 'number' ? (Number.isFinite(value) ? String(Number(value.toPrecision(4))) : 'NaN') : value;
    if (/\s/.test(v)) throw new Error(`result value for ${key} has whitespace`);
    this.entries.push([key, v]);
  }

  /** The final line, `key=value` pairs separated by single spaces. */
  line(): string {
    return this.entries.map(([k, v]) => `${k}=${v}`).join(' ');
  }
}

/** Parses a final line back into a map (used by run-all and the smoke test). */
export function parseResultLine(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of line.trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** node/v8/openssl versions and the date: printed above every benchmark's tables. */
export function environmentLine(): string {
  const v = process.versions;
  return `node ${v.node}, v8 ${v.v8}, openssl ${v.openssl}, ${new Date().toISOString().slice(0, 10)}`;
}
