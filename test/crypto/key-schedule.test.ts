import { describe, expect, it } from 'vitest';
import {
  applicationTrafficSecrets,
  deriveSecret,
  earlySecret,
  exporterMasterSecret,
  finishedKey,
  finishedMac,
  handshakeSecret,
  handshakeTrafficSecrets,
  hkdfExpandLabel,
  hkdfLabel,
  initialSecrets,
  masterSecret,
  nextTrafficSecret,
  packetKeys,
  PETREL_LABEL_PREFIX,
  PETREL_PROFILE,
  QUIC_V1_PROFILE,
  resumptionMasterSecret,
  TLS13_LABEL_PREFIX,
  verifyFinished,
  type KeyProfile,
} from '../../lib/crypto/key-schedule.js';
import { providerUnderTest as p } from './provider-under-test.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { inHex, inStr, outHex, vector } from './vectors.js';

const EMPTY = new Uint8Array(0);

/** TLS 1.3 record-layer keys ("tls13 key" / "tls13 iv") expressed as a profile, to check RFC 8448's keys. */
const TLS13_RECORD: KeyProfile = {
  prefix: TLS13_LABEL_PREFIX,
  initialSalt: EMPTY,
  keyLabel: 'key',
  ivLabel: 'iv',
  hpLabel: 'hp',
  kuLabel: 'traffic upd',
};

describe('HkdfLabel encoding (RFC 9001 A.1 "in" values)', () => {
  const v = vector('rfc9001-a1-initial-keys');
  it('matches the RFC bytes for each label', () => {
    expect(toHex(hkdfLabel('tls13 ', 'client in', EMPTY, 32))).toBe(outHex(v, 'hkdfLabelClientIn'));
    expect(toHex(hkdfLabel('tls13 ', 'server in', EMPTY, 32))).toBe(outHex(v, 'hkdfLabelServerIn'));
    expect(toHex(hkdfLabel('tls13 ', 'quic key', EMPTY, 16))).toBe(outHex(v, 'hkdfLabelQuicKey'));
    expect(toHex(hkdfLabel('tls13 ', 'quic iv', EMPTY, 12))).toBe(outHex(v, 'hkdfLabelQuicIv'));
    expect(toHex(hkdfLabel('tls13 ', 'quic hp', EMPTY, 16))).toBe('00100d746c733133207175696320687000');
  });

  it('carries the context after the label, and rejects labels outside 7..255 bytes', () => {
    expect(toHex(hkdfLabel('petrel1 ', 'key', fromHex('abcd'), 16))).toBe('00100b' + toHex(new TextEncoder().encode('petrel1 key')) + '02abcd');
    expect(() => hkdfLabel('', 'short', EMPTY, 16)).toThrow(RangeError);
    expect(() => hkdfLabel('tls13 ', 'x'.repeat(250), EMPTY, 16)).toThrow(RangeError);
    expect(() => hkdfLabel('tls13 ', 'key', new Uint8Array(256), 16)).toThrow(RangeError);
  });
});

describe('TLS 1.3 key schedule with prefix "tls13 " (RFC 8448 §3 Simple 1-RTT)', () => {
  const v = vector('rfc8448-simple-1rtt');
  const prefix = inStr(v, 'prefix');
  const hex = (k: string) => outHex(v, k);

  // Rebuilt step by step from the trace's private keys and transcript hashes.
  const shared = p.x25519(inHex(v, 'clientPrivate'), inHex(v, 'serverPublic'));
  const early = earlySecret(p);
  const hs = handshakeSecret(p, early, shared, prefix);
  const hsTraffic = handshakeTrafficSecrets(p, hs, inHex(v, 'helloHash'), prefix);
  const master = masterSecret(p, hs, prefix);
  const apTraffic = applicationTrafficSecrets(p, master, inHex(v, 'serverFinishedHash'), prefix);

  it('uses the tls13 prefix', () => {
    expect(prefix).toBe(TLS13_LABEL_PREFIX);
  });

  it('ECDHE: both sides reach the trace shared secret, and the public keys match', () => {
    expect(toHex(shared)).toBe(hex('sharedSecret'));
    expect(toHex(p.x25519(inHex(v, 'serverPrivate'), inHex(v, 'clientPublic')))).toBe(hex('sharedSecret'));
    const base = new Uint8Array(32);
    base[0] = 9;
    expect(toHex(p.x25519(inHex(v, 'clientPrivate'), base))).toBe(toHex(inHex(v, 'clientPublic')));
  });

  it('early secret, both "derived" values, handshake and master secrets', () => {
    expect(toHex(early)).toBe(hex('earlySecret'));
    expect(toHex(deriveSecret(p, early, 'derived', p.sha256(EMPTY), prefix))).toBe(hex('derivedForHandshake'));
    expect(toHex(hs)).toBe(hex('handshakeSecret'));
    expect(toHex(deriveSecret(p, hs, 'derived', p.sha256(EMPTY), prefix))).toBe(hex('derivedForMaster'));
    expect(toHex(master)).toBe(hex('masterSecret'));
  });

  it('handshake and application traffic secrets, exporter and resumption master secrets', () => {
    expect(toHex(hsTraffic.client)).toBe(hex('clientHandshakeTrafficSecret'));
    expect(toHex(hsTraffic.server)).toBe(hex('serverHandshakeTrafficSecret'));
    expect(toHex(apTraffic.client)).toBe(hex('clientApplicationTrafficSecret'));
    expect(toHex(apTraffic.server)).toBe(hex('serverApplicationTrafficSecret'));
    expect(toHex(exporterMasterSecret(p, master, inHex(v, 'serverFinishedHash'), prefix))).toBe(hex('exporterMasterSecret'));
    expect(toHex(resumptionMasterSecret(p, master, inHex(v, 'clientFinishedHash'), prefix))).toBe(hex('resumptionMasterSecret'));
  });

  it('handshake and application write keys and IVs', () => {
    const sh = packetKeys(p, 'AES_128_GCM_SHA256', hsTraffic.server, TLS13_RECORD);
    const ch = packetKeys(p, 'AES_128_GCM_SHA256', hsTraffic.client, TLS13_RECORD);
    const sa = packetKeys(p, 'AES_128_GCM_SHA256', apTraffic.server, TLS13_RECORD);
    const ca = packetKeys(p, 'AES_128_GCM_SHA256', apTraffic.client, TLS13_RECORD);
    expect([toHex(sh.key), toHex(sh.iv)]).toEqual([hex('serverHandshakeKey'), hex('serverHandshakeIv')]);
    expect([toHex(ch.key), toHex(ch.iv)]).toEqual([hex('clientHandshakeKey'), hex('clientHandshakeIv')]);
    expect([toHex(sa.key), toHex(sa.iv)]).toEqual([hex('serverApplicationKey'), hex('serverApplicationIv')]);
    expect([toHex(ca.key), toHex(ca.iv)]).toEqual([hex('clientApplicationKey'), hex('clientApplicationIv')]);
  });

  it('finished keys and both Finished MACs', () => {
    const sfk = finishedKey(p, hsTraffic.server, prefix);
    const cfk = finishedKey(p, hsTraffic.client, prefix);
    expect(toHex(sfk)).toBe(hex('serverFinishedKey'));
    expect(toHex(cfk)).toBe(hex('clientFinishedKey'));
    expect(toHex(finishedMac(p, sfk, inHex(v, 'certificateVerifyHash')))).toBe(hex('serverFinishedVerifyData'));
    // The client's Finished covers the transcript through the server's Finished.
    expect(toHex(finishedMac(p, cfk, inHex(v, 'serverFinishedHash')))).toBe(hex('clientFinishedVerifyData'));
  });

  it('verifyFinished accepts the RFC MAC and rejects any altered or truncated one', () => {
    const cfk = finishedKey(p, hsTraffic.client, prefix);
    const good = fromHex(hex('clientFinishedVerifyData'));
    const th = inHex(v, 'serverFinishedHash');
    expect(verifyFinished(p, cfk, th, good)).toBe(true);
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 0x01;
      expect(verifyFinished(p, cfk, th, bad)).toBe(false);
    }
    expect(verifyFinished(p, cfk, th, good.subarray(0, 31))).toBe(false);
    expect(verifyFinished(p, cfk, inHex(v, 'helloHash'), good)).toBe(false);
  });

  it('a few values asserted directly against the RFC text', () => {
    expect(toHex(early)).toBe('33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a');
    expect(toHex(hs)).toBe('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac');
    expect(toHex(hsTraffic.client)).toBe('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21');
    expect(toHex(master)).toBe('18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919');
    expect(toHex(hkdfExpandLabel(p, hsTraffic.server, 'key', EMPTY, 16, 'tls13 '))).toBe('3fce516009c21727d0f2e4e86ee403bc');
  });
});

describe('QUIC v1 Initial secrets and packet keys (RFC 9001 A.1)', () => {
  const v = vector('rfc9001-a1-initial-keys');
  const dcid = inHex(v, 'dcid');

  it('profile salt and prefix are the RFC values', () => {
    expect(toHex(QUIC_V1_PROFILE.initialSalt)).toBe(toHex(inHex(v, 'initialSalt')));
    expect(QUIC_V1_PROFILE.prefix).toBe(inStr(v, 'prefix'));
  });

  it('initial secret, client/server secrets, keys, IVs and hp keys', () => {
    expect(toHex(p.hkdfExtract(QUIC_V1_PROFILE.initialSalt, dcid))).toBe(outHex(v, 'initialSecret'));
    const s = initialSecrets(p, dcid, QUIC_V1_PROFILE);
    expect(toHex(s.client)).toBe(outHex(v, 'clientInitialSecret'));
    expect(toHex(s.server)).toBe(outHex(v, 'serverInitialSecret'));
    const c = packetKeys(p, 'AES_128_GCM_SHA256', s.client, QUIC_V1_PROFILE);
    const sv = packetKeys(p, 'AES_128_GCM_SHA256', s.server, QUIC_V1_PROFILE);
    expect([toHex(c.key), toHex(c.iv), toHex(c.hp)]).toEqual([outHex(v, 'clientKey'), outHex(v, 'clientIv'), outHex(v, 'clientHp')]);
    expect([toHex(sv.key), toHex(sv.iv), toHex(sv.hp)]).toEqual([outHex(v, 'serverKey'), outHex(v, 'serverIv'), outHex(v, 'serverHp')]);
    expect(toHex(c.key)).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(toHex(sv.hp)).toBe('c206b8d9b9f0f37644430b490eeaa314');
  });
});

describe('ChaCha20 packet keys and key update (RFC 9001 A.5)', () => {
  const v = vector('rfc9001-a5-chacha20-short-header');
  it('key (32 bytes), iv, hp (32 bytes) and the "quic ku" next secret', () => {
    const secret = inHex(v, 'secret');
    const k = packetKeys(p, 'CHACHA20_POLY1305_SHA256', secret, QUIC_V1_PROFILE);
    expect(toHex(k.key)).toBe(outHex(v, 'key'));
    expect(toHex(k.iv)).toBe(outHex(v, 'iv'));
    expect(toHex(k.hp)).toBe(outHex(v, 'hp'));
    expect(toHex(nextTrafficSecret(p, secret, QUIC_V1_PROFILE))).toBe(outHex(v, 'ku'));
  });
});

describe('Petrel profile', () => {
  it('uses its own prefix, labels and a 20-byte salt distinct from QUIC v1', () => {
    expect(PETREL_PROFILE.prefix).toBe(PETREL_LABEL_PREFIX);
    expect(PETREL_LABEL_PREFIX).toBe('petrel1 ');
    expect(PETREL_PROFILE.initialSalt.length).toBe(20);
    expect(toHex(PETREL_PROFILE.initialSalt)).not.toBe(toHex(QUIC_V1_PROFILE.initialSalt));
  });

  it('derives keys unrelated to the TLS/QUIC ones from the same inputs', () => {
    const v = vector('rfc8448-simple-1rtt');
    const shared = fromHex(outHex(v, 'sharedSecret'));
    const tlsHs = handshakeSecret(p, earlySecret(p), shared, TLS13_LABEL_PREFIX);
    const petrelHs = handshakeSecret(p, earlySecret(p), shared, PETREL_LABEL_PREFIX);
    expect(toHex(petrelHs)).not.toBe(toHex(tlsHs));
    const dcid = fromHex('8394c8f03e515708');
    const quic = initialSecrets(p, dcid, QUIC_V1_PROFILE);
    const petrel = initialSecrets(p, dcid, PETREL_PROFILE);
    expect(toHex(petrel.client)).not.toBe(toHex(quic.client));
    expect(toHex(petrel.client)).not.toBe(toHex(petrel.server));
    // Same secret, different labels: Petrel's packet key differs from QUIC's.
    expect(toHex(packetKeys(p, 'AES_128_GCM_SHA256', quic.client, PETREL_PROFILE).key)).not.toBe(
      toHex(packetKeys(p, 'AES_128_GCM_SHA256', quic.client, QUIC_V1_PROFILE).key),
    );
  });

  it('reproduces the pinned petrel-* vectors (spec/vectors/handshake-keys.json)', () => {
    const v = vector('petrel-key-schedule');
    const prefix = inStr(v, 'prefix');
    expect(prefix).toBe(PETREL_LABEL_PREFIX);
    const shared = p.x25519(inHex(v, 'clientPrivate'), inHex(v, 'serverPublic'));
    const hs = handshakeSecret(p, earlySecret(p), shared, prefix);
    const hsT = handshakeTrafficSecrets(p, hs, inHex(v, 'helloHash'), prefix);
    const master = masterSecret(p, hs, prefix);
    const apT = applicationTrafficSecrets(p, master, inHex(v, 'serverFinishedHash'), prefix);
    expect(toHex(hs)).toBe(outHex(v, 'handshakeSecret'));
    expect(toHex(hsT.client)).toBe(outHex(v, 'clientHandshakeTrafficSecret'));
    expect(toHex(hsT.server)).toBe(outHex(v, 'serverHandshakeTrafficSecret'));
    expect(toHex(master)).toBe(outHex(v, 'masterSecret'));
    expect(toHex(apT.client)).toBe(outHex(v, 'clientApplicationTrafficSecret'));
    expect(toHex(apT.server)).toBe(outHex(v, 'serverApplicationTrafficSecret'));
    expect(toHex(finishedKey(p, hsT.server, prefix))).toBe(outHex(v, 'serverFinishedKey'));
    const k = packetKeys(p, 'AES_128_GCM_SHA256', apT.client, PETREL_PROFILE);
    expect([toHex(k.key), toHex(k.iv), toHex(k.hp)]).toEqual([
      outHex(v, 'clientApplicationKey'),
      outHex(v, 'clientApplicationIv'),
      outHex(v, 'clientApplicationHp'),
    ]);
    expect(toHex(nextTrafficSecret(p, apT.client, PETREL_PROFILE))).toBe(outHex(v, 'clientApplicationTrafficSecret1'));

    const iv = vector('petrel-initial-keys');
    expect(toHex(inHex(iv, 'initialSalt'))).toBe(toHex(PETREL_PROFILE.initialSalt));
    expect(toHex(p.hkdfExtract(PETREL_PROFILE.initialSalt, inHex(iv, 'dcid')))).toBe(outHex(iv, 'initialSecret'));
    const s = initialSecrets(p, inHex(iv, 'dcid'), PETREL_PROFILE);
    expect(toHex(s.client)).toBe(outHex(iv, 'clientInitialSecret'));
    expect(toHex(s.server)).toBe(outHex(iv, 'serverInitialSecret'));
    const c = packetKeys(p, 'AES_128_GCM_SHA256', s.client, PETREL_PROFILE);
    expect([toHex(c.key), toHex(c.iv), toHex(c.hp)]).toEqual([outHex(iv, 'clientKey'), outHex(iv, 'clientIv'), outHex(iv, 'clientHp')]);
    const sv = packetKeys(p, 'AES_128_GCM_SHA256', s.server, PETREL_PROFILE);
    expect([toHex(sv.key), toHex(sv.iv), toHex(sv.hp)]).toEqual([outHex(iv, 'serverKey'), outHex(iv, 'serverIv'), outHex(iv, 'serverHp')]);
  });
});

describe('cached constants of the key schedule (no PSK)', () => {
  it('hands out copies: zeroing one Early Secret leaves the next one intact', () => {
    const a = earlySecret(p);
    const want = toHex(a);
    a.fill(0);
    expect(toHex(earlySecret(p))).toBe(want);
    expect(want).toBe(toHex(p.hkdfExtract(new Uint8Array(32), new Uint8Array(32))));
  });

  it('derives the same Handshake Secret as the uncached steps, for each prefix, also with a PSK', () => {
    const shared = new Uint8Array(32).map((_, i) => i + 1);
    for (const prefix of [TLS13_LABEL_PREFIX, PETREL_LABEL_PREFIX]) {
      const early = p.hkdfExtract(new Uint8Array(32), new Uint8Array(32));
      const salt = deriveSecret(p, early, 'derived', p.sha256(EMPTY), prefix);
      const want = toHex(p.hkdfExtract(salt, shared));
      expect(toHex(handshakeSecret(p, earlySecret(p), shared, prefix))).toBe(want);
      expect(toHex(handshakeSecret(p, earlySecret(p), shared, prefix))).toBe(want);
      const psk = new Uint8Array(32).fill(9);
      const pskEarly = p.hkdfExtract(new Uint8Array(32), psk);
      const pskSalt = deriveSecret(p, pskEarly, 'derived', p.sha256(EMPTY), prefix);
      expect(toHex(handshakeSecret(p, earlySecret(p, psk), shared, prefix))).toBe(toHex(p.hkdfExtract(pskSalt, shared)));
    }
  });

  it('encodes an empty-context label once and still expands to the uncached bytes', () => {
    const secret = new Uint8Array(32).fill(3);
    for (let i = 0; i < 3; i++) {
      expect(toHex(hkdfExpandLabel(p, secret, 'key', EMPTY, 16, PETREL_LABEL_PREFIX))).toBe(
        toHex(p.hkdfExpand(secret, hkdfLabel(PETREL_LABEL_PREFIX, 'key', EMPTY, 16), 16)),
      );
    }
    // Same label, other length: a distinct HkdfLabel.
    expect(toHex(hkdfExpandLabel(p, secret, 'key', EMPTY, 32, PETREL_LABEL_PREFIX))).toBe(
      toHex(p.hkdfExpand(secret, hkdfLabel(PETREL_LABEL_PREFIX, 'key', EMPTY, 32), 32)),
    );
  });
});
