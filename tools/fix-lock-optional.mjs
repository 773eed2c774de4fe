// npm 11.19 on this project's machines writes package-lock.json without the other platforms' entries for
// some optional native packages (rollup's and msgpackr-extract's), and then `npm ci` rejects its own lock
// ("Missing: @rollup/rollup-android-arm-eabi@ from lock file"). This drops, from each package's recorded
// optionalDependencies, the ones the lock has no entry for, so `npm ci` accepts the lock. Run it after
// any `npm install`: `node tools/fix-lock-optional.mjs`. (Only platform binaries the lock never had are
// dropped; what is installed on this platform is unchanged.)
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
let dropped = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  if (!pkg.optionalDependencies) continue;
  const base = key === '' ? 'node_modules/' : `${key}/node_modules/`;
  for (const dep of Object.keys(pkg.optionalDependencies)) {
    // Resolution walks up the tree: nested, then hoisted.
    const nested = `${base}${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (!lock.packages[nested] && !lock.packages[hoisted]) {
      delete pkg.optionalDependencies[dep];
      dropped++;
    }
  }
  if (Object.keys(pkg.optionalDependencies).length === 0) delete pkg.optionalDependencies;
}
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`dropped ${dropped} optional dependencies with no lock entry`);
