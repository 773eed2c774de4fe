import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { connect, PetrelError } from '../../lib/api/index.js';

// A UDP port where nothing answers.
const silent = dgram.createSocket('udp4');
await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
const port = silent.address().port;

// Every failure is a PetrelError with a stable `code` to switch on.
await assert.rejects(connect({ host: '127.0.0.1', port, insecure: true, timeout: 200 }), (err) => {
  return err instanceof PetrelError && err.code === 'CONNECT_TIMEOUT';
});

// Cancel an attempt at any stage.
const ac = new AbortController();
const attempt = connect({ host: '127.0.0.1', port, insecure: true, signal: ac.signal });
ac.abort();
await assert.rejects(attempt, { code: 'ABORTED' });

// Secure by default: a client must say which server key to trust (or opt into plaintext with insecure: true).
await assert.rejects(connect({ host: '127.0.0.1', port }), { code: 'SERVER_KEY_REQUIRED' });

await new Promise<void>((resolve) => silent.close(resolve));
