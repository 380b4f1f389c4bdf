// The operator's own pages (a webhooks:admin sign-in): applications and the directory,
// through the admin API. Every application's webhooks and activity are the webhook pages'
// read-only view (EVERYONE).
import { html } from '../html.js';
import { Applications } from './applications.js';
import { Directory } from './directory.js';

/** @param {{ section: string, id?: string }} props */
export function Operator({ section, id }) {
  return section === 'directory' ? html`<${Directory} />` : html`<${Applications} clientId=${id} key=${id ?? ''} />`;
}
