/**
 * spec/vectors/refusal.json: the stateless refusal datagram is reproduced byte for byte, and a client holding
 * only its own Initial keys opens it to one CONNECTION_CLOSE(CONNECTION_REFUSED) whose reason starts with the code.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { initialProtectors } from '../../lib/crypto/packet-protection.js';
import { openInitialCopy } from '../../lib/endpoint/initial-check.js';
import { writeRefusal, type RefusalCode } from '../../lib/endpoint/refusal.js';
import { TransportErrorCode } from '../../lib/errors.js';
import { ByteReader } from '../../lib/wire/buffer.js';
import { verifyChecksum } from '../../lib/wire/datagram.js';
import { decodeFrame } from '../../lib/wire/frames.js';
import { parsePacketHeader } from '../../lib/wire/packet.js';

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const x = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const v = JSON.parse(readFileSync(new URL('../../spec/vectors/refusal.json', import.meta.url), 'utf8')) as {
  cases: Array<{ client_dcid: string; dcid: string; scid: string; code: RefusalCode; reason: string; datagram: string }>;
};

describe('stateless refusal vectors', () => {
  it('covers every refusal code', () => {
    expect(new Set(v.cases.map((c) => c.code))).toEqual(new Set(['SERVER_BUSY', 'REFUSED', 'INSECURE_MISMATCH']));
  });

  for (const c of v.cases) {
    it(`${c.code}: written byte for byte, and the client reads the typed close`, () => {
      const buf = new Uint8Array(1500);
      const server = initialProtectors(nodeCryptoProvider, h(c.client_dcid), false);
      const n = writeRefusal(buf, {
        protector: server.write,
        dcid: h(c.dcid),
        scid: h(c.scid),
        code: c.code,
        reason: c.reason,
        crc: (b) => crc32(b),
      });
      expect(x(buf.subarray(0, n))).toBe(c.datagram);

      const d = h(c.datagram);
      expect(verifyChecksum(d, d.length, (b) => crc32(b))).toBe(true);
      const body = d.subarray(0, d.length - 4);
      const hdr = parsePacketHeader(body, 0, body.length);
      if (hdr.form !== 'long' || hdr.type !== 'initial') return expect.unreachable('not an Initial');
      expect(x(hdr.dcid)).toBe(c.dcid);
      expect(x(hdr.scid)).toBe(c.scid);
      const client = initialProtectors(nodeCryptoProvider, h(c.client_dcid), true);
      const opened = openInitialCopy(client.read, body, hdr);
      if (!opened) return expect.unreachable('client could not open the refusal');
      const r = new ByteReader(opened.pkt.subarray(opened.start, opened.end));
      const f = decodeFrame(r);
      if (f.type !== 'connection_close') return expect.unreachable(`first frame is ${f.type}`);
      expect(f.application).toBe(false);
      expect(f.errorCode).toBe(TransportErrorCode.CONNECTION_REFUSED);
      expect(new TextDecoder().decode(f.reason)).toBe(`${c.code}: ${c.reason}`);
      while (r.remaining > 0) expect(decodeFrame(r).type).toBe('padding');
      // Another DCID's keys do not open it (the keys really come from client_dcid).
      const other = initialProtectors(nodeCryptoProvider, h('0badc0de0badc0de'), true);
      expect(openInitialCopy(other.read, body, hdr)).toBeNull();
    });
  }
});
