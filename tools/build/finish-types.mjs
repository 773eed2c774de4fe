#!/usr/bin/env node
// After tsup: declarations are built with stripInternal, which removes @internal members from a class but leaves its
// `implements Interface` clause, so a consumer type-checking with skipLibCheck: false would see "incorrectly
// implements" errors for interfaces only Petrel's own code uses. `implements` says nothing a consumer relies on
// (types are structural), so drop it from every declared class.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = join(import.meta.dirname, '..', '..', 'dist');
let changed = 0;
for (const f of readdirSync(dist)) {
  if (!/\.d\.c?ts$/.test(f)) continue;
  const path = join(dist, f);
  const text = readFileSync(path, 'utf8');
  const out = text.replace(/^(declare (?:abstract )?class [^\n{]*?)\s+implements\s+[^\n{]+\{/gm, (_m, head) => `${head} {`);
  if (out !== text) {
    writeFileSync(path, out);
    changed++;
  }
}
process.stdout.write(`finish-types: ${changed} declaration file(s) adjusted\n`);
