/**
 * The real browser of the browser tests: Debian's chromium (installed by scripts/ensure-chromium.sh when missing),
 * driven headless by playwright-core.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.PETREL_CHROMIUM ?? '/usr/bin/chromium';
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Installs chromium when missing; throws (the test fails, loudly) when it cannot. */
export function ensureChromium(): void {
  execFileSync('sh', [`${root}scripts/ensure-chromium.sh`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PETREL_CHROMIUM: CHROMIUM },
  });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}
