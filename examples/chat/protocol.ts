/**
 * The chat's messages. Two channels per connection:
 * - `chat` (reliable-ordered): everything that must arrive, once and in order — hello/welcome, said lines,
 *   presence, room changes, errors.
 * - `typing` (unreliable): "someone is typing" hints; losing one only shortens an indicator.
 * Every field a peer sends is checked (type, length) before use: a client is untrusted input to the server, and the
 * server to the client.
 */

/** Longest nickname / room name / line of text, in UTF-16 units. */
export const MAX_NICK = 24;
export const MAX_ROOM = 32;
export const MAX_TEXT = 2000;
/** Largest encoded chat message either side accepts (the connection's `maxMessageSize`). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

export const CHAT_ALPN = 'petrel-chat/1';

/** One line said in a room, as the server relays it. `id` numbers the room's lines 1, 2, 3…; `seq` numbers the
 *  sender's own lines (what the sender gave in `say`), so receivers can check exactly-once, in-order delivery. */
export interface ChatLine {
  room: string;
  id: number;
  from: string;
  seq: number;
  text: string;
  /** server time, ms since the epoch */
  at: number;
}

export type ClientMessage =
  { t: 'hello'; nick: string; room: string } | { t: 'say'; seq: number; text: string } | { t: 'join'; room: string } | { t: 'who' };

export type ServerMessage =
  | { t: 'welcome'; nick: string; room: string; members: string[]; history: ChatLine[] }
  | { t: 'line'; line: ChatLine }
  | { t: 'presence'; room: string; nick: string; event: 'join' | 'leave'; members: string[] }
  | { t: 'error'; text: string };

/** Typing hint: client → server `{ typing: true }`; server → others `{ nick, room }`. */
export type TypingSignal = { typing: true } | { nick: string; room: string };

const NAME = /^[\p{L}\p{N}_.-]+$/u;

export function validName(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max && NAME.test(v);
}

/** A message from a client, or a reason it is not acceptable. */
export function parseClientMessage(v: unknown): ClientMessage | string {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const m = v as Record<string, unknown>;
  switch (m['t']) {
    case 'hello':
      if (!validName(m['nick'], MAX_NICK)) return `nick must be 1-${MAX_NICK} letters, digits, _ . -`;
      if (!validName(m['room'], MAX_ROOM)) return `room must be 1-${MAX_ROOM} letters, digits, _ . -`;
      return { t: 'hello', nick: m['nick'], room: m['room'] };
    case 'say':
      if (typeof m['seq'] !== 'number' || !Number.isSafeInteger(m['seq']) || m['seq'] < 1) return 'seq must be a positive integer';
      if (typeof m['text'] !== 'string' || m['text'].length === 0 || m['text'].length > MAX_TEXT) return `text must be 1-${MAX_TEXT} characters`;
      return { t: 'say', seq: m['seq'], text: m['text'] };
    case 'join':
      if (!validName(m['room'], MAX_ROOM)) return `room must be 1-${MAX_ROOM} letters, digits, _ . -`;
      return { t: 'join', room: m['room'] };
    case 'who':
      return { t: 'who' };
    default:
      return 'unknown message type';
  }
}
