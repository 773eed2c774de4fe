/**
 * The connect token on the wire: a full client/server exchange over the sans-IO endpoints, tapping every
 * packet's plaintext as it is sealed. The token must appear in a client Handshake packet and in no Initial
 * packet (whose keys anyone who sees the connection id can derive), nor in the clear in any datagram.
 */
import { describe, expect, it } from 'vitest';
import { ConnectTokenPolicy, encodeConnectToken } from '../../lib/crypto/handshake/connect-token.js';
import { generateIdentity } from '../../lib/crypto/handshake/index.js';
import { nodeCryptoProvider as p } from '../../lib/crypto/node-provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import type { CryptoConfig } from '../../lib/connection/types.js';
import type { EncryptionLevel, PacketProtector } from '../../lib/crypto/types.js';
import { toHex } from '../../lib/wire/buffer.js';
import { Pair } from '../helpers/pair.js';

interface Sealed {
  level: EncryptionLevel;
  isClient: boolean;
  plaintext: string;
}

function tap(w: PacketProtector, level: EncryptionLevel, isClient: boolean, log: Sealed[]): PacketProtector {
  return {
    tagLength: w.tagLength,
    headerProtection: w.headerProtection,
    seal(pn, buf, h, po, pe) {
      log.push({ level, isClient, plaintext: toHex(buf.subarray(po, pe)) });
      return w.seal(pn, buf, h, po, pe);
    },
    open: (pn, buf, h, po, end) => w.open(pn, buf, h, po, end),
    headerMask: (sample, out) => w.headerMask(sample, out),
  };
}

describe('connect token on the wire', () => {
  it('is sealed only in client Handshake packets: never in an Initial, never in the clear', () => {
    const identity = generateIdentity(p);
    const backend = generateIdentity(p);
    const now = Date.now();
    const policy = new ConnectTokenPolicy({
      provider: p,
      trustedBackendKeys: [backend.publicKey],
      serverAddresses: () => ['10.0.0.2:4433'],
      now: () => now,
    });
    const token = encodeConnectToken(p, backend, {
      tokenId: p.randomBytes(16),
      clientId: 'player-1',
      expiresAt: now + 60_000,
      serverAddresses: ['10.0.0.2:4433'],
      userData: p.randomBytes(200),
    });
    const base = secureCrypto({
      provider: p,
      client: { serverKey: identity.publicKey, now: () => now, connectToken: token },
      server: { identity, connectTokenPolicy: policy },
    });
    const sealed: Sealed[] = [];
    const crypto: CryptoConfig = {
      createSession(args) {
        const s = base.createSession(args);
        const poll = s.pollKeys.bind(s);
        s.pollKeys = () => {
          const k = poll();
          if (k?.write) k.write = tap(k.write, k.level, args.isClient, sealed);
          return k;
        };
        return s;
      },
      initialProtectors(dcid, isClient) {
        const pr = base.initialProtectors(dcid, isClient);
        return { read: pr.read, write: tap(pr.write, 'initial', isClient, sealed) };
      },
    };
    const pair = new Pair({ crypto, seed: 7 });
    const datagrams: string[] = [];
    pair.drop = (_dir, _i, data) => {
      datagrams.push(toHex(data));
      return false;
    };
    expect(pair.run(() => pair.connected(), 10_000)).toBe(true);
    expect(pair.serverConn!.connectToken?.clientId).toBe('player-1');
    const hex = toHex(token);
    const initials = sealed.filter((s) => s.level === 'initial');
    expect(initials.length).toBeGreaterThan(0);
    for (const s of initials) expect(s.plaintext).not.toContain(hex);
    // Positive control: the tap does see the token, in a client Handshake packet (and nowhere else).
    const carrying = sealed.filter((s) => s.plaintext.includes(hex));
    expect(carrying.length).toBeGreaterThan(0);
    for (const s of carrying) expect([s.level, s.isClient]).toEqual(['handshake', true]);
    for (const d of datagrams) expect(d).not.toContain(hex.slice(0, 64));
  });
});
