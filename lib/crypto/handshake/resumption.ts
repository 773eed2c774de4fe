/**
 * Resumption with a session ticket (spec/handshake.md §Resumption): the PSK binder (RFC 8446 §4.2.11.2),
 * the server's decision on an offered ticket (use it? take its 0-RTT?) and the client's offer. The key
 * schedule itself is key-schedule.ts; the message flow is session.ts.
 */
import {
  binderKey,
  clientEarlyTrafficSecret,
  earlySecret,
  finishedKey,
  finishedMac,
  resumptionPsk,
  verifyFinished,
  PETREL_PROFILE,
} from '../key-schedule.js';
import type { CipherSuite, CryptoProvider } from '../provider.js';
import { fail } from './errors.js';
import { BINDER_LENGTH, encodeNewSessionTicket, type ClientHello, type NewSessionTicket, type PskOffer } from './messages.js';
import { MAX_TICKET_LIFETIME, TICKET_ID_LENGTH, type SessionTicket, type TicketPolicy, type TicketState } from './tickets.js';

const PREFIX = PETREL_PROFILE.prefix;

/** The binder's MAC key for a PSK: finished_key(binder_key(Early Secret(psk))). */
function binderMacKey(p: CryptoProvider, psk: Uint8Array): Uint8Array {
  return finishedKey(p, binderKey(p, earlySecret(p, psk), PREFIX), PREFIX);
}

/** binder = HMAC(binder MAC key, H(ClientHello framed, up to but excluding the binder bytes)). */
export function computeBinder(p: CryptoProvider, psk: Uint8Array, truncatedHello: Uint8Array): Uint8Array {
  return finishedMac(p, binderMacKey(p, psk), p.sha256(truncatedHello));
}

/** The ClientHello as framed, minus its trailing binder: what the binder covers. */
export function truncatedHello(framedHello: Uint8Array): Uint8Array {
  return framedHello.subarray(0, framedHello.length - BINDER_LENGTH);
}

/** Writes the binder into a framed ClientHello built with a zero binder (it is the last 32 bytes). */
export function bindHello(p: CryptoProvider, psk: Uint8Array, framedHello: Uint8Array): void {
  framedHello.set(computeBinder(p, psk, truncatedHello(framedHello)), framedHello.length - BINDER_LENGTH);
}

/** 0-RTT write/read secret: client_early_traffic_secret over H(ClientHello). */
export function earlyTrafficSecret(p: CryptoProvider, psk: Uint8Array, clientHelloHash: Uint8Array): Uint8Array {
  return clientEarlyTrafficSecret(p, earlySecret(p, psk), clientHelloHash, PREFIX);
}

/** A client's offer for a ticket, or null when the ticket cannot serve this connection. */
export function clientOffer(
  t: SessionTicket,
  o: { serverName: string; serverKey?: Uint8Array; alpn: readonly string[]; suites: readonly CipherSuite[]; earlyData: boolean; now: number },
): PskOffer | null {
  const age = o.now - t.receivedAt;
  if (age < 0 || age >= t.lifetime) return null;
  if (t.serverName !== o.serverName || !o.suites.includes(t.suite)) return null;
  if (o.serverKey && !sameBytes(o.serverKey, t.serverKey)) return null;
  if (t.alpn === '' ? o.alpn.length > 0 : !o.alpn.includes(t.alpn)) return null;
  return {
    earlyData: o.earlyData && t.maxEarlyData > 0,
    identity: t.ticket,
    obfuscatedAge: (age + t.ageAdd) % 2 ** 32,
    binder: new Uint8Array(BINDER_LENGTH),
  };
}

export interface ServerResumption {
  state: TicketState;
  /** Whether this connection takes the client's 0-RTT data. */
  early: boolean;
}

/**
 * The server's decision on an offered ticket. Null: run a full handshake (unknown or retired key, bad tag,
 * expired, another name, suite or ALPN, or a ticket already used). A ticket that opens but whose binder does
 * not verify is an attack on the handshake: BAD_BINDER. 0-RTT is taken only from a fresh, first-used ticket.
 */
export function serverResumption(
  p: CryptoProvider,
  policy: TicketPolicy,
  ch: ClientHello,
  framedHello: Uint8Array,
  chosen: { suite: CipherSuite; alpn: string; acceptedSuites: readonly CipherSuite[] },
): ServerResumption | null {
  const offer = ch.psk!;
  const stats = policy.stats;
  const state = policy.keys.open(offer.identity);
  const now = policy.now();
  if (
    !state ||
    now - state.issuedAt > state.lifetime ||
    state.serverName !== ch.serverName ||
    state.alpn !== chosen.alpn ||
    !chosen.acceptedSuites.includes(state.suite) ||
    !ch.suites.includes(suiteCode(state.suite))
  ) {
    stats.pskRejected++;
    if (offer.earlyData) stats.earlyRejected++;
    return null;
  }
  if (!verifyFinished(p, binderMacKey(p, state.psk), p.sha256(truncatedHello(framedHello)), offer.binder)) {
    fail('BAD_BINDER', 'the PSK binder does not match this ClientHello');
  }
  const claim = policy.singleUse.claim(state.ticketId, state.issuedAt + state.lifetime, now);
  if (claim === 'used') {
    // Single use: a second ClientHello with this ticket (a replay, or a client reusing it) gets a full handshake.
    stats.pskRejected++;
    if (offer.earlyData) stats.earlyRejected++;
    return null;
  }
  stats.resumed++;
  const age = (offer.obfuscatedAge - state.ageAdd + 2 ** 32) % 2 ** 32;
  const fresh = Math.abs(now - state.issuedAt - age) <= policy.freshnessWindow;
  const early = offer.earlyData && claim === 'fresh' && fresh && policy.maxEarlyData > 0 && state.maxEarlyData > 0;
  if (offer.earlyData) {
    if (early) stats.earlyAccepted++;
    else stats.earlyRejected++;
  }
  return { state, early };
}

function suiteCode(s: CipherSuite): number {
  return s === 'AES_128_GCM_SHA256' ? 0x1301 : 0x1303;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The server's NewSessionTicket messages for one connection: nonce i, its own PSK, ticket id and age_add. Zeroes `res`. */
export function newSessionTickets(
  p: CryptoProvider,
  policy: TicketPolicy,
  res: Uint8Array,
  info: { suite: CipherSuite; alpn: string; serverName: string },
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const lifetime = policy.keys.lifetime;
  for (let i = 0; i < policy.perConnection; i++) {
    const nonce = Uint8Array.of(i);
    const ageAdd = new DataView(p.randomBytes(4).buffer).getUint32(0);
    const psk = resumptionPsk(p, res, nonce, PREFIX);
    const ticket = policy.keys.seal({
      ticketId: p.randomBytes(TICKET_ID_LENGTH),
      issuedAt: policy.now(),
      lifetime,
      ageAdd,
      maxEarlyData: policy.maxEarlyData,
      psk,
      ...info,
    });
    psk.fill(0);
    out.push(encodeNewSessionTicket({ lifetime, ageAdd, nonce, ticket, maxEarlyData: policy.maxEarlyData }));
    policy.stats.issued++;
  }
  res.fill(0);
  return out;
}

/** The client's record of a NewSessionTicket: its PSK from the resumption master secret and the ticket nonce. */
export function ticketFromMessage(
  p: CryptoProvider,
  nst: NewSessionTicket,
  res: Uint8Array,
  info: { serverName: string; serverKey: Uint8Array; alpn: string; suite: CipherSuite; receivedAt: number; transportParameters: Uint8Array },
): SessionTicket {
  return {
    ...info,
    serverKey: info.serverKey.slice(),
    transportParameters: info.transportParameters.slice(),
    ticket: nst.ticket,
    psk: resumptionPsk(p, res, nst.nonce, PREFIX),
    lifetime: Math.min(nst.lifetime, MAX_TICKET_LIFETIME),
    ageAdd: nst.ageAdd,
    maxEarlyData: nst.maxEarlyData,
  };
}
