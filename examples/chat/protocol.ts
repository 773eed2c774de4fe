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

/** A relayed line, or null when any field is missing or of the wrong type. */
function parseLine(v: unknown): ChatLine | null {
  if (typeof v !== 'object' || v === null) return null;
  const l = v as Record<string, unknown>;
  const { room, id, from, seq, text, at } = l;
  if (typeof room !== 'string' || typeof from !== 'string' || typeof text !== 'string') return null;
  if (!Number.isSafeInteger(id) || !Number.isSafeInteger(seq) || typeof at !== 'number') return null;
  return { room, id: id as number, from, seq: seq as number, text, at };
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

/** A message from the server, or null when it is not one (the client drops it). */
export function parseServerMessage(v: unknown): ServerMessage | null {
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  switch (m['t']) {
    case 'welcome': {
      const members = stringList(m['members']);
      const history = Array.isArray(m['history']) ? m['history'].map(parseLine) : null;
      if (typeof m['nick'] !== 'string' || typeof m['room'] !== 'string' || members === null || history === null) return null;
      if (history.some((l) => l === null)) return null;
      return { t: 'welcome', nick: m['nick'], room: m['room'], members, history: history as ChatLine[] };
    }
    case 'line': {
      const line = parseLine(m['line']);
      return line === null ? null : { t: 'line', line };
    }
    case 'presence': {
      const members = stringList(m['members']);
      const event = m['event'];
      if (typeof m['room'] !== 'string' || typeof m['nick'] !== 'string' || members === null) return null;
      if (event !== 'join' && event !== 'leave') return null;
      return { t: 'presence', room: m['room'], nick: m['nick'], event, members };
    }
    case 'error':
      return typeof m['text'] === 'string' ? { t: 'error', text: m['text'] } : null;
    default:
      return null;
  }
}

/** A relayed typing hint (`{ nick, room }`), or null. */
export function parseTypingSignal(v: unknown): { nick: string; room: string } | null {
  if (typeof v !== 'object' || v === null) return null;
  const { nick, room } = v as Record<string, unknown>;
  return typeof nick === 'string' && typeof room === 'string' ? { nick, room } : null;
}

/** The web page client: where the chat server takes Petrel over WebSocket, on the HTTP port that serves the page. */
export const WEBSOCKET_PATH = '/petrel';

/** What the page fetches from `/config.json` before connecting. */
export interface WebPageConfig {
  /** the WebSocket path on the page's own host */
  path: string;
  /** the server key to pin (null when the server runs insecure) */
  key: string | null;
  insecure: boolean;
}
