/**
 * Computes the resumption vectors of spec/vectors/resumption.json from their inputs (spec/handshake.md
 * §Resumption test vectors). resumption-vectors.test.ts checks the file against this; the HKDF/HMAC values
 * were also reproduced once with an independent Python (hashlib/hmac) implementation of the spec.
 */
import {
  binderKey,
  clientEarlyTrafficSecret,
  earlySecret,
  finishedKey,
  handshakeSecret,
  handshakeTrafficSecrets,
  packetKeys,
  PETREL_PROFILE,
  resumptionPsk,
} from '../../lib/crypto/key-schedule.js';
import { computeBinder } from '../../lib/crypto/handshake/resumption.js';
import { TicketKeyRing, type TicketState } from '../../lib/crypto/handshake/tickets.js';
import { encodeClientHello } from '../../lib/crypto/handshake/messages.js';
import type { CryptoProvider } from '../../lib/crypto/provider.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';

export interface ResumptionInputs {
  ticket_key: string;
  ticket_seal_nonce: string;
  ticket_id: string;
  issued_at: number;
  lifetime: number;
  age_add: number;
  max_early_data: number;
  alpn: string;
  server_name: string;
  resumption_master_secret: string;
  ticket_nonce: string;
  client_random: string;
  client_key_share: string;
  client_transport_parameters: string;
  obfuscated_age: number;
  dhe_shared_secret: string;
  server_hello: string;
}

const PREFIX = PETREL_PROFILE.prefix;

export function computeResumption(base: CryptoProvider, i: ResumptionInputs): Record<string, string> {
  const p = base;
  const out: Record<string, string> = {};
  const psk = resumptionPsk(p, fromHex(i.resumption_master_secret), fromHex(i.ticket_nonce), PREFIX);
  out.psk = toHex(psk);
  // The ticket, sealed under the fixed key with the fixed AEAD nonce.
  const fixed: CryptoProvider = { ...p, randomBytes: (n) => (n === 12 ? fromHex(i.ticket_seal_nonce) : p.randomBytes(n)) };
  const ring = new TicketKeyRing({ provider: fixed, now: () => i.issued_at, keys: [fromHex(i.ticket_key)], lifetime: i.lifetime });
  out.ticket_key_id = toHex(ring.keyIds[0]!);
  const state: TicketState = {
    ticketId: fromHex(i.ticket_id),
    issuedAt: i.issued_at,
    lifetime: i.lifetime,
    ageAdd: i.age_add,
    suite: 'AES_128_GCM_SHA256',
    maxEarlyData: i.max_early_data,
    alpn: i.alpn,
    serverName: i.server_name,
    psk,
  };
  const ticket = ring.seal(state);
  out.ticket = toHex(ticket);
  // The ClientHello offering it, its binder, and the schedule that follows.
  const early = earlySecret(p, psk);
  out.early_secret = toHex(early);
  out.binder_key = toHex(binderKey(p, early, PREFIX));
  out.binder_finished_key = toHex(finishedKey(p, binderKey(p, early, PREFIX), PREFIX));
  const hello = encodeClientHello({
    random: fromHex(i.client_random),
    keyShare: fromHex(i.client_key_share),
    suites: [0x1301, 0x1303],
    alpn: [i.alpn],
    transportParameters: fromHex(i.client_transport_parameters),
    serverName: i.server_name,
    psk: { earlyData: true, identity: ticket, obfuscatedAge: i.obfuscated_age, binder: new Uint8Array(32) },
  });
  const binder = computeBinder(p, psk, hello.subarray(0, hello.length - 32));
  hello.set(binder, hello.length - 32);
  out.binder = toHex(binder);
  out.client_hello = toHex(hello);
  const chHash = p.sha256(hello);
  const cets = clientEarlyTrafficSecret(p, early, chHash, PREFIX);
  out.client_early_traffic_secret = toHex(cets);
  const k = packetKeys(p, 'AES_128_GCM_SHA256', cets, PETREL_PROFILE);
  out.early_key = toHex(k.key);
  out.early_iv = toHex(k.iv);
  out.early_hp = toHex(k.hp);
  const hs = handshakeSecret(p, early, fromHex(i.dhe_shared_secret), PREFIX);
  out.handshake_secret = toHex(hs);
  const helloHash = p.sha256(new Uint8Array([...hello, ...fromHex(i.server_hello)]));
  const t = handshakeTrafficSecrets(p, hs, helloHash, PREFIX);
  out.client_handshake_traffic_secret = toHex(t.client);
  out.server_handshake_traffic_secret = toHex(t.server);
  return out;
}
