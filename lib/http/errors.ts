/**
 * Error codes of the HTTP layer (RFC 9114 §8.1) and of QPACK (RFC 9204 §6), and the typed error every codec in
 * lib/http throws on bad input. `code` is the stable name, `errorCode` the number that goes on the wire
 * (in CONNECTION_CLOSE / RESET_STREAM as an application error code).
 */
import { PetrelError } from '../errors.js';

export const HttpErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

export type HttpErrorName = keyof typeof HttpErrorCode;

const NAMES = new Map<number, string>(Object.entries(HttpErrorCode).map(([k, v]) => [v, k]));

export function httpErrorName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN(0x${code.toString(16)})`;
}

/** Bad input to an HTTP/QPACK codec or state machine. Never thrown for anything but the peer's (or caller's) bytes. */
export class HttpError extends PetrelError {
  readonly errorCode: number;
  constructor(name: HttpErrorName, message: string) {
    super(name, message);
    this.name = 'HttpError';
    this.errorCode = HttpErrorCode[name];
  }
}
