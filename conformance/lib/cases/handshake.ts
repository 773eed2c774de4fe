/** Cases from spec/handshake.md (failure modes) and transport.md's CRYPTO limit. */
import { decodeClientHello, encodeClientHello, HandshakeType } from '../../../lib/crypto/handshake/messages.js';
import { ByteReader } from '../../../lib/wire/buffer.js';
import type { Frame } from '../../../lib/wire/frame-types.js';
import { Code, codeName, expectClose, fail, pass, unsupported, type Case } from '../case.js';

export const handshakeCases: Case[] = [
  {
    id: 'transport/completion-and-confirmation/1',
    spec: { file: 'transport.md', section: 'Completion and confirmation' },
    requirement: 'The server is confirmed at completion (RFC 9001 §4.1.2): it queues HANDSHAKE_DONE',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const ok = await p.handshake(3000);
      if (!ok) return fail(p.peerClose ? `closed with ${codeName(p.peerClose.errorCode)}` : 'handshake did not complete in 3 s');
      const done = await p.waitFor(() => p.handshakeDone, 1000);
      return done ? pass('handshake completed and HANDSHAKE_DONE received') : fail('handshake completed but no HANDSHAKE_DONE');
    },
  },
  {
    id: 'handshake/handshake-errors/1',
    spec: { file: 'handshake.md', section: 'Handshake errors' },
    requirement: 'a Finished does not match',
    role: 'server',
    async run(ctx) {
      if (ctx.insecure) return unsupported('the insecure handshake has no Finished MAC');
      const p = await ctx.probe({
        mutateCrypto: (level, data) => {
          if (level !== 'handshake') return data;
          const d = data.slice();
          d[d.length - 1] ^= 0x01;
          return d;
        },
      });
      await p.handshake(1500);
      return expectClose(p, 0x0133, 'client Finished with its last byte flipped', 1500);
    },
  },
  {
    id: 'handshake/handshake-errors/3',
    spec: { file: 'handshake.md', section: 'Handshake errors' },
    requirement: 'no offered suite is accepted',
    role: 'server',
    async run(ctx) {
      if (ctx.insecure) return unsupported('the insecure handshake negotiates no cipher suite');
      let rewritten = false;
      const p = await ctx.probe({
        mutateCrypto: (level, data) => {
          if (level !== 'initial' || data[0] !== HandshakeType.CLIENT_HELLO) return data;
          // Re-encode the ClientHello offering only a suite code nobody defines.
          const r = new ByteReader(data);
          r.u8();
          const body = r.bytes(r.varint());
          rewritten = true;
          return encodeClientHello({ ...decodeClientHello(body), suites: [0x7a7a] });
        },
      });
      await p.handshake(1500);
      if (!rewritten) return fail('the runner found no ClientHello to rewrite');
      return expectClose(p, 0x0128, 'ClientHello offering only suite 0x7a7a', 1500);
    },
  },
  {
    id: 'handshake/handshake-errors/2',
    spec: { file: 'handshake.md', section: 'Handshake errors' },
    requirement: 'wrong message type, wrong level, leftover bytes across a key change, data after the handshake',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe({
        mutateCrypto: (level, data) => {
          if (level !== 'initial') return data;
          const d = data.slice();
          d[0] = 2; // ServerHello's type, sent by a client
          return d;
        },
      });
      await p.handshake(1500);
      return expectClose(p, 0x010a, 'ClientHello with the ServerHello message type', 1500);
    },
  },
  {
    id: 'handshake/handshake-messages/1',
    spec: { file: 'handshake.md', section: 'Handshake messages' },
    requirement: "ALPN follows the client's preference: the first offered protocol the server accepts (NO_COMMON_ALPN when none)",
    role: 'server',
    async run(ctx) {
      const offer = 'petrel-conformance-unknown-protocol';
      const p = await ctx.probe({ alpn: [offer] });
      const ok = await p.handshake(2000);
      if (ok) {
        return p.session.alpn === offer
          ? unsupported('the server is configured with no protocols and takes any offer')
          : fail(`handshake completed with protocol ${String(p.session.alpn)} that was not offered`);
      }
      if (!p.peerClose) return fail('no close and no completion');
      return p.peerClose.errorCode === 0x0178
        ? pass('closed with NO_COMMON_ALPN (0x0178)')
        : fail(`closed with ${codeName(p.peerClose.errorCode)}, expected 0x0178`);
    },
  },
  {
    id: 'transport/error-codes/9',
    spec: { file: 'transport.md', section: 'Error codes' },
    requirement: 'CRYPTO data more than 64 KiB ahead',
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const out = p.session.pollOutput();
      if (!out) return fail('no ClientHello');
      p.send('initial', [
        { type: 'crypto', offset: 0, data: out.data } as Frame,
        { type: 'crypto', offset: 70_000, data: new Uint8Array(16) } as Frame,
      ]);
      return expectClose(p, Code.CRYPTO_BUFFER_EXCEEDED, 'CRYPTO at offset 70000 in the first Initial');
    },
  },
];
