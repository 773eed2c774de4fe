import { describe, expect, it } from 'vitest';
import {
  CONNECT_TOKEN_MAX_SIZE,
  ConnectTokenPolicy,
  decodeConnectToken,
  encodeConnectToken,
  type ConnectTokenFields,
} from '../../lib/crypto/handshake/connect-token.js';
import { HandshakeFailure } from '../../lib/crypto/handshake/errors.js';
import { createClientSession, createServerSession, HandshakeType } from '../../lib/crypto/handshake/index.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import type { KeyPair } from '../../lib/crypto/provider.js';
import { PetrelError } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { ed25519FromSeed, pump } from './handshake-harness.js';
import { readFileSync } from 'node:fs';

interface TokenVector {
  inputs: {
    backendSeed: string;
    backendPublicKey: string;
    tokenId: string;
    clientId: string;
    expiresAt: number;
    serverAddresses: string[];
    userData: string;
  };
  outputs: { signedContent: string; signature: string; token: string };
}
const vectors = JSON.parse(readFileSync(new URL('../../spec/vectors/connect-token.json', import.meta.url), 'utf8')) as Record<string, TokenVector>;

const p = nodeCryptoProvider;
const backend = ed25519FromSeed('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const otherBackend = ed25519FromSeed('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
const serverId = ed25519FromSeed('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7');
const ADDR = '203.0.113.5:4433';
const NOW = 1_800_000_000_000;

function fields(extra: Partial<ConnectTokenFields> = {}): ConnectTokenFields {
  return {
    tokenId: p.randomBytes(16),
    clientId: 'player-42',
    expiresAt: NOW + 60_000,
    serverAddresses: [ADDR],
    userData: new TextEncoder().encode('{"team":"red"}'),
    ...extra,
  };
}

function mint(extra: Partial<ConnectTokenFields> = {}, key: KeyPair = backend): Uint8Array {
  return encodeConnectToken(p, key, fields(extra));
}

function policy(extra: { maxUses?: number; maxTracked?: number; now?: () => number } = {}): ConnectTokenPolicy {
  return new ConnectTokenPolicy({
    provider: p,
    trustedBackendKeys: [backend.publicKey],
    serverAddresses: () => [ADDR],
    now: extra.now ?? (() => NOW),
    ...extra,
  });
}

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HandshakeFailure);
    return (e as HandshakeFailure).reason;
  }
  throw new Error('expected a HandshakeFailure');
}

function handshake(token: Uint8Array | undefined, pol: ConnectTokenPolicy | undefined) {
  const client = createClientSession({
    provider: p,
    alpn: [],
    transportParameters: new Uint8Array(0),
    serverName: 'game',
    serverKey: serverId.publicKey,
    now: () => NOW,
    connectToken: token,
  });
  const server = createServerSession({ provider: p, alpn: [], transportParameters: new Uint8Array(0), identity: serverId, connectTokenPolicy: pol });
  return { client, server, res: pump(client, server) };
}

describe('connect token encoding', () => {
  it('matches the spec vector byte for byte, and decodes back to its fields', () => {
    const v = vectors['petrel-connect-token-v1']!;
    const key = ed25519FromSeed(v.inputs.backendSeed);
    expect(toHex(key.publicKey)).toBe(v.inputs.backendPublicKey);
    const token = encodeConnectToken(p, key, {
      tokenId: fromHex(v.inputs.tokenId),
      clientId: v.inputs.clientId,
      expiresAt: v.inputs.expiresAt,
      serverAddresses: v.inputs.serverAddresses,
      userData: fromHex(v.inputs.userData),
    });
    expect(toHex(token)).toBe(v.outputs.token);
    expect(toHex(p.ed25519Sign(key.privateKey, fromHex(v.outputs.signedContent)))).toBe(v.outputs.signature);
    const d = decodeConnectToken(token);
    expect(d.clientId).toBe(v.inputs.clientId);
    expect(d.expiresAt).toBe(v.inputs.expiresAt);
    expect(d.serverAddresses).toEqual(v.inputs.serverAddresses);
    expect(toHex(d.userData)).toBe(v.inputs.userData);
    expect(toHex(d.signature)).toBe(v.outputs.signature);
    const pol = new ConnectTokenPolicy({
      provider: p,
      trustedBackendKeys: [key.publicKey],
      serverAddresses: () => [v.inputs.serverAddresses[1]!],
      now: () => v.inputs.expiresAt,
    });
    expect(pol.verify(token).clientId).toBe(v.inputs.clientId);
  });

  it('bounds every field at mint time with a typed error', () => {
    const bad: Array<Partial<ConnectTokenFields>> = [
      { userData: new Uint8Array(1025) },
      { serverAddresses: [] },
      { serverAddresses: Array.from({ length: 17 }, (_, i) => `10.0.0.${i}:1`) },
      { serverAddresses: ['x'.repeat(256)] },
      { clientId: '' },
      { clientId: 'c'.repeat(256) },
      { tokenId: new Uint8Array(15) },
      { expiresAt: -1 },
      { expiresAt: 1.5 },
    ];
    for (const b of bad) expect(() => mint(b)).toThrow(PetrelError);
    const biggest = mint({
      userData: new Uint8Array(1024),
      clientId: 'c'.repeat(255),
      serverAddresses: Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(255, 'a')),
    });
    expect(biggest.length).toBe(CONNECT_TOKEN_MAX_SIZE);
  });

  it('decodes malformed input to CONNECT_TOKEN_MALFORMED: every truncation, trailing bytes, bad version, oversized counts', () => {
    const t = mint();
    for (let n = 0; n < t.length; n++) expect(reasonOf(() => decodeConnectToken(t.subarray(0, n)))).toBe('CONNECT_TOKEN_MALFORMED');
    const longer = new Uint8Array(t.length + 1);
    longer.set(t);
    expect(reasonOf(() => decodeConnectToken(longer))).toBe('CONNECT_TOKEN_MALFORMED');
    const v2 = t.slice();
    v2[0] = 2;
    expect(reasonOf(() => decodeConnectToken(v2))).toBe('CONNECT_TOKEN_MALFORMED');
    // clientId length byte (offset 17) claiming 0 bytes.
    const empty = t.slice();
    empty[17] = 0;
    expect(reasonOf(() => decodeConnectToken(empty))).toBe('CONNECT_TOKEN_MALFORMED');
    // A flipped signature byte decodes fine but does not verify.
    const sig = t.slice();
    sig[sig.length - 1]! ^= 1;
    expect(() => decodeConnectToken(sig)).not.toThrow();
    expect(reasonOf(() => policy().verify(sig))).toBe('CONNECT_TOKEN_UNTRUSTED');
  });
});

describe('connect token policy', () => {
  it('accepts a good token and reports each failure with its own reason', () => {
    expect(policy().verify(mint()).clientId).toBe('player-42');
    expect(reasonOf(() => policy().verify(mint({}, otherBackend)))).toBe('CONNECT_TOKEN_UNTRUSTED');
    // Signed by the other key but claiming to be the trusted one: the signature check catches it.
    const forged = mint({}, { publicKey: backend.publicKey, privateKey: otherBackend.privateKey });
    expect(reasonOf(() => policy().verify(forged))).toBe('CONNECT_TOKEN_UNTRUSTED');
    expect(reasonOf(() => policy().verify(mint({ expiresAt: NOW - 1 })))).toBe('CONNECT_TOKEN_EXPIRED');
    expect(policy().verify(mint({ expiresAt: NOW })).clientId).toBe('player-42'); // inclusive
    expect(reasonOf(() => policy().verify(mint({ serverAddresses: ['203.0.113.6:4433'] })))).toBe('CONNECT_TOKEN_WRONG_SERVER');
    expect(reasonOf(() => policy().verify(new Uint8Array([1, 2, 3])))).toBe('CONNECT_TOKEN_MALFORMED');
  });

  it('counts uses: single use by default, maxUses allows that many, Infinity tracks nothing', () => {
    const once = policy();
    const t = mint();
    once.verify(t);
    expect(reasonOf(() => once.verify(t))).toBe('CONNECT_TOKEN_REUSED');
    const thrice = policy({ maxUses: 3 });
    for (let i = 0; i < 3; i++) thrice.verify(t);
    expect(reasonOf(() => thrice.verify(t))).toBe('CONNECT_TOKEN_REUSED');
    const free = policy({ maxUses: Infinity });
    for (let i = 0; i < 5; i++) free.verify(t);
    expect(free.tracked).toBe(0);
  });

  it('keeps the seen-token store within maxTracked: full of live ids it refuses, expired ids make room', () => {
    let now = NOW;
    const pol = policy({ maxTracked: 4, now: () => now });
    const short = [0, 1, 2, 3].map(() => mint({ expiresAt: NOW + 1000 }));
    for (const t of short) pol.verify(t);
    expect(pol.tracked).toBe(4);
    // A flood of fresh tokens cannot push a live id out (that would re-open it to replay).
    for (let i = 0; i < 100; i++) expect(reasonOf(() => pol.verify(mint()))).toBe('CONNECT_TOKEN_STORE_FULL');
    expect(pol.tracked).toBe(4);
    expect(reasonOf(() => pol.verify(short[0]!))).toBe('CONNECT_TOKEN_REUSED');
    now = NOW + 1001; // all four expired
    pol.verify(mint());
    expect(pol.tracked).toBe(1);
    expect(reasonOf(() => pol.verify(short[1]!))).toBe('CONNECT_TOKEN_EXPIRED');
  });

  it('refuses bad configuration', () => {
    expect(() => new ConnectTokenPolicy({ provider: p, trustedBackendKeys: [], serverAddresses: () => [ADDR], now: () => NOW })).toThrow(PetrelError);
    expect(
      () => new ConnectTokenPolicy({ provider: p, trustedBackendKeys: [new Uint8Array(31)], serverAddresses: () => [ADDR], now: () => NOW }),
    ).toThrow(PetrelError);
    expect(() => policy({ maxUses: 0 })).toThrow(PetrelError);
  });
});

describe('connect token in the handshake', () => {
  it('travels at the handshake level just before the client Finished; the server sees clientId and userData', () => {
    const token = mint();
    const { server, res } = handshake(token, policy());
    expect(res.serverError).toBeNull();
    expect(res.clientError).toBeNull();
    expect(server.complete).toBe(true);
    const info = server.connectToken!;
    expect(info.clientId).toBe('player-42');
    expect(new TextDecoder().decode(info.userData)).toBe('{"team":"red"}');
    const fromClient = res.sent.filter((s) => s.from === 'client');
    expect(fromClient.map((s) => [s.level, s.data[0]])).toEqual([
      ['initial', HandshakeType.CLIENT_HELLO],
      ['handshake', HandshakeType.CONNECT_TOKEN],
      ['handshake', HandshakeType.FINISHED],
    ]);
    const fromServer = res.sent.filter((s) => s.from === 'server').map((s) => s.data[0]);
    expect(fromServer.slice(0, 3)).toEqual([HandshakeType.SERVER_HELLO, HandshakeType.ENCRYPTED_EXTENSIONS, HandshakeType.CONNECT_TOKEN_REQUEST]);
    const hex = toHex(token);
    for (const s of res.sent) if (s.level === 'initial') expect(toHex(s.data)).not.toContain(hex);
  });

  it('the client Finished binds the token: a token swapped in transit is BAD_FINISHED', () => {
    const client = createClientSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      serverName: 'game',
      serverKey: serverId.publicKey,
      now: () => NOW,
      connectToken: mint(),
    });
    const server = createServerSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      identity: serverId,
      connectTokenPolicy: policy(),
    });
    const other = mint({ clientId: 'intruder' });
    const res = pump(client, server, (from, level, _i, data) => {
      if (from === 'client' && level === 'handshake' && data[0] === HandshakeType.CONNECT_TOKEN) {
        const framed = new Uint8Array(data.length);
        framed.set(data.subarray(0, data.length - other.length));
        framed.set(other, data.length - other.length);
        return framed;
      }
      return data;
    });
    expect(res.serverError?.reason).toBe('BAD_FINISHED');
  });

  it('each refusal reaches the server session as its own reason and alert code', () => {
    const cases: Array<[Uint8Array | undefined, string, number]> = [
      [mint({}, otherBackend), 'CONNECT_TOKEN_UNTRUSTED', 0x0130],
      [mint({ expiresAt: NOW - 1 }), 'CONNECT_TOKEN_EXPIRED', 0x012d],
      [mint({ serverAddresses: ['198.51.100.1:1'] }), 'CONNECT_TOKEN_WRONG_SERVER', 0x012e],
      [new Uint8Array([1, 0, 0]), 'CONNECT_TOKEN_MALFORMED', 0x0132],
    ];
    for (const [token, reason, code] of cases) {
      const { server, res } = handshake(token, policy());
      expect(res.serverError?.reason).toBe(reason);
      expect(res.serverError?.errorCode).toBe(code);
      expect(server.complete).toBe(false);
      expect(server.connectToken).toBeNull();
    }
    const pol = policy();
    const t = mint();
    expect(handshake(t, pol).res.serverError).toBeNull();
    const again = handshake(t, pol).res.serverError;
    expect(again?.reason).toBe('CONNECT_TOKEN_REUSED');
    expect(again?.errorCode).toBe(0x0131);
  });

  it('a client sends its token only when asked: a server without the requirement never sees it', () => {
    const withToken = handshake(mint(), undefined);
    expect(withToken.res.serverError).toBeNull();
    expect(withToken.server.complete).toBe(true);
    expect(withToken.server.connectToken).toBeNull();
    expect(withToken.res.sent.some((s) => s.data[0] === HandshakeType.CONNECT_TOKEN)).toBe(false);
    expect(withToken.client.confirmBeforeConnected).toBe(false);
  });

  it('a client without a token fails CONNECT_TOKEN_MISSING itself once the request is authenticated', () => {
    const { client, server, res } = handshake(undefined, policy());
    expect(res.clientError?.reason).toBe('CONNECT_TOKEN_MISSING');
    expect(res.clientError?.errorCode).toBe(0x0174);
    expect(client.complete).toBe(false);
    expect(server.complete).toBe(false);
  });

  it('a client that ignores the request (Finished without a token) is refused CONNECT_TOKEN_MISSING by the server', () => {
    const client = createClientSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      serverName: 'game',
      serverKey: serverId.publicKey,
      now: () => NOW,
      connectToken: mint(),
    });
    const server = createServerSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      identity: serverId,
      connectTokenPolicy: policy(),
    });
    // Simulates a non-compliant client: it forgets the (authenticated) request just before the server Finished.
    const res = pump(client, server, (from, _level, _i, data) => {
      if (from === 'server' && data[0] === HandshakeType.FINISHED) (client as unknown as { tokenRequested: boolean }).tokenRequested = false;
      return data;
    });
    expect(res.sent.some((s) => s.data[0] === HandshakeType.CONNECT_TOKEN)).toBe(false);
    expect(res.serverError?.reason).toBe('CONNECT_TOKEN_MISSING');
    expect(res.serverError?.errorCode).toBe(0x0174);
  });

  it('a token message dropped in transit is BAD_FINISHED at the server (the Finished covers it)', () => {
    const { res } = (() => {
      const client = createClientSession({
        provider: p,
        alpn: [],
        transportParameters: new Uint8Array(0),
        serverName: 'game',
        serverKey: serverId.publicKey,
        now: () => NOW,
        connectToken: mint(),
      });
      const server = createServerSession({
        provider: p,
        alpn: [],
        transportParameters: new Uint8Array(0),
        identity: serverId,
        connectTokenPolicy: policy(),
      });
      return { res: pump(client, server, (from, _level, _i, data) => (from === 'client' && data[0] === HandshakeType.CONNECT_TOKEN ? null : data)) };
    })();
    expect(res.serverError?.reason).toBe('BAD_FINISHED');
  });

  it('a man in the middle who strips the ConnectTokenRequest breaks the server signature', () => {
    const client = createClientSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      serverName: 'game',
      serverKey: serverId.publicKey,
      now: () => NOW,
      connectToken: mint(),
    });
    const server = createServerSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      identity: serverId,
      connectTokenPolicy: policy(),
    });
    const res = pump(client, server, (from, _level, _i, data) =>
      from === 'server' && data[0] === HandshakeType.CONNECT_TOKEN_REQUEST ? null : data,
    );
    expect(res.clientError?.reason).toBe('BAD_SIGNATURE');
  });

  it('two tokens in one flight are UNEXPECTED_MESSAGE', () => {
    const client = createClientSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      serverName: 'game',
      serverKey: serverId.publicKey,
      now: () => NOW,
      connectToken: mint(),
    });
    const server = createServerSession({
      provider: p,
      alpn: [],
      transportParameters: new Uint8Array(0),
      identity: serverId,
      connectTokenPolicy: policy(),
    });
    const res = pump(client, server, (from, level, _i, data) => {
      if (from === 'client' && level === 'handshake' && data[0] === HandshakeType.CONNECT_TOKEN) {
        const two = new Uint8Array(data.length * 2);
        two.set(data);
        two.set(data, data.length);
        return two;
      }
      return data;
    });
    expect(res.serverError?.reason).toBe('UNEXPECTED_MESSAGE');
  });

  it('a client token larger than the limit is refused when the session is created', () => {
    expect(() =>
      createClientSession({
        provider: p,
        alpn: [],
        transportParameters: new Uint8Array(0),
        serverName: 'g',
        serverKey: serverId.publicKey,
        now: () => NOW,
        connectToken: new Uint8Array(CONNECT_TOKEN_MAX_SIZE + 1),
      }),
    ).toThrow(PetrelError);
  });
});
