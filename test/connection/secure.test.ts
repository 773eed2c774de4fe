/**
 * Encrypted connections (the default): packet protection drops any tampered packet, duplicates are
 * dropped, and key updates (RFC 9001 §6) keep a long lossy transfer going, forced at a lowered limit.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { generateIdentity } from '../../lib/crypto/handshake/index.js';
import { runScenario } from '../../tools/sim/scenario.js';

function securePair(opts: ConstructorParameters<typeof Pair>[0] = {}) {
  const identity = generateIdentity(nodeCryptoProvider);
  const crypto = secureCrypto({
    provider: nodeCryptoProvider,
    client: { serverKey: identity.publicKey, now: () => Date.now() },
    server: { identity },
  });
  return new Pair({ ...opts, crypto });
}

describe('packet protection', () => {
  it('a protected packet with any bit flipped (valid CRC) is dropped and counted, never delivered', () => {
    const p = securePair({ latency: 5 });
    expect(p.run(() => p.connected() && p.clientConn.state === 'established')).toBe(true);
    const id = p.clientConn.openStream(true)!;
    let tampered = 0;
    p.drop = (dir, _i, data) => {
      if (dir !== 'c2s' || data.length < 200 || tampered >= 40) return false;
      // Flip one bit somewhere after the header and fix the CRC, so only the AEAD can notice.
      const copy = data.slice();
      const bit = 8 * 20 + ((tampered * 977) % ((copy.length - 24) * 8));
      copy[bit >> 3]! ^= 1 << (bit & 7);
      const body = copy.subarray(0, copy.length - 4);
      const c = crc32(body);
      copy.set([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff], copy.length - 4);
      tampered++;
      p.server.handleDatagram(copy, p.clientAddr, p.now);
      return false; // the genuine one still goes through
    };
    const data = new Uint8Array(100_000).map((_, i) => i & 0xff);
    p.clientConn.streamWrite(id, data, true);
    let got = 0;
    const ok = p.run(
      () => got === data.length,
      30_000,
      () => {
        for (let d = p.serverConn?.streamRead(id); d; d = p.serverConn!.streamRead(id)) {
          for (let i = 0; i < d.length; i++) if (d[i] !== ((got + i) & 0xff)) throw new Error('corrupt byte delivered');
          got += d.length;
        }
      },
    );
    expect(ok).toBe(true);
    expect(tampered).toBe(40);
    const drops = p.serverConn!.stats().drops;
    expect((drops.auth_failed ?? 0) + (drops.malformed_packet ?? 0)).toBe(40);
  });

  it('a replayed (duplicate) packet is dropped as a duplicate', () => {
    const p = securePair({ latency: 5 });
    expect(p.run(() => p.connected() && p.clientConn.state === 'established')).toBe(true);
    let replayed = 0;
    p.drop = (dir, _i, data) => {
      if (dir === 'c2s' && replayed < 10) {
        replayed++;
        p.server.handleDatagram(data.slice(), p.clientAddr, p.now);
      }
      return false;
    };
    const id = p.clientConn.openStream(true)!;
    p.clientConn.streamWrite(id, new Uint8Array(50_000), true);
    p.run(() => replayed === 10 && p.clientConn.streamBufferedBytes(id) === 0, 30_000);
    expect(p.serverConn!.stats().drops.duplicate).toBe(10);
  });
});

describe('key update', () => {
  it('on request: both sides move to the next keys and keep exchanging', () => {
    const p = securePair({ latency: 5 });
    expect(p.run(() => p.connected() && p.clientConn.state === 'established')).toBe(true);
    const id = p.clientConn.openStream(true)!;
    p.clientConn.streamWrite(id, new Uint8Array(10_000));
    p.run(() => p.clientConn.streamBufferedBytes(id) === 0, 5000);
    p.clientConn.updateKeys();
    p.clientConn.streamWrite(id, new Uint8Array(10_000), true);
    let got = 0;
    p.run(
      () => got === 20_000,
      10_000,
      () => {
        for (let d = p.serverConn?.streamRead(id); d; d = p.serverConn!.streamRead(id)) got += d.length;
      },
    );
    expect(got).toBe(20_000);
    expect(p.clientConn.stats().keyUpdates).toBe(1);
    expect(p.serverConn!.stats().keyUpdates).toBe(1);
  });

  it('forced at a lowered limit during a lossy 100 MB simulated transfer: many updates, every byte intact', () => {
    const r = runScenario({
      seed: 77,
      link: { delay: 5, rate: 1e9, queueBytes: 2_000_000, loss: 0.02 },
      clientStreams: [100_000_000],
      serverStreams: [],
      options: { keyUpdateInterval: 5000 },
      extras: { ending: 'client-close', outage: null, rebind: null, datagrams: [0, 0], mtu: null, mtuDrop: null },
    });
    expect(r.failure).toBeUndefined();
    // ~70,000 packets at 5,000 per phase: well over ten updates on the sending side.
    expect(r.clientStats!.keyUpdates).toBeGreaterThanOrEqual(10);
    expect(r.serverStats!.keyUpdates).toBe(r.clientStats!.keyUpdates);
  }, 120_000);
});
