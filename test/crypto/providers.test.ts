import { describe, expect, it } from 'vitest';
import { createServerSession, createClientSession, generateIdentity } from '../../lib/crypto/handshake/index.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { protectHeader, protectorsFromSecret, unprotectHeader } from '../../lib/crypto/packet-protection.js';
import { CIPHER_SUITES, type Aead, type CipherSuite, type CryptoProvider } from '../../lib/crypto/provider.js';
import { runtimeCryptoProvider } from '../../lib/crypto/runtime-provider.js';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';
import { measureSuiteCosts } from '../../lib/crypto/suite-cost.js';
import { pump } from './handshake-harness.js';

const sodium = sodiumCryptoProvider();
const PAIRS: [string, string, CryptoProvider, CryptoProvider][] = sodium
  ? [
      ['sodium', 'node', sodium, nodeCryptoProvider],
      ['node', 'sodium', nodeCryptoProvider, sodium],
    ]
  : [];

describe('sodium-native provider', () => {
  it('loads here (installed as an optional dependency) and names itself', () => {
    expect(sodium).not.toBeNull();
    expect(sodium!.name).toBe('sodium');
    expect(nodeCryptoProvider.name).toBe('node');
  });

  describe.each(PAIRS)('interop: %s seals, %s opens', (_a, _b, writer, reader) => {
    for (const suite of CIPHER_SUITES) {
      it(`${suite}: a protected 1472-byte packet round-trips, and a flipped bit is refused`, () => {
        const secret = writer.randomBytes(32);
        const w = protectorsFromSecret(writer, suite, secret);
        const r = protectorsFromSecret(reader, suite, secret);
        const header = Uint8Array.of(0x41, 1, 2, 3, 4, 5, 6, 7, 8, 0x12, 0x34);
        const payload = writer.randomBytes(1441);
        for (const pn of [0, 0x1234, 2 ** 40 + 7]) {
          const buf = new Uint8Array(header.length + payload.length + 16);
          buf.set(header);
          buf.set(payload, header.length);
          expect(w.seal(pn, buf, 0, header.length, header.length + payload.length)).toBe(buf.length);
          protectHeader(buf, 0, 9, 2, w);
          expect(buf.subarray(header.length, header.length + payload.length)).not.toEqual(payload);

          const tampered = buf.slice();
          tampered[600] ^= 0x01;
          expect(unprotectHeader(tampered, 0, 9, r)).toBe(2);
          const before = tampered.slice();
          expect(r.open(pn, tampered, 0, header.length, tampered.length)).toBe(-1);
          expect(tampered).toEqual(before); // a failed open leaves the packet as it was

          expect(unprotectHeader(buf, 0, 9, r)).toBe(2);
          expect(buf.subarray(0, header.length)).toEqual(header);
          expect(r.open(pn, buf, 0, header.length, buf.length)).toBe(header.length + payload.length);
          expect(buf.subarray(header.length, header.length + payload.length)).toEqual(payload);
        }
      });
    }

    it('a handshake between the two providers agrees on every secret, for each suite', () => {
      for (const suite of CIPHER_SUITES) {
        const id = generateIdentity(reader);
        const c = createClientSession({
          provider: writer,
          alpn: ['x'],
          transportParameters: new Uint8Array(1),
          serverName: 'a.example',
          serverKey: id.publicKey,
          now: () => 0,
          suites: [suite],
        });
        const s = createServerSession({ provider: reader, alpn: ['x'], transportParameters: new Uint8Array(1), identity: id, suites: [suite] });
        const r = pump(c, s);
        expect(r.clientError).toBeNull();
        expect(r.serverError).toBeNull();
        expect(c.cipherSuite).toBe(suite);
        expect(s.cipherSuite).toBe(suite);
      }
    });
  });

  it('ed25519Generate/Sign agree with node:crypto (same seed, same deterministic signature)', () => {
    const kp = sodium!.ed25519Generate();
    const msg = sodium!.randomBytes(300);
    expect(sodium!.ed25519Sign(kp.privateKey, msg)).toEqual(nodeCryptoProvider.ed25519Sign(kp.privateKey, msg));
    expect(nodeCryptoProvider.ed25519Verify(kp.publicKey, msg, sodium!.ed25519Sign(kp.privateKey, msg))).toBe(true);
  });
});

describe('node provider key handling', () => {
  it('x25519Generate makes pairs without a key-generation job: public = X25519(private, 9), agreeing with sodium', () => {
    const base = new Uint8Array(32);
    base[0] = 9;
    const a = nodeCryptoProvider.x25519Generate();
    expect(nodeCryptoProvider.x25519(a.privateKey.slice(), base)).toEqual(a.publicKey);
    const b = (sodium ?? nodeCryptoProvider).x25519Generate();
    expect(nodeCryptoProvider.x25519(a.privateKey, b.publicKey)).toEqual((sodium ?? nodeCryptoProvider).x25519(b.privateKey, a.publicKey));
  });

  it('ed25519Generate returns a public key that verifies signatures of its seed', () => {
    const kp = nodeCryptoProvider.ed25519Generate();
    const msg = Uint8Array.of(1, 2, 3);
    expect(nodeCryptoProvider.ed25519Verify(kp.publicKey, msg, nodeCryptoProvider.ed25519Sign(kp.privateKey, msg))).toBe(true);
    expect(
      nodeCryptoProvider.ed25519Verify(nodeCryptoProvider.ed25519Generate().publicKey, msg, nodeCryptoProvider.ed25519Sign(kp.privateKey, msg)),
    ).toBe(false);
  });
});

/** A provider whose AEADs advance a virtual clock by a fixed cost per seal, so the ordering is exact. */
function costedProvider(cost: Record<CipherSuite, number>, clock: { ms: number }): CryptoProvider {
  return {
    ...nodeCryptoProvider,
    createAead(suite, key): Aead {
      const inner = nodeCryptoProvider.createAead(suite, key);
      return {
        tagLength: 16,
        seal(n, aad, buf, s, e) {
          clock.ms += cost[suite] / 1000;
          return inner.seal(n, aad, buf, s, e);
        },
        open: (n, aad, buf, s, e) => inner.open(n, aad, buf, s, e),
      };
    },
  };
}

describe('suite preference by measured cost', () => {
  it('orders suites cheapest first, but a suite must be over 20% cheaper to overtake', () => {
    const clock = { ms: 0 };
    const now = () => clock.ms;
    const order = (aes: number, chacha: number) =>
      measureSuiteCosts(costedProvider({ AES_128_GCM_SHA256: aes, CHACHA20_POLY1305_SHA256: chacha }, clock), now).map((c) => c.suite);
    expect(order(5, 2)).toEqual(['CHACHA20_POLY1305_SHA256', 'AES_128_GCM_SHA256']);
    expect(order(2, 5)).toEqual(['AES_128_GCM_SHA256', 'CHACHA20_POLY1305_SHA256']);
    expect(order(5, 4.5)).toEqual(['AES_128_GCM_SHA256', 'CHACHA20_POLY1305_SHA256']);
    const costs = measureSuiteCosts(costedProvider({ AES_128_GCM_SHA256: 7, CHACHA20_POLY1305_SHA256: 3 }, clock), now);
    expect(costs.map((c) => Math.round(c.us))).toEqual([3, 7]);
  });

  it('a server with no suites option follows its provider preference', () => {
    const prefersChaCha: CryptoProvider = { ...nodeCryptoProvider, preferredSuites: ['CHACHA20_POLY1305_SHA256', 'AES_128_GCM_SHA256'] };
    const id = generateIdentity(nodeCryptoProvider);
    const c = createClientSession({
      provider: nodeCryptoProvider,
      alpn: [],
      transportParameters: new Uint8Array(1),
      serverName: 'a',
      serverKey: id.publicKey,
      now: () => 0,
    });
    const s = createServerSession({ provider: prefersChaCha, alpn: [], transportParameters: new Uint8Array(1), identity: id });
    expect(pump(c, s).serverError).toBeNull();
    expect(s.cipherSuite).toBe('CHACHA20_POLY1305_SHA256');
  });

  it('the runtime provider is calibrated: every suite ranked once', () => {
    const p = runtimeCryptoProvider();
    expect([...p.preferredSuites!].sort()).toEqual([...CIPHER_SUITES].sort());
    expect(p.name).toBe(sodium ? 'sodium' : 'node');
  });
});
