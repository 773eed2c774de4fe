import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import {
  createClientSession,
  createServerSession,
  decodeCertificate,
  fingerprint,
  generateIdentity,
  HANDSHAKE_ALERTS,
  HandshakeType,
  issueCertificate,
  parseFingerprint,
  SignatureContext,
  signedContent,
  signWithContext,
  verifyWithContext,
  type CertificateInfo,
  type ClientHandshake,
  type ClientSessionOptions,
  type KeyLogEntry,
  type ServerHandshake,
  type ServerSessionOptions,
} from '../../lib/crypto/handshake/index.js';
import {
  decodeClientHello,
  decodeEncryptedExtensions,
  encodeClientHello,
  encodeCertificate,
  encodeEncryptedExtensions,
  encodeServerHello,
  decodeServerHello,
  frameMessage,
} from '../../lib/crypto/handshake/messages.js';
import { nextTrafficSecret, PETREL_PROFILE } from '../../lib/crypto/key-schedule.js';
import { initialProtectors } from '../../lib/crypto/packet-protection.js';
import type { CipherSuite, KeyPair } from '../../lib/crypto/provider.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import type { HandshakeSession } from '../../lib/crypto/types.js';
import { toHex } from '../../lib/wire/buffer.js';
import { bodyOf, has1Rtt, installed, pump, sealOpen, tryOpen, type Interceptor, type PumpResult } from './handshake-harness.js';
import { PROVIDERS } from './providers.js';

describe.each(PROVIDERS)('%s provider', (_name, p) => {
  const NOW = 1_750_000_000_000;
  const DAY = 86_400_000;
  const NAME = 'game.example';
  const CLIENT_TP = Uint8Array.of(0x01, 0x02, 0x03, 0x04);
  const SERVER_TP = Uint8Array.of(0x0a, 0x0b, 0x0c);

  const ca = generateIdentity(p);
  const serverId = generateIdentity(p);
  const otherKey = generateIdentity(p);

  function cert(info: Partial<CertificateInfo> = {}, issuer: KeyPair = ca): Uint8Array {
    return issueCertificate(p, issuer, { serverName: NAME, publicKey: serverId.publicKey, notBefore: NOW - DAY, notAfter: NOW + DAY, ...info });
  }

  function client(o: Partial<ClientSessionOptions> = {}): ClientHandshake {
    return createClientSession({ provider: p, alpn: ['petrel/1'], transportParameters: CLIENT_TP, serverName: NAME, now: () => NOW, ...o });
  }

  function server(o: Partial<ServerSessionOptions> = {}): ServerHandshake {
    return createServerSession({ provider: p, alpn: ['petrel/1'], transportParameters: SERVER_TP, identity: serverId, ...o });
  }

  const pinned = { serverKey: serverId.publicKey };
  const viaCA = { trustedCAs: [ca.publicKey] };

  /** Checks the error, its code from the alert table, and that the failed session is poisoned for good. */
  function expectFailed(session: HandshakeSession, err: PumpResult['clientError'], reason: string, errorCode: number): void {
    expect(err).not.toBeNull();
    expect(err!.reason).toBe(reason);
    expect(err!.errorCode).toBe(errorCode);
    expect(session.complete).toBe(false);
    expect(session.pollKeys()).toBeNull();
    expect(session.pollOutput()).toBeNull();
    expect(session.nextOneRttKeys!()).toBeNull();
    // Poisoned: whatever comes next, the same error and still nothing.
    expect(session.handleCrypto('handshake', Uint8Array.of(20, 1, 0))).toEqual(err);
    expect(session.pollKeys()).toBeNull();
  }

  function clientFails(r: PumpResult, c: HandshakeSession, reason: string, errorCode: number): void {
    expect(r.serverError).toBeNull();
    expectFailed(c, r.clientError, reason, errorCode);
    expect(has1Rtt(r.clientKeys)).toBe(false);
  }

  function serverFails(r: PumpResult, s: HandshakeSession, reason: string, errorCode: number): void {
    expect(r.clientError).toBeNull();
    expectFailed(s, r.serverError, reason, errorCode);
    expect(installed(r.serverKeys, '1rtt', 'read')).toBeUndefined();
  }

  /** Replaces the server's message of a given type (its index in the server's flight). */
  function replaceServer(index: number, replacement: (data: Uint8Array) => Uint8Array): Interceptor {
    return (from, _level, i, data) => (from === 'server' && i === index ? replacement(data) : data);
  }

  const SUITES: CipherSuite[] = ['AES_128_GCM_SHA256', 'CHACHA20_POLY1305_SHA256'];

  describe('full handshakes', () => {
    for (const suite of SUITES) {
      for (const [mode, trust, chain] of [
        ['pinned key', pinned, undefined],
        ['CA chain', viaCA, [cert()]],
      ] as const) {
        it(`${suite}, ${mode}: both sides complete with identical secrets`, () => {
          const clientLog: KeyLogEntry[] = [];
          const serverLog: KeyLogEntry[] = [];
          const c = client({ ...trust, suites: [suite], keyLog: (e) => clientLog.push(e) });
          const s = server({ certificateChain: chain, keyLog: (e) => serverLog.push(e) });
          const r = pump(c, s);
          expect(r.clientError).toBeNull();
          expect(r.serverError).toBeNull();
          expect(c.complete && s.complete).toBe(true);
          expect(c.cipherSuite).toBe(suite);
          expect(s.cipherSuite).toBe(suite);
          expect(c.alpn).toBe('petrel/1');
          expect(s.alpn).toBe('petrel/1');
          expect(c.peerTransportParameters).toEqual(SERVER_TP);
          expect(s.peerTransportParameters).toEqual(CLIENT_TP);
          expect(s.peerServerName).toBe(NAME);
          expect(c.serverPublicKey).toEqual(serverId.publicKey);

          // The flight shapes and key order the connection relies on (same as the insecure session).
          expect(r.sent.map((m) => `${m.from}:${m.level}:${m.data[0]}`)).toEqual([
            'client:initial:1',
            'server:initial:2',
            'server:handshake:8',
            'server:handshake:11',
            'server:handshake:15',
            'server:handshake:20',
            'client:handshake:20',
          ]);
          expect(r.clientKeys.map((k) => `${k.level}:${k.read ? 'r' : ''}${k.write ? 'w' : ''}`)).toEqual(['handshake:rw', '1rtt:rw']);
          expect(r.serverKeys.map((k) => `${k.level}:${k.read ? 'r' : ''}${k.write ? 'w' : ''}`)).toEqual(['handshake:rw', '1rtt:w', '1rtt:r']);

          // Both ends logged the same four secrets.
          expect(clientLog.map((e) => e.label)).toEqual([
            'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
            'SERVER_HANDSHAKE_TRAFFIC_SECRET',
            'CLIENT_TRAFFIC_SECRET_0',
            'SERVER_TRAFFIC_SECRET_0',
          ]);
          expect(serverLog.map((e) => [e.label, toHex(e.secret), toHex(e.clientRandom)])).toEqual(
            clientLog.map((e) => [e.label, toHex(e.secret), toHex(e.clientRandom)]),
          );

          // Keys interoperate in both directions at both levels.
          const payload = new Uint8Array(50).map((_, i) => i);
          for (const level of ['handshake', '1rtt'] as const) {
            sealOpen(installed(r.clientKeys, level, 'write')!, installed(r.serverKeys, level, 'read')!, 3, payload);
            sealOpen(installed(r.serverKeys, level, 'write')!, installed(r.clientKeys, level, 'read')!, 3, payload);
          }
          // Directions and levels have distinct keys: a client packet does not open with the client's own read key.
          const packet = sealOpen(installed(r.clientKeys, '1rtt', 'write')!, installed(r.serverKeys, '1rtt', 'read')!, 9, payload);
          expect(tryOpen(installed(r.clientKeys, '1rtt', 'read')!, 9, packet)).toBeNull();
          expect(tryOpen(installed(r.serverKeys, 'handshake', 'read')!, 9, packet)).toBeNull();
        });
      }
    }

    it('the server may choose ChaCha when it prefers it; the client accepts any offered suite', () => {
      const c = client({ ...pinned });
      const s = server({ suites: ['CHACHA20_POLY1305_SHA256', 'AES_128_GCM_SHA256'] });
      pump(c, s);
      expect(c.cipherSuite).toBe('CHACHA20_POLY1305_SHA256');
      const s2 = server();
      const c2 = client({ ...pinned });
      pump(c2, s2);
      expect(c2.cipherSuite).toBe('AES_128_GCM_SHA256');
    });

    it('accepts a chain through an intermediate CA', () => {
      const inter = generateIdentity(p);
      const interCert = issueCertificate(p, ca, {
        serverName: 'intermediate',
        publicKey: inter.publicKey,
        notBefore: 0,
        notAfter: NOW + DAY,
        isCA: true,
      });
      const c = client(viaCA);
      const r = pump(c, server({ certificateChain: [cert({}, inter), interCert] }));
      expect(r.clientError).toBeNull();
      expect(c.complete).toBe(true);
    });

    it('a pinned key is enough even when CAs are configured and no chain is sent', () => {
      const c = client({ ...pinned, ...viaCA });
      expect(pump(c, server()).clientError).toBeNull();
      expect(c.complete).toBe(true);
    });

    it('the name check is ASCII case-insensitive', () => {
      const c = client({ ...viaCA, serverName: 'GAME.Example' });
      expect(pump(c, server({ certificateChain: [cert()] })).clientError).toBeNull();
    });

    it('ALPN: client preference order, server default, and none at all', () => {
      const c1 = client({ ...pinned, alpn: ['b', 'a'] });
      pump(c1, server({ alpn: ['a', 'b'] }));
      expect(c1.alpn).toBe('b');
      const c2 = client({ ...pinned, alpn: ['x', 'y'] });
      pump(c2, server({ alpn: [] }));
      expect(c2.alpn).toBe('x');
      const c3 = client({ ...pinned, alpn: [] });
      const s3 = server({ alpn: [] });
      pump(c3, s3);
      expect([c3.complete, c3.alpn, s3.alpn]).toEqual([true, '', '']);
    });

    it('fed one byte at a time, the handshake completes the same way', () => {
      const c = client(pinned);
      const s = server();
      c.start();
      let clientKeys = 0;
      let serverKeys = 0;
      for (let moved = true; moved;) {
        moved = false;
        for (const [src, dst] of [
          [c, s],
          [s, c],
        ] as const) {
          for (let o = src.pollOutput(); o; o = src.pollOutput()) {
            moved = true;
            for (let i = 0; i < o.data.length; i++) expect(dst.handleCrypto(o.level, o.data.subarray(i, i + 1))).toBeNull();
          }
        }
        while (c.pollKeys()) clientKeys++;
        while (s.pollKeys()) serverKeys++;
      }
      expect([c.complete, s.complete, clientKeys, serverKeys]).toEqual([true, true, 2, 3]);
    });

    it('the server installs 1-RTT write keys with its flight, 1-RTT read keys only after the client Finished', () => {
      const c = client(pinned);
      const s = server();
      c.start();
      const ch = c.pollOutput()!;
      expect(s.handleCrypto(ch.level, ch.data)).toBeNull();
      expect(s.pollKeys()!.level).toBe('handshake');
      const half = s.pollKeys()!;
      expect([half.level, !!half.write, !!half.read]).toEqual(['1rtt', true, false]);
      expect(s.pollKeys()).toBeNull();
      expect(s.complete).toBe(false);
      // The client's transport parameters are known from the ClientHello.
      expect(s.peerTransportParameters).toEqual(CLIENT_TP);
    });

    it('the client exposes the server transport parameters and ALPN only once the server is authenticated', () => {
      const c = client(pinned);
      const seen: Array<[boolean, Uint8Array | null, string | null]> = [];
      pump(c, server(), (from, _l, _i, data) => {
        if (from === 'server') seen.push([c.complete, c.peerTransportParameters, c.alpn]);
        return data;
      });
      // Before each server message is delivered: nothing exposed yet.
      expect(seen).toHaveLength(5);
      for (const s of seen) expect(s).toEqual([false, null, null]);
      expect(c.peerTransportParameters).toEqual(SERVER_TP);
    });

    it('fresh ephemeral keys: two handshakes with the same identities share no traffic secret', () => {
      const logs: string[][] = [[], []];
      for (const log of logs) pump(client({ ...pinned, keyLog: (e) => log.push(toHex(e.secret)) }), server());
      expect(logs[0]).toHaveLength(4);
      for (const s of logs[0]!) expect(logs[1]).not.toContain(s);
    });
  });

  describe('failures: each has its own reason and error code, and no 1-RTT keys follow', () => {
    it('error codes are 0x0100 + the TLS alert', () => {
      expect(HANDSHAKE_ALERTS).toEqual({
        UNEXPECTED_MESSAGE: 10,
        NO_COMMON_SUITE: 40,
        BAD_CERTIFICATE: 42,
        BAD_CERTIFICATE_SIGNATURE: 42,
        CERTIFICATE_EXPIRED: 45,
        WRONG_SERVER_NAME: 46,
        ILLEGAL_PARAMETER: 47,
        DOWNGRADE_DETECTED: 47,
        UNKNOWN_SERVER_KEY: 48,
        DECODE_ERROR: 50,
        BAD_SIGNATURE: 51,
        BAD_FINISHED: 51,
        INTERNAL_ERROR: 80,
        NO_COMMON_ALPN: 120,
        CONNECT_TOKEN_MISSING: 116,
        CONNECT_TOKEN_MALFORMED: 50,
        CONNECT_TOKEN_UNTRUSTED: 48,
        CONNECT_TOKEN_EXPIRED: 45,
        CONNECT_TOKEN_WRONG_SERVER: 46,
        CONNECT_TOKEN_REUSED: 49,
        CONNECT_TOKEN_STORE_FULL: 49,
        REFUSED: 49,
        BAD_BINDER: 51,
      });
    });

    it('UNKNOWN_SERVER_KEY: the pinned key does not match', () => {
      const c = client({ serverKey: otherKey.publicKey });
      clientFails(pump(c, server()), c, 'UNKNOWN_SERVER_KEY', 0x130);
    });

    it('UNKNOWN_SERVER_KEY: CAs configured but the server sends no certificate', () => {
      const c = client(viaCA);
      clientFails(pump(c, server()), c, 'UNKNOWN_SERVER_KEY', 0x130);
    });

    it('UNKNOWN_SERVER_KEY: the chain ends at an untrusted CA', () => {
      const c = client(viaCA);
      clientFails(pump(c, server({ certificateChain: [cert({}, otherKey)] })), c, 'UNKNOWN_SERVER_KEY', 0x130);
    });

    it('BAD_CERTIFICATE_SIGNATURE: a certificate naming the trusted CA but signed by another key', () => {
      const forged = cert({}, { publicKey: ca.publicKey, privateKey: otherKey.privateKey });
      const c = client(viaCA);
      clientFails(pump(c, server({ certificateChain: [forged] })), c, 'BAD_CERTIFICATE_SIGNATURE', 0x12a);
    });

    it('BAD_CERTIFICATE_SIGNATURE: a validity window altered after signing', () => {
      const altered = cert();
      altered[altered.length - 64 - 32 - 1] ^= 0x01; // last byte of notAfter
      const c = client(viaCA);
      clientFails(pump(c, server({ certificateChain: [altered] })), c, 'BAD_CERTIFICATE_SIGNATURE', 0x12a);
    });

    it('BAD_CERTIFICATE: the certificate is for another key', () => {
      const c = client(viaCA);
      const swap = replaceServer(2, () => encodeCertificate({ publicKey: serverId.publicKey, chain: [cert({ publicKey: otherKey.publicKey })] }));
      clientFails(pump(c, server({ certificateChain: [cert()] }), swap), c, 'BAD_CERTIFICATE', 0x12a);
    });

    it('BAD_CERTIFICATE: an intermediate without the CA flag', () => {
      const inter = generateIdentity(p);
      const notCA = issueCertificate(p, ca, { serverName: 'x', publicKey: inter.publicKey, notBefore: 0, notAfter: NOW + DAY });
      const c = client(viaCA);
      clientFails(pump(c, server({ certificateChain: [cert({}, inter), notCA] })), c, 'BAD_CERTIFICATE', 0x12a);
    });

    it('CERTIFICATE_EXPIRED: past notAfter, before notBefore, and an expired intermediate', () => {
      const c1 = client({ ...viaCA, now: () => NOW + DAY + 1 });
      clientFails(pump(c1, server({ certificateChain: [cert()] })), c1, 'CERTIFICATE_EXPIRED', 0x12d);
      const c2 = client({ ...viaCA, now: () => NOW - DAY - 1 });
      clientFails(pump(c2, server({ certificateChain: [cert()] })), c2, 'CERTIFICATE_EXPIRED', 0x12d);
      // The window is inclusive at both ends.
      expect(pump(client({ ...viaCA, now: () => NOW + DAY }), server({ certificateChain: [cert()] })).clientError).toBeNull();
      expect(pump(client({ ...viaCA, now: () => NOW - DAY }), server({ certificateChain: [cert()] })).clientError).toBeNull();
      const inter = generateIdentity(p);
      const oldInter = issueCertificate(p, ca, { serverName: 'i', publicKey: inter.publicKey, notBefore: 0, notAfter: NOW - 1, isCA: true });
      const c3 = client(viaCA);
      clientFails(pump(c3, server({ certificateChain: [cert({}, inter), oldInter] })), c3, 'CERTIFICATE_EXPIRED', 0x12d);
    });

    it('WRONG_SERVER_NAME: a valid certificate for another name', () => {
      const c = client(viaCA);
      clientFails(pump(c, server({ certificateChain: [cert({ serverName: 'other.example' })] })), c, 'WRONG_SERVER_NAME', 0x12e);
    });

    it('BAD_SIGNATURE: the server does not hold the private key of the key it presents', () => {
      const c = client(pinned);
      const s = server({ identity: { publicKey: serverId.publicKey, privateKey: otherKey.privateKey } });
      clientFails(pump(c, s), c, 'BAD_SIGNATURE', 0x133);
    });

    it('BAD_SIGNATURE: CertificateVerify replayed from another handshake', () => {
      const first = pump(client(pinned), server());
      const oldCv = first.sent.find((m) => m.data[0] === HandshakeType.CERTIFICATE_VERIFY)!.data;
      const c = client(pinned);
      clientFails(
        pump(
          c,
          server(),
          replaceServer(3, () => oldCv),
        ),
        c,
        'BAD_SIGNATURE',
        0x133,
      );
    });

    it('BAD_FINISHED: a server Finished altered in transit', () => {
      const c = client(pinned);
      const flip = replaceServer(4, (d) => d.map((b, i) => (i === d.length - 1 ? b ^ 1 : b)));
      clientFails(pump(c, server(), flip), c, 'BAD_FINISHED', 0x133);
    });

    it('BAD_FINISHED: a client Finished altered in transit (the server never reads 1-RTT)', () => {
      const s = server();
      const r = pump(client(pinned), s, (from, _l, i, d) => (from === 'client' && i === 1 ? d.map((b, j) => (j === 5 ? b ^ 0x80 : b)) : d));
      serverFails(r, s, 'BAD_FINISHED', 0x133);
    });

    it('NO_COMMON_SUITE: the server accepts none of the offered suites', () => {
      const s = server({ suites: ['CHACHA20_POLY1305_SHA256'] });
      const r = pump(client({ ...pinned, suites: ['AES_128_GCM_SHA256'] }), s);
      serverFails(r, s, 'NO_COMMON_SUITE', 0x128);
      expect(r.serverKeys).toEqual([]);
    });

    it('NO_COMMON_ALPN: the server accepts none of the offered protocols', () => {
      const s = server({ alpn: ['chat/2'] });
      const r = pump(client({ ...pinned, alpn: ['game/1', 'game/2'] }), s);
      serverFails(r, s, 'NO_COMMON_ALPN', 0x178);
      expect(r.serverKeys).toEqual([]);
    });

    it('NO_COMMON_ALPN at the client: the server answers with no protocol', () => {
      const c = client(pinned);
      const noAlpn = replaceServer(1, (d) => {
        const ee = decodeEncryptedExtensions(bodyOf(d));
        return encodeEncryptedExtensions({ ...ee, alpn: '' });
      });
      clientFails(pump(c, server(), noAlpn), c, 'NO_COMMON_ALPN', 0x178);
    });

    it('ILLEGAL_PARAMETER: the server picks a suite or protocol that was not offered, or an unusable key share', () => {
      const c1 = client({ ...pinned, suites: ['AES_128_GCM_SHA256'] });
      const toChaCha = replaceServer(0, (d) => encodeServerHello({ ...decodeServerHello(bodyOf(d)), suite: 0x1303 }));
      clientFails(pump(c1, server(), toChaCha), c1, 'ILLEGAL_PARAMETER', 0x12f);

      const c2 = client(pinned);
      const otherAlpn = replaceServer(1, (d) => encodeEncryptedExtensions({ ...decodeEncryptedExtensions(bodyOf(d)), alpn: 'evil/1' }));
      clientFails(pump(c2, server(), otherAlpn), c2, 'ILLEGAL_PARAMETER', 0x12f);

      // An all-zero X25519 share gives the all-zero secret: refused by the server.
      const s = server();
      const zeroShare: Interceptor = (from, _l, _i, d) =>
        from === 'client' ? encodeClientHello({ ...decodeClientHello(bodyOf(d)), keyShare: new Uint8Array(32) }) : d;
      serverFails(pump(client(pinned), s, zeroShare), s, 'ILLEGAL_PARAMETER', 0x12f);
    });

    it('DECODE_ERROR: a malformed ClientHello or oversized message length', () => {
      const s1 = server();
      // A well-framed ClientHello whose body lacks its last byte (the server name runs short).
      const cut: Interceptor = (_f, _l, _i, d) => frameMessage(HandshakeType.CLIENT_HELLO, bodyOf(d).subarray(0, bodyOf(d).length - 1));
      serverFails(pump(client(pinned), s1, cut), s1, 'DECODE_ERROR', 0x132);
      const s2 = server();
      // Type 1, length varint 0x8000_4001 = 16385 bytes: one over the limit, refused before any body arrives.
      expect(s2.handleCrypto('initial', Uint8Array.of(1, 0x80, 0x00, 0x40, 0x01))).toMatchObject({ reason: 'DECODE_ERROR', errorCode: 0x132 });
    });

    it('UNEXPECTED_MESSAGE: wrong type, wrong level, data before start, data after the handshake, leftovers across a key change', () => {
      const s1 = server();
      expect(s1.handleCrypto('initial', Uint8Array.of(HandshakeType.FINISHED, 0))).toMatchObject({ reason: 'UNEXPECTED_MESSAGE', errorCode: 0x10a });
      const s2 = server();
      expect(s2.handleCrypto('handshake', Uint8Array.of(1))).toMatchObject({ reason: 'UNEXPECTED_MESSAGE' });
      const s3 = server();
      expect(s3.handleCrypto('1rtt', Uint8Array.of(1))).toMatchObject({ reason: 'UNEXPECTED_MESSAGE' });
      expect(client(pinned).handleCrypto('initial', Uint8Array.of(2, 0))).toMatchObject({ reason: 'UNEXPECTED_MESSAGE' });

      // After completion, any further byte at any level.
      const c = client(pinned);
      pump(c, server());
      expect(c.complete).toBe(true);
      // (type 4, NewSessionTicket, is the one message a client takes after the handshake: test/crypto/tickets.test.ts)
      expect(c.handleCrypto('1rtt', Uint8Array.of(8, 0))).toMatchObject({ reason: 'UNEXPECTED_MESSAGE' });
      expect(c.pollKeys()).toBeNull();

      // A ServerHello followed by stray Initial bytes: messages may not span a key change.
      const c2 = client(pinned);
      const r = pump(
        c2,
        server(),
        replaceServer(0, (d) => Uint8Array.of(...d, 8)),
      );
      clientFails(r, c2, 'UNEXPECTED_MESSAGE', 0x10a);
      expect(r.clientKeys).toEqual([]);

      // The server's messages in the wrong order.
      const c3 = client(pinned);
      const r3 = pump(c3, server(), (from, _l, i, d) => (from === 'server' && i === 1 ? null : d));
      clientFails(r3, c3, 'UNEXPECTED_MESSAGE', 0x10a);
    });
  });

  describe('downgrade protection', () => {
    const stripAes: Interceptor = (from, _l, i, d) => {
      if (from !== 'client' || i !== 0) return d;
      const ch = decodeClientHello(bodyOf(d));
      return encodeClientHello({ ...ch, suites: ch.suites.filter((s) => s !== 0x1301) });
    };

    it('stripping AES from the ClientHello is DOWNGRADE_DETECTED', () => {
      const c = client(pinned);
      const s = server();
      const r = pump(c, s, stripAes);
      // The server, seeing only ChaCha, chose it; the client notices its offer was altered.
      expect(s.cipherSuite).toBe('CHACHA20_POLY1305_SHA256');
      clientFails(r, c, 'DOWNGRADE_DETECTED', 0x12f);
    });

    it('also restoring the suite echo does not help: the signed transcript covers the offer (BAD_SIGNATURE)', () => {
      const c = client(pinned);
      const restoreEcho = replaceServer(1, (d) =>
        encodeEncryptedExtensions({ ...decodeEncryptedExtensions(bodyOf(d)), offeredSuites: [0x1301, 0x1303] }),
      );
      const r = pump(c, server(), (from, level, i, d) => (from === 'client' ? stripAes(from, level, i, d) : restoreEcho(from, level, i, d)));
      clientFails(r, c, 'BAD_SIGNATURE', 0x133);
    });
  });

  describe('key update (nextOneRttKeys)', () => {
    it('both sides step generations together; old keys fail on new packets and new keys on old ones', () => {
      const clientLog: KeyLogEntry[] = [];
      const c = client({ ...pinned, keyLog: (e) => clientLog.push(e) });
      const s = server();
      expect(c.nextOneRttKeys()).toBeNull(); // before the handshake
      const r = pump(c, s);
      const c0 = { read: installed(r.clientKeys, '1rtt', 'read')!, write: installed(r.clientKeys, '1rtt', 'write')! };
      const s0 = { read: installed(r.serverKeys, '1rtt', 'read')!, write: installed(r.serverKeys, '1rtt', 'write')! };
      const payload = new Uint8Array(40).fill(0x5a);
      const oldPacket = sealOpen(c0.write, s0.read, 10, payload);

      const c1 = c.nextOneRttKeys()!;
      const s1 = s.nextOneRttKeys()!;
      const newPacket = sealOpen(c1.write, s1.read, 11, payload);
      sealOpen(s1.write, c1.read, 11, payload);
      expect(tryOpen(s0.read, 11, newPacket)).toBeNull();
      expect(tryOpen(s1.read, 10, oldPacket)).toBeNull();

      // Generation 1 secret is "petrel1 ku" of generation 0.
      const gen0 = clientLog.find((e) => e.label === 'CLIENT_TRAFFIC_SECRET_0')!.secret;
      const gen1 = clientLog.find((e) => e.label === 'CLIENT_TRAFFIC_SECRET_1')!.secret;
      expect(toHex(gen1)).toBe(toHex(nextTrafficSecret(p, gen0, PETREL_PROFILE)));

      // Header protection is unchanged across generations.
      const sample = new Uint8Array(16).fill(7);
      const m0 = new Uint8Array(5);
      const m1 = new Uint8Array(5);
      c0.write.headerMask(sample, m0);
      c1.write.headerMask(sample, m1);
      expect(m1).toEqual(m0);

      // A second update, and a side that updates alone no longer interoperates.
      const c2 = c.nextOneRttKeys()!;
      const s2 = s.nextOneRttKeys()!;
      sealOpen(c2.write, s2.read, 12, payload);
      const c3 = c.nextOneRttKeys()!;
      const lonely = sealOpen(c3.write, c3.write, 13, payload).slice();
      expect(tryOpen(s2.read, 13, lonely)).toBeNull();
    });

    it('ChaCha sessions update too', () => {
      const c = client({ ...pinned, suites: ['CHACHA20_POLY1305_SHA256'] });
      const s = server();
      pump(c, s);
      sealOpen(c.nextOneRttKeys()!.write, s.nextOneRttKeys()!.read, 1, new Uint8Array(30));
    });
  });

  describe('identities, fingerprints, certificates, signature contexts', () => {
    it('a fingerprint is "ed25519:" + unpadded base64url of the key, and parses back', () => {
      const zero = new Uint8Array(32);
      expect(fingerprint(zero)).toBe('ed25519:' + 'A'.repeat(43));
      const k = new Uint8Array(32).map((_, i) => 250 + i);
      const f = fingerprint(k);
      expect(f).toBe('ed25519:' + Buffer.from(k).toString('base64url'));
      expect(f).toHaveLength(51);
      expect(parseFingerprint(f)).toEqual(k);
      expect(parseFingerprint(fingerprint(serverId.publicKey))).toEqual(serverId.publicKey);
      for (const bad of [
        '',
        'ed25519:',
        'sha256:' + 'A'.repeat(43),
        'ed25519:' + 'A'.repeat(42),
        'ed25519:' + 'A'.repeat(42) + 'B',
        'ed25519:' + 'A'.repeat(42) + '+',
      ]) {
        expect(() => parseFingerprint(bad)).toThrow(PetrelError);
      }
    });

    it('a certificate encodes the documented fields in 147 + name bytes and decodes back', () => {
      const c = cert({ isCA: true });
      expect(c.length).toBe(147 + NAME.length);
      expect(c[0]).toBe(1); // version
      expect(c[1]).toBe(1); // CA flag
      const d = decodeCertificate(c);
      expect(d).toMatchObject({ serverName: NAME, notBefore: NOW - DAY, notAfter: NOW + DAY, isCA: true });
      expect(d.publicKey).toEqual(serverId.publicKey);
      expect(d.issuer).toEqual(ca.publicKey);
      expect(verifyWithContext(p, ca.publicKey, SignatureContext.CERTIFICATE, d.tbs, d.signature)).toBe(true);
      expect(() => decodeCertificate(c.subarray(0, c.length - 1))).toThrow(/malformed certificate/);
    });

    it('signatures are bound to their context: none verifies under another', () => {
      expect(toHex(signedContent(SignatureContext.CERTIFICATE, Uint8Array.of(0xab)))).toBe(
        toHex(new TextEncoder().encode('petrel1 certificate')) + '00ab',
      );
      const contexts = Object.values(SignatureContext);
      expect(new Set(contexts).size).toBe(5);
      const payload = p.sha256(Uint8Array.of(1, 2, 3));
      for (const signedAs of contexts) {
        const sig = signWithContext(p, serverId.privateKey, signedAs, payload);
        for (const checkedAs of contexts) {
          expect(verifyWithContext(p, serverId.publicKey, checkedAs, payload, sig)).toBe(signedAs === checkedAs);
        }
      }
    });

    it('invalid options are refused when the session is created', () => {
      expect(() => createClientSession({ provider: p, alpn: [], transportParameters: CLIENT_TP, serverName: NAME, now: () => NOW })).toThrow(
        /serverKey .* or trustedCAs/,
      );
      expect(() => server({ certificateChain: [cert({ publicKey: otherKey.publicKey })] })).toThrow(/does not certify/);
      expect(() => client({ ...pinned, suites: [] })).toThrow(PetrelError);
      expect(() => client({ ...pinned, alpn: [''] })).toThrow(PetrelError);
    });
  });

  describe('secureCrypto', () => {
    it('builds client and server sessions that complete, and the Petrel Initial protectors', () => {
      const config = secureCrypto({
        provider: p,
        client: { trustedCAs: [ca.publicKey], now: () => NOW },
        server: { identity: serverId, certificateChain: [cert()] },
      });
      const c = config.createSession({ isClient: true, transportParameters: CLIENT_TP, alpn: ['petrel/1'], serverName: NAME });
      const s = config.createSession({ isClient: false, transportParameters: SERVER_TP, alpn: ['petrel/1'] });
      const r = pump(c, s);
      expect([r.clientError, r.serverError, c.complete, s.complete]).toEqual([null, null, true, true]);

      const dcid = Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1);
      const ci = config.initialProtectors(dcid, true);
      const si = config.initialProtectors(dcid, false);
      const packet = sealOpen(ci.write, si.read, 0, new Uint8Array(30).fill(1));
      const reference = initialProtectors(p, dcid, true, PETREL_PROFILE).write;
      expect(sealOpen(reference, si.read, 0, new Uint8Array(30).fill(1))).toEqual(packet);
      sealOpen(si.write, ci.read, 0, new Uint8Array(30).fill(2));
    });

    it('a missing role is a configuration error', () => {
      const onlyServer = secureCrypto({ provider: p, server: { identity: serverId } });
      expect(() => onlyServer.createSession({ isClient: true, transportParameters: CLIENT_TP, alpn: [] })).toThrow(/no client options/);
      const onlyClient = secureCrypto({ provider: p, client: { serverKey: serverId.publicKey, now: () => NOW } });
      expect(() => onlyClient.createSession({ isClient: false, transportParameters: SERVER_TP, alpn: [] })).toThrow(/no server options/);
    });
  });
});
