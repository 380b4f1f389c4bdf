import { api } from '../api.js';
import { ActiveBadge, ErrorNote, PageTitle, usePolling } from '../components.js';
import { ago, percent } from '../format.js';
import { html, useState } from '../html.js';
import { hrefOf, nextToken } from '../router.js';

const PAGE_SIZE = 25;

/**
 * Where a list of webhooks comes from: the caller's own (/webhooks), or, for an operator,
 * every application's (/admin/webhooks, read-only).
 * @typedef {{ api: string, page: string[], readOnly: boolean, title: string }} WebhookView
 */

/** @type {WebhookView} */
export const OWN = { api: '/webhooks', page: ['webhooks'], readOnly: false, title: 'Webhooks' };
/** @type {WebhookView} */
export const EVERYONE = { api: '/admin/webhooks', page: ['operator', 'webhooks'], readOnly: true, title: 'All webhooks' };

/** How a webhook is doing: last attempt, success over 24 h, failing since. @param {{ health: any }} props */
export function HealthSummary({ health }) {
  if (health === undefined) return html`<span class="hint">…</span>`;
  const last = health.lastAttempt;
  return html`<span class="health">
    ${last === undefined
      ? html`<span class="hint">no attempt yet</span>`
      : html`<span class=${last.succeeded ? 'ok' : 'bad'}>${last.succeeded ? '✓' : '✗'} ${last.statusCode ?? last.error ?? ''}</span>
          <span class="hint" title=${last.dateTime}> ${ago(last.dateTime)}</span>`}
    <span> · 24 h: ${percent(health.last24Hours.successRate)}${health.last24Hours.attempts > 0 ? ` of ${health.last24Hours.attempts}` : ''}</span>
    ${health.failingSince !== undefined && html`<span class="bad"> · failing since ${ago(health.failingSince)}</span>`}
  </span>`;
}

/** The webhooks of the view, paged, each with its health. @param {{ view: WebhookView, query: URLSearchParams }} props */
export function WebhookList({ view, query }) {
  const token = query.get('page') ?? undefined;
  const clientId = query.get('clientId') ?? undefined;
  const [page, setPage] = useState(/** @type {any} */ (undefined));
  const [health, setHealth] = useState(/** @type {Record<string, any>} */ ({}));
  const [error, setError] = useState(/** @type {any} */ (undefined));

  usePolling(
    async () => {
      const q = new URLSearchParams({ $top: String(PAGE_SIZE) });
      if (token !== undefined) q.set('$continuationToken', token);
      if (clientId !== undefined) q.set('clientId', clientId);
      try {
        const answer = await api('GET', `${view.api}?${q}`);
        // The operator API lists { ownerClientId, webhook } pairs; an application's own list, webhooks.
        const list = { ...answer, webhooks: answer.webhooks.map((x) => (x.webhook === undefined ? x : { ...x.webhook, ownerClientId: x.ownerClientId })) };
        setPage(list);
        setError(undefined);
        const entries = await Promise.all(list.webhooks.map(async (w) => [w.id, await api('GET', `${view.api}/${w.id}/health`).catch(() => undefined)]));
        setHealth(Object.fromEntries(entries));
      } catch (err) {
        setError(err);
      }
    },
    10_000,
    [view.api, token, clientId],
  );

  const next = nextToken(page?._links);
  return html`<main id="main">
    <div class="title-row">
      <${PageTitle}>${view.title}${clientId === undefined ? '' : ` of ${clientId}`}<//>
      ${!view.readOnly && html`<a class="button" href="#/webhooks/new">New webhook</a>`}
    </div>
    <${ErrorNote} error=${error} />
    ${page === undefined && error === undefined && html`<p class="hint">Loading…</p>`}
    ${page !== undefined && page.webhooks.length === 0 && html`<p>No webhooks yet.${view.readOnly ? '' : ' Create one to receive events.'}</p>`}
    ${page !== undefined &&
    page.webhooks.length > 0 &&
    html`<ul class="cards" aria-label="Webhooks">
      ${page.webhooks.map(
        (w) => html`<li class="card webhook-card">
          <div class="card-head">
            <a class="url" href=${hrefOf([...view.page, w.id])}>${w.callbackUrl}</a>
            <${ActiveBadge} active=${w.active} />
          </div>
          <div class="meta">
            <span>${w.scope}${w.scope === 'iTwin' ? ` ${w.scopeId}` : ''}</span>
            ${w.ownerClientId !== undefined && html`<span> · owner <a href=${hrefOf(EVERYONE.page, { clientId: w.ownerClientId })}>${w.ownerClientId}</a></span>`}
          </div>
          <div class="meta">${w.eventTypes.join(', ')}</div>
          <div class="meta"><${HealthSummary} health=${health[w.id]} /></div>
        </li>`,
      )}
    </ul>`}
    <nav class="pager" aria-label="Pages">
      ${token !== undefined && html`<a href=${hrefOf(view.page, { clientId })}>First page</a>`}
      ${next !== undefined && html`<a href=${hrefOf(view.page, { clientId, page: next })}>Next page</a>`}
    </nav>
  </main>`;
}
