/**
 * A chat client over Petrel: the library half of the terminal client (cli.ts), the demo's scripted users and the
 * tests. Connects, says hello, and turns the server's messages into events.
 */
import { EventEmitter } from 'node:events';
import { connect, type PetrelConnection, type TrustAnchor } from '../../lib/api/index.js';
import { CHAT_ALPN, MAX_MESSAGE_BYTES } from './protocol.js';
import { ChatSession, linkSummary, type ChatSessionEvents, type LinkSummary, type Welcome } from './session.js';

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
  /** give up connecting, and then waiting for the welcome, after this many ms each (default 10000) */
  timeout?: number;
}

export type { LinkSummary, Presence, Welcome } from './session.js';

export interface ChatClientEvents extends ChatSessionEvents {
  closed: [reason: string];
}

export class ChatClient extends EventEmitter<ChatClientEvents> {
  readonly conn: PetrelConnection;
  /** the protocol itself, shared with the web page (session.ts) */
  private readonly session: ChatSession;

  private constructor(conn: PetrelConnection, nick: string, room: string) {
    super();
    this.conn = conn;
    const chat = conn.channel<unknown>('chat', { mode: 'reliable-ordered' });
    const typing = conn.channel<unknown>('typing', { mode: 'unreliable' });
    // The session's events are a subset of ours (TypeScript cannot relate the two generic tuples by itself).
    const emit = this.emit.bind(this) as (name: keyof ChatSessionEvents, ...args: unknown[]) => boolean;
    this.session = new ChatSession(chat, typing, (name, ...args) => void emit(name, ...args), nick, room);
    void conn.closed.then((r) => this.emit('closed', r.reason === '' ? String(r.code) : `${r.code} ${r.reason}`));
  }

  get nick(): string {
    return this.session.nick;
  }
  get room(): string {
    return this.session.room;
  }
  get members(): string[] {
    return this.session.members;
  }
  /** the last welcome (members and recent history of the room we are in) */
  get welcome(): Welcome | null {
    return this.session.welcome;
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
    const welcomed = client.nextWelcome(o.timeout ?? 10_000);
    client.session.hello();
    try {
      await welcomed;
    } catch (e) {
      await conn.close({ reason: 'not welcomed' });
      throw e;
    }
    return client;
  }

  /** Says a line in the current room; returns its sequence number. The server echoes it back as a 'line'. */
  say(text: string): number {
    return this.session.say(text);
  }

  /** Tells the room we are typing (unreliable: it may be lost, which only shortens the indicator). */
  typing(): void {
    if (this.conn.isOpen) this.session.typing();
  }

  /** Moves to another room; resolves with its welcome (members, recent history). */
  join(room: string): Promise<Welcome> {
    const welcomed = this.nextWelcome();
    this.session.join(room);
    return welcomed;
  }

  /** Asks who is in the room (answered as a 'presence' event). */
  who(): void {
    this.session.who();
  }

  link(): LinkSummary {
    return linkSummary(this.conn.stats());
  }

  async close(): Promise<void> {
    await this.conn.close({ reason: 'bye' });
  }

  private nextWelcome(timeout = 10_000): Promise<Welcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no welcome from the server within ${timeout} ms`));
      }, timeout);
      const done = (): void => {
        clearTimeout(timer);
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
}
