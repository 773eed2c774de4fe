/**
 * The HPACK/QPACK Huffman code (RFC 7541 Appendix B). The code is canonical, so only the code length of each of
 * the 257 symbols (256 = EOS) is listed; codes are assigned in order of length, then symbol. Decoding walks a
 * 4-bit-at-a-time state table built once from those codes. Strict, as RFC 7541 §5.2 asks: a decoded EOS, padding
 * longer than 7 bits, or padding that is not the most significant bits of EOS (all ones) is an error.
 */
const LENGTHS = [
  13,
  23,
  28,
  28,
  28,
  28,
  28,
  28,
  28,
  24,
  30,
  28,
  28,
  30,
  28,
  28, // 0
  28,
  28,
  28,
  28,
  28,
  28,
  30,
  28,
  28,
  28,
  28,
  28,
  28,
  28,
  28,
  28, // 16
  6,
  10,
  10,
  12,
  13,
  6,
  8,
  11,
  10,
  10,
  8,
  11,
  8,
  6,
  6,
  6, // 32
  5,
  5,
  5,
  6,
  6,
  6,
  6,
  6,
  6,
  6,
  7,
  8,
  15,
  6,
  12,
  10, // 48
  13,
  6,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7, // 64
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  7,
  8,
  7,
  8,
  13,
  19,
  13,
  14,
  6, // 80
  15,
  5,
  6,
  5,
  6,
  5,
  6,
  6,
  6,
  5,
  7,
  7,
  6,
  6,
  6,
  5, // 96
  6,
  7,
  6,
  5,
  5,
  6,
  7,
  7,
  7,
  7,
  7,
  15,
  11,
  14,
  13,
  28, // 112
  20,
  22,
  20,
  20,
  22,
  22,
  22,
  23,
  22,
  23,
  23,
  23,
  23,
  23,
  24,
  23, // 128
  24,
  24,
  22,
  23,
  24,
  23,
  23,
  23,
  23,
  21,
  22,
  23,
  22,
  23,
  23,
  24, // 144
  22,
  21,
  20,
  22,
  22,
  23,
  23,
  21,
  23,
  22,
  22,
  24,
  21,
  22,
  23,
  23, // 160
  21,
  21,
  22,
  21,
  23,
  22,
  23,
  23,
  20,
  22,
  22,
  22,
  23,
  22,
  22,
  23, // 176
  26,
  26,
  20,
  19,
  22,
  23,
  22,
  25,
  26,
  26,
  26,
  27,
  27,
  26,
  24,
  25, // 192
  19,
  21,
  26,
  27,
  27,
  26,
  27,
  24,
  21,
  21,
  26,
  26,
  28,
  27,
  27,
  27, // 208
  20,
  24,
  20,
  21,
  22,
  21,
  21,
  23,
  22,
  22,
  25,
  25,
  24,
  24,
  26,
  23, // 224
  26,
  27,
  26,
  26,
  27,
  27,
  27,
  27,
  27,
  28,
  27,
  27,
  27,
  27,
  27,
  26, // 240
  30, // EOS
];

export const EOS = 256;
/** Code of each symbol, right-aligned (codes are at most 30 bits). */
export const HUFFMAN_CODES = new Uint32Array(257);
export const HUFFMAN_LENGTHS = Uint8Array.from(LENGTHS);

(function assignCanonical(): void {
  const order = [...LENGTHS.keys()].sort((a, b) => LENGTHS[a]! - LENGTHS[b]! || a - b);
  let code = 0;
  let len = LENGTHS[order[0]!]!;
  for (const sym of order) {
    const l = LENGTHS[sym]!;
    code *= 2 ** (l - len);
    len = l;
    HUFFMAN_CODES[sym] = code;
    code++;
  }
})();

// Decode table: for each internal tree node and nibble, (next node) | (symbol + 1) << 9 | failed << 18.
const TRANS = new Int32Array(256 * 16);
/** Internal nodes where the input may end: the root, or reached by at most 7 one-bits (a prefix of EOS). */
const ACCEPT = new Uint8Array(256);

(function buildDecoder(): void {
  // Binary tree: internal nodes 0..255 (0 = root), child entries ≥ 0 are nodes, < 0 are -(symbol + 1).
  const child = new Int32Array(256 * 2).fill(0x7fffffff);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = LENGTHS[sym]!;
    const code = HUFFMAN_CODES[sym]!;
    let n = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      if (i === 0) child[n * 2 + bit] = -(sym + 1);
      else {
        if (child[n * 2 + bit] === 0x7fffffff) child[n * 2 + bit] = nodes++;
        n = child[n * 2 + bit]!;
      }
    }
  }
  // Accepting nodes: follow 1-bits from the root for up to 7 steps.
  let n = 0;
  ACCEPT[0] = 1;
  for (let d = 1; d <= 7; d++) {
    n = child[n * 2 + 1]!;
    ACCEPT[n] = 1;
  }
  for (let node = 0; node < nodes; node++) {
    for (let nib = 0; nib < 16; nib++) {
      let cur = node;
      let sym = -1;
      let failed = 0;
      for (let i = 3; i >= 0; i--) {
        const next = child[cur * 2 + ((nib >> i) & 1)]!;
        if (next < 0) {
          const s = -next - 1;
          if (s === EOS) failed = 1;
          sym = s;
          cur = 0;
        } else cur = next;
      }
      TRANS[node * 16 + nib] = cur | ((sym + 1) << 9) | (failed << 18);
    }
  }
})();

let scratch = new Uint8Array(1024);

/** Decodes buf[start, end); null on EOS, bad padding or more than `maxLength` decoded bytes. */
export function huffmanDecode(buf: Uint8Array, start: number, end: number, maxLength: number): string | null {
  const cap = Math.min(maxLength, Math.ceil(((end - start) * 8) / 5));
  if (scratch.length < cap + 1) scratch = new Uint8Array(Math.max(cap + 1, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    let t = TRANS[state * 16 + (b >> 4)]!;
    if (t & 0x40000) return null;
    let sym = ((t >> 9) & 0x1ff) - 1;
    if (sym >= 0) {
      if (n >= cap) return null;
      out[n++] = sym;
    }
    t = TRANS[(t & 0x1ff) * 16 + (b & 0xf)]!;
    if (t & 0x40000) return null;
    sym = ((t >> 9) & 0x1ff) - 1;
    if (sym >= 0) {
      if (n >= cap) return null;
      out[n++] = sym;
    }
    state = t & 0x1ff;
  }
  if (!ACCEPT[state]) return null;
  let s = '';
  for (let i = 0; i < n; i += 4096) s += String.fromCharCode.apply(null, out.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return s;
}

export function huffmanEncodedLength(raw: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < raw.length; i++) bits += HUFFMAN_LENGTHS[raw[i]!]!;
  return (bits + 7) >> 3;
}

/** Writes the Huffman code of `raw` into out at `offset` (huffmanEncodedLength(raw) bytes), padded with 1-bits. */
export function huffmanEncode(raw: Uint8Array, out: Uint8Array, offset: number): number {
  let acc = 0; // pending bits, fewer than 8 after each flush, so acc * 2^30 + code stays exact in a double
  let nbits = 0;
  let p = offset;
  for (let i = 0; i < raw.length; i++) {
    const sym = raw[i]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    acc = acc * 2 ** len + HUFFMAN_CODES[sym]!;
    nbits += len;
    while (nbits >= 8) {
      nbits -= 8;
      const div = 2 ** nbits;
      const byte = Math.floor(acc / div);
      out[p++] = byte;
      acc -= byte * div;
    }
  }
  if (nbits > 0) out[p++] = (acc << (8 - nbits)) | ((1 << (8 - nbits)) - 1);
  return p;
}
