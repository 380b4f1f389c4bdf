import type { FastifyRequest } from 'fastify';
import { SCOPES } from '../../../auth/scopes.ts';
import type { ValidationCode } from '../../../contract/errors.ts';
import type { AppDeps } from '../../deps.ts';
import { linkBase } from '../../links.ts';
import { encodeKeyCursor, readKeyListQuery } from '../../paging.ts';

/** Every admin route: a service application with the webhooks:admin scope. */
export const ADMIN = { anyScope: [SCOPES.admin], serviceApp: true };

export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One page of an admin list: reads `$top` and `$continuationToken`, asks `list` for one
 * item more than the page (so that it knows whether another follows), and builds the links.
 * `key` is the item's keyset position (store listKey); its length fixes the token's.
 */
export async function listPage<T, R>(
  deps: AppDeps,
  request: FastifyRequest,
  code: ValidationCode,
  key: { parts: number; of: (item: T) => string[] },
  list: (page: { limit: number; after?: string[] }) => Promise<T[]>,
  render: (item: T) => R,
): Promise<{ items: R[]; _links: { self: { href: string }; next?: { href: string } } }> {
  const query = request.query as Record<string, string | number | undefined>;
  const { top, after } = readKeyListQuery(query as { $top?: number; $continuationToken?: string }, code, key.parts);
  const rows = await list({ limit: top + 1, ...(after === undefined ? {} : { after }) });
  const page = rows.slice(0, top);
  const base = `${linkBase(request, deps.config)}${request.url.split('?')[0]}`;
  const self = `${linkBase(request, deps.config)}${request.url}`;
  let next: string | undefined;
  if (rows.length > top) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && name !== '$continuationToken' && name !== '$top') params.set(name, String(value));
    params.set('$top', String(top));
    params.set('$continuationToken', encodeKeyCursor(key.of(page[page.length - 1]!)));
    next = `${base}?${params.toString().replace(/%24/g, '$')}`;
  }
  return { items: page.map(render), _links: { self: { href: self }, ...(next === undefined ? {} : { next: { href: next } }) } };
}

/** Tells this process's delivery worker about webhooks a directory change deactivated (or a deletion removed). */
export function stopped(deps: AppDeps, webhookIds: string[]): void {
  for (const id of webhookIds) deps.webhookState(id, false);
}
