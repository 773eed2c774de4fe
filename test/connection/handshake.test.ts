import { describe, expect, it } from 'vitest';
import { Pair } from '../helpers/pair.js';

describe('insecure handshake through the three packet-number spaces', () => {
  it('establishes both sides and confirms the handshake', () => {
    const p = new Pair();
    const ok = p.run(() => p.connected() && p.clientEvents.some((e) => e.kind === 'connection' && e.event.type === 'handshake_confirmed'));
    expect(ok).toBe(true);
    expect(p.serverConn).not.toBeNull();
    expect(p.clientConn.state).toBe('established');
    expect(p.serverConn!.state).toBe('established');
    // Both sides see each other's parameters.
    expect(p.clientConn.peerTransportParameters?.initialMaxData).toBeGreaterThan(0);
    expect(p.serverConn!.peerTransportParameters?.initialMaxData).toBeGreaterThan(0);
  });
});
