/**
 * `petrel qpack decode|encode`: the QPACK offline-interop tool (spec/http.md §Interop file format).
 *
 *   petrel qpack decode --table-size N --max-blocked M [--ack] [--rfc9204] FILE
 *   petrel qpack encode --table-size N --max-blocked M [--ack] [--rfc9204] FILE.qif [-o OUT]
 *
 * `main(argv, io)` returns the exit code: 0 done, 1 bad input (the typed error is printed), 2 usage error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { PetrelError } from '../../lib/errors.js';
import { decodeInteropFile, encodeInteropFile, formatQif, parseQif } from '../../lib/http/qpack/index.js';

export const HELP = `Usage: petrel qpack decode --table-size N --max-blocked M [--ack] [--rfc9204] FILE
       petrel qpack encode --table-size N --max-blocked M [--ack] [--rfc9204] FILE.qif [-o OUT]

decode  reads an offline-interop file (8-byte stream id, 4-byte length, data; stream 0 = encoder stream)
        and prints every field section as QIF text: "# stream <id>", "name<TAB>value" lines, a blank line.
        Sections come out in the order they decode (a blocked one when its inserts arrive).
encode  reads a QIF file and writes the interop file (to OUT, or stdout): list i on stream i + 1.

Options:
  --table-size N    SETTINGS_QPACK_MAX_TABLE_CAPACITY (required)
  --max-blocked M   SETTINGS_QPACK_BLOCKED_STREAMS (required)
  --ack             immediate acknowledgement: encode lets the encoder hear the decoder after every
                    section; decode reports the decoder-stream bytes it produced (on stderr)
  --rfc9204         the table starts at capacity 0 (RFC 9204) instead of the maximum (draft-05, the corpus)
  -o OUT            encode: output file
  --help            this text

Exit code: 0 done, 1 invalid input (typed error printed), 2 usage error.
`;

export interface QpackIO {
  out: { write(s: string | Uint8Array): unknown };
  err: { write(s: string): unknown };
}

export function main(argv: readonly string[], io: QpackIO = { out: process.stdout, err: process.stderr }): number {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.out.write(HELP);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd !== 'decode' && cmd !== 'encode') return usage(io, `unknown subcommand '${cmd}'`);
  let tableSize: number | undefined;
  let maxBlocked: number | undefined;
  let ack = false;
  let rfc9204 = false;
  let outFile: string | undefined;
  let file: string | undefined;
  const num = (v: string | undefined, name: string): number | string => {
    const n = Number(v);
    return v !== undefined && /^\d+$/.test(v) && Number.isSafeInteger(n) ? n : `${name} needs a non-negative integer`;
  };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--help' || a === '-h') {
      io.out.write(HELP);
      return 0;
    } else if (a === '--table-size' || a === '--max-blocked') {
      const v = num(rest[++i], a);
      if (typeof v === 'string') return usage(io, v);
      if (a === '--table-size') tableSize = v;
      else maxBlocked = v;
    } else if (a === '--ack') ack = true;
    else if (a === '--rfc9204') rfc9204 = true;
    else if (a === '-o' && cmd === 'encode') {
      outFile = rest[++i];
      if (outFile === undefined) return usage(io, '-o needs a file');
    } else if (a.startsWith('-')) return usage(io, `unknown option ${a}`);
    else if (file === undefined) file = a;
    else return usage(io, 'one input file only');
  }
  if (tableSize === undefined || maxBlocked === undefined) return usage(io, '--table-size and --max-blocked are required');
  if (file === undefined) return usage(io, 'no input file');
  let input: Buffer;
  try {
    input = readFileSync(file);
  } catch (e) {
    io.err.write(`petrel qpack: cannot read ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    if (cmd === 'decode') {
      const r = decodeInteropFile(input, { tableSize, maxBlocked, rfc9204 });
      io.out.write(Buffer.from(formatQif(r.sections), 'latin1'));
      if (ack) {
        const bytes = r.decoderStream.reduce((n, b) => n + b.length, 0);
        io.err.write(`decoder stream: ${bytes} bytes (acknowledgements and increments), ${r.blockedSections} section(s) waited for inserts\n`);
      }
    } else {
      const bytes = encodeInteropFile(parseQif(input.toString('latin1')), { tableSize, maxBlocked, ack, rfc9204 });
      if (outFile !== undefined) writeFileSync(outFile, bytes);
      else io.out.write(bytes);
    }
    return 0;
  } catch (e) {
    if (e instanceof PetrelError) {
      io.err.write(`petrel qpack: ${e.code}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function usage(io: QpackIO, msg: string): number {
  io.err.write(`petrel qpack: ${msg}\n\n${HELP}`);
  return 2;
}
