import assert from 'node:assert/strict';
import { fingerprint, generateIdentity, identityFromPrivateKey } from '../../lib/api/index.js';

// A server key pair; give the fingerprint to clients out of band (they pin it with `serverKey`).
const id = generateIdentity();
console.log(id.fingerprint); // sha256:…64 hex digits
assert.match(id.fingerprint, /^sha256:[0-9a-f]{64}$/);
assert.equal(fingerprint(id.publicKey), id.fingerprint);

// Store only the 32-byte private key; everything else is derived from it.
assert.deepEqual(identityFromPrivateKey(id.privateKey), id);
