/** PetrelError's cross-copy instanceof, on the source classes: subclasses, unbranded subclasses, look-alikes. */
import { describe, expect, it } from 'vitest';
import { PetrelError, PetrelWireError, isPetrelError } from '../../lib/errors.js';
import { HandshakeFailure } from '../../lib/crypto/handshake/errors.js';

describe('PetrelError identity', () => {
  it('instanceof follows the class chain, including an internal subclass', () => {
    const wire = new PetrelWireError(7, 'bad frame');
    expect(wire).toBeInstanceOf(PetrelError);
    expect(wire).toBeInstanceOf(Error);
    const hs = new HandshakeFailure('BAD_SIGNATURE', 'x');
    expect(hs).toBeInstanceOf(PetrelError);
    expect(hs).toBeInstanceOf(HandshakeFailure);
    expect(new PetrelError('X', 'm') instanceof HandshakeFailure).toBe(false); // unbranded: ordinary check only
    expect(new PetrelError('X', 'm') instanceof PetrelWireError).toBe(false);
  });

  it('recognises an error branded by another copy (same registry symbols), and nothing else', () => {
    const kinds = Symbol.for('petrel.error.kinds');
    const foreign = Object.create(Error.prototype, { [kinds]: { value: ['PetrelError', 'PetrelWireError'] } }) as object;
    expect(foreign instanceof PetrelError).toBe(true);
    expect(foreign instanceof PetrelWireError).toBe(true);
    const notWire = Object.create(Error.prototype, { [kinds]: { value: ['PetrelError'] } }) as object;
    expect(notWire instanceof PetrelWireError).toBe(false);
    expect({ code: 'X' } instanceof PetrelError).toBe(false);
    expect((null as unknown as object) instanceof PetrelError).toBe(false);
    expect(isPetrelError('PetrelError')).toBe(false);
  });

  it('isPetrelError checks the code when given', () => {
    expect(isPetrelError(new PetrelError('ABORTED', 'm'))).toBe(true);
    expect(isPetrelError(new PetrelError('ABORTED', 'm'), 'ABORTED')).toBe(true);
    expect(isPetrelError(new PetrelError('ABORTED', 'm'), 'CONNECT_TIMEOUT')).toBe(false);
    expect(isPetrelError(new Error('m'))).toBe(false);
  });
});
