// What the operator pages share: a paged list of the admin API, shown as a table.
import { api } from '../api.js';
import { ErrorNote } from '../components.js';
import { html, useEffect, useState } from '../html.js';
import { nextToken } from '../router.js';

const PAGE_SIZE = 50;

/**
 * One list of the admin API (`key` names its array), page after page on demand; `reload`
 * reads it again from the start (after a change). A server without that part of the admin
 * API says so instead of failing.
 * @param {string} path @param {string} key @param {Record<string, string>} [filter]
 */
export function useAdminList(path, key, filter = {}) {
  const [state, setState] = useState(/** @type {{ items?: any[], next?: string, error?: any, missing?: boolean }} */ ({}));
  const url = (token) => `${path}?${new URLSearchParams({ ...filter, $top: String(PAGE_SIZE), ...(token === undefined ? {} : { $continuationToken: token }) })}`;
  const load = (token, before = []) =>
    api('GET', url(token)).then(
      (body) => setState({ items: [...before, ...(body[key] ?? [])], next: nextToken(body._links) }),
      (error) => setState(error.code === 'RouteNotFound' ? { missing: true } : { error }),
    );
  const deps = [path, JSON.stringify(filter)];
  useEffect(() => {
    void load(undefined);
  }, deps);
  return {
    ...state,
    more: () => (state.next === undefined ? undefined : void load(state.next, state.items)),
    reload: () => void load(undefined),
  };
}

/** A mono-spaced id. */
export const mono = (v) => html`<span class="mono">${v}</span>`;

/**
 * The list as a table: `columns` are [heading, cell] pairs; on a narrow window each row
 * stacks, its cells labelled with their headings.
 * @param {{ state: ReturnType<typeof useAdminList>, columns: Array<[string, (item: any) => any]>, empty: string, label: string }} props
 */
export function AdminTable({ state, columns, empty, label }) {
  if (state.missing) return html`<p class="hint">This server's admin API does not offer this list.</p>`;
  if (state.error !== undefined) return html`<${ErrorNote} error=${state.error} />`;
  if (state.items === undefined) return html`<p class="hint">Loading…</p>`;
  if (state.items.length === 0) return html`<p>${empty}</p>`;
  return html`<div class="table-wrap"><table class="stack" aria-label=${label}>
    <thead><tr>${columns.map(([name]) => html`<th scope="col">${name}</th>`)}</tr></thead>
    <tbody>${state.items.map((item) => html`<tr>${columns.map(([name, cell]) => html`<td data-label=${name}>${cell(item)}</td>`)}</tr>`)}</tbody>
  </table></div>
  ${state.next !== undefined && html`<button type="button" class="secondary" onClick=${state.more}>More</button>`}`;
}
