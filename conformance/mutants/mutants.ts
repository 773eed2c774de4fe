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
  /** Extra arguments for serve.ts (e.g. --retry to make the server always send Retry). */
  serverArgs?: string[];
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
    file: 'lib/stream/flow-control.ts',
    find: 'return index < this._limit;',
    replace: 'return index >= 0;',
    cases: /^transport\/stream-limits\/1$/,
  },
  {
    name: 'handshake-done-from-client-accepted',
    breaks: 'accepts HANDSHAKE_DONE from a client',
    file: 'lib/connection/handshake.ts',
    find: "if (!this.ctx.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'HANDSHAKE_DONE from a client', frameType: 0x1e };",
    replace: 'if (!this.ctx.isClient) return null;',
    cases: /^transport\/error-codes\/6$/,
  },
  {
    name: 'no-amplification-limit',
    breaks: 'sends more than three times what an unvalidated address sent',
    file: 'lib/connection/paths.ts',
    find: 'return 3 * this.bytesReceivedUnvalidated - this.bytesSentUnvalidated;',
    replace: 'return 1e9;',
    cases: /^transport\/anti-amplification\/1$/,
  },
  {
    name: 'stream-flow-control-ignored',
    breaks: 'accepts stream data beyond the advertised stream and connection limits',
    file: 'lib/connection/streams/manager.ts',
    find: 'if (end > s.recvWindow!.limit) {',
    replace: 'if (end < 0) {',
    cases: /^transport\/flow-control\/1$/,
  },
  {
    name: 'reserved-bits-ignored',
    breaks: 'accepts packets whose reserved header bits are set',
    file: 'lib/connection/receive.ts',
    find: "if ((h.form === 'short' && (firstByte & 0x18) !== 0) || (h.form === 'long' && (firstByte & 0x0c) !== 0)) {",
    replace: 'if (firstByte < 0) {',
    cases: /^transport\/receiving\/1$/,
  },
  {
    name: 'path-response-wrong-data',
    breaks: 'answers PATH_CHALLENGE with other data',
    file: 'lib/connection/paths.ts',
    find: "writeIfFits(w, { type: 'path_response', data: this.pendingResponse!.data })",
    replace: "writeIfFits(w, { type: 'path_response', data: this.pendingResponse!.data.map((b) => b ^ 0xff) })",
    cases: /^transport\/answering-a-peer-s-path-challenge\/1$/,
  },
  {
    name: 'connection-id-limit-ignored',
    breaks: 'accepts more active connection ids than it allows',
    file: 'lib/connection/cids.ts',
    find: 'entry.subarray(cid.length), retirePriorTo, MAX_ACTIVE_CIDS);',
    replace: 'entry.subarray(cid.length), retirePriorTo, 1000);',
    cases: /^transport\/connection-ids\/1$/,
  },
  {
    name: 'retry-source-cid-omitted',
    breaks: 'omits retry_source_connection_id after a Retry',
    file: 'lib/connection/handshake.ts',
    find: 'if (retrySourceCid) p.retrySourceConnectionId = retrySourceCid;',
    replace: '',
    cases: /^transport\/address-validation\/1$/,
    serverArgs: ['--retry'],
  },
  {
    name: 'stop-sending-reset-code',
    breaks: 'answers STOP_SENDING with a RESET_STREAM carrying another error code',
    file: 'lib/connection/streams/manager.ts',
    find: '    this.reset(id, errorCode);\n    return null;\n  }',
    replace: '    this.reset(id, 0);\n    return null;\n  }',
    cases: /^transport\/stream-limits\/5$/,
  },
];
