/**
 * A finished handshake session lets go of what it no longer needs (the transcript, the received flights, the
 * insecure readers) while what comes after the handshake still works: tickets, resumption with them, key updates.
 */
import { describe, expect, it } from 'vitest';
import { frameMessage, MessageBuffer } from '../../lib/crypto/handshake/messages.js';
import type { SessionTicket } from '../../lib/crypto/handshake/tickets.js';
import { Transcript } from '../../lib/crypto/handshake/transcript.js';
import { InsecureHandshake } from '../../lib/crypto/insecure.js';
import { pump, sealOpen } from './handshake-harness.js';
import { policy, sessions, TP } from './ticket-harness.js';

const clock = { t: 1_000_000 };
const pol = policy(clock, { perConnection: 2 });

function pair(ticket?: SessionTicket) {
  return sessions(clock, pol, { ticket });
}

const transcriptOf = (s: object): Transcript => (s as { transcript: Transcript }).transcript;

describe('finished handshake sessions release their handshake state', () => {
  it('the transcript is released on both sides; tickets, resumption and key updates still work', () => {
    const { client, server } = pair();
    const r = pump(client, server);
    expect(r.clientError).toBeNull();
    expect(r.serverError).toBeNull();
    expect(client.complete && server.complete).toBe(true);
    expect(() => transcriptOf(client).hash()).toThrow(/after release/);
    expect(() => transcriptOf(server).hash()).toThrow(/after release/);
    // Tickets were issued after the server's transcript went, and the client took them after its own went.
    const ticket = client.sessionTicket;
    expect(ticket).not.toBeNull();
    expect(client.peerTransportParameters).toEqual(TP);
    // Key updates come from the 1-RTT secrets, not the transcript.
    for (let i = 0; i < 3; i++) {
      const c = client.nextOneRttKeys()!;
      const s = server.nextOneRttKeys()!;
      sealOpen(c.write, s.read, 10 + i, new Uint8Array(40).fill(i));
      sealOpen(s.write, c.read, 10 + i, new Uint8Array(40).fill(i));
    }
    // Resumption with the ticket of a session whose transcript is gone.
    clock.t += 1000;
    const again = pair(ticket!);
    const r2 = pump(again.client, again.server);
    expect(r2.clientError).toBeNull();
    expect(r2.serverError).toBeNull();
    expect(again.client.resumedSession).toBe(true);
    expect(again.server.resumedSession).toBe(true);
  });

  it('a handshake message buffer lets go of a flight once every message of it was read, and keeps working', () => {
    const b = new MessageBuffer();
    const m1 = frameMessage(1, new Uint8Array(300).fill(1));
    const m2 = frameMessage(2, new Uint8Array(5).fill(2));
    const flight = new Uint8Array(m1.length + m2.length);
    flight.set(m1);
    flight.set(m2, m1.length);
    b.push(flight);
    expect(b.next()!.type).toBe(1);
    expect(b.next()!.body).toEqual(new Uint8Array(5).fill(2));
    expect(b.pending).toBe(0);
    expect((b as unknown as { buf: Uint8Array }).buf.length).toBe(0);
    // A message split over two pushes after the buffer was emptied.
    b.push(m1.subarray(0, 100));
    expect(b.next()).toBeNull();
    b.push(m1.subarray(100));
    expect(b.next()!.body).toEqual(new Uint8Array(300).fill(1));
    expect(b.next()).toBeNull();
  });

  it('an insecure session drops its message readers once complete; later data is still refused', () => {
    const client = new InsecureHandshake({ isClient: true, transportParameters: TP, alpn: ['game'] });
    const server = new InsecureHandshake({ isClient: false, transportParameters: TP, alpn: ['game'] });
    const r = pump(client, server);
    expect(r.clientError).toBeNull();
    expect(r.serverError).toBeNull();
    expect(client.complete && server.complete).toBe(true);
    expect((server as unknown as { readers: unknown }).readers).toBeNull();
    expect((client as unknown as { readers: unknown }).readers).toBeNull();
    expect(server.peerTransportParameters).toEqual(TP);
    const late = frameMessage(3, new Uint8Array(0));
    expect(server.handleCrypto('handshake', late)?.reason).toBe('UNEXPECTED_HANDSHAKE_MESSAGE');
  });
});
