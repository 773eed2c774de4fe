/** Shared access to the QPACK offline-interop corpus (/work/shared/corpora/qifs, MIT) for the http tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseQif, type Field } from '../../lib/http/qpack/index.js';

const ROOT = join(import.meta.dirname, '../..');
/** The issue places the corpus at `../shared/corpora/qifs` next to the checkout; a worktree sits one level deeper. */
export const CORPUS =
  process.env.QIFS_CORPUS ??
  [join(ROOT, '../shared/corpora/qifs'), join(ROOT, '../../shared/corpora/qifs')].find((p) => existsSync(join(p, 'qifs'))) ??
  join(ROOT, '../shared/corpora/qifs');

export function qifLists(name: string): Field[][] {
  return parseQif(readFileSync(join(CORPUS, 'qifs', `${name}.qif`), 'latin1'));
}

export interface EncodedFile {
  impl: string;
  file: string;
  path: string;
  qif: string;
  tableSize: number;
  maxBlocked: number;
  ack: boolean;
}

/** Every `<qif>.out.<tableSize>.<maxBlocked>.<ackMode>` file of the encoders in encoded/qpack-05/. */
export function encodedFiles(): EncodedFile[] {
  const out: EncodedFile[] = [];
  const dir = join(CORPUS, 'encoded/qpack-05');
  for (const impl of readdirSync(dir)) {
    const sub = join(dir, impl);
    if (!['ls-qpack', 'nghttp3', 'f5'].includes(impl)) continue; // examples/ has no QIF: its own test
    for (const file of readdirSync(sub)) {
      const m = /^(.*)\.out\.(\d+)\.(\d+)\.([01])$/.exec(file);
      if (m === null) continue;
      out.push({ impl, file, path: join(sub, file), qif: m[1]!, tableSize: +m[2]!, maxBlocked: +m[3]!, ack: m[4] === '1' });
    }
  }
  return out;
}
