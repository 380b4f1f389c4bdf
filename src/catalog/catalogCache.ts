import type { EventTypeRecord, EventTypesRepo } from '../store/types.ts';

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
