/**
 * Handshake failure reasons and their error codes: 0x0100 + the TLS alert that matches (RFC 9001 §4.8).
 * Table and meaning of each reason: spec/handshake.md §Handshake errors.
 */
import { PetrelError, TransportErrorCode } from '../../errors.js';
import type { HandshakeError } from '../types.js';

/** Stable reason strings (HandshakeError.reason) and the TLS alert number each maps to. */
export const HANDSHAKE_ALERTS = {
  UNEXPECTED_MESSAGE: 10, // unexpected_message
  NO_COMMON_SUITE: 40, // handshake_failure
  BAD_CERTIFICATE: 42, // bad_certificate: malformed certificate or inconsistent chain
  BAD_CERTIFICATE_SIGNATURE: 42, // bad_certificate: a certificate signature does not verify
  CERTIFICATE_EXPIRED: 45, // certificate_expired (also not yet valid)
  WRONG_SERVER_NAME: 46, // certificate_unknown
  ILLEGAL_PARAMETER: 47, // illegal_parameter: a well-formed value the peer may not send
  DOWNGRADE_DETECTED: 47, // illegal_parameter (as RFC 8446 §4.1.3 does for its downgrade sentinel)
  UNKNOWN_SERVER_KEY: 48, // unknown_ca: neither pinned nor chained to a trusted CA key
  DECODE_ERROR: 50, // decode_error
  BAD_SIGNATURE: 51, // decrypt_error: CertificateVerify
  BAD_FINISHED: 51, // decrypt_error: Finished
  INTERNAL_ERROR: 80, // internal_error
  NO_COMMON_ALPN: 120, // no_application_protocol
  CONNECT_TOKEN_MISSING: 116, // certificate_required: the server requires a connect token
  CONNECT_TOKEN_MALFORMED: 50, // decode_error
  CONNECT_TOKEN_UNTRUSTED: 48, // unknown_ca: not signed by a trusted backend key
  CONNECT_TOKEN_EXPIRED: 45, // certificate_expired
  CONNECT_TOKEN_WRONG_SERVER: 46, // certificate_unknown: for another server
  CONNECT_TOKEN_REUSED: 49, // access_denied: used more often than the server allows
  CONNECT_TOKEN_STORE_FULL: 49, // access_denied: the seen-token store is full of live ids (fails closed)
  REFUSED: 49, // access_denied: the server's accept hook refused the client once its connect token was verified
  BAD_BINDER: 51, // decrypt_error: a ticket that opens, with a PSK binder that does not verify
} as const;

export type HandshakeReason = keyof typeof HANDSHAKE_ALERTS;

/** The transport error code of a reason: 0x0100 + alert. */
export function handshakeErrorCode(reason: HandshakeReason): number {
  return TransportErrorCode.CRYPTO_ERROR_BASE + HANDSHAKE_ALERTS[reason];
}

/** Thrown inside the handshake code and turned into a HandshakeError at the session boundary. */
export class HandshakeFailure extends PetrelError {
  readonly reason: HandshakeReason;
  readonly errorCode: number;
  constructor(reason: HandshakeReason, message: string) {
    super(reason, message);
    this.name = 'HandshakeFailure';
    this.reason = reason;
    this.errorCode = handshakeErrorCode(reason);
  }

  toHandshakeError(): HandshakeError {
    return { errorCode: this.errorCode, reason: this.reason, message: this.message };
  }
}

export function fail(reason: HandshakeReason, message: string): never {
  throw new HandshakeFailure(reason, message);
}
