import type { ClientRecord } from '../store/types.ts';

/**
 * Whether the built-in issuer's tokens of a client are still good: the client exists and
 * has the token generation the token names. Deleting a client, or rotating its secret with
 * its tokens revoked, ends them. Answers are cached per client for at most `ttlMs`, so a
 * busy producer costs one store read a second, not one a request; a change made in this
 * process, or announced by the store (PostgreSQL NOTIFY), drops the entry at once.
 */
export interface ClientLiveness {
  accepts(clientId: string, generation: number): Promise<boolean>;
  /** Drops what is known of one client, or of every client (when changes may have been missed). */
  forget(clientId?: string): void;
}

/** How long an answer is trusted without a notification: the longest a change made elsewhere takes to be seen. */
export const LIVENESS_TTL_MS = 1000;
const MAX_ENTRIES = 100_000;

interface Entry {
  generation: Promise<number | undefined>;
  at: number;
}

export function createClientLiveness(deps: { getClient: (clientId: string) => Promise<ClientRecord | undefined>; now: () => number; ttlMs?: number }): ClientLiveness {
  const ttl = deps.ttlMs ?? LIVENESS_TTL_MS;
  const entries = new Map<string, Entry>();
  const lookup = (clientId: string): Promise<number | undefined> => {
    const now = deps.now();
    const cached = entries.get(clientId);
    if (cached !== undefined && now - cached.at < ttl) return cached.generation;
    if (entries.size >= MAX_ENTRIES) entries.clear();
    // Concurrent requests of one client share one read.
    const generation = deps.getClient(clientId).then((c) => c?.tokenGeneration);
    const entry = { generation, at: now };
    entries.set(clientId, entry);
    generation.catch(() => {
      if (entries.get(clientId) === entry) entries.delete(clientId);
    });
    return generation;
  };
  return {
    async accepts(clientId, generation) {
      return (await lookup(clientId)) === generation;
    },
    forget(clientId) {
      if (clientId === undefined) entries.clear();
      else entries.delete(clientId);
    },
  };
}
