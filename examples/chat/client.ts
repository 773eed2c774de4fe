/**
 * A chat client over Petrel: the library half of the terminal client (cli.ts), the demo's scripted users and the
 * tests. Connects, says hello, and turns the server's messages into events.
 */
import { EventEmitter } from 'node:events';
import { connect, type PetrelChannel, type PetrelConnection, type TrustAnchor } from '../../lib/api/index.js';
import { CHAT_ALPN, MAX_MESSAGE_BYTES, type ChatLine, type ServerMessage, type TypingSignal } from './protocol.js';

export interface ChatClientOptions {
  host: string;
  port: number;
  nick: string;
  /** default 'lobby' */
  room?: string;
  /** the server's key fingerprint; required unless `insecure` */
  serverKey?: TrustAnchor;
  insecure?: boolean;
  /** a qlog directory for this connection */
  qlog?: string;
  /** give up connecting after this many ms (default 10000) */
  timeout?: number;
}

export interface Welcome {
  nick: string;
  room: string;
  members: string[];
  history: ChatLine[];
}

export interface Presence {
  room: string;
  nick: string;
  event: 'join' | 'leave';
  members: string[];
}

export interface ChatClientEvents {
  welcome: [welcome: Welcome];
  line: [line: ChatLine];
  presence: [presence: Presence];
  typing: [who: { nick: string; room: string }];
  /** the server refused something we sent */
  refused: [text: string];
  closed: [reason: string];
}

/** What the client shows about its link: from the connection's own statistics. */
export interface LinkSummary {
  smoothedRtt: number;
  minRtt: number;
  latestRtt: number;
  packetsSent: number;
  packetsLost: number;
  packetsRetransmitted: number;
  /** packetsLost / packetsSent */
  lossRate: number;
}

export class ChatClient extends EventEmitter<ChatClientEvents> {
  readonly conn: PetrelConnection;
  nick: string;
  room: string;
  members: string[] = [];
  /** the last welcome (members and recent history of the room we are in) */
  welcome: Welcome | null = null;
  /** lines said so far (the next `say` carries `seq + 1`) */
  private seq = 0;
  private readonly chat: PetrelChannel<unknown>;
  private readonly typingChannel: PetrelChannel<TypingSignal>;

  private constructor(conn: PetrelConnection, nick: string, room: string) {
    super();
    this.conn = conn;
    this.nick = nick;
    this.room = room;
    this.chat = conn.channel<unknown>('chat', { mode: 'reliable-ordered' });
    this.typingChannel = conn.channel<TypingSignal>('typing', { mode: 'unreliable' });
    this.chat.on('message', (m) => this.onMessage(m as ServerMessage));
    this.typingChannel.on('message', (m) => {
      if ('nick' in m && typeof m.nick === 'string' && typeof m.room === 'string') this.emit('typing', { nick: m.nick, room: m.room });
    });
    void conn.closed.then((r) => this.emit('closed', r.reason === '' ? String(r.code) : `${r.code} ${r.reason}`));
  }

  /** Connects, says hello and resolves once the server welcomed us into the room. */
  static async connect(o: ChatClientOptions): Promise<ChatClient> {
    const conn = await connect({
      host: o.host,
      port: o.port,
      serverKey: o.serverKey,
      insecure: o.insecure,
      alpn: CHAT_ALPN,
      maxMessageSize: MAX_MESSAGE_BYTES,
      keepAlive: 10_000,
      timeout: o.timeout ?? 10_000,
      ...(o.qlog !== undefined ? { qlog: o.qlog } : {}),
    });
    const client = new ChatClient(conn, o.nick, o.room ?? 'lobby');
    const welcomed = client.nextWelcome();
    client.chat.send({ t: 'hello', nick: o.nick, room: client.room });
    try {
      client.welcome = await welcomed;
    } catch (e) {
      await conn.close({ reason: 'not welcomed' });
      throw e;
    }
    return client;
  }

  /** Says a line in the current room; returns its sequence number. The server echoes it back as a 'line'. */
  say(text: string): number {
    this.seq++;
    this.chat.send({ t: 'say', seq: this.seq, text });
    return this.seq;
  }

  /** Tells the room we are typing (unreliable: it may be lost, which only shortens the indicator). */
  typing(): void {
    if (this.conn.isOpen) this.typingChannel.send({ typing: true });
  }

  /** Moves to another room; resolves with its welcome (members, recent history). */
  join(room: string): Promise<Welcome> {
    const welcomed = this.nextWelcome();
    this.chat.send({ t: 'join', room });
    return welcomed;
  }

  /** Asks who is in the room (answered as a 'presence' event). */
  who(): void {
    this.chat.send({ t: 'who' });
  }

  link(): LinkSummary {
    const s = this.conn.stats();
    return {
      smoothedRtt: s.smoothedRtt,
      minRtt: s.minRtt,
      latestRtt: s.latestRtt,
      packetsSent: s.packetsSent,
      packetsLost: s.packetsLost,
      packetsRetransmitted: s.packetsRetransmitted,
      lossRate: s.packetsSent === 0 ? 0 : s.packetsLost / s.packetsSent,
    };
  }

  async close(): Promise<void> {
    await this.conn.close({ reason: 'bye' });
  }

  private nextWelcome(): Promise<Welcome> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.off('welcome', onWelcome);
        this.off('closed', onClosed);
        this.off('refused', onRefused);
      };
      const onWelcome = (w: Welcome): void => {
        done();
        resolve(w);
      };
      const onClosed = (why: string): void => {
        done();
        reject(new Error(`connection closed before the welcome: ${why}`));
      };
      // While we wait for a welcome, a refusal is the answer to our hello / join (the channel is ordered).
      const onRefused = (why: string): void => {
        done();
        reject(new Error(`refused: ${why}`));
      };
      this.on('welcome', onWelcome);
      this.on('closed', onClosed);
      this.on('refused', onRefused);
    });
  }

  private onMessage(m: ServerMessage): void {
    if (typeof m !== 'object' || m === null) return;
    switch (m.t) {
      case 'welcome':
        this.nick = m.nick;
        this.room = m.room;
        this.members = m.members;
        this.welcome = { nick: m.nick, room: m.room, members: m.members, history: m.history };
        this.emit('welcome', { nick: m.nick, room: m.room, members: m.members, history: m.history });
        break;
      case 'line':
        this.emit('line', m.line);
        break;
      case 'presence':
        if (m.room === this.room) this.members = m.members;
        this.emit('presence', { room: m.room, nick: m.nick, event: m.event, members: m.members });
        break;
      case 'error':
        this.emit('refused', String(m.text));
        break;
    }
  }
}
