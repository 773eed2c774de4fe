/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) and the QUIC packet-key derivations (RFC 9001 §5), with the
 * HKDF-Expand-Label prefix as a parameter. Petrel runs the same schedule under its own prefix and
 * labels (PETREL_PROFILE) so its keys can never coincide with a TLS or QUIC key; with the `tls13 `
 * prefix and QUIC_V1_PROFILE the same code reproduces RFC 8448 and RFC 9001 byte for byte (the tests
 * prove it). Diagram and label table: spec/handshake.md §Key schedule. SHA-256 throughout.
 */
import { fromHex } from '../wire/buffer.js';
import { AEAD_NONCE_LENGTH, HASH_LENGTH, suiteKeyLength, type CipherSuite, type CryptoProvider } from './provider.js';

export const TLS13_LABEL_PREFIX = 'tls13 ';
export const PETREL_LABEL_PREFIX = 'petrel1 ';

/** Everything that separates one protocol's packet keys from another's. */
export interface KeyProfile {
  /** HKDF-Expand-Label prefix. */
  readonly prefix: string;
  /** HKDF-Extract salt for Initial secrets (with the client's first Destination Connection ID as IKM). */
  readonly initialSalt: Uint8Array;
  /** Labels deriving the packet key, IV, header-protection key and next-generation secret. */
  readonly keyLabel: string;
  readonly ivLabel: string;
  readonly hpLabel: string;
  readonly kuLabel: string;
}

/** QUIC version 1 (RFC 9001 §5.1, §5.2, §6.1). Used to prove the code against RFC 9001 Appendix A. */
export const QUIC_V1_PROFILE: KeyProfile = {
  prefix: TLS13_LABEL_PREFIX,
  initialSalt: fromHex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'),
  keyLabel: 'quic key',
  ivLabel: 'quic iv',
  hpLabel: 'quic hp',
  kuLabel: 'quic ku',
};

/** Petrel version 1: full labels are "petrel1 key", "petrel1 iv", "petrel1 hp", "petrel1 ku". */
export const PETREL_PROFILE: KeyProfile = {
  prefix: PETREL_LABEL_PREFIX,
  // 20 bytes drawn once from a CSPRNG for Petrel v1 (spec/handshake.md §Initial secrets). Never change it
  // without changing the version: both ends must derive the same Initial keys.
  initialSalt: fromHex('be1450627c1c2a9d5d37eb023a61af7ed7c8ef6e'),
  keyLabel: 'key',
  ivLabel: 'iv',
  hpLabel: 'hp',
  kuLabel: 'ku',
};

const ascii = new TextEncoder();
const EMPTY = new Uint8Array(0);
const ZEROS = new Uint8Array(HASH_LENGTH);

/** The HkdfLabel structure of RFC 8446 §7.1: u16 length, opaque label<7..255>, opaque context<0..255>. */
export function hkdfLabel(prefix: string, label: string, context: Uint8Array, length: number): Uint8Array {
  const fullLabel = ascii.encode(prefix + label);
  if (fullLabel.length < 7 || fullLabel.length > 255) throw new RangeError(`HKDF label length ${fullLabel.length} outside 7..255`);
  if (context.length > 255) throw new RangeError(`HKDF context longer than 255 bytes`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffff) throw new RangeError(`HKDF length out of range: ${length}`);
  const out = new Uint8Array(2 + 1 + fullLabel.length + 1 + context.length);
  out[0] = length >>> 8;
  out[1] = length & 0xff;
  out[2] = fullLabel.length;
  out.set(fullLabel, 3);
  out[3 + fullLabel.length] = context.length;
  out.set(context, 4 + fullLabel.length);
  return out;
}

/**
 * HkdfLabels with an empty context (packet keys, "finished", Initial secrets…): a handshake asks for the
 * same dozen again and again, so each is encoded once. Read-only: the providers only read `info`.
 */
const emptyContextLabels = new Map<string, Uint8Array>();

/** HKDF-Expand-Label(Secret, Label, Context, Length) with the given prefix in place of "tls13 ". */
export function hkdfExpandLabel(
  provider: CryptoProvider,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
  prefix: string,
): Uint8Array {
  let info: Uint8Array | undefined;
  if (context.length === 0) {
    const key = `${length} ${prefix}${label}`;
    info = emptyContextLabels.get(key);
    // Bounded by the labels the code uses (a few per prefix); a stray caller cannot grow it past 256.
    if (info === undefined) {
      info = hkdfLabel(prefix, label, context, length);
      if (emptyContextLabels.size < 256) emptyContextLabels.set(key, info);
    }
  } else info = hkdfLabel(prefix, label, context, length);
  return provider.hkdfExpand(secret, info, length);
}

/** Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), 32). */
export function deriveSecret(provider: CryptoProvider, secret: Uint8Array, label: string, transcriptHash: Uint8Array, prefix: string): Uint8Array {
  return hkdfExpandLabel(provider, secret, label, transcriptHash, HASH_LENGTH, prefix);
}

/**
 * Without a PSK the Early Secret, and the "derived" salt the Handshake Secret is extracted with, are constants:
 * computed once per provider (and prefix), handed out as copies. Same bytes as deriving them every time.
 */
interface NoPskConstants {
  early: Uint8Array;
  derived: Map<string, Uint8Array>;
}
const noPsk = new WeakMap<CryptoProvider, NoPskConstants>();

function noPskConstants(provider: CryptoProvider): NoPskConstants {
  let c = noPsk.get(provider);
  if (!c) noPsk.set(provider, (c = { early: provider.hkdfExtract(ZEROS, ZEROS), derived: new Map() }));
  return c;
}

/** Without an early exit: `a` may derive from a PSK. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Early Secret = HKDF-Extract(0, PSK), with 32 zero bytes when there is no PSK (Petrel's case). */
export function earlySecret(provider: CryptoProvider, psk: Uint8Array = ZEROS): Uint8Array {
  if (psk === ZEROS) return noPskConstants(provider).early.slice();
  return provider.hkdfExtract(ZEROS, psk);
}

/** The "derived" step that links one extract stage to the next: Derive-Secret(secret, "derived", ""). */
function derivedFor(provider: CryptoProvider, secret: Uint8Array, prefix: string): Uint8Array {
  const c = noPskConstants(provider);
  if (sameBytes(secret, c.early)) {
    let d = c.derived.get(prefix);
    if (!d) c.derived.set(prefix, (d = deriveSecret(provider, secret, 'derived', provider.sha256(EMPTY), prefix)));
    return d.slice();
  }
  return deriveSecret(provider, secret, 'derived', provider.sha256(EMPTY), prefix);
}

/** Handshake Secret = HKDF-Extract(Derive-Secret(Early Secret, "derived", ""), (EC)DHE shared secret). */
export function handshakeSecret(provider: CryptoProvider, early: Uint8Array, sharedSecret: Uint8Array, prefix: string): Uint8Array {
  return provider.hkdfExtract(derivedFor(provider, early, prefix), sharedSecret);
}

/** Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""), 0). */
export function masterSecret(provider: CryptoProvider, handshake: Uint8Array, prefix: string): Uint8Array {
  return provider.hkdfExtract(derivedFor(provider, handshake, prefix), ZEROS);
}

/** One secret per direction. */
export interface TrafficSecrets {
  client: Uint8Array;
  server: Uint8Array;
}

/** "c hs traffic" / "s hs traffic" over Transcript-Hash(ClientHello..ServerHello). */
export function handshakeTrafficSecrets(provider: CryptoProvider, handshake: Uint8Array, helloHash: Uint8Array, prefix: string): TrafficSecrets {
  return {
    client: deriveSecret(provider, handshake, 'c hs traffic', helloHash, prefix),
    server: deriveSecret(provider, handshake, 's hs traffic', helloHash, prefix),
  };
}

/** "c ap traffic" / "s ap traffic" over Transcript-Hash(ClientHello..server Finished). */
export function applicationTrafficSecrets(
  provider: CryptoProvider,
  master: Uint8Array,
  serverFinishedHash: Uint8Array,
  prefix: string,
): TrafficSecrets {
  return {
    client: deriveSecret(provider, master, 'c ap traffic', serverFinishedHash, prefix),
    server: deriveSecret(provider, master, 's ap traffic', serverFinishedHash, prefix),
  };
}

/** "exp master" over Transcript-Hash(ClientHello..server Finished): the root of keying-material exporters. */
export function exporterMasterSecret(provider: CryptoProvider, master: Uint8Array, serverFinishedHash: Uint8Array, prefix: string): Uint8Array {
  return deriveSecret(provider, master, 'exp master', serverFinishedHash, prefix);
}

/** "res master" over Transcript-Hash(ClientHello..client Finished): the root of resumption tickets. */
export function resumptionMasterSecret(provider: CryptoProvider, master: Uint8Array, clientFinishedHash: Uint8Array, prefix: string): Uint8Array {
  return deriveSecret(provider, master, 'res master', clientFinishedHash, prefix);
}

/** finished_key = HKDF-Expand-Label(BaseKey, "finished", "", 32), BaseKey being a handshake traffic secret. */
export function finishedKey(provider: CryptoProvider, trafficSecret: Uint8Array, prefix: string): Uint8Array {
  return hkdfExpandLabel(provider, trafficSecret, 'finished', EMPTY, HASH_LENGTH, prefix);
}

/** Finished verify_data = HMAC(finished_key, Transcript-Hash(messages up to, not including, this Finished)). */
export function finishedMac(provider: CryptoProvider, key: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  return provider.hmacSha256(key, transcriptHash);
}

/** Compares a received Finished against the expected MAC without an early exit on the first difference. */
export function verifyFinished(provider: CryptoProvider, key: Uint8Array, transcriptHash: Uint8Array, received: Uint8Array): boolean {
  const expected = finishedMac(provider, key, transcriptHash);
  if (received.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i]! ^ received[i]!;
  return diff === 0;
}

/** AEAD key, IV and header-protection key of one direction at one level. */
export interface PacketKeys {
  key: Uint8Array;
  iv: Uint8Array;
  hp: Uint8Array;
}

/** Packet keys from a traffic secret (RFC 9001 §5.1): key and hp sized for the suite, a 12-byte IV. */
export function packetKeys(provider: CryptoProvider, suite: CipherSuite, secret: Uint8Array, profile: KeyProfile): PacketKeys {
  const keyLength = suiteKeyLength(suite);
  return {
    key: hkdfExpandLabel(provider, secret, profile.keyLabel, EMPTY, keyLength, profile.prefix),
    iv: hkdfExpandLabel(provider, secret, profile.ivLabel, EMPTY, AEAD_NONCE_LENGTH, profile.prefix),
    hp: hkdfExpandLabel(provider, secret, profile.hpLabel, EMPTY, keyLength, profile.prefix),
  };
}

/**
 * The next generation's traffic secret for a key update (RFC 9001 §6.1): secret_<n+1> =
 * HKDF-Expand-Label(secret_<n>, ku label, "", 32). Header-protection keys are not updated.
 */
export function nextTrafficSecret(provider: CryptoProvider, secret: Uint8Array, profile: KeyProfile): Uint8Array {
  return hkdfExpandLabel(provider, secret, profile.kuLabel, EMPTY, HASH_LENGTH, profile.prefix);
}

/**
 * Initial secrets (RFC 9001 §5.2): initial_secret = HKDF-Extract(salt, client's first DCID), then
 * "client in" / "server in". Anyone who sees the DCID can derive these: they stop off-path tampering only.
 */
export function initialSecrets(provider: CryptoProvider, clientDcid: Uint8Array, profile: KeyProfile): TrafficSecrets {
  const initial = provider.hkdfExtract(profile.initialSalt, clientDcid);
  return {
    client: hkdfExpandLabel(provider, initial, 'client in', EMPTY, HASH_LENGTH, profile.prefix),
    server: hkdfExpandLabel(provider, initial, 'server in', EMPTY, HASH_LENGTH, profile.prefix),
  };
}

// ───────────── resumption (RFC 8446 §4.2.11, §4.6.1, §7.1): PSK-derived secrets ─────────────

/** binder_key = Derive-Secret(Early Secret, "res binder", H("")): keys the PSK binder of a resumption ClientHello. */
export function binderKey(provider: CryptoProvider, early: Uint8Array, prefix: string): Uint8Array {
  return deriveSecret(provider, early, 'res binder', provider.sha256(EMPTY), prefix);
}

/** client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", H(ClientHello)): the 0-RTT key. */
export function clientEarlyTrafficSecret(provider: CryptoProvider, early: Uint8Array, clientHelloHash: Uint8Array, prefix: string): Uint8Array {
  return deriveSecret(provider, early, 'c e traffic', clientHelloHash, prefix);
}

/** The PSK of one ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, 32). */
export function resumptionPsk(provider: CryptoProvider, resumptionMaster: Uint8Array, ticketNonce: Uint8Array, prefix: string): Uint8Array {
  return hkdfExpandLabel(provider, resumptionMaster, 'resumption', ticketNonce, HASH_LENGTH, prefix);
}
