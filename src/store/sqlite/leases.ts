import type { SqliteDb } from './db.ts';

/** Who holds a delivery and since when. */
export interface Lease {
  workerId: string;
  webhookId: string;
  /** The application owning the webhook (its count against the per-application cap). */
  ownerClientId: string;
  at: number;
}

/**
 * The embedded store's delivery leases, in the store's memory rather than on the rows.
 *
 * One server owns a DATA_DIR (serverLock.ts), so every worker that can hold a lease runs
 * in this process: nothing outside it needs to see them. Writing a lease on the row cost
 * a row write and two index updates per delivery, only to be undone by the result's write.
 * A leased delivery's row reads `pending` throughout; claims skip the leased ones and the
 * per-webhook cap counts them here. Should the process die, its leases die with it and
 * the rows, still `pending`, are claimed again at the next start (at-least-once: only
 * what was in flight is sent twice).
 *
 * Every change made inside a transaction is undone if that transaction rolls back.
 */
export interface LeaseTable {
  get(deliveryId: number): Lease | undefined;
  /** Leases held on a webhook's deliveries (its lane's count against the cap). */
  countOf(webhookId: string): number;
  /** The leased delivery ids of one webhook, or of every webhook. */
  ids(webhookId?: string): number[];
  /** Webhooks holding at least `cap` leases. */
  lanesAtCap(cap: number): string[];
  /** Leases held on the deliveries of an application's webhooks. */
  countOfOwner(ownerClientId: string): number;
  /** Applications holding at least `cap` leases. */
  ownersAtCap(cap: number): string[];
  /** Leases matching `keep`, with their delivery ids. */
  filter(keep: (lease: Lease, deliveryId: number) => boolean): Array<{ deliveryId: number; lease: Lease }>;
  add(deliveryId: number, lease: Lease): void;
  drop(deliveryId: number): void;
}

export function createLeaseTable(db: SqliteDb): LeaseTable {
  const byId = new Map<number, Lease>();
  const byLane = new Map<string, Set<number>>();
  const byOwner = new Map<string, number>();

  const put = (deliveryId: number, lease: Lease) => {
    byId.set(deliveryId, lease);
    let lane = byLane.get(lease.webhookId);
    if (lane === undefined) byLane.set(lease.webhookId, (lane = new Set()));
    lane.add(deliveryId);
    byOwner.set(lease.ownerClientId, (byOwner.get(lease.ownerClientId) ?? 0) + 1);
  };
  const remove = (deliveryId: number, lease: Lease) => {
    byId.delete(deliveryId);
    const lane = byLane.get(lease.webhookId)!;
    lane.delete(deliveryId);
    if (lane.size === 0) byLane.delete(lease.webhookId);
    const n = byOwner.get(lease.ownerClientId)! - 1;
    if (n === 0) byOwner.delete(lease.ownerClientId);
    else byOwner.set(lease.ownerClientId, n);
  };

  return {
    get: (deliveryId) => byId.get(deliveryId),
    countOf: (webhookId) => byLane.get(webhookId)?.size ?? 0,
    ids: (webhookId) => (webhookId === undefined ? [...byId.keys()] : [...(byLane.get(webhookId) ?? [])]),
    lanesAtCap(cap) {
      const out: string[] = [];
      for (const [webhookId, lane] of byLane) if (lane.size >= cap) out.push(webhookId);
      return out;
    },
    countOfOwner: (ownerClientId) => byOwner.get(ownerClientId) ?? 0,
    ownersAtCap(cap) {
      const out: string[] = [];
      for (const [owner, n] of byOwner) if (n >= cap) out.push(owner);
      return out;
    },
    filter(keep) {
      const out: Array<{ deliveryId: number; lease: Lease }> = [];
      for (const [deliveryId, lease] of byId) if (keep(lease, deliveryId)) out.push({ deliveryId, lease });
      return out;
    },
    add(deliveryId, lease) {
      if (byId.has(deliveryId)) throw new Error(`delivery ${deliveryId} is leased already`);
      put(deliveryId, lease);
      db.onRollback(() => remove(deliveryId, lease));
    },
    drop(deliveryId) {
      const lease = byId.get(deliveryId);
      if (lease === undefined) return;
      remove(deliveryId, lease);
      db.onRollback(() => put(deliveryId, lease));
    },
  };
}
