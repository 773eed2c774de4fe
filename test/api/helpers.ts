/** Shared helpers for the loopback tests of the public API: bounded waits, deterministic data, hashes, handles. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, salt: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (salt * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Polls `cond` every few ms until it holds; throws after `timeoutMs` (a bound, not a timing assertion). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves `p`, or rejects after `timeoutMs`. */
export function within<T>(p: Promise<T>, timeoutMs: number, what = 'promise'): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
}

/** SHA-256 of everything a readable yields (without destroying a duplex at the end). */
export async function hashStream(s: Readable): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s.iterator({ destroyOnReturn: false })) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { hash: h.digest('hex'), bytes };
}

/** Counts of active handle kinds, for leak checks. */
export function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Waits until the UDP sockets and timers are back to `base` (closing handles take a loop turn or two). */
export async function expectNoLeaks(base: Record<string, number>, timeoutMs = 5000): Promise<void> {
  const kinds = ['UDPWrap', 'Timeout', 'TCPWrap', 'TCPServerWrap'];
  const same = (): boolean => {
    const now = resources();
    return kinds.every((k) => (now[k] ?? 0) <= (base[k] ?? 0));
  };
  try {
    await waitFor(same, timeoutMs, 'handles to be released');
  } catch {
    throw new Error(`handles leaked: before ${JSON.stringify(base)}, after ${JSON.stringify(resources())}`);
  }
}

/** Everything a readable yields, concatenated (without destroying a duplex at the end). */
export async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s.iterator({ destroyOnReturn: false })) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
