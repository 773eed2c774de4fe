/**
 * Packet protection (RFC 9001 §5.3) and header protection (§5.4) over a CryptoProvider.
 *
 * Order on send: write the header with the packet number in the clear, seal the payload (the clear
 * header is the AAD), then protectHeader. On receive: unprotectHeader, decode the packet number, then
 * open with the now-clear header as AAD. spec/handshake.md §Packet protection.
 */
import {
  AEAD_NONCE_LENGTH,
  AEAD_TAG_LENGTH,
  HP_MASK_LENGTH,
  HP_SAMPLE_LENGTH,
  type Aead,
  type CipherSuite,
  type CryptoProvider,
  type HeaderProtection,
} from './provider.js';
import { initialSecrets, packetKeys, PETREL_PROFILE, type KeyProfile } from './key-schedule.js';
import type { PacketProtector } from './types.js';

/** Largest packet number the nonce arithmetic accepts exactly (JS numbers; the wire allows 2^62 - 1). */
const MAX_PN = Number.MAX_SAFE_INTEGER;
const TWO_POW_32 = 0x1_0000_0000;

/** Seals and opens packets of one direction with one AEAD key, IV and header-protection key. */
export class AeadPacketProtector implements PacketProtector {
  readonly tagLength = AEAD_TAG_LENGTH;
  readonly headerProtection = true;
  /** The header-protection function; kept across key updates (RFC 9001 §6). */
  readonly hp: HeaderProtection;
  private readonly aead: Aead;
  private readonly iv: Uint8Array;
  /** Scratch nonce, rebuilt per packet; safe to reuse because the AEAD copies it before returning. */
  private readonly nonce = new Uint8Array(AEAD_NONCE_LENGTH);

  constructor(aead: Aead, iv: Uint8Array, hp: HeaderProtection) {
    if (iv.length !== AEAD_NONCE_LENGTH) throw new RangeError(`packet IV must be ${AEAD_NONCE_LENGTH} bytes, got ${iv.length}`);
    this.aead = aead;
    this.iv = iv.slice();
    this.hp = hp;
  }

  seal(pn: number, buf: Uint8Array, headerOffset: number, payloadOffset: number, payloadEnd: number): number {
    return this.aead.seal(this.nonceFor(pn), buf.subarray(headerOffset, payloadOffset), buf, payloadOffset, payloadEnd);
  }

  open(pn: number, buf: Uint8Array, headerOffset: number, payloadOffset: number, end: number): number {
    return this.aead.open(this.nonceFor(pn), buf.subarray(headerOffset, payloadOffset), buf, payloadOffset, end);
  }

  headerMask(sample: Uint8Array, out: Uint8Array): void {
    this.hp(sample, out);
  }

  /** nonce = IV XOR the packet number left-padded to 12 bytes (big-endian in the last 8). */
  private nonceFor(pn: number): Uint8Array {
    if (!Number.isInteger(pn) || pn < 0 || pn > MAX_PN) throw new RangeError(`packet number out of range: ${pn}`);
    const n = this.nonce;
    n.set(this.iv);
    const hi = Math.floor(pn / TWO_POW_32);
    const lo = pn >>> 0;
    n[4] ^= hi >>> 24;
    n[5] ^= (hi >>> 16) & 0xff;
    n[6] ^= (hi >>> 8) & 0xff;
    n[7] ^= hi & 0xff;
    n[8] ^= lo >>> 24;
    n[9] ^= (lo >>> 16) & 0xff;
    n[10] ^= (lo >>> 8) & 0xff;
    n[11] ^= lo & 0xff;
    return n;
  }
}

/**
 * A protector for one traffic secret: key/IV/hp from packetKeys(). Pass `hp` to keep an earlier
 * generation's header protection (key update changes the AEAD key and IV only).
 */
export function protectorsFromSecret(
  provider: CryptoProvider,
  suite: CipherSuite,
  secret: Uint8Array,
  profile: KeyProfile = PETREL_PROFILE,
  hp?: HeaderProtection,
): AeadPacketProtector {
  const keys = packetKeys(provider, suite, secret, profile);
  return new AeadPacketProtector(provider.createAead(suite, keys.key), keys.iv, hp ?? provider.createHeaderProtection(suite, keys.hp));
}

/** Initial-level protectors from the client's first Destination Connection ID (always AES-128-GCM). */
export function initialProtectors(
  provider: CryptoProvider,
  clientDcid: Uint8Array,
  isClient: boolean,
  profile: KeyProfile = PETREL_PROFILE,
): { write: AeadPacketProtector; read: AeadPacketProtector } {
  const secrets = initialSecrets(provider, clientDcid, profile);
  const client = protectorsFromSecret(provider, 'AES_128_GCM_SHA256', secrets.client, profile);
  const server = protectorsFromSecret(provider, 'AES_128_GCM_SHA256', secrets.server, profile);
  return isClient ? { write: client, read: server } : { write: server, read: client };
}

/** Mask scratch shared by the helpers below: they are synchronous and never re-entered. */
const mask = new Uint8Array(HP_MASK_LENGTH);

/** Bits of the first byte that header protection covers: 4 for long headers, 5 for short. */
function firstByteBits(first: number): number {
  return (first & 0x80) !== 0 ? 0x0f : 0x1f;
}

/**
 * Applies header protection in place (RFC 9001 §5.4.1): masks the low bits of the first byte and the
 * pnLength packet-number bytes. The sample is the 16 bytes starting 4 bytes after pnOffset, so the sealed
 * packet must extend at least to pnOffset + 20 (senders pad short packets). No-op for a protector without
 * header protection.
 */
export function protectHeader(buf: Uint8Array, headerOffset: number, pnOffset: number, pnLength: number, protector: PacketProtector): void {
  if (!protector.headerProtection) return;
  if (pnLength < 1 || pnLength > 4) throw new RangeError(`packet number length must be 1..4, got ${pnLength}`);
  const sampleOffset = pnOffset + 4;
  if (sampleOffset + HP_SAMPLE_LENGTH > buf.length) throw new RangeError('packet too short for the header-protection sample');
  protector.headerMask(buf.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH), mask);
  buf[headerOffset] ^= mask[0]! & firstByteBits(buf[headerOffset]!);
  for (let i = 0; i < pnLength; i++) buf[pnOffset + i] ^= mask[1 + i]!;
}

/**
 * Removes header protection in place and returns the packet-number length (1..4), read from the
 * unmasked first byte. Returns -1, touching nothing, when the packet (ending at `end`) is too short to
 * sample: such a packet is dropped. For a protector without header protection only reads the length.
 */
export function unprotectHeader(
  buf: Uint8Array,
  headerOffset: number,
  pnOffset: number,
  protector: PacketProtector,
  end: number = buf.length,
): number {
  if (!protector.headerProtection) return (buf[headerOffset]! & 0x03) + 1;
  const sampleOffset = pnOffset + 4;
  if (sampleOffset + HP_SAMPLE_LENGTH > end) return -1;
  protector.headerMask(buf.subarray(sampleOffset, sampleOffset + HP_SAMPLE_LENGTH), mask);
  const first = buf[headerOffset]! ^ (mask[0]! & firstByteBits(buf[headerOffset]!));
  buf[headerOffset] = first;
  const pnLength = (first & 0x03) + 1;
  for (let i = 0; i < pnLength; i++) buf[pnOffset + i] ^= mask[1 + i]!;
  return pnLength;
}
