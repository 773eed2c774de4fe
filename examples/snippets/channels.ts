import assert from 'node:assert/strict';
import { connect, listen } from '../../lib/api/index.js';

type Chat = { from: string; text: string };
type Position = { x: number; y: number };

const server = await listen({ host: '127.0.0.1', port: 0, insecure: true });
const positions: Position[] = [];
server.on('connection', (conn) => {
  // Same names on both ends; the mode decides how each side *sends*.
  const chat = conn.channel<Chat>('chat', { mode: 'reliable-ordered' });
  chat.on('message', (m) => chat.send({ from: 'server', text: `got "${m.text}"` }));
  conn.channel<Position>('moves', { mode: 'unreliable-sequenced' }).on('message', (p) => positions.push(p));
});

const conn = await connect({ host: '127.0.0.1', port: server.address().port, insecure: true });
const chat = conn.channel<Chat>('chat', { mode: 'reliable-ordered' });
const moves = conn.channel<Position>('moves', { mode: 'unreliable-sequenced' });

const reply = new Promise<Chat>((resolve) => chat.once('message', resolve));
chat.send({ from: 'alice', text: 'gg' });
assert.deepEqual(await reply, { from: 'server', text: 'got "gg"' });

// Newest wins: an older position that arrives late is dropped by the receiver.
for (let i = 1; i <= 3; i++) moves.send({ x: i, y: -i });
while (positions.length === 0 || positions.at(-1)!.x !== 3) await new Promise((r) => setTimeout(r, 5));
assert.ok(positions.every((p, i) => i === 0 || p.x > positions[i - 1]!.x));

await conn.close();
await server.close();
