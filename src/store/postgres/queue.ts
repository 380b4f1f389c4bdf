import type { ClaimedDelivery, DeactivationCause, DeliveryQueue } from '../types.ts';
import type { PgDb, Query } from './db.ts';
import * as sql from './sql/queue.ts';
import type { Wakeups } from './wakeups.ts';

const toClaimed = (r: sql.ClaimRow): ClaimedDelivery => ({
  id: String(r.id),
  webhookId: r.webhook_id,
  ownerClientId: r.owner_client_id,
  attempt: r.attempt,
  callbackUrl: r.callback_url,
  secretSealed: r.secret_sealed,
  messageId: r.message_id,
  eventType: r.event_type,
  itwinId: r.itwin_id ?? undefined,
  contentJson: r.content,
  enqueuedAt: Number(r.enqueued_at),
});

interface Effects {
  stale: number;
  deactivated: Array<{ webhookId: string; cause: DeactivationCause }>;
  claimed: sql.ClaimRow[];
}

export function queueRepo(db: PgDb, wakeups: Wakeups): DeliveryQueue {
  const count = async (q: Query) => Number((await db.rows<{ n: number }>(q))[0]!.n);
  /** Returned deliveries are due now: their lanes are awake (a lane with leases never sleeps), the workers are woken. */
  const requeue = async (q: Query) => {
    const n = await count(q);
    if (n > 0) wakeups.notifyDue();
    return n;
  };
  return {
    async heartbeat(workerId, now) {
      await db.count(sql.upsertHeartbeat(workerId, now));
    },
    async claimDeliveries(claim) {
      return (await db.rows<sql.ClaimRow>(sql.claimDeliveries(claim))).map(toClaimed);
    },
    async completeDeliveries(workerId, results, policy, claim) {
      const [row] = await db.rows<{ effects: Effects }>(sql.completeDeliveries(workerId, results, policy.deactivateFailingAfterMs, claim));
      const effects = row!.effects;
      return { stale: effects.stale, deactivated: effects.deactivated, claimed: effects.claimed.map(toClaimed) };
    },
    releaseDeliveries(workerId, deliveryIds, now) {
      return requeue(sql.releaseLeases(workerId, deliveryIds.map(Number), now));
    },
    releaseOrphanedLeases(workerId, heldIds, leasedBefore, now) {
      return requeue(sql.releaseOrphans(workerId, heldIds.map(Number), leasedBefore, now));
    },
    releaseWorker(workerId, now) {
      return requeue(sql.releaseWorker(workerId, now));
    },
    async reapExpiredLeases(now, leaseTtlMs) {
      let n = 0;
      for (const { id } of await db.rows<{ id: string }>(sql.selectDeadWorkers(now - leaseTtlMs))) n += await requeue(sql.releaseWorker(id, now));
      return n;
    },
    async repairLanes(now) {
      return count(sql.repairLanes(now));
    },
    async nextReadyAt(cap, appCap) {
      return (await db.rows<{ at: number | null }>(sql.selectNextReadyAt(cap, appCap)))[0]?.at ?? undefined;
    },
    async deliveryStats() {
      const [r] = await db.rows<{ pending: number; oldest: number | null }>(sql.selectDeliveryStats());
      return { pending: Number(r!.pending), oldestDueAt: r!.oldest ?? undefined };
    },
  };
}
