/**
 * A Petrel echo server for the conformance runner's own tests: prints one JSON line
 * `{ "port": N, "fingerprint": "..." }` and serves until stdin closes or SIGTERM.
 *   node --import tsx conformance/mutants/serve.ts [--insecure] [--retry]
 * The mutant runner starts this same file from a copy of the tree with one requirement broken.
 */
import { listen } from '../../lib/api/server.js';
import { generateIdentity } from '../../lib/api/identity.js';

const insecure = process.argv.includes('--insecure');
const identity = generateIdentity();
// --retry: every client must first echo a Retry token (the address-validation cases need one).
const server = await listen({
  host: '127.0.0.1',
  port: 0,
  identity,
  insecure,
  ...(process.argv.includes('--retry') ? { retry: 'always' as const } : {}),
});
server.on('connection', (conn) => {
  conn.on('stream', (s) => {
    s.on('error', () => undefined);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end(Buffer.concat(chunks)));
  });
});
process.stdout.write(JSON.stringify({ port: server.address().port, fingerprint: identity.fingerprint }) + '\n');
const stop = (): void => {
  void server.close({ force: true }).finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
