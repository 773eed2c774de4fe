/**
 * Address-validation tokens (spec/transport.md §Address validation; RFC 9000 §8.1): the SYN-cookie idea. A
 * server that is not sure a client's address is real answers its Initial with a Retry carrying a token; only
 * a client that receives it at that address can echo it. The token is stateless: its contents and an HMAC
 * under a server secret, so checking it costs one HMAC and no table.
 *
 * Token = Kind (1) | Issued (6, ms, big endian) | [Retry: ODCID Length (1) | ODCID] | Tag (16)
 * Tag   = first 16 bytes of HMAC-SHA256(key, "petrel token v1" | everything before the tag | binding)
 * binding: Retry tokens — the client's host and port and the DCID the client must use next (the Retry's SCID);
 * NEW_TOKEN tokens — the client's host only (its port changes between connections).
 * Retry tokens live RETRY_TOKEN_LIFETIME ms, NEW_TOKEN tokens NEW_TOKEN_LIFETIME ms; a token issued in the
 * future (another process's clock) is invalid.
 */
import type { PeerAddress } from '../connection/types.js';

export const RETRY_TOKEN_LIFETIME = 10_000;
export const NEW_TOKEN_LIFETIME = 24 * 3600_000;
const KIND_RETRY = 0x52;
const KIND_NEW = 0x4e;
const TAG_LENGTH = 16;
const HEADER = 7;
const LABEL = new TextEncoder().encode('petrel token v1');
const utf8 = new TextEncoder();

export type TokenCheck =
  | { kind: 'retry'; originalDcid: Uint8Array }
  | { kind: 'new_token' }
  /** Unusable. `retry` tells whether it claimed to be a Retry token (then the client gets INVALID_TOKEN). */
  | { kind: 'invalid'; retry: boolean; reason: 'malformed' | 'tag' | 'expired' };

export interface AddressTokensConfig {
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** The HMAC key (32 bytes): derived from the endpoint's secret, the same across restarts if that is. */
  key: Uint8Array;
  /** Wall-clock ms (Date.now in the Node driver): tokens must outlive a process restart. */
  clock(): number;
  retryLifetime?: number;
  newTokenLifetime?: number;
}

export class AddressTokens {
  private readonly cfg: AddressTokensConfig;
  private readonly retryLifetime: number;
  private readonly newTokenLifetime: number;

  constructor(cfg: AddressTokensConfig) {
    this.cfg = cfg;
    this.retryLifetime = cfg.retryLifetime ?? RETRY_TOKEN_LIFETIME;
    this.newTokenLifetime = cfg.newTokenLifetime ?? NEW_TOKEN_LIFETIME;
  }

  /** A token for a Retry to `to`, whose next Initial must go to `retryScid`. */
  retryToken(originalDcid: Uint8Array, retryScid: Uint8Array, to: PeerAddress): Uint8Array {
    const t = new Uint8Array(HEADER + 1 + originalDcid.length + TAG_LENGTH);
    this.writeHeader(t, KIND_RETRY);
    t[HEADER] = originalDcid.length;
    t.set(originalDcid, HEADER + 1);
    const body = t.length - TAG_LENGTH;
    t.set(this.mac(t.subarray(0, body), binding(to, true, retryScid)), body);
    return t;
  }

  /** A token for a NEW_TOKEN frame to a client at `to` (bound to its host only). */
  newToken(to: PeerAddress): Uint8Array {
    const t = new Uint8Array(HEADER + TAG_LENGTH);
    this.writeHeader(t, KIND_NEW);
    t.set(this.mac(t.subarray(0, HEADER), binding(to, false, null)), HEADER);
    return t;
  }

  /** Checks a token from an Initial sent by `from` to `dcid`. */
  check(token: Uint8Array, from: PeerAddress, dcid: Uint8Array): TokenCheck {
    const kind = token[0];
    const retry = kind === KIND_RETRY;
    if ((kind !== KIND_RETRY && kind !== KIND_NEW) || token.length < HEADER + TAG_LENGTH) {
      return { kind: 'invalid', retry, reason: 'malformed' };
    }
    let body = HEADER;
    if (retry) {
      const len = token[HEADER]!;
      body = HEADER + 1 + len;
      if (len > 20 || token.length !== body + TAG_LENGTH) return { kind: 'invalid', retry, reason: 'malformed' };
    } else if (token.length !== HEADER + TAG_LENGTH) return { kind: 'invalid', retry, reason: 'malformed' };
    const want = this.mac(token.subarray(0, body), binding(from, retry, retry ? dcid : null));
    let diff = 0;
    for (let i = 0; i < TAG_LENGTH; i++) diff |= want[i]! ^ token[body + i]!;
    if (diff !== 0) return { kind: 'invalid', retry, reason: 'tag' };
    let issued = 0;
    for (let i = 1; i < HEADER; i++) issued = issued * 256 + token[i]!;
    const age = this.cfg.clock() - issued;
    if (age < -1000 || age > (retry ? this.retryLifetime : this.newTokenLifetime)) return { kind: 'invalid', retry, reason: 'expired' };
    return retry ? { kind: 'retry', originalDcid: token.slice(HEADER + 1, body) } : { kind: 'new_token' };
  }

  private writeHeader(t: Uint8Array, kind: number): void {
    t[0] = kind;
    let ms = Math.max(0, Math.floor(this.cfg.clock()));
    for (let i = HEADER - 1; i >= 1; i--) {
      t[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
  }

  private mac(body: Uint8Array, bind: Uint8Array): Uint8Array {
    const input = new Uint8Array(LABEL.length + body.length + bind.length);
    input.set(LABEL, 0);
    input.set(body, LABEL.length);
    input.set(bind, LABEL.length + body.length);
    return this.cfg.hmacSha256(this.cfg.key, input).subarray(0, TAG_LENGTH);
  }
}

function binding(a: PeerAddress, withPort: boolean, cid: Uint8Array | null): Uint8Array {
  const addr = utf8.encode(withPort ? `${a.host}|${a.port}` : a.host);
  const out = new Uint8Array(addr.length + 1 + (cid?.length ?? 0));
  out.set(addr, 0);
  out[addr.length] = cid?.length ?? 0;
  if (cid) out.set(cid, addr.length + 1);
  return out;
}

/**
 * The prefix an address counts against for half-open limits: the /24 of an IPv4 address (also when
 * IPv4-mapped), the /64 of an IPv6 one. One sender rarely owns more than that, so a spoofing or botnet flood
 * from one network cannot take all of an endpoint's half-open slots.
 */
export function addressPrefix(host: string): string {
  const mapped = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  if (mapped.includes('.')) {
    const last = mapped.lastIndexOf('.');
    return last < 0 ? mapped : mapped.slice(0, last);
  }
  return ipv6Prefix64(mapped);
}

function ipv6Prefix64(host: string): string {
  const zone = host.indexOf('%');
  const h = (zone >= 0 ? host.slice(0, zone) : host).toLowerCase();
  const dbl = h.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const head = h.slice(0, dbl) === '' ? [] : h.slice(0, dbl).split(':');
    const tail = h.slice(dbl + 2) === '' ? [] : h.slice(dbl + 2).split(':');
    groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  } else groups = h.split(':');
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':');
}
