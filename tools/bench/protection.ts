/**
 * Cost of packet protection per 1472-byte datagram, next to bare node:crypto in the same run.
 *
 *   node --import tsx tools/bench/protection.ts [--ms 200] [--reps 7] [--quick]
 *
 * The packet is a Petrel 1-RTT datagram filling a 1500-byte IPv4 MTU: short header (1 + 8-byte CID +
 * 2-byte packet number) | payload 1441 | AEAD tag 16 | CRC-32 4 = 1472 bytes. Rows:
 * - Petrel seal + header protection: AeadPacketProtector.seal then protectHeader (the send path);
 * - Petrel unprotect + open: unprotectHeader then AeadPacketProtector.open (the receive path; each
 *   iteration first copies the sealed packet back, ~0.05 µs, because open decrypts in place);
 * - the same plus the datagram CRC (appendChecksum / verifyChecksum with zlib.crc32);
 * - bare node:crypto seal/open of the same bytes (createCipheriv/createDecipheriv, setAAD(header),
 *   update, final, tag) with a Buffer key (the peers.md rows) and with a KeyObject key (what Petrel uses);
 * - the header-protection mask alone, and zlib.crc32 of 1472 bytes;
 * - the Petrel rows again for ChaCha20-Poly1305 through the libsodium provider (sodium_chacha_*), when it loads.
 * Figures are CPU µs per packet (process.cpuUsage over a batch), the median of interleaved batches.
 */
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type CipherGCMTypes, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { sodiumCryptoProvider } from '../../lib/crypto/sodium-provider.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';
import { protectHeader, protectorsFromSecret, unprotectHeader } from '../../lib/crypto/packet-protection.js';
import { suiteKeyLength, type CipherSuite } from '../../lib/crypto/provider.js';
import { appendChecksum, CRC_LENGTH, verifyChecksum } from '../../lib/wire/datagram.js';
import { environmentLine, flag, fmt, median, numberArg, Results, si, table } from './common.js';

const USAGE = `usage: node --import tsx tools/bench/protection.ts [--ms MS] [--reps N] [--quick]
  --ms    target length of one timed batch (default 200; --quick: 5)
  --reps  batches per case, interleaved across cases (default 7; --quick: 2)`;

if (flag('help')) {
  console.log(USAGE);
  process.exit(0);
}

const quick = flag('quick');
const BATCH_MS = numberArg('ms', quick ? 5 : 200);
const REPS = Math.round(numberArg('reps', quick ? 2 : 7));

const DATAGRAM = 1472;
const TAG = 16;
const PN_OFFSET = 9; // first byte + 8-byte connection id
const PN_LENGTH = 2;
const HEADER = PN_OFFSET + PN_LENGTH;
const PAYLOAD = DATAGRAM - HEADER - TAG - CRC_LENGTH; // 1441
const SEALED_END = HEADER + PAYLOAD + TAG;
const zcrc = (d: Uint8Array): number => crc32(d);

/** peers.md medians (µs per 1472 B), for the reference column. */
const PEERS: Record<string, string> = {
  aes_raw_seal: '3.60',
  aes_raw_open: '3.23',
  chacha_raw_seal: '5.10',
  chacha_raw_open: '4.67',
  crc32: '0.40',
};

interface Case {
  key: string;
  label: string;
  /** Runs one packet; returns something so the work cannot be optimised away. */
  op: () => number;
  cpu: number[];
  wall: number[];
}

const cases: Case[] = [];
const add = (key: string, label: string, op: () => number): void => void cases.push({ key, label, op, cpu: [], wall: [] });

function writeHeader(buf: Uint8Array, pn: number): void {
  buf[0] = 0x40 | (PN_LENGTH - 1);
  for (let i = 1; i < PN_OFFSET; i++) buf[i] = 0xc0 + i;
  buf[PN_OFFSET] = (pn >>> 8) & 0xff;
  buf[PN_OFFSET + 1] = pn & 0xff;
}

function suiteCases(suite: CipherSuite, short: string, provider: CryptoProvider = nodeCryptoProvider, bare = true): void {
  const secret = randomBytes(32);
  const w = protectorsFromSecret(provider, suite, secret);
  const r = protectorsFromSecret(provider, suite, secret);
  const payload = randomBytes(PAYLOAD);

  // A sealed, header-protected datagram with its CRC, for the receive-path rows.
  const RX_PN = 4242;
  const sealed = new Uint8Array(DATAGRAM);
  writeHeader(sealed, RX_PN);
  sealed.set(payload, HEADER);
  w.seal(RX_PN, sealed, 0, HEADER, HEADER + PAYLOAD);
  protectHeader(sealed, 0, PN_OFFSET, PN_LENGTH, w);
  appendChecksum(sealed, SEALED_END, zcrc);

  const tx = new Uint8Array(DATAGRAM);
  tx.set(payload, HEADER);
  let pn = 0;
  const sealOne = (): number => {
    pn = (pn + 1) & 0xffff;
    writeHeader(tx, pn);
    const end = w.seal(pn, tx, 0, HEADER, HEADER + PAYLOAD);
    protectHeader(tx, 0, PN_OFFSET, PN_LENGTH, w);
    return end;
  };
  const rx = new Uint8Array(DATAGRAM);
  const openOne = (): number => {
    rx.set(sealed);
    if (unprotectHeader(rx, 0, PN_OFFSET, r, SEALED_END) !== PN_LENGTH) throw new Error('header unprotect failed');
    const end = r.open(RX_PN, rx, 0, HEADER, SEALED_END);
    if (end < 0) throw new Error(`${suite}: open failed`);
    return end;
  };
  add(`${short}_petrel_seal`, `${short}: Petrel seal + header protection`, sealOne);
  add(`${short}_petrel_open`, `${short}: Petrel unprotect header + open`, openOne);
  add(`${short}_petrel_send`, `${short}: Petrel seal + hp + CRC-32 (datagram out)`, () => appendChecksum(tx, sealOne(), zcrc));
  add(`${short}_petrel_receive`, `${short}: Petrel CRC check + unprotect + open (datagram in)`, () => {
    if (!verifyChecksum(sealed, DATAGRAM, zcrc)) throw new Error('crc');
    return openOne();
  });
  const sample = sealed.subarray(PN_OFFSET + 4, PN_OFFSET + 20);
  const mask = new Uint8Array(5);
  add(`${short}_hp_mask`, `${short}: header-protection mask alone`, () => {
    w.headerMask(sample, mask);
    return mask[0]!;
  });

  if (!bare) return;
  // Bare node:crypto on the same bytes: header as AAD, 1441-byte payload, 16-byte tag.
  const alg = (suite === 'AES_128_GCM_SHA256' ? 'aes-128-gcm' : 'chacha20-poly1305') as CipherGCMTypes;
  const keyBytes = randomBytes(suiteKeyLength(suite));
  const keyObject: KeyObject = createSecretKey(keyBytes);
  const nonce = randomBytes(12);
  const header = Buffer.from(sealed.subarray(0, HEADER));
  const plain = Buffer.from(payload);
  const c = createCipheriv(alg, keyBytes, nonce, { authTagLength: TAG });
  c.setAAD(header);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const tag = c.getAuthTag();
  const rawSeal = (key: Buffer | KeyObject) => (): number => {
    const ci = createCipheriv(alg, key, nonce, { authTagLength: TAG });
    ci.setAAD(header);
    const out = ci.update(plain);
    ci.final();
    return out.length + ci.getAuthTag().length;
  };
  const rawOpen = (key: Buffer | KeyObject) => (): number => {
    const d = createDecipheriv(alg, key, nonce, { authTagLength: TAG });
    d.setAAD(header);
    d.setAuthTag(tag);
    const out = d.update(ct);
    d.final();
    return out.length;
  };
  add(`${short}_raw_seal`, `${short}: node:crypto seal, Buffer key`, rawSeal(keyBytes));
  add(`${short}_raw_open`, `${short}: node:crypto open, Buffer key`, rawOpen(keyBytes));
  add(`${short}_raw_seal_keyobject`, `${short}: node:crypto seal, KeyObject key`, rawSeal(keyObject));
  add(`${short}_raw_open_keyobject`, `${short}: node:crypto open, KeyObject key`, rawOpen(keyObject));
}

suiteCases('AES_128_GCM_SHA256', 'aes');
suiteCases('CHACHA20_POLY1305_SHA256', 'chacha');
const sodium = sodiumCryptoProvider();
if (sodium) suiteCases('CHACHA20_POLY1305_SHA256', 'sodium_chacha', sodium, false);
const crcInput = randomBytes(DATAGRAM);
add('crc32', 'zlib.crc32 of 1472 B', () => crc32(crcInput));

/** Iterations that take about BATCH_MS, from a short trial (which also warms the JIT). */
function calibrate(op: () => number): number {
  let n = 64;
  for (;;) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) op();
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (ms > 20 || n >= 1 << 24) return Math.max(16, Math.round((n * BATCH_MS) / Math.max(ms, 0.001)));
    n *= 4;
  }
}

let sink = 0;

function main(): void {
  console.log('# Petrel packet protection benchmark: one 1472-byte datagram');
  console.log(
    `${environmentLine()}; header ${HEADER} B, payload ${PAYLOAD} B, tag ${TAG} B, CRC ${CRC_LENGTH} B; ${REPS} batches of ~${BATCH_MS} ms per case\n`,
  );
  const iterations = cases.map((c) => calibrate(c.op));
  for (let r = 0; r < REPS; r++) {
    cases.forEach((c, i) => {
      const n = iterations[i]!;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < n; k++) sink += c.op();
      const wall = Number(process.hrtime.bigint() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      c.cpu.push((cpu.user + cpu.system) / n);
      c.wall.push(wall / n);
    });
  }
  if (sink === 0) console.log('(sink)');

  const results = new Results();
  const us = new Map<string, number>();
  const rows = cases.map((c) => {
    const cpu = median(c.cpu);
    us.set(c.key, cpu);
    results.set(`${c.key}_us`, cpu);
    return [
      c.label,
      fmt(cpu),
      `${fmt(Math.min(...c.cpu))}–${fmt(Math.max(...c.cpu))}`,
      fmt(median(c.wall)),
      si(1e6 / cpu),
      fmt(DATAGRAM / cpu),
      PEERS[c.key] ?? '',
    ];
  });
  console.log(table(['Per 1472-byte datagram', 'CPU µs p50', 'CPU µs min–max', 'wall µs p50', 'packets/s', 'MB/s', 'peers.md µs'], rows));

  const ratioRows: string[][] = [];
  for (const s of ['aes', 'chacha']) {
    for (const [what, petrel, raw] of [
      ['seal + hp / node:crypto seal', 'petrel_seal', 'raw_seal'],
      ['unprotect + open / node:crypto open', 'petrel_open', 'raw_open'],
      ['seal + hp / node:crypto seal (KeyObject)', 'petrel_seal', 'raw_seal_keyobject'],
      ['unprotect + open / node:crypto open (KeyObject)', 'petrel_open', 'raw_open_keyobject'],
    ] as const) {
      const v = us.get(`${s}_${petrel}`)! / us.get(`${s}_${raw}`)!;
      ratioRows.push([`${s}: Petrel ${what}`, `${v.toFixed(2)}×`]);
      results.set(`${s}_ratio_${petrel.slice(7)}_vs_${raw}`, v);
    }
    const both = us.get(`${s}_petrel_send`)! + us.get(`${s}_petrel_receive`)!;
    ratioRows.push([`${s}: datagram out + in, µs (one core's cost per 1472 B both ways)`, fmt(both)]);
    results.set(`${s}_send_plus_receive_us`, both);
  }
  const chachaOverAes = (us.get('chacha_petrel_seal')! + us.get('chacha_petrel_open')!) / (us.get('aes_petrel_seal')! + us.get('aes_petrel_open')!);
  ratioRows.push(['Petrel ChaCha20-Poly1305 / AES-128-GCM (seal + open)', `${chachaOverAes.toFixed(2)}×`]);
  results.set('chacha_over_aes', chachaOverAes);
  console.log('');
  console.log(table(['Ratio', 'Value'], ratioRows));
  console.log(results.line());
}

try {
  main();
} catch (e) {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
}
