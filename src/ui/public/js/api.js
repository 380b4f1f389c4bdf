// The dashboard talks to the public API only, with the signed-in application's bearer
// token: it sees exactly what the API shows that application. The token lives in
// sessionStorage (gone when the tab closes, never in a cookie, so there is nothing for
// another site to ride on); signing out removes it.

const SESSION_KEY = 'itwin-webhooks.session';

/**
 * @typedef {{ token: string, clientId: string, scopes: string[], expiresAt: number | undefined, via: 'client' | 'token' }} Session
 * @typedef {{ code: string, message: string, target: string }} ErrorDetail
 */

/** An answer of the API that is not 2xx, with the contract's error body. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {ErrorDetail[]} [details] */
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** @returns {Session | undefined} */
export function currentSession() {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (raw === null) return undefined;
    const s = JSON.parse(raw);
    if (s.expiresAt !== undefined && s.expiresAt <= Date.now()) {
      sessionStorage.removeItem(SESSION_KEY);
      return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

/** @param {string} reason */
export function signOut(reason = '') {
  sessionStorage.removeItem(SESSION_KEY);
  window.dispatchEvent(new CustomEvent('session-changed', { detail: { reason } }));
}

/** @param {Session} session */
function keep(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  window.dispatchEvent(new CustomEvent('session-changed', { detail: { reason: '' } }));
}

/** The claims of a JWT, read only to label the page (the API checks the token, not this). */
function claimsOf(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

const scopesOf = (claims) => (typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : Array.isArray(claims.scp) ? claims.scp : []);

/** Does this server issue tokens itself (the built-in issuer), or does an external issuer? The server says so in the page. */
export function hasBuiltinIssuer() {
  return document.querySelector('meta[name="itwin-webhooks-sign-in"]')?.getAttribute('content') !== 'token';
}

/**
 * Signs in with a service application's client id and secret (client credentials, at the
 * built-in issuer's token endpoint).
 * @param {string} clientId @param {string} clientSecret
 */
export async function signInWithClient(clientId, clientSecret) {
  const res = await fetch('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const retry = res.headers.get('retry-after');
    const message =
      body.error === 'invalid_client'
        ? 'The client ID or the client secret is wrong.'
        : (body.error_description ?? `The sign-in failed (HTTP ${res.status}).`) + (retry === null ? '' : ` Try again in ${retry} s.`);
    throw new ApiError(res.status, body.error ?? 'SignInFailed', message);
  }
  keep({
    token: body.access_token,
    clientId,
    scopes: String(body.scope ?? '').split(' ').filter(Boolean),
    expiresAt: Date.now() + Number(body.expires_in ?? 3600) * 1000,
    via: 'client',
  });
}

/**
 * Signs in with a bearer token from an external issuer, after checking that the API
 * accepts it.
 * @param {string} token
 */
export async function signInWithToken(token) {
  const t = token.trim().replace(/^Bearer\s+/i, '');
  const res = await fetch('/webhooks?$top=1', { headers: { authorization: `Bearer ${t}`, accept: 'application/json' } });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, body.error?.code ?? 'SignInFailed', body.error?.message ?? `The API refused the token (HTTP ${res.status}).`);
  }
  const claims = claimsOf(t);
  keep({
    token: t,
    clientId: String(claims.client_id ?? claims.azp ?? claims.sub ?? 'unknown application'),
    scopes: scopesOf(claims),
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    via: 'token',
  });
}

/**
 * Calls the API as the signed-in application. An answer that is not 2xx throws an
 * ApiError with the contract's code, message and details; a 401 ends the session.
 * @param {string} method @param {string} path @param {unknown} [body]
 */
export async function api(method, path, body) {
  const session = currentSession();
  if (session === undefined) {
    signOut('Your session has ended; sign in again.');
    throw new ApiError(401, 'SignedOut', 'Signed out.');
  }
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 204) return undefined;
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = json?.error ?? {};
    if (res.status === 401) signOut('The API no longer accepts the token; sign in again.');
    throw new ApiError(res.status, e.code ?? 'Error', e.message ?? `HTTP ${res.status}`, e.details ?? []);
  }
  return json;
}

/** @param {string} scope */
export function hasScope(scope) {
  const s = currentSession();
  return s !== undefined && s.scopes.includes(scope);
}
