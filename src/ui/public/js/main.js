// The dashboard's shell: sign-in, navigation and the page for the current URL hash.
import { currentSession, signOut } from './api.js';
import { html, render, useEffect, useState } from './html.js';
import { useLocation } from './router.js';
import { Activity } from './pages/activity.js';
import { Catalog } from './pages/catalog.js';
import { DeliveryPage } from './pages/delivery.js';
import { Operator } from './pages/operator.js';
import { SignIn } from './pages/signIn.js';
import { WebhookPage } from './pages/webhook.js';
import { WebhookForm } from './pages/webhookForm.js';
import { EVERYONE, OWN, WebhookList } from './pages/webhooks.js';

const isOperator = (s) => s.scopes.includes('webhooks:admin');

/** The page for a path under the signed-in session. */
function Page({ session, loc }) {
  const [a, b, c, d, e] = loc.path;
  if (a === 'catalog') return html`<${Catalog} />`;
  if (a === 'activity') return html`<${Activity} path=${['activity']} statsApi="/webhooks/statistics" title="Activity" query=${loc.query} />`;
  if (a === 'webhooks' && b === 'new') return html`<${WebhookForm} />`;
  if (a === 'webhooks' && b !== undefined && c === 'edit') return html`<${WebhookForm} webhookId=${b} key=${b} />`;
  if (a === 'webhooks' && b !== undefined && c === 'deliveries' && d !== undefined) return html`<${DeliveryPage} view=${OWN} webhookId=${b} deliveryId=${d} key=${d} />`;
  if (a === 'webhooks' && b !== undefined) return html`<${WebhookPage} view=${OWN} webhookId=${b} query=${loc.query} key=${b} />`;
  if (a === 'operator' && isOperator(session)) {
    if (b === 'webhooks' && c !== undefined && d === 'deliveries' && e !== undefined) return html`<${DeliveryPage} view=${EVERYONE} webhookId=${c} deliveryId=${e} key=${e} />`;
    if (b === 'webhooks' && c !== undefined) return html`<${WebhookPage} view=${EVERYONE} webhookId=${c} query=${loc.query} key=${c} />`;
    if (b === 'webhooks') return html`<${WebhookList} view=${EVERYONE} query=${loc.query} key=${loc.query.toString()} />`;
    if (b === 'activity') return html`<${Activity} path=${['operator', 'activity']} statsApi="/admin/statistics" title="Activity of every application" query=${loc.query} />`;
    return html`<${Operator} section=${b ?? 'applications'} id=${c} />`;
  }
  return html`<${WebhookList} view=${OWN} query=${loc.query} key=${loc.query.toString()} />`;
}

function NavLink({ href, current, children }) {
  return html`<a href=${href} aria-current=${current ? 'page' : undefined}>${children}</a>`;
}

function App() {
  const [session, setSession] = useState(currentSession);
  const [notice, setNotice] = useState('');
  const loc = useLocation();
  useEffect(() => {
    const on = (e) => {
      setSession(currentSession());
      setNotice(e.detail?.reason ?? '');
    };
    window.addEventListener('session-changed', on);
    return () => window.removeEventListener('session-changed', on);
  }, []);

  if (session === undefined) return html`<${Header} /><${SignIn} notice=${notice} />`;
  const at = loc.path[0] ?? 'webhooks';
  const op = at === 'operator' ? (loc.path[1] ?? 'applications') : '';
  return html`
    <${Header}>
      <nav aria-label="Main">
        <${NavLink} href="#/webhooks" current=${at === 'webhooks'}>Webhooks<//>
        <${NavLink} href="#/activity" current=${at === 'activity'}>Activity<//>
        <${NavLink} href="#/catalog" current=${at === 'catalog'}>Event types<//>
        ${isOperator(session) &&
        html`<span class="nav-group">Operator:</span>
          <${NavLink} href="#/operator/applications" current=${op === 'applications'}>Applications<//>
          <${NavLink} href="#/operator/webhooks" current=${op === 'webhooks'}>All webhooks<//>
          <${NavLink} href="#/operator/activity" current=${op === 'activity'}>All activity<//>
          <${NavLink} href="#/operator/directory" current=${op === 'directory'}>Directory<//>`}
      </nav>
      <div class="who">
        <span class="mono" title=${session.scopes.join(' ')}>${session.clientId}</span>
        <button type="button" class="secondary" onClick=${() => signOut('Signed out.')}>Sign out</button>
      </div>
    <//>
    <${Page} session=${session} loc=${loc} />
  `;
}

function Header({ children }) {
  return html`<a class="skip" href="#main" onClick=${(e) => {
    e.preventDefault();
    /** @type {HTMLElement | null} */ (document.querySelector('main h1'))?.focus();
  }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/webhooks">itwin-webhooks</a>
      ${children}
    </header>`;
}

render(html`<${App} />`, /** @type {HTMLElement} */ (document.getElementById('app')));
