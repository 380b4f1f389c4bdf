// Pages live behind the URL's hash (#/webhooks/ID?status=failed), so the server serves one
// page and the browser's back button, bookmarks and reloads all work.
import { useEffect, useState } from './html.js';

/**
 * @typedef {{ path: string[], query: URLSearchParams }} Location
 */

/** @returns {Location} */
export function readLocation() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [p = '/', q = ''] = hash.split('?', 2);
  return { path: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

/** The hash of a page. @param {string[]} path @param {Record<string, string | undefined>} [query] */
export function hrefOf(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
  const qs = q.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs === '' ? '' : `?${qs}`}`;
}

/** @param {string[]} path @param {Record<string, string | undefined>} [query] */
export function go(path, query) {
  location.hash = hrefOf(path, query);
}

/** The current location, re-rendering on every change of the hash. */
export function useLocation() {
  const [loc, setLoc] = useState(readLocation);
  useEffect(() => {
    const on = () => setLoc(readLocation());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return loc;
}

/** The continuation token of an API `_links.next` href, for the page after. @param {{ next?: { href: string } } | undefined} links */
export function nextToken(links) {
  const href = links?.next?.href;
  return href === undefined ? undefined : (new URL(href).searchParams.get('$continuationToken') ?? undefined);
}
