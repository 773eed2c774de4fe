/**
 * The client side of the chat protocol, independent of the carrier and the runtime: the terminal client
 * (client.ts, Node, over UDP) and the web page (web/app.ts, a browser, over WebSocket) each hand it their
 * connection's two channels and get the same events, so both speak exactly the same protocol. No Node built-ins
 * here: it is bundled into the page.
 */
import { parseServerMessage, parseTypingSignal, type ChatLine, type ClientMessage, type TypingSignal } from './protocol.js';

/** What the session needs from a channel: the Node PetrelChannel and the browser's BrowserChannel both fit. */
export interface MessageChannel<T> {
  send(value: T): void;
  on(event: 'message', fn: (value: unknown) => void): unknown;
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

export interface ChatSessionEvents {
  welcome: [welcome: Welcome];
  line: [line: ChatLine];
  presence: [presence: Presence];
  typing: [who: { nick: string; room: string }];
  /** the server refused something we sent */
  refused: [text: string];
}

export type ChatEventSink = <K extends keyof ChatSessionEvents>(name: K, ...args: ChatSessionEvents[K]) => void;

export class ChatSession {
  nick: string;
  room: string;
  members: string[] = [];
  /** the last welcome (members and recent history of the room we are in) */
  welcome: Welcome | null = null;
  /** lines said so far (the next `say` carries `seq + 1`) */
  private seq = 0;

  constructor(
    private readonly chat: MessageChannel<ClientMessage>,
    private readonly typingChannel: MessageChannel<TypingSignal>,
    private readonly emit: ChatEventSink,
    nick: string,
    room: string,
  ) {
    this.nick = nick;
    this.room = room;
    chat.on('message', (m) => this.onMessage(m));
    typingChannel.on('message', (m) => {
      const t = parseTypingSignal(m);
      if (t !== null) this.emit('typing', t);
    });
  }

  /** The first message: asks for `nick` (the server may add -2, -3…) in `room`; answered by a welcome. */
  hello(): void {
    this.chat.send({ t: 'hello', nick: this.nick, room: this.room });
  }

  /** Says a line in the current room; returns its sequence number. The server echoes it back as a 'line'. */
  say(text: string): number {
    this.seq++;
    this.chat.send({ t: 'say', seq: this.seq, text });
    return this.seq;
  }

  /** Tells the room we are typing (unreliable: a lost hint only shortens the indicator). */
  typing(): void {
    this.typingChannel.send({ typing: true });
  }

  /** Moves to another room; answered by a welcome (members, recent history). */
  join(room: string): void {
    this.chat.send({ t: 'join', room });
  }

  /** Asks who is in the room (answered as a 'presence' event). */
  who(): void {
    this.chat.send({ t: 'who' });
  }

  private onMessage(raw: unknown): void {
    const m = parseServerMessage(raw);
    if (m === null) return; // not a server message: dropped, as the server drops a bad client message
    switch (m.t) {
      case 'welcome': {
        const w: Welcome = { nick: m.nick, room: m.room, members: m.members, history: m.history };
        this.nick = w.nick;
        this.room = w.room;
        this.members = w.members;
        this.welcome = w;
        this.emit('welcome', w);
        break;
      }
      case 'line':
        this.emit('line', m.line);
        break;
      case 'presence':
        if (m.room === this.room) this.members = m.members;
        this.emit('presence', { room: m.room, nick: m.nick, event: m.event, members: m.members });
        break;
      case 'error':
        this.emit('refused', m.text);
        break;
    }
  }
}

/** What a client shows about its link: from the connection's own statistics. */
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

export function linkSummary(s: Omit<LinkSummary, 'lossRate'>): LinkSummary {
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

/** "rtt 62ms loss 4.8%", as both clients show it. */
export function linkText(l: LinkSummary): string {
  return `rtt ${l.smoothedRtt.toFixed(0)}ms loss ${(l.lossRate * 100).toFixed(1)}%`;
}

/** The /stats line. */
export function linkDetails(l: LinkSummary): string {
  return (
    `rtt smoothed ${l.smoothedRtt.toFixed(1)} ms, min ${l.minRtt.toFixed(1)} ms, latest ${l.latestRtt.toFixed(1)} ms; ` +
    `packets sent ${l.packetsSent}, lost ${l.packetsLost} (${(l.lossRate * 100).toFixed(2)}%), retransmitted ${l.packetsRetransmitted}`
  );
}
