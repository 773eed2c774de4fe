/**
 * Session tickets, resumption and 0-RTT for the SDK (spec/handshake.md §Session tickets, §Resumption, §0-RTT):
 * the server's listen({ tickets, earlyData }) options and the client's ticket store.
 */
import {
  newTicketStats,
  SessionTicketStore,
  SingleUseStore,
  TicketKeyRing,
  MAX_TICKETS_PER_CONNECTION,
  type TicketPolicy,
} from '../crypto/handshake/tickets.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { PetrelError } from '../errors.js';

export { SessionTicketStore };
export type { SessionTicket, TicketStoreOptions, TicketStats } from '../crypto/handshake/tickets.js';

/** listen({ tickets }): how the server seals, rotates and tracks session tickets. */
export interface TicketOptions {
  /**
   * 32-byte ticket keys, newest first: the first seals, all open. Give the same keys to every server of a
   * fleet that shares an address (spec/handshake.md §Anti-replay). Default: one random key per server.
   */
  keys?: readonly Uint8Array[];
  /** Draw a new ticket key this often (ms); the previous keys keep opening tickets for one `lifetime`. */
  rotateEvery?: number;
  /** How long a ticket may be used (ms, ≤ 7 days; 24 h). */
  lifetime?: number;
  /** Tickets sent after each handshake (1, at most 8): a client keeps one per future connection. */
  perConnection?: number;
  /** Bound of the single-use store of ticket ids seen (100000 entries, 8 MiB); when full, 0-RTT is refused. */
  maxTracked?: number;
  maxTrackedBytes?: number;
}

/** listen({ earlyData }): take 0-RTT application data from clients resuming with a ticket. */
export interface EarlyDataOptions {
  /** 0-RTT bytes taken per connection (packet bytes; beyond them the client re-sends in 1-RTT). */
  maxBytes: number;
  /** How far the client's ticket age may differ from the server's view (ms, 10000); outside it 0-RTT is refused. */
  freshnessWindow?: number;
}

/** The server-wide ticket policy from the listen options, or undefined without `tickets`. */
export function ticketPolicy(
  tickets: boolean | TicketOptions | undefined,
  earlyData: EarlyDataOptions | undefined,
  provider: CryptoProvider,
): TicketPolicy | undefined {
  if (tickets === undefined || tickets === false) {
    if (earlyData) throw new PetrelError('INVALID_OPTION', 'earlyData needs tickets (listen({ tickets: true, earlyData }))');
    return undefined;
  }
  const o: TicketOptions = tickets === true ? {} : tickets;
  const perConnection = o.perConnection ?? 1;
  if (!Number.isInteger(perConnection) || perConnection < 1 || perConnection > MAX_TICKETS_PER_CONNECTION) {
    throw new PetrelError('INVALID_OPTION', `tickets.perConnection must be 1..${MAX_TICKETS_PER_CONNECTION}`);
  }
  const maxBytes = earlyData?.maxBytes ?? 0;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > 2 ** 32 - 1) {
    throw new PetrelError('INVALID_OPTION', 'earlyData.maxBytes must be 0..2^32-1');
  }
  const freshnessWindow = earlyData?.freshnessWindow ?? 10_000;
  if (!(freshnessWindow >= 0)) throw new PetrelError('INVALID_OPTION', 'earlyData.freshnessWindow must be ≥ 0');
  const now = (): number => Date.now();
  return {
    keys: new TicketKeyRing({ provider, now, keys: o.keys, rotateEvery: o.rotateEvery, lifetime: o.lifetime }),
    perConnection,
    maxEarlyData: maxBytes,
    freshnessWindow,
    singleUse: new SingleUseStore({ maxEntries: o.maxTracked ?? 100_000, maxBytes: o.maxTrackedBytes ?? 8 * 1024 * 1024 }),
    now,
    stats: newTicketStats(),
  };
}
