/**
 * spec/vectors/retry.json: the Retry integrity key and nonce follow from their stated derivation, the tags
 * match an independent AES-128-GCM (@noble/ciphers), and RetryIntegrity and the packet codec agree.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { gcm } from '@noble/ciphers/aes.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { RETRY_INTEGRITY_KEY, RETRY_INTEGRITY_NONCE, RetryIntegrity } from '../../lib/crypto/retry.js';
import { parsePacketHeader, retryPseudoPacket } from '../../lib/wire/packet.js';
import { verifyChecksum } from '../../lib/wire/datagram.js';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const x = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const v = JSON.parse(readFileSync(new URL('../../spec/vectors/retry.json', import.meta.url), 'utf8')) as {
  key: string;
  nonce: string;
  cases: Array<{ odcid: string; dcid: string; scid: string; token: string; pseudo_packet: string; integrity_tag: string; datagram: string }>;
};

describe('Retry integrity vectors', () => {
  it('key and nonce are the stated SHA-256 prefixes', () => {
    expect(x(createHash('sha256').update('petrel v1 retry integrity key').digest().subarray(0, 16))).toBe(v.key);
    expect(x(createHash('sha256').update('petrel v1 retry integrity nonce').digest().subarray(0, 12))).toBe(v.nonce);
    expect(x(RETRY_INTEGRITY_KEY)).toBe(v.key);
    expect(x(RETRY_INTEGRITY_NONCE)).toBe(v.nonce);
  });

  it('every case: independent GCM tag, our tag, and the datagram parses back', () => {
    const ri = new RetryIntegrity(nodeCryptoProvider);
    expect(v.cases.length).toBeGreaterThanOrEqual(3);
    for (const c of v.cases) {
      const noble = gcm(h(v.key), h(v.nonce), h(c.pseudo_packet)).encrypt(new Uint8Array(0));
      expect(x(noble)).toBe(c.integrity_tag);
      const d = h(c.datagram);
      expect(verifyChecksum(d, d.length, (b) => crc32(b))).toBe(true);
      const body = d.subarray(0, d.length - 4);
      const p = parsePacketHeader(body, 0, body.length);
      if (p.form !== 'retry') expect.unreachable('not a Retry');
      else {
        expect(x(p.dcid)).toBe(c.dcid);
        expect(x(p.scid)).toBe(c.scid);
        expect(x(p.token)).toBe(c.token);
        expect(x(p.integrityTag)).toBe(c.integrity_tag);
      }
      const pseudo = retryPseudoPacket(h(c.odcid), body.subarray(0, body.length - 16));
      expect(x(pseudo)).toBe(c.pseudo_packet);
      expect(ri.verify(pseudo, h(c.integrity_tag))).toBe(true);
      const wrong = h(c.integrity_tag);
      wrong[15]! ^= 1;
      expect(ri.verify(pseudo, wrong)).toBe(false);
      expect(
        ri.verify(retryPseudoPacket(h(c.dcid.length === 16 ? c.dcid : '0011223344556677'), body.subarray(0, body.length - 16)), h(c.integrity_tag)),
      ).toBe(false);
    }
  });
});
