/** Petrel's secure handshake: sessions, message codec, identities and certificates, error reasons. */
export {
  ClientHandshake,
  ServerHandshake,
  createClientSession,
  createServerSession,
  type ClientSessionOptions,
  type ServerSessionOptions,
  type KeyLogEntry,
} from './session.js';
export {
  CERT_FLAG_CA,
  CERTIFICATE_VERSION,
  SignatureContext,
  decodeCertificate,
  fingerprint,
  generateIdentity,
  issueCertificate,
  parseFingerprint,
  signedContent,
  signWithContext,
  verifyServerIdentity,
  verifyWithContext,
  type Certificate,
  type CertificateInfo,
  type ServerTrust,
  type SignatureContextName,
} from './identity.js';
export { HANDSHAKE_ALERTS, HandshakeFailure, handshakeErrorCode, type HandshakeReason } from './errors.js';
export { HandshakeType, LIMITS as HANDSHAKE_LIMITS, SUITE_CODES, suiteFromCode } from './messages.js';
