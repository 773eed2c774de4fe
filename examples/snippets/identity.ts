import assert from 'node:assert/strict';
import { connect, generateIdentity, identityFromPrivateKey, listen, parseFingerprint } from '../../lib/api/index.js';

// A server key pair; give the fingerprint to clients out of band (they pin it with `serverKey`).
const id = generateIdentity();
console.log(id.fingerprint); // ed25519:… (the public key, base64url)
assert.deepEqual(parseFingerprint(id.fingerprint), id.publicKey);

// Store only the 32-byte private key; everything else is derived from it.
assert.deepEqual(identityFromPrivateKey(id.privateKey), id);

// A client that pins another key refuses the server.
const server = await listen({ host: '127.0.0.1', port: 0, identity: id });
const impostorKey = generateIdentity().fingerprint;
await assert.rejects(connect({ host: '127.0.0.1', port: server.address().port, serverKey: impostorKey }), { code: 'UNKNOWN_SERVER_KEY' });
await server.close();
