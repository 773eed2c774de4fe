/**
 * The package as a user gets it: `npm pack`, then `npm install --offline <tgz>` into an empty folder, then the bin
 * (`npx petrel ...`) and both module systems. Needs the build (npm test builds first); a missing build fails, never
 * skips.
 *
 * Offline and without registry metadata: the consumer's package.json pins each runtime dependency to the version in
 * this repo's node_modules (what `npm ci` installed) and node_modules/<dep> is a symlink to it, so npm finds every
 * dependency already satisfied and only unpacks the tarball. Scripts are off (`--ignore-scripts`), so nothing runs
 * inside the linked folders.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionQlog } from '../../lib/qlog/adapter.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
const tmp = mkdtempSync(join(tmpdir(), 'petrel-pack-'));
const consumer = join(tmp, 'consumer');
let tarballFiles: string[] = [];

/** The environment without what an enclosing `npm test` / `npx` exported (npm_config_local_prefix and friends
 *  describe this repository, not the consumer folder), except where npm keeps its cache. */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') || k === 'npm_config_cache' || k === 'npm_config_userconfig'),
);
childEnv['npm_config_update_notifier'] = 'false';

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function sh(cmd: string, args: string[], cwd = consumer, timeout = 30_000): Promise<Ran> {
  try {
    const r = await run(cmd, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024, env: childEnv });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? String(e) };
  }
}

const npx = (...args: string[]): Promise<Ran> => sh('npx', ['--no-install', 'petrel', ...args]);
/** The installed bin without npx's start-up (for the many --help runs). */
const bin = (...args: string[]): Promise<Ran> => sh(process.execPath, [join(consumer, 'node_modules', '.bin', 'petrel'), ...args]);
let typecheck: Promise<Ran> | null = null;
/** The compiler is the slow part: it starts right after the install and runs while the other tests do. */
function startTypecheck(): Promise<Ran> {
  writeFileSync(
    join(consumer, 'use.ts'),
    `import { connect, isPetrelError, type PetrelStream } from 'petrel';
import { ImpairProxy, type LinkConfig } from 'petrel/impair';
const link: LinkConfig = { loss: 0.05, delay: 30 };
export async function f(s: PetrelStream): Promise<string> {
  let text = '';
  for await (const chunk of s) text += chunk;
  try { await connect({ host: 'h', port: 1, serverKey: 'k' }); } catch (e) { if (isPetrelError(e, 'ABORTED')) return e.code; }
  return text + String(new ImpairProxy({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: 1 }, upstream: link }));
}
`,
  );
  writeFileSync(
    join(consumer, 'internal.ts'),
    `import type { PetrelStream } from 'petrel';\nexport const f = (s: PetrelStream) => s.onReadable();\n`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const types = join(root, 'node_modules', '@types');
  const base = [
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    'false',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--typeRoots',
    types,
    '--types',
    'node',
  ];
  return sh(process.execPath, [tsc, ...base, 'use.ts', 'internal.ts'], consumer, 90_000);
}

beforeAll(async () => {
  expect(existsSync(join(root, 'dist/index.js')), 'dist missing: run npm run build').toBe(true);
  expect(existsSync(join(root, 'dist/tools/impair/cli.js')), 'dist/tools missing: run npm run build').toBe(true);
  const packed = await sh('npm', ['pack', '--json', '--pack-destination', tmp], root);
  expect(packed.code, packed.err).toBe(0);
  const info = JSON.parse(packed.out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarballFiles = info[0]!.files.map((f) => f.path);
  const tgz = join(tmp, info[0]!.filename);

  mkdirSync(join(consumer, 'node_modules'), { recursive: true });
  const deps: Record<string, string> = {};
  for (const name of Object.keys(pkg.dependencies)) {
    const dir = join(root, 'node_modules', name);
    deps[name] = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    mkdirSync(dirname(join(consumer, 'node_modules', name)), { recursive: true });
    symlinkSync(dir, join(consumer, 'node_modules', name), 'dir');
  }
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: deps }));
  const installed = await sh('npm', [
    'install',
    '--offline',
    '--no-audit',
    '--no-fund',
    '--no-package-lock',
    '--ignore-scripts',
    '--omit=optional',
    tgz,
  ]);
  expect(installed.code, installed.err).toBe(0);
  typecheck = startTypecheck();
}, 60_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('npm pack → npm install --offline → use', () => {
  it('ships the build, the bin and the docs; no TypeScript sources, tests or source maps', () => {
    expect(tarballFiles).toContain('dist/index.js');
    expect(tarballFiles).toContain('dist/index.cjs');
    expect(tarballFiles).toContain('dist/impair.d.ts');
    expect(tarballFiles).toContain('dist/tools/impair/cli.js');
    expect(tarballFiles).toContain('bin/petrel.mjs');
    expect(tarballFiles).toContain('dist/examples/chat/web/index.html');
    expect(tarballFiles).toContain('dist/examples/chat/web/app.js');
    expect(tarballFiles.filter((f) => /\.ts$/.test(f) && !/\.d\.c?ts$/.test(f))).toEqual([]);
    expect(tarballFiles.filter((f) => f.startsWith('test/') || f.startsWith('lib/') || f.endsWith('.map'))).toEqual([]);
  });

  it('npx petrel --help lists every command; each command answers --help from the built tools', async () => {
    const help = await npx('--help');
    expect(help.code, help.err).toBe(0);
    const commands = [...help.out.matchAll(/^ {2}(\S+) +\S/gm)].map((m) => m[1]);
    expect(commands).toEqual(expect.arrayContaining(['impair', 'qlog', 'qlog-plot', 'chat']));
    const runs = await Promise.all(commands.map((c) => (c === 'impair' ? npx(c, '--help') : bin(c!, '--help'))));
    runs.forEach((r, i) => {
      const c = commands[i]!;
      expect(r.code, `${c}: ${r.err}`).toBe(0);
      expect(r.err, c).not.toMatch(/tsx|\.ts\b/);
      expect(r.out, c).toMatch(/^Usage: /);
    });
  });

  it('npx petrel impair runs a proxy and reports; npx petrel qlog validates; npx petrel qlog-plot draws', async () => {
    const lines: string[] = [];
    const { trace } = createConnectionQlog((r) => void lines.push(r), { vantagePoint: 'client', odcid: '0a0b', referenceTime: 0 });
    trace('connectivity:connection_state_updated', { state: 'handshake' }, 1);
    trace('recovery:metrics_updated', { latestRtt: 40, smoothedRtt: 40, minRtt: 40, cwnd: 14720, bytesInFlight: 1200 }, 2);
    trace('recovery:packet_lost', { space: 'application', pn: 3 }, 3);
    trace('recovery:metrics_updated', { latestRtt: 45, smoothedRtt: 41, cwnd: 7360, bytesInFlight: 0 }, 50);
    const file = join(consumer, 'run.sqlog');
    writeFileSync(file, lines.join(''));
    // Independent runs, side by side (each pays a node + npx start-up).
    const [impair, q, plot] = await Promise.all([
      npx('impair', '--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', '--loss', '5%', '--delay', '30ms', '--duration', '300ms'),
      npx('qlog', file),
      npx('qlog-plot', file, '-o', join(consumer, 'run.svg')),
    ]);
    expect(impair.code, impair.err).toBe(0);
    expect(impair.out).toMatch(/petrel impair: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:9/);
    expect(impair.out).toContain('stopped (duration)');
    expect(q.code, q.out + q.err).toBe(0);
    expect(q.out).toContain(`${file}: 4 events`);
    expect(q.out).toContain('  valid\n');
    expect(plot.code, plot.err).toBe(0);
    expect(readFileSync(join(consumer, 'run.svg'), 'utf8')).toContain('Packets declared lost (1)');
  });

  it('npx petrel chat --serve --web 0 prints the web client URL and serves the built page, script and config', async () => {
    const child = spawn(
      process.execPath,
      [join(consumer, 'node_modules', '.bin', 'petrel'), 'chat', '--serve', '--port', '0', '--web', '0', '--insecure'],
      {
        cwd: consumer,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/web client: open (http:\/\/127\.0\.0\.1:\d+\/)/.test(out) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = /web client: open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
      expect(url, out + err).toBeDefined();
      const [page, script, config] = await Promise.all(['', 'app.js', 'config.json'].map((p) => fetch(url! + p)));
      expect(page!.status).toBe(200);
      expect(await page!.text()).toContain('<script type="module" src="app.js"></script>');
      expect(script!.headers.get('content-type')).toMatch(/^text\/javascript/);
      const js = await script!.text();
      expect(js).toBe(readFileSync(join(consumer, 'node_modules', 'petrel', 'dist', 'examples', 'chat', 'web', 'app.js'), 'utf8'));
      expect(js).not.toMatch(/from\s*["']node:/);
      expect(await config!.json()).toEqual({ path: '/petrel', key: null, insecure: true });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, err).toBe(0);
    expect(out).toContain('chat server stopped');
  });

  it('imports both ways; one PetrelError identity across ESM and CJS; petrel/impair both ways', async () => {
    const script = `
      import * as esm from 'petrel';
      import { ImpairProxy } from 'petrel/impair';
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const cjs = require('petrel');
      const out = {
        esmConnect: typeof esm.connect, cjsConnect: typeof cjs.connect,
        impairEsm: typeof ImpairProxy, impairCjs: typeof require('petrel/impair').ImpairProxy,
        differentCopies: esm.PetrelError !== cjs.PetrelError,
        cjsErrIsEsm: new cjs.PetrelError('X', 'm') instanceof esm.PetrelError,
        esmErrIsCjs: new esm.PetrelError('X', 'm') instanceof cjs.PetrelError,
        wireAcross: new cjs.PetrelWireError(7, 'm') instanceof esm.PetrelWireError,
        wireIsBase: new cjs.PetrelWireError(7, 'm') instanceof esm.PetrelError,
        baseIsNotWire: new cjs.PetrelError('X', 'm') instanceof esm.PetrelWireError,
        plainIsNot: new Error('x') instanceof esm.PetrelError,
        isByCode: esm.isPetrelError(new cjs.PetrelError('CONNECT_TIMEOUT', 'm'), 'CONNECT_TIMEOUT'),
        isOtherCode: esm.isPetrelError(new cjs.PetrelError('CONNECT_TIMEOUT', 'm'), 'ABORTED'),
      };
      // A real rejection from the CJS copy, caught with the ESM class.
      try { await cjs.connect({ host: '127.0.0.1', port: 9, insecure: true, signal: AbortSignal.abort() }); } catch (e) { out.realRejection = e instanceof esm.PetrelError && e.code; }
      console.log(JSON.stringify(out));
    `;
    writeFileSync(join(consumer, 'use.mjs'), script);
    const r = await sh(process.execPath, ['use.mjs']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      esmConnect: 'function',
      cjsConnect: 'function',
      impairEsm: 'function',
      impairCjs: 'function',
      differentCopies: true,
      cjsErrIsEsm: true,
      esmErrIsCjs: true,
      wireAcross: true,
      wireIsBase: true,
      baseIsNotWire: false,
      plainIsNot: false,
      isByCode: true,
      isOtherCode: false,
      realRejection: 'ABORTED',
    });
  });

  it('the shipped types compile in a strict consumer without skipLibCheck, and hide @internal members', async () => {
    // use.ts must compile cleanly, internal.ts must fail on the hidden member.
    const r = await typecheck!;
    const errors = (r.out + r.err).split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toEqual([
      expect.stringMatching(/^internal\.ts\(2,\d+\): error TS\d+: Property 'onReadable' does not exist on type 'PetrelStream'/),
    ]);
  });
});
