import assert from 'node:assert/strict';
import { connect, generateIdentity, listen } from '../../lib/api/index.js';

// The server's key pair. Clients pin its fingerprint (or trust a CA that certified it).
const identity = generateIdentity();

// A server that answers every stream with its bytes in upper case.
const server = await listen({ host: '127.0.0.1', port: 0, identity });
server.on('connection', (conn) => {
  conn.on('stream', async (stream) => {
    let text = '';
    for await (const chunk of stream) text += chunk; // reading to the end leaves the stream writable
    stream.end(text.toUpperCase());
  });
});

const conn = await connect({ host: '127.0.0.1', port: server.address().port, serverKey: identity.fingerprint });
const stream = await conn.openStream();
stream.end('hello, petrel');
let reply = '';
for await (const chunk of stream) reply += chunk;
assert.equal(reply, 'HELLO, PETREL');

await conn.close();
await server.close();
