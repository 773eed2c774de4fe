/**
 * `petrel qlog-plot FILE.sqlog [-o OUT.svg]`: draws a qlog file's congestion window, bytes in flight, RTT and losses
 * as an SVG (default output: FILE.svg next to the input). `main(argv, io)` is exported for bin/petrel.mjs and tests.
 */
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseJsonSeq } from '../../lib/qlog/schema.js';
import { extractSeries, renderSvg } from './plot.js';

export const HELP = `Usage: petrel qlog-plot FILE.sqlog [-o OUT.svg] [--width PX]

Plots one qlog 0.3 JSON-SEQ file (what the qlog option of listen()/connect() writes): congestion window and bytes
in flight, RTT (smoothed, min, latest) and packets declared lost, over time, as a self-contained SVG.

Options:
  -o, --out FILE   where to write the SVG (default: FILE with .svg instead of .sqlog)
  --width PX       image width (default 960)
  -h, --help       this text

Exit code: 0 written, 1 unreadable input or nothing to plot, 2 usage error.
`;

export interface PlotIO {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

export function main(argv: readonly string[], io: PlotIO = { out: process.stdout, err: process.stderr }): number {
  let input: string | null = null;
  let output: string | null = null;
  let width = 960;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      io.out.write(HELP);
      return 0;
    } else if (a === '-o' || a === '--out') {
      const v = argv[++i];
      if (v === undefined) return usage(io, `${a} needs a file name`);
      output = v;
    } else if (a === '--width') {
      width = Number(argv[++i]);
      if (!Number.isInteger(width) || width < 320 || width > 10000) return usage(io, '--width needs an integer from 320 to 10000');
    } else if (a.startsWith('-')) return usage(io, `unknown option ${a}`);
    else if (input !== null) return usage(io, 'give one input file');
    else input = a;
  }
  if (input === null) return usage(io, 'no input file');
  let text: string;
  try {
    text = readFileSync(input, 'utf8');
  } catch (e) {
    io.err.write(`qlog-plot: cannot read ${input}: ${(e as Error).message}\n`);
    return 1;
  }
  const { records, errors } = parseJsonSeq(text);
  const series = extractSeries(records);
  if (series.cwnd.length + series.smoothedRtt.length + series.losses.length === 0) {
    io.err.write(`qlog-plot: ${input} has no recovery:metrics_updated or recovery:packet_lost events to plot\n`);
    return 1;
  }
  const dest = output ?? input.replace(/\.s?qlog$/, '') + '.svg';
  writeFileSync(dest, renderSvg(series, { width }));
  io.out.write(
    `${dest}: ${series.cwnd.length} cwnd, ${series.smoothedRtt.length} RTT samples, ${series.losses.length} losses over ` +
      `${(series.end - series.start).toFixed(0)} ms${errors.length > 0 ? ` (${errors.length} unparsable records skipped)` : ''}\n`,
  );
  return 0;
}

function usage(io: PlotIO, msg: string): number {
  io.err.write(`qlog-plot: ${msg}\n${HELP}`);
  return 2;
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
