import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Page } from 'playwright-core';
import { SCOPES } from '../src/auth/scopes.ts';
import { DASHBOARD_CSP } from '../src/ui/dashboard.ts';
import { launchBrowser, openPage, type TestBrowser } from './helpers/browser.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness, type TestClient } from './helpers/harness.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a
 * real server on a loopback socket, used the way a person uses it: labels, buttons, links.
 * One browser for the file; each test has its own browser context (its own session).
 */

const CREATED = 'iModels.iModelCreated.v1';
const NAMED_VERSION = 'iModels.namedVersionCreated.v1';
const SUBSCRIBER = [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish];
const WAIT = { timeout: 15_000 };

/** No console error and no uncaught exception (but the failed loads `expected` matches): asserted at the end of every test. */
const clean = (problems: { unexpected(e?: RegExp): string[] }, expected?: RegExp) => assert.deepEqual(problems.unexpected(expected), []);

let b: TestBrowser;
before(async () => {
  b = await launchBrowser();
});
after(async () => {
  await b?.close();
});

describe('dashboard in Chromium', () => {
  let h: Harness;
  let r: Receiver;
  let base: string;

  before(async () => {
    r = await new Receiver().start();
    h = await createHarness({ listen: true, flags: LOOPBACK_CALLBACKS });
    base = h.server.url;
  });
  after(async () => {
    await h?.close();
    await r?.close();
  });

  const api = (who: TestClient, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    h.inject({ method, url, headers: { authorization: who.auth }, ...(payload === undefined ? {} : { payload }) });

  async function signIn(page: Page, who: TestClient) {
    await page.goto(`${base}/ui/`);
    await page.getByLabel('Client ID').fill(who.clientId);
    await page.getByLabel('Client secret').fill(who.clientSecret);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor(WAIT);
  }


  it('signs in, creates a webhook and shows its secret once, then activates it', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const { context, page, problems } = await openPage(b);
    try {
      const res = await page.goto(`${base}/ui/`);
      assert.equal(res!.headers()['content-security-policy'], DASHBOARD_CSP);
      assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
      await signIn(page, me);
      await page.getByRole('link', { name: 'New webhook' }).click();
      await page.getByLabel('Callback URL').fill(r.url('/ui-created'));
      await page.getByLabel(CREATED).check();
      await page.getByRole('button', { name: 'Create webhook' }).click();
      const secret = await page.getByLabel('Secret', { exact: true }).inputValue({ timeout: WAIT.timeout });
      assert.match(secret, /^[0-9a-f]{64}$/, 'the generated secret, shown once');
      await page.getByRole('button', { name: 'Copy secret' }).waitFor();
      const [listed] = (await api(me, 'GET', '/webhooks')).json().webhooks;
      assert.equal(listed.callbackUrl, r.url('/ui-created'));
      assert.equal(listed.active, false, 'created inactive');

      await page.getByRole('link', { name: 'Go to the webhook' }).click();
      await page.getByRole('button', { name: 'Activate' }).click();
      await page.getByRole('button', { name: 'Deactivate' }).waitFor(WAIT);
      assert.equal((await api(me, 'GET', `/webhooks/${listed.id}`)).json().active, true);
      await page.reload();
      await page.getByRole('button', { name: 'Deactivate' }).waitFor(WAIT);
      assert.equal((await page.content()).includes(secret), false, 'the secret is never shown again');
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('shows a published event\'s delivery without reloading; opens it; redelivers and shows the second attempt', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const itwinId = await h.itwin(me.accountId);
    const hook = await h.webhook(me, { callbackUrl: r.url('/ui-live'), eventTypes: [CREATED] });
    r.setSecret('/ui-live', hook.secret);
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, me);
      await page.getByRole('link', { name: r.url('/ui-live') }).click();
      await page.getByText('No deliveries yet.').waitFor(WAIT);
      await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

      const published = await api(me, 'POST', '/webhooks/events', { eventType: CREATED, iTwinId: itwinId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      assert.equal(published.statusCode, 202);
      const messageId = published.json().events[0].messageId;
      const row = page.getByRole('list', { name: 'Deliveries' }).getByRole('listitem').filter({ hasText: CREATED });
      await row.filter({ hasText: 'succeeded' }).waitFor(WAIT);
      assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');

      await row.getByRole('link', { name: CREATED }).click();
      await page.getByText(messageId).first().waitFor(WAIT);
      assert.match(await page.locator('pre[aria-label="Payload"]').innerText(), new RegExp(`"messageId": "${messageId}"`), 'the payload, pretty-printed');
      const attempts = page.getByRole('list', { name: 'Attempts' }).getByRole('listitem');
      assert.equal(await attempts.count(), 1);
      await attempts.first().getByText('HTTP 200').waitFor();

      await page.getByText('Signed request').click();
      const headers = await page.getByLabel('Signed headers').innerText({ timeout: WAIT.timeout });
      const got = r.at('/ui-live')[0]!;
      assert.ok(headers.includes(`signature: ${got.headers.signature}`), headers);
      assert.ok(headers.includes(`webhook-signature: ${got.headers['webhook-signature']}`));
      assert.equal(await page.getByLabel('Signed body').innerText(), got.rawBody);

      await page.getByRole('button', { name: 'Redeliver' }).click();
      await page.getByText('Attempt 2').waitFor(WAIT);
      await r.waitFor(() => r.at('/ui-live').length === 2);
      assert.equal(await attempts.count(), 2);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('triggers an event from the catalog and filters deliveries by event type', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const itwinId = await h.itwin(me.accountId);
    await h.webhook(me, { callbackUrl: r.url('/ui-catalog'), eventTypes: [CREATED, NAMED_VERSION] });
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, me);
      await page.getByRole('link', { name: 'Event types' }).click();
      const card = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: NAMED_VERSION }) });
      await card.getByText('Example content').click();
      assert.match(await card.getByLabel(`Example of ${NAMED_VERSION}`).innerText(), /"namedVersionName"/);
      await card.getByRole('button', { name: `Trigger ${NAMED_VERSION}` }).click();
      await card.getByLabel('iTwin ID').fill(itwinId);
      await card.getByRole('button', { name: 'Publish event' }).click();
      await card.getByText('1 webhook matched').waitFor(WAIT);
      await r.waitFor(() => r.at('/ui-catalog').length === 1);
      assert.equal(r.at('/ui-catalog')[0]!.body.eventType, NAMED_VERSION);

      await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
      await page.getByRole('link', { name: r.url('/ui-catalog') }).click();
      const rows = page.getByRole('list', { name: 'Deliveries' }).getByRole('listitem');
      await rows.first().waitFor(WAIT);
      await page.getByLabel('Event type', { exact: true }).selectOption(CREATED);
      await page.getByText('No deliveries match these filters.').waitFor(WAIT);
      await page.getByLabel('Event type', { exact: true }).selectOption(NAMED_VERSION);
      await rows.filter({ hasText: NAMED_VERSION }).waitFor(WAIT);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('never shows another application\'s webhook, not even by its address', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const other = await h.client({ accountId: me.accountId });
    await h.webhook(me, { callbackUrl: r.url('/ui-mine') });
    const theirs = await h.webhook(other, { callbackUrl: r.url('/ui-theirs-secretive') });
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, me);
      await page.getByRole('link', { name: r.url('/ui-mine') }).waitFor(WAIT);
      assert.equal((await page.content()).includes('ui-theirs-secretive'), false);
      await page.goto(`${base}/ui/#/webhooks/${theirs.id}`);
      await page.getByText('Requested webhook is not available. (WebhookNotFound)').waitFor(WAIT);
      assert.equal((await page.content()).includes('ui-theirs-secretive'), false);
      await page.goto(`${base}/ui/#/operator/webhooks`);
      await page.getByRole('link', { name: r.url('/ui-mine') }).waitFor(WAIT);
      assert.equal((await page.content()).includes('ui-theirs-secretive'), false, 'no operator view without webhooks:admin');
      // The only failed loads are the API's 404s for that webhook.
      clean(problems, new RegExp(`/webhooks/${theirs.id}$`));
    } finally {
      await context.close();
    }
  });

  it('renders event content and receiver answers as text: the XSS payload runs nothing', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const itwinId = await h.itwin(me.accountId);
    const hook = await h.webhook(me, { callbackUrl: r.url('/ui-xss'), eventTypes: [NAMED_VERSION] });
    const payload = '<img src=x onerror="window.__xss=(window.__xss||0)+1"><script>window.__xss=(window.__xss||0)+1</script>';
    r.on('/ui-xss', (_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(payload);
      return 'handled';
    });
    const content = { imodelId: randomUUID(), namedVersionId: randomUUID(), namedVersionName: payload, changesetId: 'a'.repeat(40), changesetIndex: 1, userId: randomUUID() };
    assert.equal((await api(me, 'POST', '/webhooks/events', { eventType: NAMED_VERSION, iTwinId: itwinId, content })).statusCode, 202);
    await r.waitFor(() => r.at('/ui-xss').length === 1);
    await eventually(async () => (await api(me, 'GET', `/webhooks/${hook.id}/deliveries?status=succeeded`)).json().deliveries.length === 1, 10_000, 'the delivery');
    const [delivery] = (await api(me, 'GET', `/webhooks/${hook.id}/deliveries`)).json().deliveries;
    const { context, page, problems } = await openPage(b);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    try {
      await signIn(page, me);
      await page.evaluate(() => document.addEventListener('securitypolicyviolation', (e) => ((window as unknown as { __csp: string[] }).__csp ??= []).push(e.violatedDirective)));
      await page.goto(`${base}/ui/#/webhooks/${hook.id}/deliveries/${delivery.id}`);
      await page.getByLabel('Response body').waitFor(WAIT);
      assert.equal(await page.getByLabel('Response body').innerText(), payload, 'the receiver\'s answer, as text');
      assert.ok((await page.locator('pre[aria-label="Payload"]').innerText()).includes(JSON.stringify(payload).slice(1, -1)), 'the content, as JSON text');
      await page.getByText('Signed request').click();
      await page.getByLabel('Signed body').waitFor(WAIT);
      await page.waitForTimeout(300); // a broken image's onerror would fire in this time
      const state = await page.evaluate(() => ({
        xss: (window as unknown as { __xss?: number }).__xss,
        csp: (window as unknown as { __csp?: string[] }).__csp,
        imgs: document.querySelectorAll('img').length,
        scripts: Array.from(document.querySelectorAll('script'), (s) => s.getAttribute('src')),
      }));
      assert.deepEqual(state, { xss: undefined, csp: undefined, imgs: 0, scripts: ['/ui/js/main.js'] });
      assert.deepEqual(dialogs, []);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('fits a 420 px window on every page: nothing scrolls sideways', async () => {
    const longName = 'an-application-with-a-long-name-'.repeat(3);
    const me = await h.client({ scopes: SUBSCRIBER, name: longName });
    const itwinId = await h.itwin(me.accountId);
    const hook = await h.webhook(me, { callbackUrl: r.url(`/ui-narrow/${'a-very-long-path-segment-'.repeat(6)}`), eventTypes: [CREATED, NAMED_VERSION] });
    await api(me, 'POST', '/webhooks/events', { eventType: CREATED, iTwinId: itwinId, content: { imodelId: randomUUID(), userId: randomUUID() } });
    await eventually(async () => (await api(me, 'GET', `/webhooks/${hook.id}/deliveries?status=succeeded`)).json().deliveries.length === 1, 10_000, 'the delivery');
    const [delivery] = (await api(me, 'GET', `/webhooks/${hook.id}/deliveries`)).json().deliveries;
    // The operator's pages hold the longest ids: the directory lists a grant of this application.
    const operator = await h.client({ scopes: [SCOPES.admin, SCOPES.read] });
    await h.server.deps.store.grant(me.clientId, itwinId, 'webhooks_maintainer', Date.now());
    await h.server.deps.store.addOrgAdmin(me.clientId, me.accountId, Date.now());
    const { context, page, problems } = await openPage(b, { width: 420, height: 800 });
    try {
      await signIn(page, me);
      const pages: Array<[string, string]> = [
        ['#/webhooks', 'Webhooks'],
        ['#/webhooks/new', 'New webhook'],
        [`#/webhooks/${hook.id}`, 'Deliveries'],
        [`#/webhooks/${hook.id}/deliveries/${delivery.id}`, 'Attempts'],
        [`#/webhooks/${hook.id}/edit`, 'Edit webhook'],
        ['#/catalog', 'Event types'],
        ['#/activity', 'Activity'],
      ];
      const fits = async (hash: string, heading: string) => {
        await page.goto(`${base}/ui/${hash}`);
        await page.getByRole('heading', { name: heading, exact: true }).waitFor(WAIT);
        await page.waitForLoadState('networkidle');
        const [scrollWidth, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(scrollWidth <= width, `${hash}: ${scrollWidth} px wide in a ${width} px window`);
      };
      for (const [hash, heading] of pages) await fits(hash, heading);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await signIn(page, operator);
      const operatorPages: Array<[string, string]> = [
        ['#/operator/applications', 'Applications'],
        ['#/operator/applications/new', 'New application'],
        [`#/operator/applications/${me.clientId}`, longName],
        ['#/operator/directory', 'Directory'],
      ];
      for (const [hash, heading] of operatorPages) await fits(hash, heading);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('works from the keyboard alone: sign in, reach a webhook, signing out forgets the token', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    await h.webhook(me, { callbackUrl: r.url('/ui-keys') });
    const { context, page, problems } = await openPage(b);
    try {
      await page.goto(`${base}/ui/`);
      await page.getByLabel('Client ID').waitFor(WAIT);
      // The page's heading has the focus; the first field is the next stop.
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'clientId');
      await page.keyboard.type(me.clientId);
      await page.keyboard.press('Tab');
      await page.keyboard.type(me.clientSecret);
      await page.keyboard.press('Enter');
      const link = page.getByRole('link', { name: r.url('/ui-keys') });
      await link.waitFor(WAIT);
      await link.focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Deliveries' }).waitFor(WAIT);
      assert.ok((await page.evaluate(() => sessionStorage.length)) > 0);
      assert.deepEqual(await context.cookies(), [], 'no cookie: the token is in sessionStorage only');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Client secret').waitFor(WAIT);
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'signing out forgets the token');
      await page.reload();
      await page.getByLabel('Client secret').waitFor(WAIT);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  it('shows the API\'s validation messages next to their fields, and deletes only after a confirmation', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    const hook = await h.webhook(me, { callbackUrl: r.url('/ui-edit') });
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, me);
      await page.goto(`${base}/ui/#/webhooks/${hook.id}/edit`);
      await page.waitForFunction((url) => (document.getElementById('callbackUrl') as HTMLInputElement | null)?.value === url, r.url('/ui-edit'), WAIT);
      await page.getByLabel('Callback URL').fill('ftp://example.com/hook');
      await page.getByRole('button', { name: 'Save' }).click();
      const field = page.getByLabel('Callback URL');
      await page.locator('#callbackUrl-error').waitFor(WAIT);
      assert.equal(await field.getAttribute('aria-describedby'), 'callbackUrl-error');
      assert.match(await page.locator('#callbackUrl-error').innerText(), /callbackUrl/);
      assert.equal((await api(me, 'GET', `/webhooks/${hook.id}`)).json().callbackUrl, r.url('/ui-edit'), 'nothing changed');

      await page.goto(`${base}/ui/#/webhooks/${hook.id}`);
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('alertdialog').waitFor(WAIT);
      await page.getByRole('button', { name: 'Keep it' }).click();
      assert.equal((await api(me, 'GET', `/webhooks/${hook.id}`)).statusCode, 200);
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('button', { name: 'Yes, delete it' }).click();
      await page.getByText('No webhooks yet.').waitFor(WAIT);
      assert.equal((await api(me, 'GET', `/webhooks/${hook.id}`)).statusCode, 404);
      clean(problems, new RegExp(`/webhooks/${hook.id}$`)); // the 422 of the refused edit
    } finally {
      await context.close();
    }
  });

  it('gives a webhooks:admin client the operator view: every application\'s webhooks, read-only', async () => {
    const alpha = await h.client({ scopes: SUBSCRIBER });
    const bravo = await h.client();
    const operator = await h.client({ scopes: [SCOPES.admin, SCOPES.read] });
    const a = await h.webhook(alpha, { callbackUrl: r.url('/ui-op-alpha') });
    await h.webhook(bravo, { callbackUrl: r.url('/ui-op-bravo') });
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, operator);
      await page.getByRole('link', { name: 'All webhooks' }).click();
      await page.getByRole('link', { name: r.url('/ui-op-bravo') }).waitFor(WAIT);
      await page.getByRole('link', { name: r.url('/ui-op-alpha') }).click();
      await page.getByText(alpha.clientId).first().waitFor(WAIT);
      await page.getByRole('heading', { name: 'Deliveries' }).waitFor(WAIT);
      for (const name of ['Activate', 'Deactivate', 'Delete', 'Send test event']) {
        assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} for an operator`);
      }
      assert.equal((await api(alpha, 'GET', `/webhooks/${a.id}`)).json().active, true);
      clean(problems);
    } finally {
      await context.close();
    }
  });

  /** The status of a token request with these credentials (the built-in issuer). */
  const tokenStatus = async (clientId: string, clientSecret: string) =>
    (
      await h.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
      })
    ).statusCode;

  it('lets an operator register an application (its secret shown once), rotate its secret, grant it an iTwin, see the grant and remove it, then delete it', async () => {
    const operator = await h.client({ scopes: [SCOPES.admin, SCOPES.read] });
    const account = randomUUID();
    const itwinId = randomUUID();
    // A tenant-supplied name that would run script if it were ever HTML.
    const name = '<img src=x onerror="window.__xss=1">ops <b>app</b>';
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, operator);
      await page.getByRole('link', { name: 'Applications', exact: true }).click();
      await page.getByRole('link', { name: 'New application' }).click();
      await page.getByLabel('Name').fill(name);
      await page.getByLabel('Account ID').fill('not-an-account');
      await page.getByLabel('webhooks:publish').check();
      await page.getByRole('button', { name: 'Register application' }).click();
      await page.locator('#accountId-error').waitFor(WAIT);
      assert.equal(await page.getByLabel('Account ID').getAttribute('aria-describedby'), 'accountId-error');
      assert.match(await page.locator('#accountId-error').innerText(), /accountId/);
      await page.getByLabel('Account ID').fill(account);
      await page.getByRole('button', { name: 'Register application' }).click();
      const secret = await page.getByLabel('Client secret', { exact: true }).inputValue({ timeout: WAIT.timeout });
      await page.getByRole('button', { name: 'Copy client secret' }).waitFor();
      const [client] = (await api(operator, 'GET', `/admin/clients?accountId=${account}`)).json().clients;
      assert.equal(client.name, name, 'registered with the name as typed');
      assert.deepEqual(client.scopes, [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish]);
      await page.getByText(client.clientId, { exact: true }).waitFor();
      assert.equal(await tokenStatus(client.clientId, secret), 200, 'the secret shown signs the application in');

      await page.getByRole('link', { name: 'Go to the application' }).click();
      await page.getByRole('heading', { name, exact: true }).waitFor(WAIT);
      await page.reload();
      await page.getByRole('button', { name: 'Rotate secret' }).waitFor(WAIT);
      assert.equal((await page.content()).includes(secret), false, 'the secret is never shown again');
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      await page.getByLabel('The previous secret keeps working').selectOption('0');
      await page.getByRole('button', { name: 'Rotate the secret' }).click();
      await page.getByText('The previous secret no longer works.').waitFor(WAIT);
      const rotated = await page.getByLabel('Client secret', { exact: true }).inputValue();
      assert.notEqual(rotated, secret);
      assert.equal(await tokenStatus(client.clientId, secret), 401, 'the old secret stopped at once');
      assert.equal(await tokenStatus(client.clientId, rotated), 200);

      await page.getByRole('link', { name: 'Directory', exact: true }).click();
      const addItwin = page.getByRole('form', { name: 'Add iTwin' });
      await addItwin.getByLabel('iTwin ID').fill('not-an-itwin');
      await addItwin.getByLabel('Account ID').fill(account);
      await addItwin.getByRole('button', { name: 'Add iTwin' }).click();
      await page.locator('#itwin-itwinId-error').getByText('itwinId must be a UUID.').waitFor(WAIT);
      await addItwin.getByLabel('iTwin ID').fill(itwinId);
      await addItwin.getByRole('button', { name: 'Add iTwin' }).click();
      await page.getByRole('table', { name: 'iTwins' }).getByRole('row').filter({ hasText: itwinId }).waitFor(WAIT);

      const grant = page.getByRole('form', { name: 'Grant' });
      await grant.getByLabel('Application (client ID)').fill(client.clientId);
      await grant.getByLabel('iTwin ID').fill(randomUUID());
      await grant.getByRole('button', { name: 'Grant' }).click();
      await page.locator('#grant-itwinId-error').waitFor(WAIT); // an iTwin the directory does not know
      await grant.getByLabel('iTwin ID').fill(itwinId);
      await grant.getByRole('button', { name: 'Grant' }).click();
      const row = page.getByRole('table', { name: 'Grants' }).getByRole('row').filter({ hasText: client.clientId });
      await row.filter({ hasText: itwinId }).filter({ hasText: 'webhooks_maintainer' }).waitFor(WAIT);
      const grants = async () => (await api(operator, 'GET', `/admin/grants?clientId=${encodeURIComponent(client.clientId)}`)).json().grants;
      assert.deepEqual((await grants()).map((g: { itwinId: string; permission: string }) => [g.itwinId, g.permission]), [[itwinId, 'webhooks_maintainer']]);

      await row.getByRole('button', { name: 'Remove' }).click();
      await page.getByRole('alertdialog').getByText(`from ${client.clientId}`).waitFor(WAIT);
      assert.equal((await grants()).length, 1, 'nothing removed before the confirmation');
      await page.getByRole('button', { name: 'Yes, remove it' }).click();
      await page.getByText('Removed.').waitFor(WAIT);
      await row.waitFor({ state: 'detached', ...WAIT });
      assert.deepEqual(await grants(), []);

      await page.getByRole('link', { name: 'Applications', exact: true }).click();
      const listed = page.getByRole('table', { name: 'Applications' }).getByRole('row').filter({ hasText: client.clientId });
      assert.equal(await listed.getByRole('cell').nth(1).innerText({ timeout: WAIT.timeout }), name, 'the name, as text');
      await listed.getByRole('link', { name: client.clientId }).click();
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('button', { name: 'Keep it' }).click();
      assert.equal((await api(operator, 'GET', `/admin/clients/${client.clientId}`)).statusCode, 200);
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('button', { name: 'Yes, delete it' }).click();
      await page.getByRole('heading', { name: 'Applications', exact: true }).waitFor(WAIT);
      assert.equal((await api(operator, 'GET', `/admin/clients/${client.clientId}`)).statusCode, 404);
      assert.equal(await tokenStatus(client.clientId, rotated), 401, 'a deleted application cannot sign in');
      assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'the name ran nothing');
      // The only failed loads are the refused requests the test made on purpose.
      clean(problems, /\/admin\/(clients|itwins\/not-an-itwin|grants\/[^/]+\/[^/]+\/webhooks_maintainer)$/);
    } finally {
      await context.close();
    }
  });

  it('never shows the operator pages to a client without webhooks:admin, and the admin API answers it 403', async () => {
    const me = await h.client({ scopes: SUBSCRIBER });
    await h.webhook(me, { callbackUrl: r.url('/ui-not-operator') });
    const { context, page, problems } = await openPage(b);
    try {
      await signIn(page, me);
      await page.getByRole('link', { name: r.url('/ui-not-operator') }).waitFor(WAIT);
      for (const link of ['Applications', 'All webhooks', 'All activity', 'Directory']) assert.equal(await page.getByRole('link', { name: link }).count(), 0, `no ${link} link`);
      for (const hash of ['#/operator/applications', '#/operator/applications/new', `#/operator/applications/${me.clientId}`, '#/operator/directory']) {
        await page.goto(`${base}/ui/${hash}`);
        await page.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor(WAIT);
        assert.equal(await page.getByRole('heading', { name: /Applications|Directory|New application/ }).count(), 0, hash);
      }
      // The page's own token, straight at the admin API.
      const statuses = await page.evaluate(async (clientId) => {
        const token = JSON.parse(sessionStorage.getItem('itwin-webhooks.session')!).token as string;
        const call = async (method: string, path: string) => (await fetch(path, { method, headers: { authorization: `Bearer ${token}` } })).status;
        return [
          await call('GET', '/admin/clients'),
          await call('POST', `/admin/clients/${clientId}/secret`),
          await call('GET', '/admin/itwins'),
          await call('GET', '/admin/grants'),
          await call('PUT', `/admin/org-admins/${clientId}/${crypto.randomUUID()}`),
        ];
      }, me.clientId);
      assert.deepEqual(statuses, [403, 403, 403, 403, 403]);
      clean(problems, /\/admin\//);
    } finally {
      await context.close();
    }
  });
});

describe('dashboard in Chromium with an external issuer (AUTH_JWKS_URL)', () => {
  let jwks: Server;
  let key: CryptoKey;
  let h: Harness;
  const issuer = 'https://login.example.com';

  before(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [publicJwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    h = await createHarness({ listen: true, env: { AUTH_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`, AUTH_ISSUER: issuer } });
  });
  after(async () => {
    await h?.close();
    jwks?.close();
  });

  it('signs in with a pasted bearer token, and sees that application\'s webhooks', async () => {
    const account = randomUUID();
    const token = await new SignJWT({ client_id: 'external-app', sub: 'external-app', org: account, scope: 'webhooks:read webhooks:modify' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience(h.config.auth.audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
    const created = await h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: `Bearer ${token}` }, payload: { callbackUrl: 'https://external.example.com/hook', scope: 'Account', eventTypes: [CREATED] } });
    assert.equal(created.statusCode, 201, created.body);
    const { context, page, problems } = await openPage(b);
    try {
      await page.goto(`${h.server.url}/ui/`);
      await page.getByLabel('Access token').waitFor(WAIT);
      assert.equal(await page.getByLabel('Client ID').count(), 0, 'no client-credentials form without the built-in issuer');
      await page.getByLabel('Access token').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in with token' }).click();
      await page.getByRole('alert').waitFor(WAIT);
      await page.getByLabel('Access token').fill(token);
      await page.getByRole('button', { name: 'Sign in with token' }).click();
      await page.getByRole('link', { name: 'https://external.example.com/hook' }).waitFor(WAIT);
      await page.getByText('external-app').waitFor();
      clean(problems, /\/webhooks\?\$top=1$/); // the refused token's check
    } finally {
      await context.close();
    }
  });
});
