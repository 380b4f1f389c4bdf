/**
 * The API reference at /docs, in a real browser (Debian's Chromium through playwright-core):
 * its Authorize button signs in with a service application's client id and secret (the
 * document's OAuth2 client-credentials scheme), and "Try it out" then works with that token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { launchBrowser, openPage, type TestBrowser } from './helpers/browser.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

describe('API reference (/docs) in a browser', () => {
  let h: Harness;
  let b: TestBrowser;
  let app: TestClient;

  before(async () => {
    h = await createHarness({ listen: true });
    app = await h.client({ name: 'docs-user', scopes: [SCOPES.read, SCOPES.modify] });
    await h.webhook(app, { callbackUrl: 'https://receiver.example.com/docs' }, false);
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await h?.close();
  });

  it('Authorize signs in with a client id and secret, and Try it out lists the application\'s webhooks', async () => {
    const { context, page, problems } = await openPage(b);
    try {
      await page.goto(`${h.server.url}/docs`);
      await page.locator('.swagger-ui .auth-wrapper .authorize').click();
      const dialog = page.locator('.modal-ux');
      await dialog.locator('#client_id_clientCredentials').fill(app.clientId);
      await dialog.locator('#client_secret_clientCredentials').fill(app.clientSecret);
      await dialog.locator('.auth-container', { hasText: 'clientCredentials' }).locator('button.authorize').click();
      // Signed in: the section offers to log out.
      await dialog.locator('.auth-container', { hasText: 'clientCredentials' }).locator('button', { hasText: 'Logout' }).waitFor();
      await dialog.locator('button.close-modal').click();

      const op = page.locator('#operations-Webhooks-GetWebhooks');
      await op.locator('.opblock-summary').click();
      await op.locator('button.try-out__btn').click();
      await op.locator('button.execute').click();
      const status = op.locator('.live-responses-table .response .response-col_status').first();
      await status.waitFor();
      assert.equal((await status.innerText()).trim(), '200');
      const body = await op.locator('.live-responses-table .response-col_description pre').first().innerText();
      assert.match(body, /receiver\.example\.com\/docs/);
      assert.deepEqual(problems.unexpected(), []);
    } finally {
      await context.close();
    }
  });
});
