/**
 * spec/vectors/handshake.json: a deterministic handshake (scripted randomness and keys) must reproduce
 * every recorded byte, and the recorded messages must agree with the key schedule recomputed from them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCertificate, SignatureContext, verifyWithContext } from '../../lib/crypto/handshake/index.js';
import {
  applicationTrafficSecrets,
  earlySecret,
  finishedKey,
  finishedMac,
  handshakeSecret,
  handshakeTrafficSecrets,
  masterSecret,
  nextTrafficSecret,
  packetKeys,
  PETREL_PROFILE,
} from '../../lib/crypto/key-schedule.js';
import { providerUnderTest as p } from './provider-under-test.js';
import { unprotectHeader } from '../../lib/crypto/packet-protection.js';
import type { CipherSuite } from '../../lib/crypto/provider.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { bodyOf, installed, runVector, type HandshakeVectorInputs } from './handshake-harness.js';

interface HandshakeVector {
  source: string;
  inputs: HandshakeVectorInputs;
  outputs: Record<string, string>;
}

const file = JSON.parse(readFileSync(new URL('../../spec/vectors/handshake.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const vectors = Object.entries(file).filter(([k]) => !k.startsWith('_')) as Array<[string, HandshakeVector]>;

const MESSAGES = [
  'client_hello',
  'server_hello',
  'encrypted_extensions',
  'certificate_message',
  'certificate_verify',
  'server_finished',
  'client_finished',
];
const X25519_BASE = new Uint8Array(32);
X25519_BASE[0] = 9;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

describe('spec/vectors/handshake.json', () => {
  it('holds both suites and both trust modes', () => {
    expect(vectors.map(([, v]) => `${v.outputs.negotiated_suite}/${v.inputs.trust}`)).toEqual([
      'AES_128_GCM_SHA256/ca',
      'CHACHA20_POLY1305_SHA256/pinned',
    ]);
  });

  for (const [name, v] of vectors) {
    const out = v.outputs;
    const hex = (k: string): Uint8Array => fromHex(out[k]!);

    it(`${name}: the sessions reproduce every message, secret and the protected packet`, () => {
      const run = runVector(v.inputs);
      expect(run.result.clientError).toBeNull();
      expect(run.result.serverError).toBeNull();
      expect(run.client.cipherSuite).toBe(out.negotiated_suite);
      expect(run.result.sent.map((m) => toHex(m.data))).toEqual(MESSAGES.map((k) => out[k]));
      if (run.certificate) expect(toHex(run.certificate)).toBe(out.certificate);
      expect(toHex(run.serverPublic)).toBe(out.server_ed25519_public);
      expect(run.secrets).toEqual({
        CLIENT_HANDSHAKE_TRAFFIC_SECRET: out.client_handshake_traffic_secret,
        SERVER_HANDSHAKE_TRAFFIC_SECRET: out.server_handshake_traffic_secret,
        CLIENT_TRAFFIC_SECRET_0: out.client_application_traffic_secret_0,
        SERVER_TRAFFIC_SECRET_0: out.server_application_traffic_secret_0,
        CLIENT_TRAFFIC_SECRET_1: out.client_application_traffic_secret_1,
        SERVER_TRAFFIC_SECRET_1: out.server_application_traffic_secret_1,
      });
      expect(toHex(run.protectedPacket)).toBe(out.protected_packet);

      // The server's generation-0 read key opens the recorded packet.
      const buf = hex('protected_packet');
      const read = installed(run.result.serverKeys, '1rtt', 'read')!;
      const pnOffset = v.inputs.packet_number_offset;
      expect(unprotectHeader(buf, 0, pnOffset, read)).toBe(fromHex(v.inputs.packet_header).length - pnOffset);
      expect(toHex(buf.subarray(0, pnOffset + 2))).toBe(v.inputs.packet_header);
      const end = read.open(v.inputs.packet_number, buf, 0, pnOffset + 2, buf.length);
      expect(toHex(buf.subarray(pnOffset + 2, end))).toBe(v.inputs.packet_payload);
    });

    it(`${name}: the recorded messages agree with the key schedule recomputed from them`, () => {
      const m = MESSAGES.map((k) => hex(k));
      const hashThrough = (n: number): Uint8Array => p.sha256(concat(m.slice(0, n)));
      expect(toHex(hashThrough(2))).toBe(out.hash_hello);
      expect(toHex(hashThrough(4))).toBe(out.hash_through_certificate);
      expect(toHex(hashThrough(5))).toBe(out.hash_through_certificate_verify);
      expect(toHex(hashThrough(6))).toBe(out.hash_through_server_finished);

      // The key shares in the hellos are the X25519 publics of the scripted private keys.
      const clientPriv = fromHex(v.inputs.client_x25519_private);
      const serverPriv = fromHex(v.inputs.server_x25519_private);
      expect(toHex(bodyOf(m[0]!).subarray(32, 64))).toBe(toHex(p.x25519(clientPriv, X25519_BASE)));
      expect(toHex(bodyOf(m[1]!).subarray(32, 64))).toBe(toHex(p.x25519(serverPriv, X25519_BASE)));
      const shared = p.x25519(clientPriv, hex('server_x25519_public'));
      expect(toHex(shared)).toBe(out.shared_secret);
      expect(toHex(p.x25519(serverPriv, hex('client_x25519_public')))).toBe(out.shared_secret);

      const prefix = PETREL_PROFILE.prefix;
      const hs = handshakeSecret(p, earlySecret(p), shared, prefix);
      expect(toHex(hs)).toBe(out.handshake_secret);
      const hts = handshakeTrafficSecrets(p, hs, hashThrough(2), prefix);
      expect([toHex(hts.client), toHex(hts.server)]).toEqual([out.client_handshake_traffic_secret, out.server_handshake_traffic_secret]);
      const master = masterSecret(p, hs, prefix);
      expect(toHex(master)).toBe(out.master_secret);
      const ats = applicationTrafficSecrets(p, master, hashThrough(6), prefix);
      expect([toHex(ats.client), toHex(ats.server)]).toEqual([out.client_application_traffic_secret_0, out.server_application_traffic_secret_0]);
      expect(toHex(nextTrafficSecret(p, ats.client, PETREL_PROFILE))).toBe(out.client_application_traffic_secret_1);
      expect(toHex(nextTrafficSecret(p, ats.server, PETREL_PROFILE))).toBe(out.server_application_traffic_secret_1);

      // Finished messages carry HMAC(finished_key, transcript hash before them).
      const sfk = finishedKey(p, hts.server, prefix);
      const cfk = finishedKey(p, hts.client, prefix);
      expect([toHex(sfk), toHex(cfk)]).toEqual([out.server_finished_key, out.client_finished_key]);
      expect(toHex(bodyOf(m[5]!))).toBe(toHex(finishedMac(p, sfk, hashThrough(5))));
      expect(toHex(bodyOf(m[6]!))).toBe(toHex(finishedMac(p, cfk, hashThrough(6))));

      // CertificateVerify signs the transcript through Certificate under its context.
      const serverKey = hex('server_ed25519_public');
      expect(verifyWithContext(p, serverKey, SignatureContext.SERVER_CERTIFICATE_VERIFY, hashThrough(4), bodyOf(m[4]!))).toBe(true);
      expect(verifyWithContext(p, serverKey, SignatureContext.SERVER_CERTIFICATE_VERIFY, hashThrough(3), bodyOf(m[4]!))).toBe(false);

      if (out.certificate) {
        const cert = decodeCertificate(hex('certificate'));
        expect(toHex(cert.issuer)).toBe(out.ca_ed25519_public);
        expect(toHex(cert.publicKey)).toBe(out.server_ed25519_public);
        expect([cert.serverName, cert.notBefore, cert.notAfter]).toEqual([v.inputs.server_name, v.inputs.not_before, v.inputs.not_after]);
        expect(verifyWithContext(p, cert.issuer, SignatureContext.CERTIFICATE, cert.tbs, cert.signature)).toBe(true);
      }

      const keys = packetKeys(p, out.negotiated_suite as CipherSuite, ats.client, PETREL_PROFILE);
      expect([toHex(keys.key), toHex(keys.iv), toHex(keys.hp)]).toEqual([out.client_1rtt_key, out.client_1rtt_iv, out.client_1rtt_hp]);
    });
  }
});
