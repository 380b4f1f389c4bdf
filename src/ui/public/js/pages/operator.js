import { api } from '../api.js';
import { ErrorNote, PageTitle } from '../components.js';
import { when } from '../format.js';
import { html, useEffect, useState } from '../html.js';
import { hrefOf, nextToken } from '../router.js';
import { EVERYONE } from './webhooks.js';

/** Reads one admin list, page after page on demand; a server without that part of the admin API says so instead of failing. */
function useAdminList(path, key) {
  const [state, setState] = useState(/** @type {{ items?: any[], next?: string, error?: any, missing?: boolean }} */ ({}));
  const load = (url, before = []) =>
    api('GET', url).then(
      (body) => setState({ items: [...before, ...(body[key] ?? [])], next: body._links?.next?.href }),
      (error) => setState(error.code === 'RouteNotFound' ? { missing: true } : { error }),
    );
  useEffect(() => {
    void load(`${path}?$top=100`);
  }, [path]);
  const more = () => {
    if (state.next !== undefined) void load(`${path}?$top=100&$continuationToken=${encodeURIComponent(nextToken({ next: { href: state.next } }) ?? '')}`, state.items);
  };
  return { ...state, more };
}

function AdminTable({ state, columns, empty, label }) {
  if (state.missing) return html`<p class="hint">This server's admin API does not offer this list.</p>`;
  if (state.error !== undefined) return html`<${ErrorNote} error=${state.error} />`;
  if (state.items === undefined) return html`<p class="hint">Loading…</p>`;
  if (state.items.length === 0) return html`<p>${empty}</p>`;
  return html`<div class="table-wrap"><table aria-label=${label}>
    <thead><tr>${columns.map(([name]) => html`<th scope="col">${name}</th>`)}</tr></thead>
    <tbody>${state.items.map((item) => html`<tr>${columns.map(([, cell]) => html`<td>${cell(item)}</td>`)}</tr>`)}</tbody>
  </table></div>
  ${state.next !== undefined && html`<button type="button" class="secondary" onClick=${state.more}>More</button>`}`;
}

function Applications() {
  const clients = useAdminList('/admin/clients', 'clients');
  return html`<main id="main">
    <${PageTitle}>Applications<//>
    <p>Every registered service application (read-only here; the admin API or <code>npx itwin-webhooks clients</code> change them).</p>
    <${AdminTable}
      state=${clients}
      label="Applications"
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
    <${AdminTable} state=${itwins} label="iTwins" empty="No iTwins." columns=${[['iTwin', (i) => mono(i.itwinId)], ['Account', (i) => mono(i.accountId)]]} />
    <h2>Grants</h2>
    <${AdminTable} state=${grants} label="Grants" empty="No grants." columns=${[['Application', (g) => mono(g.clientId)], ['iTwin', (g) => mono(g.itwinId)], ['Permission', (g) => g.permission]]} />
    <h2>Organization administrators</h2>
    <${AdminTable} state=${admins} label="Organization administrators" empty="No organization administrators." columns=${[['Application', (o) => mono(o.clientId)], ['Account', (o) => mono(o.accountId)]]} />
  </main>`;
}

/** The operator's view across applications (a webhooks:admin sign-in). @param {{ section: string }} props */
export function Operator({ section }) {
  return section === 'directory' ? html`<${Directory} />` : html`<${Applications} />`;
}
