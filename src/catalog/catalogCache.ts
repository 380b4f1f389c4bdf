import type { DirectoryRepo, EventTypeRecord, EventTypesRepo } from '../store/types.ts';

/**
 * Event types never change once registered, so every publish need not ask the store for
 * them: a type is read once, then served from memory. A type this process has not seen
 * (registered by another process a moment ago) is simply a cache miss.
 */
export function createCatalogCache(store: Pick<EventTypesRepo, 'getEventTypes'>): { get(types: string[]): Promise<Map<string, EventTypeRecord>> } {
  const known = new Map<string, EventTypeRecord>();
  return {
    async get(types) {
      const missing = types.filter((t) => !known.has(t));
      if (missing.length > 0) for (const t of await store.getEventTypes(missing)) known.set(t.type, t);
      return new Map(types.flatMap((t) => (known.has(t) ? [[t, known.get(t)!] as const] : [])));
    },
  };
}

/** iTwin → owning account, remembered for `ttlMs` (unknown iTwins are not remembered). */
export function createOwnerCache(
  directory: Pick<DirectoryRepo, 'getItwinAccounts'>,
  ttlMs: number,
  now: () => number = Date.now,
): { accounts(itwinIds: string[]): Promise<Record<string, string>> } {
  const known = new Map<string, { account: string; until: number }>();
  return {
    async accounts(itwinIds) {
      const t = now();
      const out: Record<string, string> = {};
      const missing: string[] = [];
      for (const id of itwinIds) {
        const hit = known.get(id);
        if (hit !== undefined && hit.until > t) out[id] = hit.account;
        else missing.push(id);
      }
      if (missing.length > 0) {
        if (known.size > 100_000) known.clear();
        for (const [id, account] of Object.entries(await directory.getItwinAccounts(missing))) {
          known.set(id, { account, until: t + ttlMs });
          out[id] = account;
        }
      }
      return out;
    },
  };
}
