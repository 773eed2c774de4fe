/**
 * Shared by the handshake tests: a deterministic provider wrapper, Ed25519 keys from fixed seeds, a
 * pump that moves CRYPTO bytes between a client and a server session (with an optional man in the
 * middle), and a seal/open round trip between two protectors.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { expect } from 'vitest';
import {
  createClientSession,
  createServerSession,
  issueCertificate,
  type ClientHandshake,
  type ServerHandshake,
} from '../../lib/crypto/handshake/index.js';
import { providerUnderTest as nodeCryptoProvider } from './provider-under-test.js';
import { protectHeader, unprotectHeader } from '../../lib/crypto/packet-protection.js';
import type { CipherSuite, CryptoProvider, KeyPair } from '../../lib/crypto/provider.js';
import type { EncryptionLevel, HandshakeError, HandshakeSession, KeyInstall, PacketProtector } from '../../lib/crypto/types.js';
import { ByteReader, fromHex, toHex } from '../../lib/wire/buffer.js';

const X25519_BASE = new Uint8Array(32);
X25519_BASE[0] = 9;

const publicKeys = new Map<string, Uint8Array>();

/** X25519(private, 9), memoized: the mutation tests derive the same few public keys a thousand times. */
function x25519Public(priv: Uint8Array): Uint8Array {
  const k = toHex(priv);
  let pub = publicKeys.get(k);
  if (!pub) publicKeys.set(k, (pub = nodeCryptoProvider.x25519(priv, X25519_BASE)));
  return pub.slice();
}

/**
 * node:crypto with scripted randomness: randomBytes and x25519Generate hand out the given values in
 * order (X25519 public keys computed as X25519(private, 9)). Running out is a test bug, so it throws.
 */
export function fixedProvider(script: { randoms: Uint8Array[]; x25519Privates: Uint8Array[] }): CryptoProvider {
  const randoms = [...script.randoms];
  const privates = [...script.x25519Privates];
  return {
    ...nodeCryptoProvider,
    randomBytes(n) {
      const r = randoms.shift();
      if (!r || r.length !== n) throw new Error(`fixedProvider: no scripted random of ${n} bytes`);
      return r.slice();
    },
    x25519Generate() {
      const priv = privates.shift();
      if (!priv) throw new Error('fixedProvider: no scripted X25519 key');
      return { privateKey: priv.slice(), publicKey: x25519Public(priv) };
    },
  };
}

/** An Ed25519 key pair from a 32-byte seed (RFC 8032 key generation, via node:crypto). */
export function ed25519FromSeed(seedHex: string): KeyPair {
  const seed = fromHex(seedHex);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const pub = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return { privateKey: seed, publicKey: new Uint8Array(pub.subarray(pub.length - 32)) };
}

export type Side = 'client' | 'server';

/** A man in the middle: sees each message (one pollOutput chunk) and returns what to deliver (null drops it). */
export type Interceptor = (from: Side, level: EncryptionLevel, index: number, data: Uint8Array) => Uint8Array | null;

export interface PumpResult {
  clientError: HandshakeError | null;
  serverError: HandshakeError | null;
  clientKeys: KeyInstall[];
  serverKeys: KeyInstall[];
  /** Every message as sent (before interception), in order. */
  sent: Array<{ from: Side; level: EncryptionLevel; data: Uint8Array }>;
}

/**
 * Starts both sessions and moves output into the peer until nothing moves or one side reports an
 * error (as a connection would then close). Keys are drained after every delivery.
 */
export function pump(client: HandshakeSession, server: HandshakeSession, intercept?: Interceptor): PumpResult {
  const res: PumpResult = { clientError: null, serverError: null, clientKeys: [], serverKeys: [], sent: [] };
  const drainKeys = (): void => {
    for (let k = client.pollKeys(); k; k = client.pollKeys()) res.clientKeys.push(k);
    for (let k = server.pollKeys(); k; k = server.pollKeys()) res.serverKeys.push(k);
  };
  const counts: Record<Side, number> = { client: 0, server: 0 };
  client.start();
  server.start();
  drainKeys();
  for (let moved = true; moved;) {
    moved = false;
    for (const [from, src, dst] of [
      ['client', client, server],
      ['server', server, client],
    ] as const) {
      for (let o = src.pollOutput(); o; o = src.pollOutput()) {
        moved = true;
        res.sent.push({ from, level: o.level, data: o.data });
        const data = intercept ? intercept(from, o.level, counts[from]++, o.data) : o.data;
        if (data === null) continue;
        const err = dst.handleCrypto(o.level, data);
        drainKeys();
        if (err) {
          if (from === 'client') res.serverError = err;
          else res.clientError = err;
          return res;
        }
      }
    }
  }
  drainKeys();
  return res;
}

/** The last protector of a direction installed at a level. */
export function installed(keys: KeyInstall[], level: EncryptionLevel, dir: 'read' | 'write'): PacketProtector | undefined {
  let p: PacketProtector | undefined;
  for (const k of keys) if (k.level === level && k[dir]) p = k[dir];
  return p;
}

export function has1Rtt(keys: KeyInstall[]): boolean {
  return keys.some((k) => k.level === '1rtt');
}

/**
 * Protects a short-header-shaped packet with `w` and checks `r` unprotects and opens it to the same
 * plaintext. Returns the protected bytes.
 */
export function sealOpen(w: PacketProtector, r: PacketProtector, pn: number, payload: Uint8Array): Uint8Array {
  const header = Uint8Array.of(0x43, 0xaa, 0xbb, 0xcc, (pn >>> 24) & 0xff, (pn >>> 16) & 0xff, (pn >>> 8) & 0xff, pn & 0xff);
  const pnOffset = 4;
  const buf = new Uint8Array(header.length + payload.length + w.tagLength);
  buf.set(header);
  buf.set(payload, header.length);
  w.seal(pn, buf, 0, header.length, header.length + payload.length);
  protectHeader(buf, 0, pnOffset, 4, w);
  const sent = buf.slice();
  expect(tryOpen(r, pn, buf)).toEqual(payload);
  return sent;
}

/** Unprotects and opens a packet made by sealOpen; null when authentication fails. */
export function tryOpen(r: PacketProtector, pn: number, packet: Uint8Array): Uint8Array | null {
  const buf = packet.slice();
  const pnLength = unprotectHeader(buf, 0, 4, r);
  if (pnLength !== 4) return null;
  const end = r.open(pn, buf, 0, 8, buf.length);
  return end < 0 ? null : buf.slice(8, end);
}

/** The body of one framed handshake message (type | varint length | body). */
export function bodyOf(message: Uint8Array): Uint8Array {
  const r = new ByteReader(message, 1);
  const len = r.varint();
  expect(r.remaining).toBe(len);
  return r.bytes(len);
}

/** Inputs of a handshake vector (spec/vectors/handshake.json): everything that makes a run deterministic. */
export interface HandshakeVectorInputs {
  client_suites: string;
  server_suites: string;
  trust: 'ca' | 'pinned';
  client_random: string;
  client_x25519_private: string;
  server_random: string;
  server_x25519_private: string;
  server_ed25519_seed: string;
  ca_ed25519_seed: string;
  server_name: string;
  alpn: string;
  client_transport_parameters: string;
  server_transport_parameters: string;
  not_before: number;
  not_after: number;
  now: number;
  packet_header: string;
  packet_number_offset: number;
  packet_number: number;
  packet_payload: string;
}

/** One deterministic handshake from vector inputs, then one client 1-RTT packet and a key update. */
export function runVector(v: HandshakeVectorInputs): {
  result: PumpResult;
  client: ClientHandshake;
  server: ServerHandshake;
  certificate: Uint8Array | null;
  serverPublic: Uint8Array;
  caPublic: Uint8Array;
  secrets: Record<string, string>;
  protectedPacket: Uint8Array;
} {
  const serverId = ed25519FromSeed(v.server_ed25519_seed);
  const ca = ed25519FromSeed(v.ca_ed25519_seed);
  const certificate =
    v.trust === 'ca'
      ? issueCertificate(nodeCryptoProvider, ca, {
          serverName: v.server_name,
          publicKey: serverId.publicKey,
          notBefore: v.not_before,
          notAfter: v.not_after,
        })
      : null;
  const secrets: Record<string, string> = {};
  const client = createClientSession({
    provider: fixedProvider({ randoms: [fromHex(v.client_random)], x25519Privates: [fromHex(v.client_x25519_private)] }),
    suites: v.client_suites.split(',') as CipherSuite[],
    alpn: [v.alpn],
    transportParameters: fromHex(v.client_transport_parameters),
    serverName: v.server_name,
    ...(v.trust === 'ca' ? { trustedCAs: [ca.publicKey] } : { serverKey: serverId.publicKey }),
    now: () => v.now,
    keyLog: (e) => {
      secrets[e.label] = toHex(e.secret);
    },
  });
  const server = createServerSession({
    provider: fixedProvider({ randoms: [fromHex(v.server_random)], x25519Privates: [fromHex(v.server_x25519_private)] }),
    suites: v.server_suites.split(',') as CipherSuite[],
    alpn: [v.alpn],
    transportParameters: fromHex(v.server_transport_parameters),
    identity: serverId,
    certificateChain: certificate ? [certificate] : [],
  });
  const result = pump(client, server);
  const header = fromHex(v.packet_header);
  const payload = fromHex(v.packet_payload);
  const write = installed(result.clientKeys, '1rtt', 'write')!;
  const buf = new Uint8Array(header.length + payload.length + write.tagLength);
  buf.set(header);
  buf.set(payload, header.length);
  write.seal(v.packet_number, buf, 0, header.length, header.length + payload.length);
  protectHeader(buf, 0, v.packet_number_offset, header.length - v.packet_number_offset, write);
  // Key update: the key log records generation 1.
  client.nextOneRttKeys();
  return { result, client, server, certificate, serverPublic: serverId.publicKey, caPublic: ca.publicKey, secrets, protectedPacket: buf };
}
