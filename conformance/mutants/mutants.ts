/**
 * Deliberately broken Petrels: each mutant is Petrel with one requirement of spec/ violated by a textual
 * patch of one source file. The runner must catch every one (some case covering that requirement
 * FAILs). A patch whose `find` text is missing is an error of the mutant suite itself, reported as such,
 * so a refactor cannot silently turn a mutant into an unmodified Petrel.
 */
export interface Mutant {
  name: string;
  /** The requirement it breaks, in words. */
  breaks: string;
  file: string;
  find: string;
  replace: string;
  /** Replace every occurrence (default: `find` must occur exactly once). */
  all?: boolean;
  /** Cases that cover the requirement: at least one must FAIL. */
  cases: RegExp;
  insecure?: boolean;
}

export const MUTANTS: readonly Mutant[] = [
  {
    name: 'frames-in-any-space',
    breaks: 'accepts frames in the wrong packet-number space',
    file: 'lib/wire/frames.ts',
    find: 'export function frameAllowedIn(f: Frame, space: FrameSpace): boolean {',
    replace: 'export function frameAllowedIn(f: Frame, space: FrameSpace): boolean {\n  if (f !== null || space !== null) return true;',
    cases: /^transport\/error-codes\/[1-5]$/,
  },
  {
    name: 'short-initials-answered',
    breaks: 'answers Initial datagrams shorter than 1200 bytes',
    file: 'lib/endpoint/endpoint.ts',
    find: 'if (size < MIN_INITIAL_DATAGRAM) {',
    replace: 'if (size < 0) {',
    cases: /^wire\/sizes\/1$/,
  },
  {
    name: 'crc-not-checked',
    breaks: 'processes datagrams whose CRC does not verify',
    file: 'lib/endpoint/endpoint.ts',
    find: 'if (!verifyChecksum(data, data.length, this.env.crc32)) {',
    replace: 'if (!verifyChecksum(data, data.length, this.env.crc32) && data.length < 0) {',
    cases: /^wire\/crc-32-trailer\/1$/,
  },
  {
    name: 'crc-wrong-on-send',
    breaks: 'writes a CRC that is not the CRC-32 of the datagram',
    file: 'lib/wire/datagram.ts',
    find: 'writeU32(buf, len, crc(buf.subarray(0, len)) >>> 0);',
    replace: 'writeU32(buf, len, (crc(buf.subarray(0, len)) ^ 1) >>> 0);',
    cases: /^wire\/crc-32-trailer\/2$/,
  },
  {
    name: 'nonce-reuse',
    breaks: 'reuses the AEAD nonce (the packet number is not mixed into the IV)',
    file: 'lib/crypto/packet-protection.ts',
    find: 'const hi = Math.floor(pn / TWO_POW_32);',
    replace: 'const hi = Math.floor(pn / TWO_POW_32);\n    if (pn >= 0) return n;',
    cases: /^transport\/completion-and-confirmation\/1$/,
  },
  {
    name: 'no-version-negotiation',
    breaks: 'never answers an unknown version with Version Negotiation',
    file: 'lib/endpoint/endpoint.ts',
    find: 'this.sendVersionNegotiation(h.scid, h.dcid, from);',
    replace: '',
    cases: /^wire\/versions\/1$/,
  },
  {
    name: 'final-size-change-ignored',
    breaks: 'ignores a final size that changes or data beyond it',
    file: 'lib/stream/recv-buffer.ts',
    find: 'throw finalSizeError(',
    replace: 'void finalSizeError(',
    all: true,
    cases: /^streams\/final-size\/[123]$/,
  },
  {
    name: 'stream-limit-ignored',
    breaks: 'lets the peer open streams beyond the advertised limit',
    file: 'lib/connection/connection.ts',
    find: 'if (index >= this.localMaxStreams[k]!) {',
    replace: 'if (index < 0) {',
    cases: /^transport\/stream-limits\/1$/,
  },
  {
    name: 'handshake-done-from-client-accepted',
    breaks: 'accepts HANDSHAKE_DONE from a client',
    file: 'lib/connection/connection.ts',
    find: "if (!this.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'HANDSHAKE_DONE from a client', frameType: 0x1e };",
    replace: 'if (!this.isClient) return null;',
    cases: /^transport\/error-codes\/6$/,
  },
];
