/** Petrel public entry point. */
export { PetrelError, PetrelWireError, TransportErrorCode, transportErrorName } from './errors.js';
export type { TransportErrorName } from './errors.js';
