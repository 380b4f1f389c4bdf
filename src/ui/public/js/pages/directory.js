// The operator's directory (/admin/itwins, /admin/grants, /admin/org-admins): which account
// owns each iTwin, which application may maintain the webhooks of which iTwin, who
// administers an account; each list with a form to add and a button to remove.
import { api } from '../api.js';
import { Confirm, ErrorNote, FieldError, fieldErrors, PageTitle } from '../components.js';
import { when } from '../format.js';
import { html, useState } from '../html.js';
import { AdminTable, mono, useAdminList } from './adminList.js';

const PERMISSIONS = ['webhooks_maintainer'];
const seg = encodeURIComponent;

/**
 * @typedef {{ name: string, label: string, options?: string[] }} Field
 * @typedef {{ text: string, path: string }} Removal
 */

/**
 * One list of the directory with its add form. A required field left empty is flagged
 * here (it would be a path segment); everything else is the API's to judge, and its
 * messages appear next to their fields.
 * @param {{ id: string, title: string, intro?: string, list: any, label: string, empty: string, columns: any[], fields: Field[], addLabel: string,
 *   put: (v: Record<string, string>) => { path: string, body?: object, done: string }, removal: (item: any) => Removal, codeFields?: Record<string, string> }} props
 */
function Section({ id, title, intro, list, label, empty, columns, fields, addLabel, put, removal, codeFields = {} }) {
  const [values, setValues] = useState(() => Object.fromEntries(fields.map((f) => [f.name, f.options?.[0] ?? ''])));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  const [status, setStatus] = useState('');
  const [removing, setRemoving] = useState(/** @type {Removal | undefined} */ (undefined));

  const run = async (fn) => {
    setError(undefined);
    setStatus('');
    try {
      setStatus(await fn());
      list.reload();
    } catch (e) {
      // A not-found about one of the form's values (an iTwin the directory does not know) belongs next to that field.
      const err = /** @type {any} */ (e);
      const field = codeFields[err.code];
      setError(field === undefined ? err : { code: err.code, message: err.message, details: [{ target: field, message: err.message }] });
    }
  };
  const add = (e) => {
    e.preventDefault();
    const v = Object.fromEntries(Object.entries(values).map(([k, x]) => [k, x.trim()]));
    const missing = fields.filter((f) => v[f.name] === '');
    if (missing.length > 0) return setError({ details: missing.map((f) => ({ target: f.name, message: `Enter the ${f.label}.` })) });
    const { path, body, done } = put(v);
    void run(async () => (await api('PUT', path, body ?? {}), done));
  };
  const remove = () => {
    const r = /** @type {Removal} */ (removing);
    setRemoving(undefined);
    void run(async () => (await api('DELETE', r.path), 'Removed.'));
  };

  const errs = fieldErrors(error);
  const onlyFields = error !== undefined && (error.details ?? []).length > 0 && Object.keys(errs).every((k) => fields.some((f) => f.name === k));
  return html`<section aria-labelledby=${`${id}-title`}>
    <h2 id=${`${id}-title`}>${title}</h2>
    ${intro !== undefined && html`<p class="hint">${intro}</p>`}
    <${AdminTable} state=${list} label=${label} empty=${empty}
      columns=${[...columns, ['', (item) => html`<button type="button" class="secondary small" onClick=${() => setRemoving(removal(item))}>Remove</button>`]]} />
    ${removing !== undefined && html`<${Confirm} text=${removing.text} yes="Yes, remove it" onYes=${remove} onNo=${() => setRemoving(undefined)} />`}
    <form class="card inline-form" onSubmit=${add} novalidate aria-label=${addLabel}>
      ${fields.map((f) => {
        const fid = `${id}-${f.name}`;
        const set = (e) => setValues({ ...values, [f.name]: e.currentTarget.value });
        const aria = { 'aria-invalid': errs[f.name] !== undefined, 'aria-describedby': errs[f.name] === undefined ? undefined : `${fid}-error` };
        return html`<div class="field">
          <label for=${fid}>${f.label}</label>
          ${f.options === undefined
            ? html`<input id=${fid} class="mono" value=${values[f.name]} onInput=${set} spellcheck="false" ...${aria} />`
            : html`<select id=${fid} value=${values[f.name]} onChange=${set} ...${aria}>${f.options.map((o) => html`<option value=${o}>${o}</option>`)}</select>`}
          <${FieldError} id=${fid} messages=${errs[f.name]} />
        </div>`;
      })}
      <div class="field"><button type="submit">${addLabel}</button></div>
    </form>
    ${!onlyFields && html`<${ErrorNote} error=${error} />`}
    ${status !== '' && html`<p role="status" class="hint">${status}</p>`}
  </section>`;
}

export function Directory() {
  const itwins = useAdminList('/admin/itwins', 'itwins');
  const grants = useAdminList('/admin/grants', 'grants');
  const admins = useAdminList('/admin/org-admins', 'orgAdmins');
  return html`<main id="main">
    <${PageTitle}>Directory<//>
    <p>Which account owns each iTwin, which application may maintain the webhooks of which iTwin, and which application administers an account.
      Taking a right away deactivates the webhooks that depended on it.</p>
    <${Section}
      id="itwin" title="iTwins" list=${itwins} label="iTwins" empty="No iTwins."
      intro="Adding an iTwin that another account owns moves it: its grants are dropped."
      columns=${[['iTwin', (i) => mono(i.itwinId)], ['Account', (i) => mono(i.accountId)], ['Added', (i) => when(i.created)]]}
      fields=${[{ name: 'itwinId', label: 'iTwin ID' }, { name: 'accountId', label: 'Account ID' }]}
      addLabel="Add iTwin"
      put=${(v) => ({ path: `/admin/itwins/${seg(v.itwinId)}`, body: { accountId: v.accountId }, done: `iTwin ${v.itwinId} belongs to account ${v.accountId}.` })}
      removal=${(i) => ({ path: `/admin/itwins/${seg(i.itwinId)}`, text: `Remove iTwin ${i.itwinId} and every grant on it?` })}
    />
    <${Section}
      id="grant" title="Grants" list=${grants} label="Grants" empty="No grants."
      columns=${[['Application', (g) => mono(g.clientId)], ['iTwin', (g) => mono(g.itwinId)], ['Permission', (g) => g.permission], ['Since', (g) => when(g.created)]]}
      fields=${[{ name: 'clientId', label: 'Application (client ID)' }, { name: 'itwinId', label: 'iTwin ID' }, { name: 'permission', label: 'Permission', options: PERMISSIONS }]}
      addLabel="Grant"
      codeFields=${{ ItwinNotFound: 'itwinId' }}
      put=${(v) => ({ path: `/admin/grants/${seg(v.clientId)}/${seg(v.itwinId)}/${seg(v.permission)}`, done: `${v.clientId} has ${v.permission} on iTwin ${v.itwinId}.` })}
      removal=${(g) => ({ path: `/admin/grants/${seg(g.clientId)}/${seg(g.itwinId)}/${seg(g.permission)}`, text: `Revoke ${g.permission} on iTwin ${g.itwinId} from ${g.clientId}? Its webhooks on the iTwin that depended on it are deactivated.` })}
    />
    <${Section}
      id="orgadmin" title="Organization administrators" list=${admins} label="Organization administrators" empty="No organization administrators."
      intro="An Organization Administrator may manage the webhooks of every iTwin of the account."
      columns=${[['Application', (o) => mono(o.clientId)], ['Account', (o) => mono(o.accountId)], ['Since', (o) => when(o.created)]]}
      fields=${[{ name: 'clientId', label: 'Application (client ID)' }, { name: 'accountId', label: 'Account ID' }]}
      addLabel="Add administrator"
      put=${(v) => ({ path: `/admin/org-admins/${seg(v.clientId)}/${seg(v.accountId)}`, done: `${v.clientId} administers account ${v.accountId}.` })}
      removal=${(o) => ({ path: `/admin/org-admins/${seg(o.clientId)}/${seg(o.accountId)}`, text: `Stop ${o.clientId} administering account ${o.accountId}? Its webhooks that depended on the role are deactivated.` })}
    />
  </main>`;
}
