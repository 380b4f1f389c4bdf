import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core (never a browser a test tool downloads).
 * .ci/run installs the package; on a machine without it the browser tests fail, with the
 * command that fixes it, rather than skip.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The machine's notes: these keep headless Chromium off the (closed) network. Playwright
 * adds --headless and a fresh, empty --user-data-dir of its own to every launch.
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH.`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  return { browser, close: () => browser.close() };
}

/** What went wrong in a page: console errors (failed loads included) and uncaught exceptions. */
export interface PageProblems {
  /** "console: <text> @ <url>" and "pageerror: <message>" lines. */
  all: string[];
  /** Everything except failed loads of the URLs `expected` matches (answers a test provoked on purpose). */
  unexpected(expected?: RegExp): string[];
}

export function watchProblems(page: Page): PageProblems {
  const all: string[] = [];
  const failedLoads: Array<{ line: string; url: string }> = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const line = `console: ${m.text()} @ ${m.location().url}`;
    all.push(line);
    if (m.text().startsWith('Failed to load resource')) failedLoads.push({ line, url: m.location().url });
  });
  page.on('pageerror', (e) => all.push(`pageerror: ${e.message}`));
  return {
    all,
    unexpected: (expected) => all.filter((line) => expected === undefined || !failedLoads.some((f) => f.line === line && expected.test(f.url))),
  };
}

/** A fresh browser context (its own sessionStorage) with one page, at the given window size. */
export async function openPage(b: TestBrowser, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
  const context = await b.browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, page, problems: watchProblems(page) };
}
