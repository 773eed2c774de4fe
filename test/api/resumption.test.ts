/**
 * Session tickets, resumption and 0-RTT through the public API on 127.0.0.1: a first connection fills the
 * client's ticket store, the next resumes (and sends in 0-RTT with earlyData); the server sees which
 * streams came early; every byte is hashed. Also: the accept hook sees the connect token's user data.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateIdentity,
  mintConnectToken,
  PetrelError,
  SessionTicketStore,
  type PetrelConnection,
  type PetrelStream,
} from '../../lib/api/index.js';
import { connect, listen } from './transport.js';
import { expectNoLeaks, resources } from './helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function readAll(s: PetrelStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('session tickets through the public API', () => {
  it('resumes with a stored ticket, sends 0-RTT, and the server marks early streams; opt-out re-sends in 1-RTT', async () => {
    const base = resources();
    const id = generateIdentity();
    const server = await listen({ host: '127.0.0.1', port: 0, identity: id, tickets: { perConnection: 2 }, earlyData: { maxBytes: 65536 } });
    const port = server.address().port;
    const received: Array<{ early: boolean; hash: string }> = [];
    server.on('connection', (c: PetrelConnection) => {
      c.on('stream', (s: PetrelStream) => void readAll(s).then((b) => received.push({ early: s.early, hash: sha(b) })));
    });
    const store = new SessionTicketStore();
    const opts = { host: '127.0.0.1', port, serverKey: id.fingerprint, serverName: 'game.test', ticketStore: store };

    const first = await connect(opts);
    expect(first.resumed).toBe(false);
    await until(() => store.size === 2);
    expect(first.sessionTicket).not.toBeNull();
    await first.close();

    const payload = randomBytes(20_000);
    const second = await connect({ ...opts, earlyData: true });
    expect(second.earlyData).toBe('offered'); // resolved before the server answered
    const s = await second.openStream();
    s.end(payload);
    await until(() => received.length === 1);
    expect(received[0]).toEqual({ early: true, hash: sha(payload) });
    await until(() => second.earlyData === 'accepted');
    expect(second.resumed).toBe(true);
    await second.close();
    expect(server.ticketStats()).toMatchObject({ resumed: 1, earlyAccepted: 1 });

    // A rotated-out key is still accepted within the lifetime; a fresh ticket is single-use.
    server.rotateTicketKey();
    const third = await connect(opts);
    expect(third.resumed).toBe(true);
    await until(() => third.sessionTicket !== null);
    await third.close();
    const t = third.sessionTicket!;
    const fourth = await connect({ ...opts, ticketStore: undefined, session: t });
    expect(fourth.resumed).toBe(true);
    await fourth.close();
    const fifth = await connect({ ...opts, ticketStore: undefined, session: t });
    expect(fifth.resumed).toBe(false); // single use: a full handshake
    await fifth.close();
    await server.close();

    // The ticket was issued with 0-RTT allowed, then the server (same ticket key) stops taking 0-RTT: the
    // client learns it from the ServerHello and its stream data goes again in 1-RTT, byte for byte.
    const key = randomBytes(32);
    const before = await listen({ host: '127.0.0.1', port: 0, identity: id, tickets: { keys: [key] }, earlyData: { maxBytes: 65536 } });
    const sopts = { host: '127.0.0.1', port: before.address().port, serverKey: id.fingerprint, serverName: 'strict.test', ticketStore: store };
    const warm = await connect(sopts);
    await until(() => warm.sessionTicket !== null);
    await warm.close();
    await before.close();
    const strict = await listen({ host: '127.0.0.1', port: 0, identity: id, tickets: { keys: [key] } });
    const got: Array<{ early: boolean; hash: string }> = [];
    strict.on('connection', (c: PetrelConnection) =>
      c.on('stream', (st: PetrelStream) => void readAll(st).then((b) => got.push({ early: st.early, hash: sha(b) }))),
    );
    const late = await connect({ ...sopts, port: strict.address().port, earlyData: true });
    const st = await late.openStream();
    st.end(payload);
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ early: false, hash: sha(payload) });
    expect(late.earlyData).toBe('rejected');
    expect(late.resumed).toBe(true);
    await late.close();
    await strict.close();
    await expectNoLeaks(base);
  });

  it('with requireConnectToken the accept hook sees the token user data, and its refusal is REFUSED', async () => {
    const base = resources();
    const id = generateIdentity();
    const backend = generateIdentity();
    const seen: Array<{ clientId: string; team: string; host: string }> = [];
    const server = await listen({
      host: '127.0.0.1',
      port: 0,
      identity: id,
      requireConnectToken: { trustedBackendKeys: [backend.fingerprint] },
      accept: (info) => {
        const team = new TextDecoder().decode(info.connectToken!.userData);
        seen.push({ clientId: info.connectToken!.clientId, team, host: info.address.host });
        return team === 'blue' ? 'blue team is full' : true;
      },
    });
    const port = server.address().port;
    const token = (team: string): Uint8Array =>
      mintConnectToken({
        backendKey: backend,
        clientId: `p-${team}`,
        serverAddresses: [`127.0.0.1:${port}`],
        expiresAt: Date.now() + 60_000,
        userData: new TextEncoder().encode(team),
      });
    const opts = { host: '127.0.0.1', port, serverKey: id.fingerprint, timeout: 5000 };
    const red = await connect({ ...opts, connectToken: token('red') });
    let err: unknown;
    try {
      await connect({ ...opts, connectToken: token('blue') });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PetrelError);
    expect((err as PetrelError).code).toBe('REFUSED');
    expect((err as PetrelError).message).toContain('blue team is full');
    expect(seen).toEqual([
      { clientId: 'p-red', team: 'red', host: '127.0.0.1' },
      { clientId: 'p-blue', team: 'blue', host: '127.0.0.1' },
    ]);
    await red.close();
    await server.close();
    await expectNoLeaks(base);
  });
});
