export { QpackDecoder, type QpackDecoderOptions, type DecodedSection, type Field } from './decoder.js';
export { QpackEncoder, type QpackEncoderOptions } from './encoder.js';
export { STATIC_TABLE } from './static-table.js';
export { huffmanDecode, huffmanEncode, huffmanEncodedLength, HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman.js';
export {
  parseQif,
  formatQif,
  parseInteropFile,
  writeInteropFile,
  decodeInteropFile,
  encodeInteropFile,
  latin1Bytes,
  latin1String,
  type InteropRecord,
  type InteropSettings,
  type DecodeResult,
} from './interop.js';
