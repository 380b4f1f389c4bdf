import { api } from '../api.js';
import { ErrorNote, PageTitle } from '../components.js';
import { when } from '../format.js';
import { html, useEffect, useState } from '../html.js';
import { hrefOf } from '../router.js';
import { EVERYONE } from './webhooks.js';

/** Reads one admin list; a server without that part of the admin API says so instead of failing. */
function useAdminList(path, key) {
  const [state, setState] = useState(/** @type {{ items?: any[], error?: any, missing?: boolean }} */ ({}));
  useEffect(() => {
    api('GET', path).then(
      (body) => setState({ items: body[key] ?? [] }),
      (error) => setState(error.code === 'RouteNotFound' ? { missing: true } : { error }),
    );
  }, [path]);
  return state;
}

function AdminTable({ state, columns, empty }) {
  if (state.missing) return html`<p class="hint">This server's admin API does not offer this list.</p>`;
  if (state.error !== undefined) return html`<${ErrorNote} error=${state.error} />`;
  if (state.items === undefined) return html`<p class="hint">Loading…</p>`;
  if (state.items.length === 0) return html`<p>${empty}</p>`;
  return html`<div class="table-wrap"><table>
    <thead><tr>${columns.map(([label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
    <tbody>${state.items.map((item) => html`<tr>${columns.map(([, cell]) => html`<td>${cell(item)}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

function Applications() {
  const clients = useAdminList('/admin/clients', 'clients');
  return html`<main id="main">
    <${PageTitle}>Applications<//>
    <p>Every registered service application (read-only here; the admin API or <code>npx itwin-webhooks clients</code> change them).</p>
    <${AdminTable}
      state=${clients}
      empty="No applications."
      columns=${[
        ['Client ID', (c) => html`<span class="mono">${c.clientId}</span>`],
        ['Name', (c) => c.name],
        ['Account', (c) => html`<span class="mono">${c.accountId}</span>`],
        ['Scopes', (c) => (c.scopes ?? []).join(' ')],
        ['Created', (c) => when(c.created)],
        ['Webhooks', (c) => html`<a href=${hrefOf(EVERYONE.page, { clientId: c.clientId })}>webhooks</a>`],
      ]}
    />
  </main>`;
}

function Directory() {
  const itwins = useAdminList('/admin/itwins', 'itwins');
  const grants = useAdminList('/admin/grants', 'grants');
  const admins = useAdminList('/admin/org-admins', 'orgAdmins');
  const mono = (v) => html`<span class="mono">${v}</span>`;
  return html`<main id="main">
    <${PageTitle}>Directory<//>
    <p>Which account owns each iTwin, which application maintains the webhooks of which iTwin, and who administers an account.</p>
    <h2>iTwins</h2>
    <${AdminTable} state=${itwins} empty="No iTwins." columns=${[['iTwin', (i) => mono(i.itwinId)], ['Account', (i) => mono(i.accountId)]]} />
    <h2>Grants</h2>
    <${AdminTable} state=${grants} empty="No grants." columns=${[['Application', (g) => mono(g.clientId)], ['iTwin', (g) => mono(g.itwinId)], ['Permission', (g) => g.permission]]} />
    <h2>Organization administrators</h2>
    <${AdminTable} state=${admins} empty="No organization administrators." columns=${[['Application', (o) => mono(o.clientId)], ['Account', (o) => mono(o.accountId)]]} />
  </main>`;
}

/** The operator's view across applications (a webhooks:admin sign-in). @param {{ section: string }} props */
export function Operator({ section }) {
  return section === 'directory' ? html`<${Directory} />` : html`<${Applications} />`;
}
