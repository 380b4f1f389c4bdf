import { api } from '../api.js';
import { ErrorNote, FieldError, fieldErrors, PageTitle, SecretOnce } from '../components.js';
import { html, useEffect, useState } from '../html.js';
import { hrefOf } from '../router.js';

/** The catalog's event types, grouped by service, as checkboxes. */
function EventTypePicker({ types, chosen, onChange, errors }) {
  const services = [...new Set(types.map((t) => t.service))];
  const toggle = (type) => onChange(chosen.includes(type) ? chosen.filter((t) => t !== type) : [...chosen, type]);
  return html`<fieldset id="eventTypes" aria-describedby="eventTypes-error">
    <legend>Event types</legend>
    ${services.map(
      (s) => html`<div class="type-group">
        <div class="type-service">${s}</div>
        ${types
          .filter((t) => t.service === s)
          .map(
            (t) => html`<label class="check" title=${t.description}>
              <input type="checkbox" name="eventType" value=${t.type} checked=${chosen.includes(t.type)} onChange=${() => toggle(t.type)} />
              <span>${t.type}</span>
            </label>`,
          )}
      </div>`,
    )}
    <${FieldError} id="eventTypes" messages=${errors.eventTypes} />
  </fieldset>`;
}

/**
 * Creates a webhook, or edits one (`webhookId`): the API's validation messages appear
 * next to their fields.
 * @param {{ webhookId?: string }} props
 */
export function WebhookForm({ webhookId }) {
  const editing = webhookId !== undefined;
  const [types, setTypes] = useState(/** @type {any[]} */ ([]));
  const [current, setCurrent] = useState(/** @type {any} */ (undefined));
  const [callbackUrl, setCallbackUrl] = useState('');
  const [scope, setScope] = useState('Account');
  const [scopeId, setScopeId] = useState('');
  const [eventTypes, setEventTypes] = useState(/** @type {string[]} */ ([]));
  const [secret, setSecret] = useState('');
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState(/** @type {{ secret: string, id: string } | undefined} */ (undefined));

  useEffect(() => {
    api('GET', '/webhooks/event-types').then((c) => setTypes(c.eventTypes), setError);
    if (editing) {
      api('GET', `/webhooks/${webhookId}`).then((w) => {
        setCurrent(w);
        setCallbackUrl(w.callbackUrl);
        setScope(w.scope);
        setScopeId(w.scopeId);
        setEventTypes(w.eventTypes);
      }, setError);
    }
  }, [webhookId]);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (editing) {
        /** @type {Record<string, unknown>} */
        const patch = {};
        if (callbackUrl !== current.callbackUrl) patch.callbackUrl = callbackUrl;
        if (JSON.stringify(eventTypes) !== JSON.stringify(current.eventTypes)) patch.eventTypes = eventTypes;
        if (secret !== '') patch.secret = secret;
        if (Object.keys(patch).length === 0) {
          location.hash = hrefOf(['webhooks', webhookId]);
          return;
        }
        const w = await api('PATCH', `/webhooks/${webhookId}`, patch);
        if (w.secret !== undefined) setShown({ secret: w.secret, id: w.id });
        else location.hash = hrefOf(['webhooks', webhookId]);
      } else {
        const body = { callbackUrl, scope, eventTypes, ...(scope === 'iTwin' ? { scopeId } : {}), ...(secret === '' ? {} : { secret }) };
        const w = await api('POST', '/webhooks', body);
        setShown({ secret: w.secret, id: w.id });
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (shown !== undefined) return html`<main id="main" class="narrow"><${PageTitle}>${editing ? 'Secret rotated' : 'Webhook created'}<//><${SecretOnce}
      title=${editing ? 'The new secret' : 'Webhook created: its secret'}
      intro=${html`Put it in your receiver's configuration: receivers verify the <code>Signature</code> header (HMAC-SHA256 of the body) with it.`}
      secret=${shown.secret}>
      <p><a class="button" href=${hrefOf(['webhooks', shown.id])}>Go to the webhook</a></p>
    <//></main>`;

  const errs = fieldErrors(error);
  const described = (id) => (errs[id] === undefined ? undefined : `${id}-error`);
  return html`<main id="main" class="narrow">
    <${PageTitle}>${editing ? 'Edit webhook' : 'New webhook'}<//>
    ${!editing && html`<p>A new webhook starts inactive: activate it once your receiver is ready.</p>`}
    <${ErrorNote} error=${error} />
    <form class="card" onSubmit=${submit} novalidate>
      <label for="callbackUrl">Callback URL</label>
      <input id="callbackUrl" name="callbackUrl" type="url" value=${callbackUrl} onInput=${(e) => setCallbackUrl(e.currentTarget.value)}
        placeholder="https://receiver.example.com/hook" spellcheck="false" aria-invalid=${errs.callbackUrl !== undefined} aria-describedby=${described('callbackUrl')} />
      <${FieldError} id="callbackUrl" messages=${errs.callbackUrl} />

      ${!editing &&
      html`<label for="scope">Scope</label>
        <select id="scope" name="scope" value=${scope} onChange=${(e) => setScope(e.currentTarget.value)} aria-describedby=${described('scope')}>
          <option value="Account">Account (every iTwin of the application's account)</option>
          <option value="iTwin">iTwin (one iTwin)</option>
        </select>
        <${FieldError} id="scope" messages=${errs.scope} />
        ${scope === 'iTwin' &&
        html`<label for="scopeId">iTwin ID</label>
          <input id="scopeId" name="scopeId" value=${scopeId} onInput=${(e) => setScopeId(e.currentTarget.value)} spellcheck="false" class="mono"
            aria-invalid=${errs.scopeId !== undefined} aria-describedby=${described('scopeId')} />`}
        <${FieldError} id="scopeId" messages=${errs.scopeId} />`}
      ${editing && current !== undefined && html`<p class="meta">Scope: ${current.scope}${current.scope === 'iTwin' ? ` ${current.scopeId}` : ''} (cannot change)</p>`}

      <${EventTypePicker} types=${types} chosen=${eventTypes} onChange=${setEventTypes} errors=${errs} />

      <label for="secret">${editing ? 'New secret (leave empty to keep the current one)' : 'Secret (leave empty to have one generated)'}</label>
      <input id="secret" name="secret" value=${secret} onInput=${(e) => setSecret(e.currentTarget.value)} autocomplete="off" spellcheck="false" class="mono"
        aria-invalid=${errs.secret !== undefined} aria-describedby=${described('secret')} />
      <${FieldError} id="secret" messages=${errs.secret} />
      ${errs._ !== undefined && html`<${FieldError} id="form" messages=${errs._} />`}

      <div class="actions">
        <button type="submit" disabled=${busy}>${editing ? 'Save' : 'Create webhook'}</button>
        <a href=${editing ? hrefOf(['webhooks', webhookId]) : '#/webhooks'}>Cancel</a>
      </div>
    </form>
  </main>`;
}
