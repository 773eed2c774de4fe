import assert from 'node:assert/strict';
import { connect, listen } from '../../lib/api/index.js';

const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
server.on('connection', (conn) => {
  conn.on('stream', async (s) => {
    let n = 0;
    for await (const c of s) n += (c as Buffer).length;
    s.end(String(n));
  });
});
const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
const s = await conn.openStream();
s.end(Buffer.alloc(100_000));
let reply = '';
for await (const c of s) reply += c;
assert.equal(reply, '100000');

const st = conn.stats();
console.log({ rtt: st.smoothedRtt, cwnd: st.cwnd, sent: st.bytesSent, lost: st.packetsLost, drops: st.drops });
assert.ok(st.bytesSent > 100_000);
assert.equal(typeof st.channels.messagesSent, 'number'); // channel-layer counters ride along

const ss = server.stats(); // endpoint counters, per-reason drops, granted socket buffers
assert.ok(ss.recvBufferSize > 0 && ss.datagramsReceived > 0);

await conn.close();
await server.close();
