/**
 * The chat's web page client (served by `petrel chat --serve --web PORT`, bundled for the browser together with
 * Petrel's browser client). It connects over WebSocket to the same chat server the terminal clients use and drives
 * the same ChatSession (session.ts) over the same two channels — lines on the reliable-ordered `chat` channel,
 * "typing…" hints on the unreliable `typing` channel — so browser and terminal users share rooms.
 */
import { connect, type BrowserCloseResult, type BrowserConnection } from '../../../lib/browser/index.js';
import { CHAT_ALPN, MAX_NICK, MAX_ROOM, MAX_TEXT, validName, type ChatLine, type WebPageConfig } from '../protocol.js';
import { ChatSession, linkDetails, linkSummary, linkText, type ChatSessionEvents, type Presence, type Welcome } from '../session.js';
import { byId, element, page, type El } from './dom.js';

/** Entries kept in the message list; older ones leave the page (the server keeps its own bounded history). */
const MAX_SHOWN = 1000;
/** How long a "typing…" hint shows, ms (clients send one a second while typing). */
const TYPING_SHOWN = 3000;

const ui = {
  joinForm: byId('join-form'),
  nick: byId('nick'),
  room: byId('room'),
  join: byId('join'),
  sayForm: byId('say-form'),
  text: byId('text'),
  leave: byId('leave'),
  lines: byId('lines'),
  members: byId('members'),
  typing: byId('typing'),
  link: byId('link'),
  status: byId('status'),
  roomName: byId('room-name'),
};

let current: { conn: BrowserConnection; session: ChatSession } | null = null;
const typingUntil = new Map<string, number>();
let lastTypingSent = 0;

function time(at: number): string {
  return new Date(at).toTimeString().slice(0, 8);
}

/** Adds an entry to the message list, following the bottom unless the user scrolled up. */
function append(li: El): void {
  const list = ui.lines;
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  list.append(li);
  while (list.childElementCount > MAX_SHOWN) list.firstElementChild?.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function notice(text: string, className = 'notice'): El {
  const li = element('li', className, text);
  append(li);
  return li;
}

function showLine(l: ChatLine, history: boolean): void {
  typingUntil.delete(l.from);
  const mine = l.from === current?.session.nick;
  const li = element('li', `line${history ? ' history' : ''}${mine ? ' mine' : ''}`);
  li.dataset['id'] = String(l.id);
  li.dataset['from'] = l.from;
  li.dataset['seq'] = String(l.seq);
  li.append(element('span', 'time', `${time(l.at)} `), element('span', 'from', l.from), element('span', 'text', l.text));
  append(li);
  showTyping();
}

function showMembers(members: readonly string[]): void {
  ui.members.replaceChildren(...members.map((m) => element('li', '', m)));
}

function showTyping(): void {
  const now = Date.now();
  for (const [nick, until] of typingUntil) if (until <= now) typingUntil.delete(nick);
  ui.typing.textContent = typingUntil.size === 0 ? '' : `${[...typingUntil.keys()].join(', ')} typing…`;
}

function showLink(): void {
  if (current === null) return;
  ui.link.textContent = `#${current.session.room} ${linkText(linkSummary(current.conn.stats()))}`;
}

const handlers: { [K in keyof ChatSessionEvents]: (...args: ChatSessionEvents[K]) => void } = {
  welcome(w: Welcome) {
    ui.joinForm.hidden = true;
    ui.sayForm.hidden = false;
    ui.roomName.textContent = `#${w.room}`;
    page.document.title = `#${w.room} — Petrel chat`;
    typingUntil.clear();
    showTyping();
    notice(`── #${w.room}: ${w.members.join(', ')} ── ${w.history.length} recent line(s)`, 'welcome');
    for (const l of w.history) showLine(l, true);
    showMembers(w.members);
    showLink();
    ui.text.focus();
  },
  line: (l) => showLine(l, false),
  presence(p: Presence) {
    const li = notice(`${time(Date.now())} ${p.nick} ${p.event === 'join' ? 'joined' : 'left'} #${p.room} (${p.members.join(', ')})`, 'presence');
    li.dataset['nick'] = p.nick;
    li.dataset['event'] = p.event;
    if (p.room === current?.session.room) showMembers(p.members);
  },
  typing(t) {
    if (t.room !== current?.session.room) return;
    typingUntil.set(t.nick, Date.now() + TYPING_SHOWN);
    showTyping();
  },
  refused: (text) => void notice(`server: ${text}`),
};

function closed(r: BrowserCloseResult): void {
  current = null;
  notice(`connection closed: ${r.reason === '' ? r.code : r.reason}`);
  ui.sayForm.hidden = true;
  ui.joinForm.hidden = false;
  ui.join.disabled = false;
  ui.roomName.textContent = '';
  ui.link.textContent = '';
  showMembers([]);
  typingUntil.clear();
  showTyping();
}

async function join(nick: string, room: string): Promise<void> {
  ui.join.disabled = true;
  ui.status.textContent = 'connecting…';
  try {
    const res = await fetch('config.json');
    if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
    const cfg = (await res.json()) as WebPageConfig;
    const scheme = page.location.protocol === 'https:' ? 'wss' : 'ws';
    const conn = await connect({
      url: `${scheme}://${page.location.host}${cfg.path}`,
      ...(cfg.insecure ? { insecure: true } : { serverKey: cfg.key ?? '' }),
      alpn: CHAT_ALPN,
      keepAlive: 10_000,
      timeout: 10_000,
    });
    const chat = conn.channel<unknown>('chat', { mode: 'reliable-ordered' });
    const typing = conn.channel<unknown>('typing', { mode: 'unreliable' });
    const emit = (name: keyof ChatSessionEvents, ...args: unknown[]): void => (handlers[name] as (...a: unknown[]) => void)(...args);
    const session = new ChatSession(chat, typing, emit, nick, room);
    current = { conn, session };
    conn.on('close', closed);
    session.hello();
    ui.status.textContent = '';
  } catch (e) {
    ui.status.textContent = `cannot join: ${(e as Error).message}`;
    ui.join.disabled = false;
  }
}

function command(session: ChatSession, conn: BrowserConnection, text: string): void {
  const [cmd, arg] = text.split(/\s+/, 2);
  if (cmd === '/join' && arg !== undefined && validName(arg, MAX_ROOM)) session.join(arg);
  else if (cmd === '/who') session.who();
  else if (cmd === '/stats') notice(linkDetails(linkSummary(conn.stats())));
  else if (cmd === '/quit' || cmd === '/leave') void conn.close();
  else notice(`commands: /join ROOM, /who, /stats, /quit`);
}

ui.joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const nick = ui.nick.value.trim();
  const room = ui.room.value.trim() || 'lobby';
  if (!validName(nick, MAX_NICK) || !validName(room, MAX_ROOM)) {
    ui.status.textContent = `nick 1-${MAX_NICK} and room 1-${MAX_ROOM} letters, digits, _ . -`;
    return;
  }
  void join(nick, room);
});

ui.sayForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = ui.text.value.trim();
  ui.text.value = '';
  if (current === null || text === '') return;
  const { conn, session } = current;
  try {
    if (text.startsWith('/')) command(session, conn, text);
    else session.say(text.slice(0, MAX_TEXT));
  } catch (e) {
    notice(`not sent: ${(e as Error).message}`);
  }
});

// Typing hints: at most one a second while the user types a line (not a command).
ui.text.addEventListener('input', () => {
  const now = Date.now();
  if (current === null || !current.conn.isOpen || ui.text.value === '' || ui.text.value.startsWith('/')) return;
  if (now - lastTypingSent < 1000) return;
  lastTypingSent = now;
  current.session.typing();
});

ui.leave.addEventListener('click', () => void current?.conn.close());

// The numbers in the header are live, like the terminal client's prompt.
setInterval(() => {
  showLink();
  showTyping();
}, 500);

const params = new URLSearchParams(page.location.search);
ui.nick.value = params.get('nick') ?? '';
ui.room.value = params.get('room') ?? 'lobby';
