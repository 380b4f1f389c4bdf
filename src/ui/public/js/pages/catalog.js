import { api, hasScope } from '../api.js';
import { ErrorNote, FieldError, fieldErrors, Json, PageTitle } from '../components.js';
import { html, useEffect, useState } from '../html.js';

/** Publishes one event of `type` from its example (needs the scope webhooks:publish), to watch it arrive. */
function Trigger({ type, itwins }) {
  const [itwinId, setItwinId] = useState(itwins[0] ?? '');
  const [accountId, setAccountId] = useState('');
  const [content, setContent] = useState(JSON.stringify(type.example, null, 2));
  const [result, setResult] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const id = (name) => `${name}-${type.type}`;

  const submit = async (e) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    let parsed;
    try {
      parsed = JSON.parse(content);
    } catch (err) {
      setError({ message: `The content is not JSON: ${/** @type {Error} */ (err).message}` });
      return;
    }
    try {
      const body = { eventType: type.type, iTwinId: itwinId.trim(), content: parsed, ...(accountId.trim() === '' ? {} : { accountId: accountId.trim() }) };
      setResult((await api('POST', '/webhooks/events', body)).events[0]);
    } catch (err) {
      setError(err);
    }
  };
  const errs = fieldErrors(error);
  return html`<form class="trigger" onSubmit=${submit} novalidate aria-label=${`Trigger ${type.type}`}>
    ${!hasScope('webhooks:publish') && html`<p class="hint">Publishing needs the scope <code>webhooks:publish</code>; this sign-in does not seem to have it, so the API may refuse.</p>`}
    <label for=${id('itwin')}>iTwin ID</label>
    <input id=${id('itwin')} class="mono" list=${id('itwins')} value=${itwinId} onInput=${(e) => setItwinId(e.currentTarget.value)} spellcheck="false" />
    <datalist id=${id('itwins')}>${itwins.map((i) => html`<option value=${i} />`)}</datalist>
    <${FieldError} id=${id('itwin')} messages=${errs.iTwinId} />
    <label for=${id('account')}>Account ID (only for an iTwin the directory does not know)</label>
    <input id=${id('account')} class="mono" value=${accountId} onInput=${(e) => setAccountId(e.currentTarget.value)} spellcheck="false" />
    <${FieldError} id=${id('account')} messages=${errs.accountId} />
    <label for=${id('content')}>Content</label>
    <textarea id=${id('content')} class="mono" rows="8" value=${content} onInput=${(e) => setContent(e.currentTarget.value)} spellcheck="false"></textarea>
    <${FieldError} id=${id('content')} messages=${errs.content} />
    <button type="submit">Publish event</button>
    <${ErrorNote} error=${error} />
    ${result !== undefined &&
    html`<p role="status">Published ${result.messageId}: ${result.matchedWebhooks} ${result.matchedWebhooks === 1 ? 'webhook' : 'webhooks'} matched.</p>`}
  </form>`;
}

/** Every event type with its schema and example; trigger one to see it arrive. */
export function Catalog() {
  const [types, setTypes] = useState(/** @type {any[] | undefined} */ (undefined));
  const [itwins, setItwins] = useState(/** @type {string[]} */ ([]));
  const [open, setOpen] = useState('');
  const [error, setError] = useState(/** @type {any} */ (undefined));
  useEffect(() => {
    api('GET', '/webhooks/event-types').then((c) => setTypes(c.eventTypes), setError);
    // The iTwins of the application's own webhooks are the likely targets.
    api('GET', '/webhooks?$top=100').then(
      (l) => setItwins([...new Set(l.webhooks.filter((w) => w.scope === 'iTwin').map((w) => w.scopeId))]),
      () => {},
    );
  }, []);
  return html`<main id="main">
    <${PageTitle}>Event types<//>
    <p>Every type the server knows, with the JSON Schema its content must match and a realistic example.</p>
    <${ErrorNote} error=${error} />
    ${types === undefined && error === undefined && html`<p class="hint">Loading…</p>`}
    <ul class="cards" aria-label="Event types">
      ${(types ?? []).map(
        (t) => html`<li class="card" key=${t.type}>
          <div class="card-head"><h2 class="type-name">${t.type}</h2><span class="hint">${t.service}</span></div>
          <p>${t.description}</p>
          <details><summary>Content schema</summary><${Json} value=${t.contentSchema} label=${`Schema of ${t.type}`} /></details>
          <details><summary>Example content</summary><${Json} value=${t.example} label=${`Example of ${t.type}`} /></details>
          ${open === t.type
            ? html`<${Trigger} type=${t} itwins=${itwins} />`
            : html`<button type="button" class="secondary" onClick=${() => setOpen(t.type)} aria-label=${`Trigger ${t.type}`}>Trigger…</button>`}
        </li>`,
      )}
    </ul>
  </main>`;
}
