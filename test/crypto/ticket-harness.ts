/** Shared set-up for the ticket and resumption tests: a provider, a server identity, policies and session pairs. */
import { createClientSession, createServerSession } from '../../lib/crypto/handshake/index.js';
import type { ConnectTokenPolicy } from '../../lib/crypto/handshake/connect-token.js';
import type { ClientHandshake, ServerHandshake } from '../../lib/crypto/handshake/session.js';
import { newTicketStats, SingleUseStore, TicketKeyRing, type SessionTicket, type TicketPolicy } from '../../lib/crypto/handshake/tickets.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { ed25519FromSeed } from './handshake-harness.js';

export const p = nodeCryptoProvider;
export const serverId = ed25519FromSeed('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7');
export const TP = new Uint8Array([1, 2, 3]);

export interface Clock {
  t: number;
}

export function policy(clock: Clock, o: Partial<TicketPolicy> & { rotateEvery?: number; lifetime?: number } = {}): TicketPolicy {
  return {
    keys: o.keys ?? new TicketKeyRing({ provider: p, now: () => clock.t, rotateEvery: o.rotateEvery, lifetime: o.lifetime ?? 3_600_000 }),
    perConnection: o.perConnection ?? 1,
    maxEarlyData: o.maxEarlyData ?? 16384,
    freshnessWindow: o.freshnessWindow ?? 10_000,
    singleUse: o.singleUse ?? new SingleUseStore({ maxEntries: 100 }),
    now: () => clock.t,
    stats: newTicketStats(),
  };
}

export function sessions(
  clock: Clock,
  pol: TicketPolicy | undefined,
  c: { ticket?: SessionTicket; earlyData?: boolean; onTicket?: (t: SessionTicket) => void } = {},
  s: { admit?: Parameters<typeof createServerSession>[0]['admit']; connectTokenPolicy?: ConnectTokenPolicy } = {},
): { client: ClientHandshake; server: ServerHandshake } {
  const client = createClientSession({
    provider: p,
    alpn: ['game'],
    transportParameters: TP,
    serverName: 'game.example',
    serverKey: serverId.publicKey,
    now: () => clock.t,
    ...c,
  });
  const server = createServerSession({ provider: p, alpn: ['game'], transportParameters: TP, identity: serverId, tickets: pol, ...s });
  return { client, server };
}
