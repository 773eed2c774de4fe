/**
 * Error types shared by every layer. `PetrelError.code` is a stable string users can switch on;
 * `PetrelWireError` adds the numeric error code the spec assigns (it is what goes into CONNECTION_CLOSE).
 */
/** Registry-wide keys (Symbol.for), so that two copies of Petrel — the ESM and the CJS build of one install, or two
 *  installs — agree on them: a class's own kind, and the kinds along an instance's prototype chain. */
const KIND = Symbol.for('petrel.error.kind');
const KINDS = Symbol.for('petrel.error.kinds');

/** Gives `cls` a kind and its prototype the kinds of its chain, so `instanceof` can recognise other copies' errors. */
function brand(cls: abstract new (...args: never[]) => object, kind: string): void {
  const parent = (Object.getPrototypeOf(cls.prototype) as Record<symbol, unknown>)[KINDS];
  Object.defineProperty(cls, KIND, { value: kind });
  Object.defineProperty(cls.prototype, KINDS, { value: Object.freeze([...(Array.isArray(parent) ? parent : []), kind]) });
}

export class PetrelError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PetrelError';
    this.code = code;
  }

  /**
   * `err instanceof PetrelError` holds for errors made by any copy of Petrel: an application that `import`s
   * petrel while a dependency `require`s it gets two copies of every class, and both must catch each other's
   * errors. Subclasses that are not branded (internal ones) fall back to the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !Object.hasOwn(this, KIND)) return false;
    const kinds = (value as Record<symbol, unknown>)[KINDS];
    return Array.isArray(kinds) && kinds.includes((this as unknown as Record<symbol, unknown>)[KIND]);
  }

  static {
    brand(this, 'PetrelError');
  }
}

/** True for a PetrelError from any copy of Petrel (ESM or CJS), optionally with the given `code`. */
export function isPetrelError(value: unknown, code?: string): value is PetrelError {
  return value instanceof PetrelError && (code === undefined || value.code === code);
}

/** Transport error codes (spec/wire.md §Error codes). Values < 0x40 follow RFC 9000 §20.1. */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  // Petrel's own codes. Packet- and datagram-level ones never reach CONNECTION_CLOSE: the datagram is dropped and counted.
  CHECKSUM_MISMATCH: 0x50,
  PACKET_ENCODING_ERROR: 0x51,
  UNSUPPORTED_VERSION: 0x52,
  CHANNEL_ENCODING_ERROR: 0x53,
  VALUE_OUT_OF_RANGE: 0x54,
  BUFFER_TOO_SMALL: 0x55,
  IDLE_TIMEOUT: 0x56,
  /** 0x0100–0x01ff: handshake (crypto) alerts, RFC 9001 §4.8 style. */
  CRYPTO_ERROR_BASE: 0x0100,
} as const;

export type TransportErrorName = keyof typeof TransportErrorCode;

const NAMES = new Map<number, string>(Object.entries(TransportErrorCode).map(([k, v]) => [v, k]));

export function transportErrorName(code: number): string {
  if (code >= 0x0100 && code <= 0x01ff) return `CRYPTO_ERROR(0x${(code - 0x100).toString(16).padStart(2, '0')})`;
  return NAMES.get(code) ?? `UNKNOWN(0x${code.toString(16)})`;
}

/** A rejection by a codec: always carries the spec's numeric error code. Never thrown for anything but bad input. */
export class PetrelWireError extends PetrelError {
  readonly errorCode: number;
  /** Frame type being decoded when the error happened, if any. */
  readonly frameType: number | undefined;
  constructor(errorCode: number, message: string, frameType?: number) {
    super(transportErrorName(errorCode), message);
    this.name = 'PetrelWireError';
    this.errorCode = errorCode;
    this.frameType = frameType;
  }

  static {
    brand(this, 'PetrelWireError');
  }
}
