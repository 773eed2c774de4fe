import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PetrelWireError, TransportErrorCode } from '../../lib/errors.js';
import { ByteWriter, fromHex, toHex } from '../../lib/wire/buffer.js';
import {
  decodeTransportParameters,
  DEFAULT_TRANSPORT_PARAMETERS,
  encodeTransportParameters,
  type TransportParameters,
} from '../../lib/wire/transport-params.js';

function encode(p: TransportParameters, sender: 'client' | 'server'): Uint8Array {
  const w = new ByteWriter(new Uint8Array(1024));
  encodeTransportParameters(p, w, sender);
  return w.buf.slice(0, w.pos);
}

function tpErrorOf(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PetrelWireError);
    return (e as PetrelWireError).errorCode;
  }
  return undefined;
}

describe('transport parameters', () => {
  it('omits every default: the default set encodes to nothing', () => {
    expect(encode({ ...DEFAULT_TRANSPORT_PARAMETERS }, 'client').length).toBe(0);
    expect(decodeTransportParameters(new Uint8Array(0), 'server')).toEqual(DEFAULT_TRANSPORT_PARAMETERS);
  });

  it('uses Petrel defaults: 1472-byte payloads, 25 ms ack delay, exponent 3, 2 connection ids', () => {
    expect(DEFAULT_TRANSPORT_PARAMETERS.maxUdpPayloadSize).toBe(1472);
    expect(DEFAULT_TRANSPORT_PARAMETERS.maxAckDelay).toBe(25);
    expect(DEFAULT_TRANSPORT_PARAMETERS.ackDelayExponent).toBe(3);
    expect(DEFAULT_TRANSPORT_PARAMETERS.activeConnectionIdLimit).toBe(2);
    expect(DEFAULT_TRANSPORT_PARAMETERS.maxDatagramFrameSize).toBe(0);
  });

  it('writes id | length | minimal varint, in ascending id order', () => {
    const hex = toHex(
      encode({ ...DEFAULT_TRANSPORT_PARAMETERS, maxAckDelay: 10, maxIdleTimeout: 30000, channelsSupported: true, minAckDelay: 1000 }, 'client'),
    );
    expect(hex).toBe('010480007530' + '0b010a' + '8000504300' + 'c0000000ff04de1b0243e8');
  });

  it('refuses to encode a server-only parameter for a client', () => {
    const p = { ...DEFAULT_TRANSPORT_PARAMETERS, statelessResetToken: new Uint8Array(16) };
    expect(tpErrorOf(() => encode(p, 'client'))).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
    expect(encode(p, 'server').length).toBe(18);
  });

  it('refuses to encode values the decoder would reject', () => {
    const bad: Partial<TransportParameters>[] = [
      { maxUdpPayloadSize: 1199 },
      { ackDelayExponent: 21 },
      { maxAckDelay: 16384 },
      { activeConnectionIdLimit: 1 },
      { initialMaxData: -1 },
      { initialMaxData: 1.5 },
      { initialSourceConnectionId: new Uint8Array(21) },
      { minAckDelay: 25001 },
    ];
    for (const b of bad) {
      expect(
        tpErrorOf(() => encode({ ...DEFAULT_TRANSPORT_PARAMETERS, ...b }, 'client')),
        JSON.stringify(b),
      ).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
    }
  });

  it('copies byte fields out of the input buffer', () => {
    const input = fromHex('0f020102');
    const p = decodeTransportParameters(input, 'client');
    input[2] = 9;
    expect(toHex(p.initialSourceConnectionId!)).toBe('0102');
  });

  it('round-trips any valid set (property)', () => {
    const int = (max: number) => fc.integer({ min: 0, max });
    const cid = fc.uint8Array({ maxLength: 20 });
    const arb = fc.record(
      {
        originalDestinationConnectionId: cid,
        maxIdleTimeout: int(2 ** 40),
        statelessResetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        maxUdpPayloadSize: fc.integer({ min: 1200, max: 65527 }),
        initialMaxData: fc.maxSafeNat(),
        initialMaxStreamDataBidiLocal: fc.maxSafeNat(),
        initialMaxStreamDataBidiRemote: int(2 ** 30),
        initialMaxStreamDataUni: int(100),
        initialMaxStreamsBidi: int(2 ** 20),
        initialMaxStreamsUni: int(2 ** 20),
        ackDelayExponent: int(20),
        maxAckDelay: fc.integer({ min: 1, max: 16383 }),
        disableActiveMigration: fc.boolean(),
        activeConnectionIdLimit: fc.integer({ min: 2, max: 1000 }),
        initialSourceConnectionId: cid,
        retrySourceConnectionId: cid,
        maxDatagramFrameSize: int(65535),
        minAckDelay: int(1000),
        channelsSupported: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arb, fc.boolean(), (partial, isServer) => {
        const p: TransportParameters = { ...DEFAULT_TRANSPORT_PARAMETERS, ...partial };
        if (!isServer) {
          delete p.originalDestinationConnectionId;
          delete p.statelessResetToken;
          delete p.retrySourceConnectionId;
        }
        const sender = isServer ? 'server' : 'client';
        const bytes = encode(p, sender);
        expect(decodeTransportParameters(bytes, sender)).toEqual(p);
      }),
      { numRuns: 1000, seed: 0x505a },
    );
  });

  it('skips unknown ids wherever they appear (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ n: fc.integer({ min: 0, max: 2 ** 20 }), value: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 1000 }),
        (grease, streams) => {
          const w = new ByteWriter(new Uint8Array(2048));
          for (const g of grease) {
            w.varint(31 * g.n + 27); // reserved ids, never assigned
            w.varint(g.value.length);
            w.bytes(g.value);
          }
          encodeTransportParameters({ ...DEFAULT_TRANSPORT_PARAMETERS, initialMaxStreamsBidi: streams }, w, 'client');
          const p = decodeTransportParameters(w.buf.subarray(0, w.pos), 'client');
          expect(p).toEqual({ ...DEFAULT_TRANSPORT_PARAMETERS, initialMaxStreamsBidi: streams });
        },
      ),
      { numRuns: 300, seed: 0x505b },
    );
  });
});
