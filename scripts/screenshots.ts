// Regenerates the dashboard screenshots in docs/screenshots/ (shown in the README's walkthrough).
// Usage: npm run screenshots   (needs Debian's chromium, as the browser tests do)
//
// It starts a server on a free loopback port with its own temporary data directory, a
// receiver that fails some deliveries, and half an hour of traffic (the server's clock is
// set back while it is published, so that the charts have a history), then visits every
// page at 1280x800 and two at 420 px.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Page } from 'playwright-core';
import { registerClient } from '../src/auth/clients.ts';
import { SCOPES } from '../src/auth/scopes.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/observability/logger.ts';
import { startServer } from '../src/server.ts';
import { launchBrowser } from '../test/helpers/browser.ts';

const OUT = new URL('../docs/screenshots/', import.meta.url);
const MINUTE = 60_000;
const ACCOUNT = '8d7f0c2e-5b1a-4c3e-9f6d-2a4b6c8d0e1f';
const ITWIN = 'ce40a55a-6954-4de3-85c7-f796c3e423d9';

// A receiver that answers 200, except 503 to one delivery in five and a slow answer now and then.
let served = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    served++;
    const fail = served % 5 === 0;
    setTimeout(() => res.writeHead(fail ? 503 : 200, { 'content-type': 'text/plain' }).end(fail ? 'busy, try later' : 'ok'), served % 7 === 0 ? 120 : 5 + (served % 4) * 8);
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const receiverUrl = (path: string) => `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${path}`;

let shift = 0;
const dataDir = mkdtempSync(join(tmpdir(), 'itwh-screens-'));
const config = loadConfig({ port: '0', dataDir, allowInsecureCallbacks: true, callbackAllowCidrs: '127.0.0.0/8', retrySchedule: '2m,10m', logLevel: 'warn' }, {});
const quiet = new Writable({ write: (_c, _e, done) => done() });
const server = await startServer(config, { logger: createLogger('warn', quiet), now: () => Date.now() - shift });
const { store } = server.deps;
const b = await launchBrowser();
try {
  const app = await registerClient(store, { name: 'site-monitor', accountId: ACCOUNT, scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish], now: Date.now() });
  const other = await registerClient(store, { name: 'issue-tracker', accountId: randomUUID(), scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify], now: Date.now() });
  const operator = await registerClient(store, { name: 'platform-team', accountId: randomUUID(), scopes: [SCOPES.admin, SCOPES.read], now: Date.now() });
  await store.putItwin(ITWIN, ACCOUNT, Date.now());
  await store.grant(app.clientId, ITWIN, 'webhooks_maintainer', Date.now());
  await store.addOrgAdmin(app.clientId, ACCOUNT, Date.now());

  const token = async (c: { clientId: string; clientSecret: string }) => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret }).toString(),
    });
    return `Bearer ${res.json().access_token as string}`;
  };
  const call = async (auth: string, method: 'POST' | 'PATCH', url: string, payload: object) => {
    const res = await server.app.inject({ method, url, headers: { authorization: auth }, payload });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const webhook = async (auth: string, body: object) => {
    const w = await call(auth, 'POST', '/webhooks', body);
    await call(auth, 'PATCH', `/webhooks/${w.id}`, { active: true });
    return w.id as string;
  };
  shift = 31 * MINUTE; // the webhooks exist before the traffic
  const appAuth = await token(app);
  const main = await webhook(appAuth, { callbackUrl: receiverUrl('/hooks/imodels'), scope: 'iTwin', scopeId: ITWIN, eventTypes: ['iModels.iModelCreated.v1', 'iModels.namedVersionCreated.v1', 'iModels.changesReady.v1'] });
  await webhook(appAuth, { callbackUrl: receiverUrl('/hooks/access'), scope: 'Account', eventTypes: ['accessControl.memberAdded.v1', 'accessControl.memberRemoved.v1'] });
  await webhook(await token(other), { callbackUrl: receiverUrl('/tracker/hook'), scope: 'Account', eventTypes: ['issues.attachmentAttached.v1'] });

  // Half an hour of events, a few a minute, published on the server's clock set back.
  const example = async (type: string) => (await store.getEventTypes([type]))[0]!.example;
  const types = ['iModels.iModelCreated.v1', 'iModels.namedVersionCreated.v1', 'iModels.changesReady.v1', 'accessControl.memberAdded.v1'];
  for (let m = 30; m >= 0; m--) {
    shift = m * MINUTE;
    const events = await Promise.all(Array.from({ length: 2 + ((m * 7) % 5) }, async (_, i) => ({ eventType: types[(m + i) % types.length]!, iTwinId: ITWIN, content: await example(types[(m + i) % types.length]!) })));
    await call(appAuth, 'POST', '/webhooks/events', { events });
    await new Promise((r) => setTimeout(r, 250));
  }
  shift = 0;
  await new Promise((r) => setTimeout(r, 1500));

  mkdirSync(OUT, { recursive: true });
  const shoot = async (page: Page, name: string, fullPage = false) => {
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
    await page.screenshot({ path: new URL(`${name}.png`, OUT).pathname, fullPage });
    console.log(`docs/screenshots/${name}.png`);
  };
  const context = await b.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const base = `${server.url}/ui/`;
  const signIn = async (c: { clientId: string; clientSecret: string }, screenshot?: string) => {
    await page.goto(base);
    await page.getByLabel('Client ID').fill(c.clientId);
    await page.getByLabel('Client secret').fill(c.clientSecret);
    if (screenshot !== undefined) await shoot(page, screenshot);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  };

  await signIn(app, '1-sign-in');
  await page.getByText('24 h:').first().waitFor();
  await shoot(page, '2-webhooks');

  await page.getByRole('link', { name: 'New webhook' }).click();
  await page.getByLabel('Callback URL').fill('receiver.example.com/hook');
  await page.getByLabel('iModels.iModelDeleted.v1').check();
  await page.getByRole('button', { name: 'Create webhook' }).click();
  await page.locator('#callbackUrl-error').waitFor();
  await shoot(page, '3-new-webhook-validation', true);
  await page.getByLabel('Callback URL').fill(receiverUrl('/hooks/deleted'));
  await page.getByRole('button', { name: 'Create webhook' }).click();
  await page.getByRole('button', { name: 'Copy secret' }).waitFor();
  await shoot(page, '4-secret-once');

  await page.goto(`${base}#/webhooks/${main}`);
  await page.getByRole('list', { name: 'Deliveries' }).waitFor();
  await page.getByText('Attempt duration').waitFor();
  await shoot(page, '5-webhook', true);

  const failed = page.getByRole('list', { name: 'Deliveries' }).getByRole('listitem').filter({ hasText: '503' }).first();
  await failed.getByRole('link').click();
  await page.getByRole('heading', { name: 'Attempts' }).waitFor();
  await page.getByText('Signed request').first().click();
  await page.getByLabel('Signed headers').first().waitFor();
  await shoot(page, '6-delivery', true);

  await page.getByRole('link', { name: 'Event types' }).click();
  await page.getByRole('button', { name: 'Trigger iModels.namedVersionCreated.v1' }).click();
  await page.getByRole('button', { name: 'Publish event' }).click();
  await page.getByText('matched').waitFor();
  // The triggered type's card, from its name to the publish's answer.
  const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'iModels.namedVersionCreated.v1' }) });
  await card.screenshot({ path: new URL('7-catalog.png', OUT).pathname });
  console.log('docs/screenshots/7-catalog.png');

  await page.getByRole('link', { name: 'Activity', exact: true }).click();
  await page.getByText('Attempt duration').waitFor();
  await shoot(page, '8-activity');

  const narrow = await b.browser.newContext({ viewport: { width: 420, height: 860 } });
  const small = await narrow.newPage();
  await small.goto(base);
  await small.getByLabel('Client ID').fill(app.clientId);
  await small.getByLabel('Client secret').fill(app.clientSecret);
  await small.getByRole('button', { name: 'Sign in', exact: true }).click();
  await small.goto(`${base}#/webhooks/${main}`);
  await small.getByRole('list', { name: 'Deliveries' }).waitFor();
  await shoot(small, '9-webhook-420px');
  await small.getByRole('button', { name: 'Sign out' }).click();
  await small.getByLabel('Client ID').fill(operator.clientId);
  await small.getByLabel('Client secret').fill(operator.clientSecret);
  await small.getByRole('button', { name: 'Sign in', exact: true }).click();
  await small.goto(`${base}#/operator/directory`);
  await small.getByRole('table', { name: 'Grants' }).waitFor();
  await shoot(small, '14-operator-directory-420px');
  await narrow.close();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(operator);
  await page.getByRole('link', { name: 'All webhooks' }).click();
  await page.getByText('tracker/hook').waitFor();
  await page.getByText('24 h:').first().waitFor();
  await shoot(page, '10-operator-webhooks');

  await page.getByRole('link', { name: 'Applications', exact: true }).click();
  await page.getByRole('table', { name: 'Applications' }).waitFor();
  await shoot(page, '11-operator-applications');
  await page.getByRole('link', { name: 'New application' }).click();
  await page.getByLabel('Name').fill('release-notifier');
  await page.getByLabel('Account ID').fill(ACCOUNT);
  await page.getByRole('button', { name: 'Register application' }).click();
  await page.getByRole('button', { name: 'Copy client secret' }).waitFor();
  await shoot(page, '12-operator-application-secret-once');
  const registered = (await page.locator('dl.facts dd').first().innerText()).trim();

  await page.getByRole('link', { name: 'Directory', exact: true }).click();
  const grant = page.getByRole('form', { name: 'Grant' });
  await grant.getByLabel('Application (client ID)').fill(registered);
  await grant.getByLabel('iTwin ID').fill(ITWIN);
  await grant.getByRole('button', { name: 'Grant' }).click();
  await page.getByRole('status').waitFor();
  await shoot(page, '13-operator-directory', true);
  await context.close();
} finally {
  await b.close();
  await server.close();
  receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
}
