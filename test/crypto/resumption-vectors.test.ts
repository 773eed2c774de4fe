import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeClientHello } from '../../lib/crypto/handshake/messages.js';
import { TicketKeyRing } from '../../lib/crypto/handshake/tickets.js';
import { fromHex, toHex } from '../../lib/wire/buffer.js';
import { bodyOf } from './handshake-harness.js';
import { PROVIDERS } from './providers.js';
import { computeResumption, type ResumptionInputs } from './resumption-vectors.js';

const vectors = JSON.parse(readFileSync(new URL('../../spec/vectors/resumption.json', import.meta.url), 'utf8')) as Record<
  string,
  { inputs: ResumptionInputs; outputs: Record<string, string> }
>;

describe.each(PROVIDERS)('resumption vectors (%s provider)', (_name, provider) => {
  for (const [name, v] of Object.entries(vectors)) {
    it(`${name}: every output from the inputs`, () => {
      expect(computeResumption(provider, v.inputs)).toEqual(v.outputs);
    });

    it(`${name}: the ticket opens under its key to the sealed state; the ClientHello decodes to the offer`, () => {
      const ring = new TicketKeyRing({ provider, now: () => v.inputs.issued_at, keys: [fromHex(v.inputs.ticket_key)] });
      const s = ring.open(fromHex(v.outputs.ticket!))!;
      expect(toHex(s.psk)).toBe(v.outputs.psk);
      expect(s).toMatchObject({ issuedAt: v.inputs.issued_at, ageAdd: v.inputs.age_add, alpn: 'game', serverName: 'game.example' });
      const ch = decodeClientHello(bodyOf(fromHex(v.outputs.client_hello!)));
      expect(toHex(ch.psk!.identity)).toBe(v.outputs.ticket);
      expect(toHex(ch.psk!.binder)).toBe(v.outputs.binder);
      expect(ch.psk!.obfuscatedAge).toBe(v.inputs.obfuscated_age);
      // One flipped bit anywhere in the sealed ticket and it no longer opens.
      const bad = fromHex(v.outputs.ticket!);
      bad[bad.length - 20]! ^= 1;
      expect(ring.open(bad)).toBeNull();
    });
  }
});
