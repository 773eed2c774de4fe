/** The example chat's server and client on loopback: rooms, presence, history, typing, and what it refuses. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type PetrelChannel } from '../../lib/api/index.js';
import { ChatClient, type Presence } from '../../examples/chat/client.js';
import { parseArgs } from '../../examples/chat/cli.js';
import { CHAT_ALPN, MAX_MESSAGE_BYTES, MAX_TEXT, parseClientMessage, parseServerMessage, type ServerMessage } from '../../examples/chat/protocol.js';
import { ChatServer, HISTORY_BUDGET, TYPING_INTERVAL } from '../../examples/chat/server.js';
import { waitFor } from '../api/helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close().catch(() => {});
});

async function server(o: Parameters<typeof ChatServer.start>[0] = {}): Promise<ChatServer> {
  const s = await ChatServer.start({ insecure: true, ...o });
  open.push(s);
  return s;
}

async function join(s: ChatServer, nick: string, room = 'lobby'): Promise<ChatClient> {
  const c = await ChatClient.connect({ ...s.address(), nick, room, insecure: true });
  open.push(c);
  return c;
}

/** A raw connection speaking the chat protocol by hand (to send what a well-behaved client never would). */
async function raw(s: ChatServer): Promise<{ chat: PetrelChannel<unknown>; got: ServerMessage[] }> {
  const conn = await connect({ ...s.address(), insecure: true, alpn: CHAT_ALPN });
  open.push(conn);
  const chat = conn.channel<unknown>('chat', { mode: 'reliable-ordered' });
  const got: ServerMessage[] = [];
  chat.on('message', (m) => got.push(m as ServerMessage));
  return { chat, got };
}

describe('chat server and client', () => {
  it('presence on join and leave, lines in room order to everyone (sender included), typing only to others', async () => {
    const s = await server();
    const alice = await join(s, 'alice');
    const presence: Presence[] = [];
    alice.on('presence', (p) => presence.push(p));
    const bob = await join(s, 'bob');
    expect(bob.members).toEqual(['alice', 'bob']);
    await waitFor(() => presence.length === 1, 5000, 'join presence');
    expect(presence[0]).toMatchObject({ nick: 'bob', event: 'join', members: ['alice', 'bob'] });

    const seen: Record<string, string[]> = { alice: [], bob: [] };
    alice.on('line', (l) => seen.alice!.push(`${l.id}:${l.from}:${l.seq}:${l.text}`));
    bob.on('line', (l) => seen.bob!.push(`${l.id}:${l.from}:${l.seq}:${l.text}`));
    alice.say('hi');
    bob.say('hello');
    alice.say('how are you?');
    await waitFor(() => seen.alice!.length === 3 && seen.bob!.length === 3, 5000, 'lines');
    expect(seen.alice).toEqual(seen.bob);
    expect(seen.alice!.map((x) => x.split(':').slice(1, 3).join(':')).sort()).toEqual(['alice:1', 'alice:2', 'bob:1']);

    const typing: string[] = [];
    alice.on('typing', (t) => typing.push(`alice<-${t.nick}`));
    bob.on('typing', (t) => typing.push(`bob<-${t.nick}`));
    bob.typing();
    await waitFor(() => typing.length > 0, 5000, 'typing');
    await new Promise((r) => setTimeout(r, 50));
    expect(typing).toEqual(['alice<-bob']);

    await bob.close();
    await waitFor(() => presence.length === 2, 5000, 'leave presence');
    expect(presence[1]).toMatchObject({ nick: 'bob', event: 'leave', members: ['alice'] });
  });

  it('a newcomer gets the recent history, at most historySize lines; rooms are separate', async () => {
    const s = await server({ historySize: 3 });
    const alice = await join(s, 'alice', 'r1');
    const other = await join(s, 'carol', 'r2');
    let n = 0;
    alice.on('line', () => n++);
    for (let i = 1; i <= 5; i++) alice.say(`line ${i}`);
    other.say('elsewhere');
    await waitFor(() => n === 5, 5000, 'lines');
    const bob = await join(s, 'bob', 'r1');
    const w = bob.welcome!;
    expect(w.room).toBe('r1');
    expect(w.history.map((l) => l.text)).toEqual(['line 3', 'line 4', 'line 5']);
    expect(w.history.map((l) => l.id)).toEqual([3, 4, 5]);
  });

  it('relays at most one typing hint per member per TYPING_INTERVAL (a flood is dropped and counted)', async () => {
    const s = await server();
    const alice = await join(s, 'alice');
    const bob = await join(s, 'bob');
    let seen = 0;
    alice.on('typing', () => seen++);
    for (let i = 0; i < 50; i++) bob.typing();
    await waitFor(() => s.stats().typingRelayed + s.stats().typingDropped >= 45, 5000, 'hints at the server'); // unreliable, but loopback
    await new Promise((r) => setTimeout(r, 100));
    expect(s.stats().typingRelayed).toBe(1);
    expect(seen).toBe(1);
    await new Promise((r) => setTimeout(r, TYPING_INTERVAL + 20));
    bob.typing();
    await waitFor(() => seen === 2, 5000, 'the next hint, after the interval');
  });

  it('an empty room keeps its history for the next visitor until its slot is needed', async () => {
    const s = await server({ maxRooms: 2 });
    const alice = await join(s, 'alice', 'quiet');
    let n = 0;
    alice.on('line', () => n++);
    alice.say('anyone?');
    await waitFor(() => n === 1, 5000, 'line');
    await alice.close();
    await waitFor(() => s.stats().members === 0, 5000, 'alice gone');
    const bob = await join(s, 'bob', 'quiet');
    expect(bob.welcome!.history.map((l) => `${l.from}: ${l.text}`)).toEqual(['alice: anyone?']);
    await bob.join('other'); // quiet is empty again, other is occupied: two rooms, the limit
    const carol = await join(s, 'carol', 'third'); // evicts quiet, the only empty room
    expect(carol.room).toBe('third');
    await expect(join(s, 'dave', 'quiet')).rejects.toThrow('too many rooms (2)'); // both rooms occupied
    expect(s.stats().rooms).toBe(2);
    await carol.close();
    await waitFor(() => s.stats().members === 1, 5000, 'carol gone');
    const erin = await join(s, 'erin', 'quiet'); // evicts third, now the only empty room
    expect(erin.welcome!.history).toEqual([]); // quiet was forgotten: a new room of that name
  });

  it('a welcome carries only the newest history that fits HISTORY_BUDGET, so long lines never make it unsendable', async () => {
    const s = await server({ historySize: 50 });
    const alice = await join(s, 'alice');
    let n = 0;
    alice.on('line', () => n++);
    for (let i = 1; i <= 50; i++) alice.say(`${i}`.padEnd(MAX_TEXT, 'é')); // ~4 kB of UTF-8 each: 200 kB of history
    await waitFor(() => n === 50, 10_000, 'lines');
    const bob = await join(s, 'bob');
    const h = bob.welcome!.history;
    const bytes = h.reduce((b, l) => b + Buffer.byteLength(l.text), 0);
    expect(h.length).toBeGreaterThan(3);
    expect(bytes).toBeLessThanOrEqual(HISTORY_BUDGET);
    expect(HISTORY_BUDGET).toBeLessThan(MAX_MESSAGE_BYTES);
    expect(h.map((l) => l.id)).toEqual(Array.from({ length: h.length }, (_, i) => 51 - h.length + i)); // the newest, in order
  });

  it('a taken nickname gets a suffix', async () => {
    const s = await server();
    await join(s, 'dup');
    const second = await join(s, 'dup');
    expect(second.nick).toBe('dup-2');
  });

  it('refuses bad input with an error message and counts it; the connection stays usable', async () => {
    const s = await server({ maxRooms: 2 });
    const r = await raw(s);
    r.chat.send({ t: 'say', seq: 1, text: 'before hello' });
    r.chat.send({ t: 'hello', nick: 'x'.repeat(25), room: 'lobby' });
    r.chat.send({ t: 'hello', nick: 'mallory', room: 'lobby' });
    r.chat.send({ t: 'say', seq: 1, text: 'x'.repeat(MAX_TEXT + 1) });
    r.chat.send({ t: 'say', seq: 5, text: 'skipping ahead' });
    r.chat.send({ t: 'nonsense' });
    r.chat.send('not even an object');
    r.chat.send({ t: 'say', seq: 1, text: 'finally' });
    await waitFor(() => r.got.some((m) => m.t === 'line'), 5000, 'the good line');
    const errors = r.got.filter((m): m is Extract<ServerMessage, { t: 'error' }> => m.t === 'error').map((m) => m.text);
    expect(errors).toEqual([
      'say hello first',
      'nick must be 1-24 letters, digits, _ . -',
      `text must be 1-${MAX_TEXT} characters`,
      'line 5 out of sequence (expected 1)',
      'unknown message type',
      'not an object',
    ]);
    expect(s.stats().rejected).toBe(6);
  });

  it('bounds the number of rooms; a refused client can still join an existing room', async () => {
    const s = await server({ maxRooms: 2 });
    await join(s, 'a', 'one');
    await join(s, 'b', 'two');
    await expect(join(s, 'c', 'three')).rejects.toThrow('refused: too many rooms (2); join an existing one');
    const r = await raw(s);
    r.chat.send({ t: 'hello', nick: 'd', room: 'four' });
    r.chat.send({ t: 'join', room: 'two' });
    await waitFor(() => r.got.length === 2, 5000, 'refusal, then welcome');
    expect(r.got[0]).toEqual({ t: 'error', text: 'too many rooms (2); join an existing one' });
    expect(r.got[1]).toMatchObject({ t: 'welcome', nick: 'd', room: 'two', members: ['b', 'd'] });
    expect(s.stats().rooms).toBe(2);
  });

  it('bounds the members of a room; a refused join leaves the member where it was', async () => {
    const s = await server({ maxMembers: 2 });
    await join(s, 'a', 'full');
    await join(s, 'b', 'full');
    await expect(join(s, 'c', 'full')).rejects.toThrow('refused: room #full is full (2)');
    const d = await join(s, 'd', 'other');
    await expect(d.join('full')).rejects.toThrow('refused: room #full is full (2)');
    expect(d.room).toBe('other');
    d.say('still here');
    const lines: string[] = [];
    d.on('line', (l) => lines.push(`${l.room}: ${l.text}`));
    await waitFor(() => lines.length === 1, 5000, 'a line in the old room');
    expect(lines).toEqual(['other: still here']);
    expect(s.stats().rejected).toBe(2);
    expect(s.stats().members).toBe(3); // a and b in #full, d in #other; c, refused, is in no room
  });

  it('parseClientMessage and the command line check what they must', () => {
    expect(parseClientMessage({ t: 'say', seq: 1.5, text: 'x' })).toBe('seq must be a positive integer');
    expect(parseClientMessage({ t: 'join', room: 'a b' })).toMatch(/^room must be/);
    expect(parseClientMessage({ t: 'hello', nick: 'ok', room: 'lobby' })).toEqual({ t: 'hello', nick: 'ok', room: 'lobby' });
    expect(parseArgs(['--connect', 'h:1', '--nick', 'n'])).toMatch(/--key/);
    expect(parseArgs(['--serve', '--connect', 'h:1'])).toBe('give either --serve or --connect HOST:PORT');
    expect(parseArgs(['--connect', '[::1]:9000', '--nick', 'n', '--insecure'])).toMatchObject({ connect: { host: '::1', port: 9000 } });
    expect(parseArgs(['--serve', '--port', '70000'])).toMatch(/--port/);
    expect(parseArgs(['--serve', '--web', '8080'])).toMatchObject({ serve: true, web: 8080 });
    expect(parseArgs(['--serve', '--web', 'x'])).toMatch(/--web: expected an HTTP port/);
    expect(parseArgs(['--connect', 'h:1', '--nick', 'n', '--insecure', '--web', '80'])).toBe('--web goes with --serve (the server serves the page)');
  });

  it('parseServerMessage: the clients (terminal and page) drop what is not a well-formed server message', () => {
    const line = { room: 'r', id: 1, from: 'a', seq: 1, text: 'hi', at: 5 };
    expect(parseServerMessage({ t: 'line', line })).toEqual({ t: 'line', line });
    expect(parseServerMessage({ t: 'welcome', nick: 'a', room: 'r', members: ['a'], history: [line] })).toMatchObject({ history: [line] });
    expect(parseServerMessage({ t: 'welcome', nick: 'a', room: 'r', members: ['a'], history: [{ ...line, id: '1' }] })).toBeNull();
    expect(parseServerMessage({ t: 'welcome', nick: 'a', room: 'r', members: [1], history: [] })).toBeNull();
    expect(parseServerMessage({ t: 'line', line: { ...line, text: 5 } })).toBeNull();
    expect(parseServerMessage({ t: 'presence', room: 'r', nick: 'a', event: 'kick', members: [] })).toBeNull();
    expect(parseServerMessage({ t: 'error', text: 'no' })).toEqual({ t: 'error', text: 'no' });
    expect(parseServerMessage({ t: 'error' })).toBeNull();
    expect(parseServerMessage('welcome')).toBeNull();
    expect(parseServerMessage(null)).toBeNull();
  });
});
