// The operator's service applications (clients of the built-in issuer, /admin/clients):
// list, register (the secret shown once), rotate a secret, delete.
import { api } from '../api.js';
import { Confirm, ErrorNote, FieldError, fieldErrors, PageTitle, SecretOnce } from '../components.js';
import { when } from '../format.js';
import { html, useEffect, useState } from '../html.js';
import { go, hrefOf } from '../router.js';
import { AdminTable, mono, useAdminList } from './adminList.js';
import { EVERYONE } from './webhooks.js';

const LIST = ['operator', 'applications'];
const pageOf = (clientId) => [...LIST, clientId];

/** The scopes a client may be given, and what each lets it do (the API's defaults checked). */
const SCOPES = [
  ['itwin-platform', 'read and change its webhooks (the hosted API\'s scope)', true],
  ['webhooks:read', 'read its webhooks and their deliveries', true],
  ['webhooks:modify', 'create, change and delete its webhooks', true],
  ['webhooks:publish', 'publish events', false],
  ['webhooks:admin', 'the operator view and the admin API', false],
];

const SECRET_INTRO = 'The application signs in (client credentials at /oauth/token) with its client ID and this secret.';

function ApplicationList() {
  const clients = useAdminList('/admin/clients', 'clients');
  return html`<main id="main">
    <div class="title-row">
      <${PageTitle}>Applications<//>
      <a class="button" href=${hrefOf([...LIST, 'new'])}>New application</a>
    </div>
    <p>Every service application registered with the built-in issuer, oldest first.</p>
    <${AdminTable}
      state=${clients}
      label="Applications"
      empty="No applications."
      columns=${[
        ['Client ID', (c) => html`<a class="mono" href=${hrefOf(pageOf(c.clientId))}>${c.clientId}</a>`],
        ['Name', (c) => c.name],
        ['Account', (c) => mono(c.accountId)],
        ['Scopes', (c) => c.scopes.join(' ')],
        ['Created', (c) => when(c.created)],
      ]}
    />
  </main>`;
}

/** Registers an application; the API's validation messages appear next to their fields. */
function NewApplication() {
  const [name, setName] = useState('');
  const [accountId, setAccountId] = useState('');
  const [scopes, setScopes] = useState(SCOPES.filter(([, , on]) => on).map(([s]) => s));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(/** @type {any} */ (undefined));

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await api('POST', '/admin/clients', { name, accountId: accountId.trim(), scopes }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (created !== undefined) {
    return html`<main id="main" class="narrow">
      <${PageTitle}>Application registered<//>
      <dl class="facts"><dt>Client ID</dt><dd class="mono">${created.clientId}</dd><dt>Name</dt><dd>${created.name}</dd></dl>
      <${SecretOnce} title="Its client secret" intro=${SECRET_INTRO} label="Client secret" secret=${created.clientSecret}>
        <p><a class="button" href=${hrefOf(pageOf(created.clientId))}>Go to the application</a></p>
      <//>
    </main>`;
  }
  const errs = fieldErrors(error);
  const described = (id) => (errs[id] === undefined ? undefined : `${id}-error`);
  const toggle = (s) => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s]);
  return html`<main id="main" class="narrow">
    <${PageTitle}>New application<//>
    <${ErrorNote} error=${error} />
    <form class="card" onSubmit=${submit} novalidate>
      <label for="name">Name</label>
      <input id="name" value=${name} onInput=${(e) => setName(e.currentTarget.value)} aria-invalid=${errs.name !== undefined} aria-describedby=${described('name')} />
      <${FieldError} id="name" messages=${errs.name} />
      <label for="accountId">Account ID</label>
      <input id="accountId" class="mono" value=${accountId} onInput=${(e) => setAccountId(e.currentTarget.value)} spellcheck="false"
        aria-invalid=${errs.accountId !== undefined} aria-describedby=${described('accountId')} />
      <${FieldError} id="accountId" messages=${errs.accountId} />
      <fieldset id="scopes" aria-describedby=${described('scopes')}>
        <legend>Scopes</legend>
        ${SCOPES.map(
          ([s, what]) => html`<label class="check">
            <input type="checkbox" value=${s} checked=${scopes.includes(s)} onChange=${() => toggle(s)} />
            <span><span class="mono">${s}</span>: ${what}</span>
          </label>`,
        )}
        <${FieldError} id="scopes" messages=${errs.scopes} />
      </fieldset>
      <div class="actions">
        <button type="submit" disabled=${busy}>Register application</button>
        <a href=${hrefOf(LIST)}>Cancel</a>
      </div>
    </form>
  </main>`;
}

/** Gives the client a new secret; the previous one keeps working for the overlap chosen. */
function RotateSecret({ clientId, onRotated, onCancel }) {
  const [overlap, setOverlap] = useState('86400');
  const [revokeTokens, setRevokeTokens] = useState(false);
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const rotate = async (e) => {
    e.preventDefault();
    setError(undefined);
    try {
      onRotated(await api('POST', `/admin/clients/${encodeURIComponent(clientId)}/secret`, { overlapSeconds: Number(overlap), revokeTokens }));
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="confirm" onSubmit=${rotate} aria-label="Rotate the secret">
    <label for="overlap">The previous secret keeps working</label>
    <select id="overlap" value=${overlap} onChange=${(e) => setOverlap(e.currentTarget.value)}>
      <option value="86400">for a day</option>
      <option value="3600">for an hour</option>
      <option value="0">no longer: it stops now</option>
    </select>
    <label class="check"><input type="checkbox" checked=${revokeTokens} onChange=${(e) => setRevokeTokens(e.currentTarget.checked)} /><span>Also end every token issued before</span></label>
    <${ErrorNote} error=${error} />
    <button type="submit">Rotate the secret</button>
    <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
  </form>`;
}

/** One application: its facts, its rights in the directory, rotate its secret, delete it. @param {{ clientId: string }} props */
function ApplicationPage({ clientId }) {
  const [client, setClient] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [doing, setDoing] = useState(/** @type {'' | 'rotate' | 'delete'} */ (''));
  const [rotated, setRotated] = useState(/** @type {any} */ (undefined));
  const grants = useAdminList('/admin/grants', 'grants', { clientId });
  const admins = useAdminList('/admin/org-admins', 'orgAdmins', { clientId });
  const path = `/admin/clients/${encodeURIComponent(clientId)}`;
  const load = () => api('GET', path).then(setClient, setError);
  useEffect(() => void load(), [clientId]);

  const remove = async () => {
    setError(undefined);
    try {
      await api('DELETE', path);
      go(LIST);
    } catch (err) {
      setError(err);
    }
  };
  return html`<main id="main">
    <p class="crumbs"><a href=${hrefOf(LIST)}>Applications</a> /</p>
    <${PageTitle}>${client?.name ?? clientId}<//>
    <${ErrorNote} error=${error} />
    ${client !== undefined &&
    html`<section class="card" aria-label="Application">
        <dl class="facts">
          <dt>Client ID</dt><dd class="mono">${client.clientId}</dd>
          <dt>Account</dt><dd class="mono">${client.accountId}</dd>
          <dt>Scopes</dt><dd>${client.scopes.join(' ')}</dd>
          <dt>Created</dt><dd>${when(client.created)}</dd>
          ${client.previousSecretExpiresDateTime !== undefined && html`<dt>Previous secret</dt><dd>works until ${when(client.previousSecretExpiresDateTime)}</dd>`}
        </dl>
        <div class="actions">
          <a class="button secondary" href=${hrefOf(EVERYONE.page, { clientId })}>Its webhooks</a>
          ${doing === '' && html`<button type="button" class="secondary" onClick=${() => setDoing('rotate')}>Rotate secret</button>`}
          ${doing === '' && html`<button type="button" class="danger" onClick=${() => setDoing('delete')}>Delete</button>`}
        </div>
        ${doing === 'rotate' &&
        html`<${RotateSecret}
          clientId=${clientId}
          onCancel=${() => setDoing('')}
          onRotated=${(r) => {
            setRotated(r);
            setDoing('');
            void load();
          }}
        />`}
        ${doing === 'delete' &&
        html`<${Confirm}
          text=${`Delete ${client.name}? Its webhooks (their pending deliveries are never sent) and its directory entries go with it, and its tokens stop working at once.`}
          yes="Yes, delete it"
          onYes=${remove}
          onNo=${() => setDoing('')}
        />`}
      </section>
      ${rotated !== undefined &&
      html`<${SecretOnce} title="The new client secret" intro=${SECRET_INTRO} label="Client secret" secret=${rotated.clientSecret}>
        <p class="hint">${rotated.previousSecretExpiresDateTime === undefined ? 'The previous secret no longer works.' : `The previous secret works until ${when(rotated.previousSecretExpiresDateTime)}.`}${rotated.tokensRevoked ? ' Every token issued before has ended.' : ''}</p>
      <//>`}
      <h2>Permissions on iTwins</h2>
      <${AdminTable} state=${grants} label="Its permissions" empty="None." columns=${[['iTwin', (g) => mono(g.itwinId)], ['Permission', (g) => g.permission], ['Since', (g) => when(g.created)]]} />
      <h2>Organization Administrator of</h2>
      <${AdminTable} state=${admins} label="Accounts it administers" empty="No account." columns=${[['Account', (o) => mono(o.accountId)], ['Since', (o) => when(o.created)]]} />
      <p><a href="#/operator/directory">Change them in the directory</a></p>`}
  </main>`;
}

/** @param {{ clientId?: string }} props */
export function Applications({ clientId }) {
  if (clientId === 'new') return html`<${NewApplication} />`;
  if (clientId !== undefined) return html`<${ApplicationPage} clientId=${clientId} key=${clientId} />`;
  return html`<${ApplicationList} />`;
}
