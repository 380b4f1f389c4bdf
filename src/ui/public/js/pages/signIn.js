import { hasBuiltinIssuer, signInWithClient, signInWithToken } from '../api.js';
import { ErrorNote, PageTitle } from '../components.js';
import { html, useState } from '../html.js';

/** Sign in as a service application: client credentials at the built-in issuer, or a pasted bearer token. @param {{ notice: string }} props */
export function SignIn({ notice }) {
  const builtin = hasBuiltinIssuer();
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [busy, setBusy] = useState(false);

  const run = (fn) => async (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      await fn(form);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const withClient = run((f) => signInWithClient(String(f.get('clientId')).trim(), String(f.get('clientSecret'))));
  const withToken = run((f) => signInWithToken(String(f.get('token'))));

  return html`<main class="narrow" id="main">
    <${PageTitle}>Sign in<//>
    <p>Sign in as a service application to see its webhooks and their deliveries: exactly what the API shows that application.</p>
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    <${ErrorNote} error=${error} />
    ${builtin &&
    html`<form class="card" onSubmit=${withClient}>
      <h2>Client credentials</h2>
      <label for="clientId">Client ID</label>
      <input id="clientId" name="clientId" autocomplete="username" required spellcheck="false" />
      <label for="clientSecret">Client secret</label>
      <input id="clientSecret" name="clientSecret" type="password" autocomplete="current-password" required />
      <button type="submit" disabled=${busy}>Sign in</button>
      <p class="hint">Create one with <code>npx itwin-webhooks clients create --name my-app --account ACCOUNT_ID</code>.</p>
    </form>`}
    <form class="card" onSubmit=${withToken}>
      <h2>${builtin ? 'Or a bearer token' : 'Bearer token'}</h2>
      <label for="token">Access token</label>
      <textarea id="token" name="token" rows="3" required spellcheck="false" placeholder="eyJ..."></textarea>
      <button type="submit" class=${builtin ? 'secondary' : ''} disabled=${busy}>Sign in with token</button>
      <p class="hint">A token of your OAuth2 issuer (AUTH_JWKS_URL) for a service application.</p>
    </form>
  </main>`;
}
