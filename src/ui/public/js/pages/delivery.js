import { api } from '../api.js';
import { afterError, ErrorNote, Json, PageTitle, StatusBadge, usePolling } from '../components.js';
import { ago, duration, when } from '../format.js';
import { html, useState } from '../html.js';
import { hrefOf } from '../router.js';
import { TestEventButton } from './webhook.js';

const LIVE_MS = 2000;

/** The exact request an attempt sent: the signed body and its signature headers, loaded when opened. */
function SignedRequest({ base, attempt }) {
  const [signed, setSigned] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const load = async (e) => {
    if (!e.currentTarget.open || signed !== undefined) return;
    try {
      setSigned(await api('GET', `${base}/attempts/${attempt}/request`));
    } catch (err) {
      setError(err);
    }
  };
  return html`<details onToggle=${load}>
    <summary>Signed request</summary>
    <${ErrorNote} error=${error} />
    ${signed !== undefined &&
    html`<div>
      <pre class="json" tabindex="0" aria-label="Signed headers">${Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}\n`).join('')}</pre>
      ${signed.webhookModifiedSince && html`<p class="hint">The webhook changed after this attempt: these headers use its current secret; if the secret was rotated since, the attempt was signed with the previous one.</p>`}
      <p class="hint">Body, exactly as signed (${signed.body.length} bytes):</p>
      <pre class="json" tabindex="0" aria-label="Signed body">${signed.body}</pre>
    </div>`}
  </details>`;
}

/** One delivery: the payload, every attempt, and the signed headers; redeliver or send a test event. */
export function DeliveryPage({ view, webhookId, deliveryId }) {
  const [d, setD] = useState(/** @type {any} */ (undefined));
  const [webhook, setWebhook] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [note, setNote] = useState('');
  const base = `${view.api}/${webhookId}/deliveries/${deliveryId}`;

  usePolling(
    async () => {
      try {
        setD(await api('GET', base));
        if (webhook === undefined) {
          const got = await api('GET', `${view.api}/${webhookId}`);
          setWebhook(got.webhook ?? got);
        }
        setError(undefined);
      } catch (err) {
        setError(err);
        return afterError(err);
      }
    },
    LIVE_MS,
    [base],
  );

  const redeliver = async () => {
    setNote('');
    try {
      setD({ ...d, ...(await api('POST', `${base}/redeliver`)) });
      setNote('Redelivery queued: the next attempt appears below.');
    } catch (err) {
      setError(err);
    }
  };

  const back = hrefOf([...view.page, webhookId]);
  if (d === undefined) return html`<main id="main"><p class="crumbs"><a href=${back}>Webhook</a></p><${PageTitle}>Delivery<//><${ErrorNote} error=${error} /></main>`;
  return html`<main id="main">
    <p class="crumbs"><a href=${hrefOf(view.page)}>${view.title}</a> › <a href=${back}>${webhook?.callbackUrl ?? 'Webhook'}</a></p>
    <div class="title-row"><${PageTitle}>${d.eventType}<//><${StatusBadge} status=${d.status} /></div>
    <${ErrorNote} error=${error} />
    <dl class="facts">
      <dt>Delivery ID</dt><dd class="mono">${d.id}</dd>
      <dt>Message ID</dt><dd class="mono">${d.messageId}</dd>
      <dt>Created</dt><dd>${when(d.created)}</dd>
      <dt>Attempts</dt><dd>${d.attemptCount}</dd>
      ${d.nextAttemptDateTime !== undefined && html`<dt>Next attempt</dt><dd>${when(d.nextAttemptDateTime)} (${ago(d.nextAttemptDateTime)})</dd>`}
    </dl>
    ${!view.readOnly &&
    html`<section class="card" aria-label="Actions">
      <div class="actions"><button type="button" onClick=${redeliver}>Redeliver</button></div>
      ${note && html`<p role="status" class="hint">${note}</p>`}
      ${webhook !== undefined && html`<${TestEventButton} base=${view.api} webhook=${webhook} />`}
    </section>`}

    <section aria-labelledby="payload-title">
      <h2 id="payload-title">Payload</h2>
      <${Json} value=${d.payload} label="Payload" />
    </section>
    <section aria-labelledby="attempts-title">
      <h2 id="attempts-title">Attempts</h2>
      ${d.attempts.length === 0 && html`<p>No attempt yet.</p>`}
      <ol class="attempts" aria-label="Attempts">
        ${d.attempts.map(
          (a) => html`<li class="card attempt" key=${`${a.attempt}-${a.dateTime}`}>
            <div class="card-head">
              <strong>Attempt ${a.attempt}</strong>
              <span class=${a.statusCode !== undefined && a.statusCode >= 200 && a.statusCode < 300 ? 'ok' : 'bad'}>${a.statusCode === undefined ? 'no response' : `HTTP ${a.statusCode}`}</span>
              <span class="hint" title=${a.dateTime}>${when(a.dateTime)}</span>
              <span class="hint">${duration(a.durationMs)}</span>
            </div>
            ${a.error !== undefined && a.error !== `HTTP ${a.statusCode}` && html`<p class="bad wrap">${a.error}</p>`}
            ${a.responseBody !== undefined && html`<p class="hint">Response (first 4 KiB):</p><pre class="json" tabindex="0" aria-label="Response body">${a.responseBody}</pre>`}
            <${SignedRequest} base=${base} attempt=${a.attempt} />
          </li>`,
        )}
      </ol>
    </section>

  </main>`;
}
