import { api } from '../api.js';
import { DeliveriesChart, DurationChart } from '../charts.js';
import { ActiveBadge, afterError, Confirm, ErrorNote, PageTitle, StatusBadge, usePolling } from '../components.js';
import { ago, when } from '../format.js';
import { html, useState } from '../html.js';
import { go, hrefOf, nextToken } from '../router.js';
import { HealthSummary } from './webhooks.js';

const LIVE_MS = 2000;
const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'];

/** Sends a test event of one of the webhook's types (to this webhook only). */
export function TestEventButton({ base, webhook, onSent }) {
  const [type, setType] = useState(webhook.eventTypes[0]);
  const [state, setState] = useState(/** @type {any} */ (undefined));
  const send = async () => {
    setState(undefined);
    try {
      const r = await api('POST', `${base}/${webhook.id}/test`, { eventType: type });
      setState({ ok: `Test event ${r.messageId} sent.` });
      onSent?.(r);
    } catch (err) {
      setState({ error: err });
    }
  };
  return html`<div class="inline-form">
    <label for="test-type">Test event type</label>
    <select id="test-type" value=${type} onChange=${(e) => setType(e.currentTarget.value)}>
      ${webhook.eventTypes.map((t) => html`<option value=${t}>${t}</option>`)}
    </select>
    <button type="button" class="secondary" onClick=${send}>Send test event</button>
    ${state?.ok && html`<span role="status" class="hint">${state.ok}</span>`}
    <${ErrorNote} error=${state?.error} />
  </div>`;
}

/** The owner's actions: activate or deactivate, edit, delete (after a confirmation). */
function Actions({ view, webhook, onChange }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const act = async (fn) => {
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(err);
    }
  };
  const toggle = () => act(async () => onChange(await api('PATCH', `${view.api}/${webhook.id}`, { active: !webhook.active })));
  const remove = () =>
    act(async () => {
      await api('DELETE', `${view.api}/${webhook.id}`);
      go(view.page);
    });
  return html`<section class="card" aria-label="Actions">
    <div class="actions">
      <button type="button" onClick=${toggle}>${webhook.active ? 'Deactivate' : 'Activate'}</button>
      <a class="button secondary" href=${hrefOf([...view.page, webhook.id, 'edit'])}>Edit</a>
      ${!confirming && html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Delete</button>`}
    </div>
    ${confirming &&
    html`<${Confirm} text="Delete this webhook? Its pending deliveries are cancelled and its history goes with it." yes="Yes, delete it" onYes=${remove} onNo=${() => setConfirming(false)} />`}
    <${TestEventButton} base=${view.api} webhook=${webhook} />
    <${ErrorNote} error=${error} />
  </section>`;
}

/** One webhook: its settings, health, charts and live deliveries. @param {{ view: any, webhookId: string, query: URLSearchParams }} props */
export function WebhookPage({ view, webhookId, query }) {
  const status = query.get('status') ?? '';
  const eventType = query.get('eventType') ?? '';
  const token = query.get('page') ?? undefined;
  const [entry, setEntry] = useState(/** @type {any} */ (undefined));
  const [health, setHealth] = useState(/** @type {any} */ (undefined));
  const [deliveries, setDeliveries] = useState(/** @type {any} */ (undefined));
  const [stats, setStats] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const base = `${view.api}/${webhookId}`;

  usePolling(
    async () => {
      try {
        const got = await api('GET', base);
        // The operator API says whose webhook it is beside the webhook itself.
        setEntry(got.webhook === undefined ? { webhook: got } : got);
        setHealth(await api('GET', `${base}/health`));
        setError(undefined);
      } catch (err) {
        setError(err);
        return afterError(err);
      }
    },
    10_000,
    [base],
  );
  const found = entry !== undefined;
  usePolling(
    async () => {
      if (!found) return;
      const q = new URLSearchParams({ $top: '25' });
      if (status !== '') q.set('status', status);
      if (eventType !== '') q.set('eventType', eventType);
      if (token !== undefined) q.set('$continuationToken', token);
      setDeliveries(await api('GET', `${base}/deliveries?${q}`));
    },
    LIVE_MS,
    [base, status, eventType, token, found],
  );
  usePolling(
    async () => {
      if (found) setStats(await api('GET', `${base}/statistics?minutes=60`));
    },
    15_000,
    [base, found],
  );

  if (entry === undefined) return html`<main id="main"><${PageTitle}>Webhook<//><${ErrorNote} error=${error} />${error === undefined && html`<p class="hint">Loading…</p>`}</main>`;
  const w = entry.webhook;
  const filter = (changes) => go([...view.page, webhookId], { status, eventType, ...changes, page: undefined });
  const next = nextToken(deliveries?._links);
  return html`<main id="main">
    <p class="crumbs"><a href=${hrefOf(view.page)}>${view.title}</a></p>
    <div class="title-row"><${PageTitle}><span class="url">${w.callbackUrl}</span><//><${ActiveBadge} active=${w.active} /></div>
    <${ErrorNote} error=${error} />
    <dl class="facts">
      <dt>Webhook ID</dt><dd class="mono">${w.id}</dd>
      ${entry.ownerClientId !== undefined && html`<dt>Owner</dt><dd class="mono">${entry.ownerClientId}</dd>`}
      <dt>Scope</dt><dd>${w.scope} <span class="mono">${w.scopeId}</span></dd>
      <dt>Event types</dt><dd>${w.eventTypes.join(', ')}</dd>
      <dt>Created</dt><dd>${when(w.created)}</dd>
      <dt>Modified</dt><dd>${when(w.modified)}</dd>
      <dt>Health</dt><dd><${HealthSummary} health=${health} /></dd>
    </dl>
    ${!view.readOnly && html`<${Actions} view=${view} webhook=${w} onChange=${(nw) => setEntry({ webhook: nw })} />`}

    <section aria-labelledby="charts-title">
      <h2 id="charts-title">Last hour</h2>
      ${stats === undefined
        ? html`<p class="hint">Loading…</p>`
        : html`<div class="charts">
            <${DeliveriesChart} stats=${stats} title="Deliveries per minute" />
            <${DurationChart} stats=${stats} title="Attempt duration" />
          </div>`}
    </section>

    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Deliveries</h2>
      <div class="filters">
        <label for="filter-status">Status</label>
        <select id="filter-status" value=${status} onChange=${(e) => filter({ status: e.currentTarget.value })}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
        <label for="filter-type">Event type</label>
        <select id="filter-type" value=${eventType} onChange=${(e) => filter({ eventType: e.currentTarget.value })}>
          <option value="">any</option>
          ${w.eventTypes.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
        <span class="hint live" aria-hidden="true">live</span>
      </div>
      ${deliveries === undefined && html`<p class="hint">Loading…</p>`}
      ${deliveries !== undefined && deliveries.deliveries.length === 0 && html`<p>No deliveries${status || eventType ? ' match these filters' : ' yet'}.</p>`}
      ${deliveries !== undefined &&
      deliveries.deliveries.length > 0 &&
      html`<ul class="rows" aria-label="Deliveries" aria-live="polite">
        ${deliveries.deliveries.map(
          (d) => html`<li class="row" key=${d.id}>
            <${StatusBadge} status=${d.status} />
            <a href=${hrefOf([...view.page, webhookId, 'deliveries', d.id])}>${d.eventType}</a>
            <span class="hint" title=${d.created}>${ago(d.created)}</span>
            <span class="hint">${d.attemptCount} ${d.attemptCount === 1 ? 'attempt' : 'attempts'}${d.lastStatusCode === undefined ? '' : ` · HTTP ${d.lastStatusCode}`}</span>
            ${d.lastError !== undefined && d.lastError !== `HTTP ${d.lastStatusCode}` && html`<span class="bad wrap">${d.lastError}</span>`}
            ${d.nextAttemptDateTime !== undefined && html`<span class="hint">next ${ago(d.nextAttemptDateTime)}</span>`}
          </li>`,
        )}
      </ul>`}
      <nav class="pager" aria-label="Delivery pages">
        ${token !== undefined && html`<a href=${hrefOf([...view.page, webhookId], { status, eventType })}>Newest</a>`}
        ${next !== undefined && html`<a href=${hrefOf([...view.page, webhookId], { status, eventType, page: next })}>Older</a>`}
      </nav>
    </section>
  </main>`;
}
