/**
 * The chat's web page client in a real browser: the chat server serves the page (`web` option, as `petrel chat
 * --serve --web PORT` does), headless Chromium opens it and a user joins through the form; a terminal-protocol
 * client (examples/chat/client.ts, Node, over UDP) is in the same room. Checked on both sides: history on join,
 * every line exactly once and in the server's order (the whole list hashed at both ends), presence, typing hints
 * both ways, the link figures in the header, and that the server refused nothing the page sent.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../lib/api/index.js';
import { ChatClient, type Presence } from '../../examples/chat/client.js';
import type { ChatLine } from '../../examples/chat/protocol.js';
import { ChatServer } from '../../examples/chat/server.js';
import { waitFor, within } from '../api/helpers.js';
import { ensureChromium, launchChromium } from './chromium.js';

beforeAll(ensureChromium, 300_000);

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

/** One line as both sides list it: the server's room number, the sender, the sender's number, the text. */
const entry = (l: Pick<ChatLine, 'id' | 'from' | 'seq' | 'text'>): string => `${l.id}|${l.from}|${l.seq}|${l.text}`;
const hash = (entries: readonly string[]): string => createHash('sha256').update(entries.join('\n')).digest('hex');

/** The message list as the page shows it (DOM order = arrival order). */
function pageLines(tab: Page): Promise<Array<{ id: number; from: string; seq: number; text: string; history: boolean }>> {
  return tab.$$eval('#lines li.line', (lis) =>
    lis.map((li) => {
      const el = li as unknown as { dataset: Record<string, string>; className: string; querySelector(s: string): { textContent: string } | null };
      return {
        id: Number(el.dataset['id']),
        from: el.dataset['from']!,
        seq: Number(el.dataset['seq']),
        text: el.querySelector('.text')?.textContent ?? '',
        history: el.className.split(' ').includes('history'),
      };
    }),
  );
}

const text = (tab: Page, selector: string): Promise<string> => tab.$eval(selector, (e) => (e as unknown as { textContent: string }).textContent);

describe('the chat web page in headless chromium, with a terminal-protocol client in the same room', () => {
  it('history on join, every line exactly once in order on both sides, presence, typing both ways, link figures', async () => {
    const identity = generateIdentity();
    const server = await ChatServer.start({ identity, web: { port: 0 } });
    cleanup.push(() => server.close());
    const url = server.webUrl()!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    // bob: the terminal client's library, over UDP, in the room first.
    const bob = await ChatClient.connect({ ...server.address(), nick: 'bob', room: 'lobby', serverKey: identity.fingerprint });
    cleanup.push(() => bob.close());
    const bobSaw: ChatLine[] = [];
    const bobPresence: Presence[] = [];
    const bobTyping: string[] = [];
    bob.on('line', (l) => bobSaw.push(l));
    bob.on('presence', (p) => bobPresence.push(p));
    bob.on('typing', (t) => bobTyping.push(t.nick));
    const before = ['before the page: 1', 'ünïcödé ✓ and 😀', '<b>markup stays text</b>'];
    for (const t of before) bob.say(t);
    await waitFor(() => bobSaw.length === before.length, 5000, 'bob hears his own history lines');

    const browser: Browser = await launchChromium();
    cleanup.push(() => browser.close());
    const tab = await browser.newPage();
    const pageErrors: string[] = [];
    tab.on('pageerror', (e) => pageErrors.push(e.message));
    tab.on('console', (m) => void (m.type() === 'error' && pageErrors.push(`console: ${m.text()}`)));
    await tab.goto(url);
    expect(await tab.isVisible('#say-form')).toBe(false); // nothing to say before joining

    // Join through the form, as a user would.
    await tab.fill('#nick', 'alice');
    await tab.fill('#room', 'lobby');
    await tab.click('#join');
    await tab.waitForSelector('#say-form', { state: 'visible', timeout: 20_000 });
    expect(await tab.isVisible('#join-form')).toBe(false);
    const atServer = server.members().find((m) => m.nick === 'alice');
    expect(atServer?.conn.transport).toBe('websocket');
    expect(await text(tab, '#room-name')).toBe('#lobby');

    // History on join: bob's three lines, marked as history, text rendered as text.
    const history = await pageLines(tab);
    expect(history.map(entry)).toEqual(bobSaw.map(entry));
    expect(history.every((l) => l.history)).toBe(true);
    expect(await tab.$$eval('#lines b', (bs) => bs.length)).toBe(0);
    expect(await tab.$$eval('#members li', (lis) => lis.map((li) => (li as unknown as { textContent: string }).textContent))).toEqual([
      'alice',
      'bob',
    ]);
    await waitFor(() => bobPresence.some((p) => p.nick === 'alice' && p.event === 'join'), 5000, 'bob sees alice join');
    expect(bobPresence.find((p) => p.nick === 'alice')).toMatchObject({ event: 'join', room: 'lobby', members: ['alice', 'bob'] });

    // Both talk at once: bob 40 lines as fast as he can, alice 6 through the page's input box.
    const BOB = 40;
    const ALICE = Array.from({ length: 6 }, (_, i) => `alice line ${i + 1} — from chromium`);
    for (let i = 1; i <= BOB; i++) bob.say(`bob line ${i}`);
    for (const t of ALICE) {
      await tab.fill('#text', t);
      await tab.press('#text', 'Enter');
    }
    const total = before.length + BOB + ALICE.length;
    await waitFor(() => bobSaw.length >= total, 15_000, 'bob hears every line');
    await tab.waitForFunction(
      (n) =>
        (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('#lines li.line')
          .length >= n,
      total,
      { timeout: 15_000 },
    );
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would show up now
    const shown = await pageLines(tab);

    // Exactly once, in the server's order, identical at both ends: the room's numbers run 1..total without a gap or a
    // repeat, and the whole list hashes the same in the page and at bob.
    expect(shown.length).toBe(total);
    expect(bobSaw.length).toBe(total);
    expect(shown.map((l) => l.id)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(hash(shown.map(entry))).toBe(hash(bobSaw.map(entry)));
    expect(shown.map(entry)).toEqual(bobSaw.map(entry));
    // Per sender, each line once and in the order said.
    expect(bobSaw.filter((l) => l.from === 'alice').map((l) => `${l.seq}:${l.text}`)).toEqual(ALICE.map((t, i) => `${i + 1}:${t}`));
    expect(shown.filter((l) => l.from === 'bob').map((l) => l.text)).toEqual([
      ...before,
      ...Array.from({ length: BOB }, (_, i) => `bob line ${i + 1}`),
    ]);

    // Typing, both ways (unreliable hints: resent once a second until one is seen, as a typing user does).
    const typingDeadline = performance.now() + 10_000;
    let shownTyping = '';
    while (performance.now() < typingDeadline) {
      bob.typing();
      shownTyping = await text(tab, '#typing');
      if (shownTyping === 'bob typing…') break;
      await new Promise((r) => setTimeout(r, 600));
    }
    expect(shownTyping).toBe('bob typing…');
    bobTyping.length = 0;
    for (let i = 0; i < 10 && !bobTyping.includes('alice'); i++) {
      await tab.fill('#text', `alice is typing ${i}`);
      await waitFor(() => bobTyping.includes('alice'), 1100, 'typing hint').catch(() => {});
    }
    expect(bobTyping).toContain('alice');
    await tab.fill('#text', '');

    // Presence in the page: carol comes and goes.
    const carol = await ChatClient.connect({ ...server.address(), nick: 'carol', room: 'lobby', serverKey: identity.fingerprint });
    await tab.waitForSelector('#lines li.presence[data-nick="carol"][data-event="join"]', { timeout: 10_000 });
    await carol.close();
    await tab.waitForSelector('#lines li.presence[data-nick="carol"][data-event="leave"]', { timeout: 10_000 });

    // The header shows the link like the terminal prompt does.
    expect(await text(tab, '#link')).toMatch(/^#lobby rtt \d+ms loss \d+\.\d%$/);

    // Leaving: bob sees alice go; the page shows the form again.
    await tab.click('#leave');
    await waitFor(() => bobPresence.some((p) => p.nick === 'alice' && p.event === 'leave'), 10_000, 'bob sees alice leave');
    await tab.waitForSelector('#join-form', { state: 'visible', timeout: 10_000 });
    expect(await tab.isVisible('#say-form')).toBe(false);
    await within(atServer!.conn.closed, 5000, 'the page connection closed at the server');

    expect(server.stats().rejected).toBe(0); // the page spoke the protocol exactly
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('what the package ships: the built chat command (dist) serves the built page, which chats with a terminal client', async () => {
    // Needs the build, as the packaging tests do (npm test builds first); a missing build fails, never skips.
    const cliPath = fileURLToPath(new URL('../../dist/examples/chat/cli.js', import.meta.url));
    expect(existsSync(cliPath), 'dist missing: run npm run build').toBe(true);
    const built = (await import(/* @vite-ignore */ cliPath)) as typeof import('../../examples/chat/cli.js');
    let out = '';
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const running = built.main(['--serve', '--port', '0', '--web', '0', '--insecure'], {
      out: { write: (t: string) => (out += t) },
      err: { write: (t: string) => (out += t) },
      stop: stopped,
    });
    cleanup.push(async () => (stop(), await running));
    await waitFor(() => /web client: open (\S+)/.test(out), 10_000, 'the web client URL');
    const url = /web client: open (\S+)/.exec(out)![1]!;
    const port = Number(/chat server on 127\.0\.0\.1:(\d+) \(UDP\)/.exec(out)![1]);

    const browser = await launchChromium();
    cleanup.push(() => browser.close());
    const tab = await browser.newPage();
    const pageErrors: string[] = [];
    tab.on('pageerror', (e) => pageErrors.push(e.message));
    await tab.goto(`${url}?nick=web&room=shipped`); // the form is prefilled from the query
    await tab.click('#join');
    await tab.waitForSelector('#say-form', { state: 'visible', timeout: 20_000 });
    expect(await tab.isVisible('#join-form')).toBe(false);
    const term = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'term', room: 'shipped', insecure: true });
    cleanup.push(() => term.close());
    const heard: string[] = [];
    term.on('line', (l) => heard.push(`${l.from}: ${l.text}`));
    await tab.fill('#text', 'from the shipped page');
    await tab.press('#text', 'Enter');
    await waitFor(() => heard.length === 1, 10_000, 'the terminal client hears the page');
    term.say('from the terminal');
    await tab.waitForSelector('#lines li.line[data-from="term"]', { timeout: 10_000 });
    expect((await pageLines(tab)).map((l) => `${l.from}: ${l.text}`)).toEqual(['web: from the shipped page', 'term: from the terminal']);
    await waitFor(() => heard.length === 2, 10_000, 'the terminal client hears its own line back');
    expect(heard).toEqual(['web: from the shipped page', 'term: from the terminal']);
    expect(pageErrors).toEqual([]);
    stop();
    expect(await running).toBe(0);
  }, 60_000);
});
