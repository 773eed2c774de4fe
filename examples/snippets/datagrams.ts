import assert from 'node:assert/strict';
import { connect, listen } from '../../lib/api/index.js';

const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
server.on('connection', (conn) => {
  conn.on('datagram', (bytes) => conn.sendDatagram(bytes)); // echo
});

const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
console.log(`datagrams up to ${conn.maxDatagramSize} bytes`);
const echoed = new Promise<Uint8Array>((resolve) => conn.once('datagram', resolve));
conn.sendDatagram(new Uint8Array([1, 2, 3]));
assert.deepEqual([...(await echoed)], [1, 2, 3]);

// Too big for one packet: a typed error, never a silent truncation.
assert.throws(() => conn.sendDatagram(new Uint8Array(conn.maxDatagramSize + 1)), { code: 'DATAGRAM_TOO_LARGE' });

await conn.close();
await server.close();
