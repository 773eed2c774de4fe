import assert from 'node:assert/strict';
import { connect, listen } from '../../lib/api/index.js';

const server = await listen({ host: '127.0.0.1', port: 0, insecure: true, idleTimeout: 10_000 });

// Connections arrive through async iteration (or server.on('connection')).
let accepted = 0;
const accepting = (async () => {
  for await (const conn of server) {
    accepted++;
    void conn.closed.then((r) => console.log(`${conn.remoteAddress}:${conn.remotePort} closed by ${r.initiator}`));
  }
})();

const players = await Promise.all([1, 2, 3].map(() => connect({ host: '127.0.0.1', port: server.address().port, insecure: true })));
// connect() resolves when the client finished its handshake; the server completes its own a moment later.
while (accepted < 3) await new Promise((r) => setTimeout(r, 5));

// Graceful shutdown: stop accepting, tell every client why, wait until their connections have ended.
await server.close({ code: 1001, reason: 'maintenance' });
await accepting; // iteration ends with the server

for (const p of players) {
  assert.deepEqual(await p.closed, { code: 1001, reason: 'maintenance', initiator: 'peer', application: true });
  await p.close(); // resolves once the client's socket is released
}
