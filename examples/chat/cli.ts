/**
 * `npm run chat -- --serve --port P` / `npm run chat -- --connect HOST:PORT --nick NAME` (also `npx petrel chat ...`).
 * The server prints its key and the command that joins it. The client is an interactive terminal UI (readline): lines
 * from the room, who joined and left, who is typing, and in the prompt the room, the link's RTT and loss.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createInterface, emitKeypressEvents } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityFromPrivateKey, type Identity } from '../../lib/api/index.js';
import { ChatClient } from './client.js';
import { MAX_TEXT, validName, MAX_NICK, MAX_ROOM, type ChatLine } from './protocol.js';
import { ChatServer } from './server.js';
import { linkDetails, linkText } from './session.js';

export const HELP = `Usage: petrel chat --serve [--host H] [--port P] [--web HTTP_PORT] [--identity FILE] [--insecure]
       petrel chat --connect HOST:PORT --nick NAME [--room ROOM] (--key FINGERPRINT | --insecure)
       (from a checkout: npm run chat -- ...same arguments...)

The example chat over Petrel: rooms, nicknames, join/leave presence, the room's recent history on join; lines on a
reliable-ordered channel, "typing…" hints on an unreliable one.

Server:
  --serve              run a chat server (prints its key and the command that joins it)
  --host H             address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --port P             UDP port (default 4433; 0 picks a free one)
  --web HTTP_PORT      also serve the web page client at http://HOST:HTTP_PORT/ (Petrel over WebSocket, same rooms;
                       0 picks a free port); the server prints the URL to open
  --identity FILE      keep the server's key in FILE (created on first use), so its fingerprint survives restarts
  --history N          lines of history kept per room (default 50)

Client:
  --connect HOST:PORT  the server (or an impairment proxy in front of it: petrel impair --listen ... --target ...)
  --nick NAME          your nickname (1-${MAX_NICK} letters, digits, _ . -; the server adds -2, -3… when taken)
  --room ROOM          room to join first (default lobby)
  --key FINGERPRINT    the server's key, as the server printed it (ed25519:…)

Both:
  --insecure           plaintext handshake and packets (both sides must agree; for tests only)
  --qlog DIR           write a qlog file per connection into DIR (plot one with petrel qlog-plot)
  -h, --help           this text

In the client: type a line and press Enter to say it. /join ROOM, /who, /stats, /quit (or Ctrl-D).
`;

interface Args {
  serve: boolean;
  connect: { host: string; port: number } | null;
  host: string;
  port: number;
  nick: string | null;
  room: string;
  key: string | null;
  identity: string | null;
  insecure: boolean;
  qlog: string | null;
  history: number;
  web: number | null;
}

export function parseArgs(argv: readonly string[]): Args | string {
  const a: Args = {
    serve: false,
    connect: null,
    host: '127.0.0.1',
    port: 4433,
    nick: null,
    room: 'lobby',
    key: null,
    identity: null,
    insecure: false,
    qlog: null,
    history: 50,
    web: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    try {
      switch (flag) {
        case '--serve':
          a.serve = true;
          break;
        case '--connect': {
          const v = value();
          const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
          if (m === null || Number(m[3]) > 65535) return `--connect: expected HOST:PORT, got '${v}'`;
          a.connect = { host: m[1] ?? m[2]!, port: Number(m[3]) };
          break;
        }
        case '--host':
          a.host = value();
          break;
        case '--port': {
          const v = value();
          if (!/^\d+$/.test(v) || Number(v) > 65535) return `--port: expected 0-65535, got '${v}'`;
          a.port = Number(v);
          break;
        }
        case '--nick':
          a.nick = value();
          if (!validName(a.nick, MAX_NICK)) return `--nick: 1-${MAX_NICK} letters, digits, _ . -`;
          break;
        case '--room':
          a.room = value();
          if (!validName(a.room, MAX_ROOM)) return `--room: 1-${MAX_ROOM} letters, digits, _ . -`;
          break;
        case '--key':
          a.key = value();
          break;
        case '--web': {
          const v = value();
          if (!/^\d+$/.test(v) || Number(v) > 65535) return `--web: expected an HTTP port 0-65535, got '${v}'`;
          a.web = Number(v);
          break;
        }
        case '--identity':
          a.identity = value();
          break;
        case '--history': {
          const v = value();
          if (!/^\d+$/.test(v) || Number(v) > 10_000) return `--history: expected 0-10000, got '${v}'`;
          a.history = Number(v);
          break;
        }
        case '--insecure':
          a.insecure = true;
          break;
        case '--qlog':
          a.qlog = value();
          break;
        default:
          return `unknown argument '${flag}' (see --help)`;
      }
    } catch (e) {
      return (e as Error).message;
    }
  }
  if (a.serve === (a.connect !== null)) return 'give either --serve or --connect HOST:PORT';
  if (a.web !== null && !a.serve) return '--web goes with --serve (the server serves the page)';
  if (a.connect !== null) {
    if (a.nick === null) return '--nick is required with --connect';
    if (a.key === null && !a.insecure) return '--key FINGERPRINT (printed by the server) or --insecure is required with --connect';
  }
  return a;
}

/** The server's key: from FILE (hex private key) when given and present, else new (and saved to FILE if given). */
function loadIdentity(file: string | null): Identity {
  if (file !== null && existsSync(file)) return identityFromPrivateKey(Buffer.from(readFileSync(file, 'utf8').trim(), 'hex'));
  const id = generateIdentity();
  if (file !== null) writeFileSync(file, Buffer.from(id.privateKey).toString('hex') + '\n', { mode: 0o600 });
  return id;
}

async function serve(a: Args, io: CliIO): Promise<number> {
  const identity = a.insecure ? undefined : loadIdentity(a.identity);
  const server = await ChatServer.start({
    host: a.host,
    port: a.port,
    identity,
    insecure: a.insecure,
    historySize: a.history,
    ...(a.qlog ? { qlog: a.qlog } : {}),
    ...(a.web !== null ? { web: { port: a.web } } : {}),
  });
  const { host, port } = server.address();
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  io.out.write(`chat server on ${host}:${port} (UDP)${identity ? `, key ${identity.fingerprint}` : ' (insecure)'}\n`);
  io.out.write(
    `join it with:  npm run chat -- --connect ${shown}:${port} --nick NAME ${identity ? `--key ${identity.fingerprint}` : '--insecure'}\n`,
  );
  io.out.write(
    `through a lossy link:  npx petrel impair --listen 127.0.0.1:9000 --target ${shown}:${port} --loss 5% --delay 30ms  (then --connect 127.0.0.1:9000)\n`,
  );
  const url = server.webUrl();
  if (url !== null) io.out.write(`web client: open ${url} in a browser (Petrel over WebSocket, same rooms)\n`);
  const timer = setInterval(() => {
    const s = server.stats();
    io.out.write(
      `[${new Date().toLocaleTimeString()}] ${s.members} online in ${s.rooms} room(s); ${s.lines} lines, ${s.typingRelayed} typing hints relayed, ${s.rejected} rejected\n`,
    );
  }, 60_000);
  timer.unref();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    void io.stop?.then(stop);
  });
  clearInterval(timer);
  await server.close();
  io.out.write('chat server stopped\n');
  return 0;
}

const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const CYAN = '\x1b[36m';
const RESET = '\x1b[0m';

function time(at: number): string {
  return new Date(at).toTimeString().slice(0, 8);
}

async function client(a: Args, io: CliIO): Promise<number> {
  const target = a.connect!;
  io.out.write(`connecting to ${target.host}:${target.port} as ${a.nick}…\n`);
  let chat: ChatClient;
  try {
    chat = await ChatClient.connect({
      host: target.host,
      port: target.port,
      nick: a.nick!,
      room: a.room,
      serverKey: a.key ?? undefined,
      insecure: a.insecure,
      ...(a.qlog ? { qlog: a.qlog } : {}),
    });
  } catch (e) {
    io.err.write(`chat: cannot join: ${(e as Error).message}\n`);
    return 1;
  }
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty });
  const typingUntil = new Map<string, number>();

  const prompt = (): string => {
    const l = chat.link();
    const now = Date.now();
    const typing = [...typingUntil].filter(([, until]) => until > now).map(([n]) => n);
    const typingText = typing.length === 0 ? '' : ` | ${typing.join(', ')} typing…`;
    return `${DIM}[#${chat.room} ${linkText(l)}${typingText}]${RESET} ${BOLD}${chat.nick}>${RESET} `;
  };
  /** Prints a line above the prompt without disturbing what the user is typing. */
  const show = (text: string): void => {
    if (tty) {
      process.stdout.write('\r\x1b[2K');
      process.stdout.write(text + '\n');
      rl.setPrompt(prompt());
      rl.prompt(true);
    } else io.out.write(text.replace(/\x1b\[[0-9;]*m/g, '') + '\n');
  };
  const showLine = (l: ChatLine): void => {
    typingUntil.delete(l.from);
    const who = l.from === chat.nick ? `${BOLD}${l.from}${RESET}` : `${CYAN}${l.from}${RESET}`;
    show(`${DIM}${time(l.at)}${RESET} ${who}: ${l.text}`);
  };

  const welcome = (w: { room: string; members: string[]; history: ChatLine[] }): void => {
    show(`${DIM}── #${w.room}: ${w.members.join(', ')} ── ${w.history.length} recent line(s)${RESET}`);
    for (const l of w.history) showLine(l);
  };
  welcome(chat.welcome ?? { room: chat.room, members: chat.members, history: [] }); // the one connect() waited for
  chat.on('welcome', welcome);
  chat.on('line', showLine);
  chat.on('presence', (p) =>
    show(`${DIM}${time(Date.now())} ${p.nick} ${p.event === 'join' ? 'joined' : 'left'} #${p.room} (${p.members.join(', ')})${RESET}`),
  );
  chat.on('typing', (t) => {
    typingUntil.set(t.nick, Date.now() + 3000);
    if (tty) {
      rl.setPrompt(prompt());
      rl.prompt(true);
    }
  });
  chat.on('refused', (t) => show(`${DIM}server: ${t}${RESET}`));

  // The prompt carries live numbers: refresh it (keeping the user's half-typed line) twice a second.
  const refresh = setInterval(() => {
    if (!tty) return;
    rl.setPrompt(prompt());
    rl.prompt(true);
  }, 500);
  // Typing hints: at most one a second while keys are pressed.
  let lastTyping = 0;
  if (tty) {
    emitKeypressEvents(process.stdin, rl);
    process.stdin.on('keypress', (_s, key: { name?: string } | undefined) => {
      if (key?.name === 'return') return;
      const now = Date.now();
      if (now - lastTyping >= 1000) {
        lastTyping = now;
        chat.typing();
      }
    });
  }

  const done = new Promise<number>((resolve) => {
    chat.on('closed', (why) => {
      show(`${DIM}connection closed: ${why}${RESET}`);
      resolve(0);
    });
    rl.on('close', () => resolve(0));
    void io.stop?.then(() => resolve(0));
  });
  rl.on('line', (input) => {
    const text = input.trim();
    if (text === '') {
      rl.prompt();
      return;
    }
    if (text.startsWith('/')) {
      const [cmd, arg] = text.split(/\s+/, 2);
      if (cmd === '/quit' || cmd === '/exit') rl.close();
      else if (cmd === '/join' && arg !== undefined && validName(arg, MAX_ROOM)) chat.join(arg).catch(() => {});
      else if (cmd === '/who') chat.who();
      else if (cmd === '/stats') {
        show(`${DIM}${linkDetails(chat.link())}${RESET}`);
      } else show(`${DIM}commands: /join ROOM, /who, /stats, /quit${RESET}`);
    } else {
      try {
        chat.say(text.slice(0, MAX_TEXT));
      } catch (e) {
        show(`${DIM}not sent: ${(e as Error).message}${RESET}`);
      }
    }
    if (tty) {
      rl.setPrompt(prompt());
      rl.prompt();
    }
  });
  if (tty) {
    rl.setPrompt(prompt());
    rl.prompt();
  }
  const code = await done;
  clearInterval(refresh);
  rl.close();
  await chat.close();
  return code;
}

export interface CliIO {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  /** resolves when the command should stop (tests) */
  stop?: Promise<unknown>;
}

export async function main(argv: readonly string[], io: CliIO = { out: process.stdout, err: process.stderr }): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    io.out.write(HELP);
    return 0;
  }
  const a = parseArgs(argv);
  if (typeof a === 'string') {
    io.err.write(`chat: ${a}\n`);
    return 2;
  }
  return a.serve ? serve(a, io) : client(a, io);
}

function isEntry(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // readline keeps stdin referenced after a piped input ends; nothing else is left to wait for.
      if (process.stdin.isTTY !== true) process.stdin.unref?.();
    },
    (err: unknown) => {
      process.stderr.write(`chat: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
