/**
 * The chat server: rooms, nicknames, join/leave presence and the recent history of a room on join, over one Petrel
 * connection per client. Lines travel on the reliable-ordered `chat` channel; typing hints on the unreliable
 * `typing` channel. Everything a client can make the server hold is bounded: rooms (`maxRooms`; an empty room keeps
 * its history until its slot is needed), members per room (`maxMembers`), history per room (`historySize` lines; a
 * welcome carries what fits HISTORY_BUDGET), name and text lengths, and the connection's message size.
 */
import { listen, type Identity, type PetrelChannel, type PetrelConnection, type PetrelServer } from '../../lib/api/index.js';
import {
  CHAT_ALPN,
  MAX_MESSAGE_BYTES,
  MAX_NICK,
  WEBSOCKET_PATH,
  parseClientMessage,
  type ChatLine,
  type ServerMessage,
  type TypingSignal,
} from './protocol.js';
import { WebFront } from './web-server.js';

export interface ChatServerOptions {
  host?: string;
  /** 0 (default) picks a free port */
  port?: number;
  /** the server's key pair; required unless `insecure` */
  identity?: Identity;
  insecure?: boolean;
  /** lines of history kept per room and sent on join (default 50) */
  historySize?: number;
  /** rooms kept at once (default 256): a new room replaces the longest-empty one; when none is empty it is refused */
  maxRooms?: number;
  /** members per room (default 256, at most MAX_ROOM_MEMBERS): the room's member list rides in every welcome and presence */
  maxMembers?: number;
  /** a qlog directory for every connection (see the qlog option of listen()) */
  qlog?: string;
  /** also serve the web page client on this HTTP address, which takes Petrel over WebSocket too (port 0 = any) */
  web?: { host?: string; port?: number };
}

interface Member {
  conn: PetrelConnection;
  nick: string;
  room: Room | null;
  chat: PetrelChannel<ServerMessage>;
  typing: PetrelChannel<TypingSignal>;
  /** the last `seq` this member said; a line must carry the next one (the channel is reliable and ordered) */
  lastSeq: number;
  /** when this member's last typing hint was relayed (ms, performance.now()) */
  lastTyping: number;
}

interface Room {
  name: string;
  members: Set<Member>;
  history: ChatLine[];
  nextId: number;
}

export interface ChatServerStats {
  rooms: number;
  members: number;
  lines: number;
  typingRelayed: number;
  /** hints from a member faster than one per TYPING_INTERVAL, not relayed */
  typingDropped: number;
  rejected: number;
}

/** ms between two typing hints relayed for one member (clients send at most one a second while typing). */
export const TYPING_INTERVAL = 500;

export class ChatServer {
  readonly server: PetrelServer;
  private readonly web: WebFront | null;
  private readonly rooms = new Map<string, Room>();
  private readonly nicks = new Map<string, Member>();
  private readonly historySize: number;
  private readonly maxRooms: number;
  private readonly maxMembers: number;
  private readonly counters = { lines: 0, typingRelayed: 0, typingDropped: 0, rejected: 0 };

  private constructor(server: PetrelServer, web: WebFront | null, o: ChatServerOptions) {
    this.server = server;
    this.web = web;
    this.historySize = o.historySize ?? 50;
    this.maxRooms = o.maxRooms ?? 256;
    this.maxMembers = Math.min(o.maxMembers ?? MAX_ROOM_MEMBERS, MAX_ROOM_MEMBERS);
    server.on('connection', (conn) => this.accept(conn));
  }

  static async start(o: ChatServerOptions = {}): Promise<ChatServer> {
    const host = o.host ?? '127.0.0.1';
    const web = o.web === undefined ? null : await WebFront.start({ host: o.web.host ?? host, port: o.web.port ?? 0 });
    try {
      const server = await listen({
        host,
        port: o.port ?? 0,
        identity: o.identity,
        insecure: o.insecure,
        alpn: CHAT_ALPN,
        maxMessageSize: MAX_MESSAGE_BYTES,
        keepAlive: 10_000,
        ...(o.qlog !== undefined ? { qlog: o.qlog } : {}),
        // The page's WebSocket: the same connections, channels and rooms as over UDP.
        ...(web !== null ? { websocket: { server: web.http, path: WEBSOCKET_PATH } } : {}),
      });
      web?.setKey(o.identity?.fingerprint ?? null, o.insecure === true);
      return new ChatServer(server, web, o);
    } catch (e) {
      await web?.close();
      throw e;
    }
  }

  /** The UDP address. */
  address(): { host: string; port: number } {
    const a = this.server.address();
    return { host: a.address, port: a.port };
  }

  /** The web page client's URL (`web` option), or null. An unspecified bind address is shown as loopback. */
  webUrl(): string | null {
    if (this.web === null) return null;
    const { host, port } = this.web.address();
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
  }

  stats(): ChatServerStats {
    let members = 0;
    for (const r of this.rooms.values()) members += r.members.size;
    return { rooms: this.rooms.size, members, ...this.counters };
  }

  /** Who is connected, and their connections (for their stats). */
  members(): Array<{ nick: string; conn: PetrelConnection }> {
    return [...this.nicks.values()].map((m) => ({ nick: m.nick, conn: m.conn }));
  }

  async close(): Promise<void> {
    await this.server.close({ reason: 'chat server shutting down' });
    await this.web?.close();
  }

  private accept(conn: PetrelConnection): void {
    const chat = conn.channel<ServerMessage>('chat', { mode: 'reliable-ordered' });
    const typing = conn.channel<TypingSignal>('typing', { mode: 'unreliable' });
    let member: Member | null = null;
    chat.on('message', (raw) => {
      const m = parseClientMessage(raw);
      if (typeof m === 'string') {
        this.counters.rejected++;
        this.send(chat, { t: 'error', text: m });
        return;
      }
      if (member === null) {
        if (m.t !== 'hello') {
          this.counters.rejected++;
          this.send(chat, { t: 'error', text: 'say hello first' });
          return;
        }
        member = { conn, nick: this.uniqueNick(m.nick), room: null, chat, typing, lastSeq: 0, lastTyping: -Infinity };
        this.nicks.set(member.nick, member);
        this.enter(member, m.room);
        return;
      }
      switch (m.t) {
        case 'hello':
          this.send(chat, { t: 'error', text: 'already said hello' });
          break;
        case 'say':
          this.say(member, m.seq, m.text);
          break;
        case 'join':
          if (member.room?.name !== m.room) this.enter(member, m.room);
          break;
        case 'who': {
          const room = member.room;
          if (room) this.send(chat, { t: 'presence', room: room.name, nick: member.nick, event: 'join', members: names(room) });
          break;
        }
      }
    });
    chat.on('invalid', () => this.counters.rejected++);
    typing.on('message', () => {
      const from = member;
      if (from === null || from.room === null) return;
      // Each hint fans out to the whole room: relay at most one per member per TYPING_INTERVAL, drop the rest.
      const now = performance.now();
      if (now - from.lastTyping < TYPING_INTERVAL) {
        this.counters.typingDropped++;
        return;
      }
      from.lastTyping = now;
      for (const other of from.room.members) {
        if (other === from || !other.conn.isOpen) continue;
        other.typing.send({ nick: from.nick, room: from.room.name });
        this.counters.typingRelayed++;
      }
    });
    void conn.closed.then(() => {
      if (member === null) return;
      this.leave(member);
      this.nicks.delete(member.nick);
    });
  }

  /** `nick`, or `nick-2`, `nick-3`… when taken. */
  private uniqueNick(nick: string): string {
    if (!this.nicks.has(nick)) return nick;
    for (let i = 2; ; i++) {
      const suffix = `-${i}`;
      const candidate = nick.slice(0, MAX_NICK - suffix.length) + suffix;
      if (!this.nicks.has(candidate)) return candidate;
    }
  }

  private enter(member: Member, roomName: string): void {
    let room = this.rooms.get(roomName);
    if (room === undefined) {
      if (this.rooms.size >= this.maxRooms) this.evictEmptyRoom();
      if (this.rooms.size >= this.maxRooms) {
        this.counters.rejected++;
        this.send(member.chat, { t: 'error', text: `too many rooms (${this.maxRooms}); join an existing one` });
        return; // a member without a room may still join an existing one
      }
      room = { name: roomName, members: new Set(), history: [], nextId: 1 };
      this.rooms.set(roomName, room);
    }
    if (room.members.size >= this.maxMembers) {
      this.counters.rejected++;
      this.send(member.chat, { t: 'error', text: `room #${room.name} is full (${this.maxMembers})` });
      return; // the member stays where it was
    }
    this.leave(member);
    room.members.add(member);
    member.room = room;
    this.send(member.chat, { t: 'welcome', nick: member.nick, room: room.name, members: names(room), history: recentHistory(room.history) });
    this.broadcast(room, { t: 'presence', room: room.name, nick: member.nick, event: 'join', members: names(room) }, member);
  }

  private leave(member: Member): void {
    const room = member.room;
    if (room === null) return;
    room.members.delete(member);
    member.room = null;
    // An empty room keeps its history for whoever comes next, until its slot is needed (evictEmptyRoom).
    if (room.members.size > 0) this.broadcast(room, { t: 'presence', room: room.name, nick: member.nick, event: 'leave', members: names(room) });
    else {
      this.rooms.delete(room.name); // re-insert: the map's order is the order rooms became empty
      this.rooms.set(room.name, room);
    }
  }

  /** Forgets the room that has been empty longest, if any. */
  private evictEmptyRoom(): void {
    for (const [name, r] of this.rooms) {
      if (r.members.size === 0) {
        this.rooms.delete(name);
        return;
      }
    }
  }

  private say(member: Member, seq: number, text: string): void {
    const room = member.room;
    if (room === null) return;
    if (seq !== member.lastSeq + 1) {
      this.counters.rejected++;
      this.send(member.chat, { t: 'error', text: `line ${seq} out of sequence (expected ${member.lastSeq + 1})` });
      return;
    }
    member.lastSeq = seq;
    const line: ChatLine = { room: room.name, id: room.nextId++, from: member.nick, seq, text, at: Date.now() };
    room.history.push(line);
    if (room.history.length > this.historySize) room.history.shift();
    this.counters.lines++;
    // The sender gets its own line back too: everyone sees the room in the server's order.
    this.broadcast(room, { t: 'line', line });
  }

  private broadcast(room: Room, msg: ServerMessage, except?: Member): void {
    for (const m of room.members) if (m !== except) this.send(m.chat, msg);
  }

  private send(ch: PetrelChannel<ServerMessage>, msg: ServerMessage): void {
    try {
      ch.send(msg);
    } catch {
      // The connection is closing: its close handler removes the member.
    }
  }
}

/** Members per room at most. Their names (24 UTF-16 units, at most 72 bytes of UTF-8 each) ride in every welcome and
 *  presence message: 256 of them take under 19 KiB, which with HISTORY_BUDGET keeps a welcome under MAX_MESSAGE_BYTES. */
export const MAX_ROOM_MEMBERS = 256;

/** Bytes of history one welcome carries at most: with the member list it must stay under MAX_MESSAGE_BYTES, or the
 *  welcome could not be sent at all (50 lines of 2000 characters would be ~100 kB). */
export const HISTORY_BUDGET = MAX_MESSAGE_BYTES / 2;

/** The newest lines of `history` whose text fits in HISTORY_BUDGET (UTF-8 bytes, plus a little per line). */
function recentHistory(history: readonly ChatLine[]): ChatLine[] {
  let bytes = 0;
  let i = history.length;
  while (i > 0) {
    const l = history[i - 1]!;
    bytes += 48 + Buffer.byteLength(l.text) + Buffer.byteLength(l.from) + Buffer.byteLength(l.room);
    if (bytes > HISTORY_BUDGET) break;
    i--;
  }
  return history.slice(i);
}

function names(room: Room): string[] {
  return [...room.members].map((m) => m.nick).sort();
}
