/**
 * Systematic tampering: every field of every handshake message, as a man in the middle would alter it.
 * Each byte of each field is flipped (XOR 0xff) on its own, and each field is truncated by its last byte
 * (enclosing lengths and the message length adjusted, so the damage is the field's alone). Every case
 * must end in the specific error listed here, at the side listed, with no 1-RTT keys for the failing side,
 * and never in an exception. The field map below is written from spec/handshake.md, independently of the codec.
 */
import { describe, expect, it } from 'vitest';
import { createClientSession, createServerSession, issueCertificate } from '../../lib/crypto/handshake/index.js';
import { providerUnderTest as nodeCryptoProvider } from './provider-under-test.js';
import { ByteReader, ByteWriter } from '../../lib/wire/buffer.js';
import { ed25519FromSeed, fixedProvider, has1Rtt, installed, pump, type Side } from './handshake-harness.js';

interface Span {
  start: number;
  end: number;
  /** u8 lengths (certificate name) vs varint lengths (everything else). */
  u8?: boolean;
}

interface Field extends Span {
  name: string;
  /** The length fields whose value covers this field, outermost first. */
  containers: Span[];
}

/** Field map of one framed message, per spec/handshake.md §Handshake messages and §Certificates. */
function layout(msg: Uint8Array): Field[] {
  const fields: Field[] = [];
  const r = new ByteReader(msg);
  const open: Span[] = [];
  const fixed = (name: string, n: number): void => {
    fields.push({ name, start: r.pos, end: r.pos + n, containers: [...open] });
    r.pos += n;
  };
  const varint = (name: string): { value: number; span: Span } => {
    const start = r.pos;
    const value = r.varint();
    fields.push({ name, start, end: r.pos, containers: [...open] });
    return { value, span: { start, end: r.pos } };
  };
  const vec = (name: string): void => {
    const { value, span } = varint(`${name}.length`);
    open.push(span);
    fixed(name, value);
    open.pop();
  };
  const list = (name: string, each: (i: number) => void): void => {
    const n = varint(`${name}.count`).value;
    for (let i = 0; i < n; i++) each(i);
  };
  fixed('type', 1);
  open.push(varint('length').span);
  switch (msg[0]) {
    case 1:
      fixed('random', 32);
      fixed('key_share', 32);
      list('suites', (i) => fixed(`suites[${i}]`, 2));
      list('alpn', (i) => vec(`alpn[${i}]`));
      vec('transport_parameters');
      vec('server_name');
      break;
    case 2:
      fixed('random', 32);
      fixed('key_share', 32);
      fixed('suite', 2);
      break;
    case 8:
      vec('alpn');
      vec('transport_parameters');
      list('offered_suites', (i) => fixed(`offered_suites[${i}]`, 2));
      break;
    case 11:
      fixed('public_key', 32);
      list('chain', (i) => {
        const { value, span } = varint(`chain[${i}].length`);
        const end = r.pos + value;
        open.push(span);
        fixed('cert.version', 1);
        fixed('cert.flags', 1);
        const nameLength = { start: r.pos, end: r.pos + 1, u8: true };
        fixed('cert.name.length', 1);
        open.push(nameLength);
        fixed('cert.name', msg[nameLength.start]!);
        open.pop();
        fixed('cert.public_key', 32);
        fixed('cert.not_before', 8);
        fixed('cert.not_after', 8);
        fixed('cert.issuer', 32);
        fixed('cert.signature', 64);
        expect(r.pos).toBe(end);
        open.pop();
      });
      break;
    case 15:
      fixed('signature', 64);
      break;
    case 20:
      fixed('verify_data', 32);
      break;
    default:
      throw new Error(`no layout for type ${msg[0]}`);
  }
  expect(r.pos).toBe(msg.length);
  return fields.filter((f) => f.end > f.start);
}

/** The message without the field's last byte, every enclosing length one smaller (same encoding size). */
function truncateField(msg: Uint8Array, f: Field): Uint8Array {
  const out = new Uint8Array(msg.length - 1);
  out.set(msg.subarray(0, f.end - 1));
  out.set(msg.subarray(f.end), f.end - 1);
  for (const c of f.containers) {
    if (c.u8) {
      out[c.start] = msg[c.start]! - 1;
      continue;
    }
    const value = new ByteReader(msg, c.start).varint();
    new ByteWriter(out, c.start).varint(value - 1, (c.end - c.start) as 1 | 2 | 4 | 8);
  }
  return out;
}

const serverId = ed25519FromSeed('11'.repeat(32));
const ca = ed25519FromSeed('22'.repeat(32));
const chain = [
  issueCertificate(nodeCryptoProvider, ca, { serverName: 'game.example', publicKey: serverId.publicKey, notBefore: 1000, notAfter: 6000 }),
];
const fill = (b: number): Uint8Array => new Uint8Array(32).fill(b);

/** A deterministic handshake (fixed randoms and shares) with one message rewritten in transit. */
function run(mode: 'ca' | 'pinned', target: { from: Side; index: number } | null, mutate: (m: Uint8Array) => Uint8Array) {
  const c = createClientSession({
    provider: fixedProvider({ randoms: [fill(1)], x25519Privates: [fill(2)] }),
    alpn: ['petrel/1'],
    transportParameters: Uint8Array.of(1, 2, 3),
    serverName: 'game.example',
    ...(mode === 'ca' ? { trustedCAs: [ca.publicKey] } : { serverKey: serverId.publicKey }),
    now: () => 3000,
  });
  const s = createServerSession({
    provider: fixedProvider({ randoms: [fill(3)], x25519Privates: [fill(4)] }),
    alpn: ['petrel/1'],
    transportParameters: Uint8Array.of(4, 5),
    identity: serverId,
    certificateChain: mode === 'ca' ? chain : [],
  });
  const r = pump(c, s, (from, _level, i, d) => (target && from === target.from && i === target.index ? mutate(d) : d));
  const outcome = r.clientError
    ? `c:${r.clientError.reason}`
    : r.serverError
      ? `s:${r.serverError.reason}`
      : c.complete && s.complete
        ? 'ok'
        : 'stall';
  // Whatever happened, the failing side holds no 1-RTT keys it should not have.
  if (outcome.startsWith('c:') || (outcome === 'stall' && !c.complete)) {
    expect(c.complete).toBe(false);
    expect(has1Rtt(r.clientKeys)).toBe(false);
  }
  if (outcome !== 'ok') {
    expect(s.complete).toBe(false);
    expect(installed(r.serverKeys, '1rtt', 'read')).toBeUndefined();
  }
  return { outcome, sent: r.sent };
}

type Expect = { flip: string | string[]; truncate?: string };

/**
 * Expected outcome per field. A list for `flip` gives the outcome byte by byte. Why each is what it is:
 * spec/handshake.md §Tampering. 'stall' = a length grew past the data: the side waits for bytes that never come.
 */
const EXPECTED: Record<string, Record<string, Expect>> = {
  'client ClientHello': {
    type: { flip: 's:UNEXPECTED_MESSAGE' },
    length: { flip: ['s:DECODE_ERROR', 'stall'] },
    random: { flip: 'c:BAD_SIGNATURE', truncate: 's:DECODE_ERROR' },
    key_share: { flip: 'c:BAD_SIGNATURE', truncate: 's:DECODE_ERROR' },
    'suites.count': { flip: 's:DECODE_ERROR', truncate: 's:DECODE_ERROR' },
    'suites[0]': { flip: 'c:DOWNGRADE_DETECTED', truncate: 's:DECODE_ERROR' },
    'suites[1]': { flip: 'c:DOWNGRADE_DETECTED', truncate: 's:DECODE_ERROR' },
    'alpn.count': { flip: 's:DECODE_ERROR', truncate: 's:DECODE_ERROR' },
    'alpn[0].length': { flip: 's:DECODE_ERROR', truncate: 's:DECODE_ERROR' },
    'alpn[0]': { flip: 's:DECODE_ERROR', truncate: 's:NO_COMMON_ALPN' },
    'transport_parameters.length': { flip: 's:DECODE_ERROR', truncate: 's:DECODE_ERROR' },
    transport_parameters: { flip: 'c:BAD_SIGNATURE', truncate: 'c:BAD_SIGNATURE' },
    'server_name.length': { flip: 's:DECODE_ERROR', truncate: 's:DECODE_ERROR' },
    server_name: { flip: 's:DECODE_ERROR', truncate: 'c:BAD_SIGNATURE' },
  },
  'server ServerHello': {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: ['c:DECODE_ERROR', 'c:UNEXPECTED_MESSAGE'] },
    random: { flip: 'c:BAD_SIGNATURE', truncate: 'c:DECODE_ERROR' },
    key_share: { flip: 'c:BAD_SIGNATURE', truncate: 'c:DECODE_ERROR' },
    suite: { flip: 'c:ILLEGAL_PARAMETER', truncate: 'c:DECODE_ERROR' },
  },
  'server EncryptedExtensions': {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: 'c:DECODE_ERROR' },
    'alpn.length': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
    alpn: { flip: 'c:DECODE_ERROR', truncate: 'c:ILLEGAL_PARAMETER' },
    'transport_parameters.length': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
    transport_parameters: { flip: 'c:BAD_SIGNATURE', truncate: 'c:BAD_SIGNATURE' },
    'offered_suites.count': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
    'offered_suites[0]': { flip: 'c:DOWNGRADE_DETECTED', truncate: 'c:DECODE_ERROR' },
    'offered_suites[1]': { flip: 'c:DOWNGRADE_DETECTED', truncate: 'c:DECODE_ERROR' },
  },
  'server Certificate': {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: 'c:DECODE_ERROR' },
    public_key: { flip: 'c:BAD_CERTIFICATE', truncate: 'c:DECODE_ERROR' },
    'chain.count': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
    'chain[0].length': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
    'cert.version': { flip: 'c:BAD_CERTIFICATE', truncate: 'c:BAD_CERTIFICATE' },
    'cert.flags': { flip: 'c:BAD_CERTIFICATE', truncate: 'c:BAD_CERTIFICATE' },
    'cert.name.length': { flip: 'c:BAD_CERTIFICATE', truncate: 'c:BAD_CERTIFICATE' },
    'cert.name': { flip: 'c:BAD_CERTIFICATE', truncate: 'c:BAD_CERTIFICATE_SIGNATURE' },
    'cert.public_key': { flip: 'c:BAD_CERTIFICATE', truncate: 'c:BAD_CERTIFICATE' },
    // The top two bytes put the time above 2^53 - 1 (malformed); the rest break the signature.
    'cert.not_before': {
      flip: [...Array(2).fill('c:BAD_CERTIFICATE'), ...Array(6).fill('c:BAD_CERTIFICATE_SIGNATURE')],
      truncate: 'c:BAD_CERTIFICATE',
    },
    'cert.not_after': {
      flip: [...Array(2).fill('c:BAD_CERTIFICATE'), ...Array(6).fill('c:BAD_CERTIFICATE_SIGNATURE')],
      truncate: 'c:BAD_CERTIFICATE',
    },
    'cert.issuer': { flip: 'c:UNKNOWN_SERVER_KEY', truncate: 'c:BAD_CERTIFICATE' },
    'cert.signature': { flip: 'c:BAD_CERTIFICATE_SIGNATURE', truncate: 'c:BAD_CERTIFICATE' },
  },
  'server CertificateVerify': {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: ['c:DECODE_ERROR', 'stall'] },
    signature: { flip: 'c:BAD_SIGNATURE', truncate: 'c:DECODE_ERROR' },
  },
  'server Finished': {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: 'c:DECODE_ERROR' },
    verify_data: { flip: 'c:BAD_FINISHED', truncate: 'c:DECODE_ERROR' },
  },
  'client Finished': {
    type: { flip: 's:UNEXPECTED_MESSAGE' },
    length: { flip: 's:DECODE_ERROR' },
    verify_data: { flip: 's:BAD_FINISHED', truncate: 's:DECODE_ERROR' },
  },
};

const NAMES: Record<number, string> = {
  1: 'ClientHello',
  2: 'ServerHello',
  8: 'EncryptedExtensions',
  11: 'Certificate',
  15: 'CertificateVerify',
  20: 'Finished',
};

function messagesOf(mode: 'ca' | 'pinned'): Array<{ from: Side; index: number; key: string; data: Uint8Array }> {
  const { outcome, sent } = run(mode, null, (m) => m);
  expect(outcome).toBe('ok');
  const counts: Record<Side, number> = { client: 0, server: 0 };
  return sent.map((m) => ({ from: m.from, index: counts[m.from]++, key: `${m.from} ${NAMES[m.data[0]!]}`, data: m.data }));
}

describe('every field of every message, flipped and truncated (CA chain)', () => {
  const messages = messagesOf('ca');

  it('the field map covers every message byte and every field has an expectation', () => {
    expect(messages.map((m) => m.key)).toEqual(Object.keys(EXPECTED).sort((a, b) => order(a) - order(b)));
    for (const m of messages) {
      const fields = layout(m.data);
      expect(fields.reduce((n, f) => n + f.end - f.start, 0)).toBe(m.data.length);
      expect(fields.map((f) => f.name).sort()).toEqual(Object.keys(EXPECTED[m.key]!).sort());
    }
  });

  for (const m of messages) {
    it(`${m.key}`, () => {
      const seen: string[] = [];
      for (const f of layout(m.data)) {
        const want = EXPECTED[m.key]![f.name]!;
        for (let b = f.start; b < f.end; b++) {
          const { outcome } = run('ca', m, (d) => d.map((x, j) => (j === b ? x ^ 0xff : x)));
          const expected = Array.isArray(want.flip) ? want.flip[b - f.start] : want.flip;
          seen.push(`${f.name}[+${b - f.start}] flip → ${outcome}`);
          expect(`${f.name}[+${b - f.start}] flip → ${outcome}`).toBe(`${f.name}[+${b - f.start}] flip → ${expected}`);
        }
        if (f.name === 'type' || f.name === 'length') continue; // framing: cut short below
        const { outcome } = run('ca', m, (d) => truncateField(d, f));
        expect(`${f.name} truncated → ${outcome}`).toBe(`${f.name} truncated → ${want.truncate}`);
      }
      // The whole message one byte short: the receiver waits for the rest; nobody gets 1-RTT keys it should not.
      const next = messages[messages.indexOf(m) + 1];
      if (next && next.from === m.from) expect(m.data[m.data.length - 1]).not.toBe(next.data[0]); // else the cut changes nothing
      expect(`cut short → ${run('ca', m, (d) => d.subarray(0, d.length - 1)).outcome}`).toBe(`cut short → ${CUT_SHORT[m.key]}`);
      expect(seen.length).toBe(m.data.length);
    });
  }
});

/**
 * The whole message one byte short. At the end of a flight the receiver waits for a byte that never
 * comes (stall); otherwise the next message's type byte completes the body and becomes its last byte.
 */
const CUT_SHORT: Record<string, string> = {
  'client ClientHello': 'stall',
  'server ServerHello': 'c:UNEXPECTED_MESSAGE',
  'server EncryptedExtensions': 'c:DOWNGRADE_DETECTED', // the suite echo ends 0x13 0x0b instead of 0x13 0x03
  'server Certificate': 'c:BAD_CERTIFICATE_SIGNATURE', // the certificate signature ends in 0x0f
  'server CertificateVerify': 'c:BAD_SIGNATURE', // the signature ends in 0x14
  'server Finished': 'stall',
  'client Finished': 'stall',
};

function order(key: string): number {
  return [
    'client ClientHello',
    'server ServerHello',
    'server EncryptedExtensions',
    'server Certificate',
    'server CertificateVerify',
    'server Finished',
    'client Finished',
  ].indexOf(key);
}

describe('the Certificate message with a pinned key (no chain)', () => {
  const cert = messagesOf('pinned').find((m) => m.key === 'server Certificate')!;
  const expected: Record<string, Expect> = {
    type: { flip: 'c:UNEXPECTED_MESSAGE' },
    length: { flip: 'c:DECODE_ERROR' },
    public_key: { flip: 'c:UNKNOWN_SERVER_KEY', truncate: 'c:DECODE_ERROR' },
    'chain.count': { flip: 'c:DECODE_ERROR', truncate: 'c:DECODE_ERROR' },
  };

  it('every byte flipped and every field truncated', () => {
    const fields = layout(cert.data);
    expect(fields.map((f) => f.name)).toEqual(Object.keys(expected));
    for (const f of fields) {
      for (let b = f.start; b < f.end; b++) {
        expect(`${f.name} flip → ${run('pinned', cert, (d) => d.map((x, j) => (j === b ? x ^ 0xff : x))).outcome}`).toBe(
          `${f.name} flip → ${expected[f.name]!.flip}`,
        );
      }
      if (f.name === 'type' || f.name === 'length') continue;
      expect(`${f.name} truncated → ${run('pinned', cert, (d) => truncateField(d, f)).outcome}`).toBe(
        `${f.name} truncated → ${expected[f.name]!.truncate}`,
      );
    }
  });
});
