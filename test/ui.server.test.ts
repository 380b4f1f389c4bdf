import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DASHBOARD_CSP, vendorModule } from '../src/ui/dashboard.ts';
import { createHarness, type Harness } from './helpers/harness.ts';

/** How the server serves the dashboard (the browser tests use it; these check the HTTP side). */
describe('the dashboard at /ui/', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness();
  });
  after(() => h.close());

  it('serves the page, its modules and the vendored Preact and htm, each with the security headers', async () => {
    for (const [url, type] of [
      ['/ui/', 'text/html'],
      ['/ui', 'text/html'],
      ['/ui/js/main.js', 'javascript'],
      ['/ui/app.css', 'text/css'],
      ['/ui/favicon.svg', 'image/svg+xml'],
      ['/ui/vendor/preact.js', 'javascript'],
      ['/ui/vendor/hooks.js', 'javascript'],
      ['/ui/vendor/htm.js', 'javascript'],
    ] as const) {
      const res = await h.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.ok(String(res.headers['content-type']).includes(type), `${url}: ${res.headers['content-type']}`);
      assert.equal(res.headers['content-security-policy'], DASHBOARD_CSP, url);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['set-cookie'], undefined, url);
    }
    assert.match(DASHBOARD_CSP, /script-src 'self'(;|$)/);
    assert.doesNotMatch(DASHBOARD_CSP, /unsafe|https?:|\*/, 'no inline script or style, nothing from elsewhere');
    const hooks = (await h.inject({ method: 'GET', url: '/ui/vendor/hooks.js' })).body;
    assert.match(hooks, /from\s*"\.\/preact\.js"/, 'bare imports point at the served files');
    assert.doesNotMatch(hooks, /sourceMappingURL/);
    assert.match((await h.inject({ method: 'GET', url: '/ui/' })).body, /<meta name="itwin-webhooks-sign-in" content="client-credentials">/, 'the built-in issuer: client credentials');
  });

  it('serves nothing else from the folder or node_modules, and the routes stay out of the API document', async () => {
    for (const url of ['/ui/index.html', '/ui/vendor/react.js', '/ui/../dashboard.ts', '/ui/%2e%2e/dashboard.ts', '/ui/js/nope.js', '/ui/vendor/..%2fpreact.js']) {
      const res = await h.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json().error.code, 'RouteNotFound', url);
    }
    const doc = (await h.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/ui')), []);
  });

  it('vendored modules may import only each other', () => {
    assert.equal(vendorModule('import{a}from"preact";\n//# sourceMappingURL=x.map', 'x'), 'import{a}from"./preact.js";\n');
    assert.throws(() => vendorModule('import x from "left-pad";', 'x'), /imports left-pad/);
  });
});

describe('DASHBOARD=false', () => {
  it('turns the dashboard off and leaves the API as it is', async () => {
    const h = await createHarness({ env: { DASHBOARD: 'false' } });
    try {
      assert.equal((await h.inject({ method: 'GET', url: '/ui/' })).statusCode, 404);
      assert.equal((await h.inject({ method: 'GET', url: '/ui/vendor/preact.js' })).statusCode, 404);
      assert.equal((await h.inject({ method: 'GET', url: '/webhooks' })).statusCode, 401);
    } finally {
      await h.close();
    }
  });
});
