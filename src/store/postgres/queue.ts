import type { ClaimedDelivery, DeactivationCause, DeliveryQueue } from '../types.ts';
import type { PgDb, Query } from './db.ts';
import * as sql from './sql/queue.ts';
import type { Wakeups } from './wakeups.ts';

const toClaimed = (r: sql.ClaimRow): ClaimedDelivery => ({
  id: String(r.id),
  webhookId: r.webhook_id,
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
  /** Puts the leased deliveries `select` finds back in the queue, then runs `after`, in one transaction. */
  const requeue = (select: Query, now: number, after?: Query) =>
    db.tx(async (t) => {
      const ids = (await t.rows<{ id: number }>(select)).map((r) => r.id);
      const n = ids.length === 0 ? 0 : Number((await t.rows<{ n: number }>(sql.requeueDeliveries(ids, now)))[0]!.n);
      if (after !== undefined) await t.count(after);
      if (n > 0) wakeups.notifyDue();
      return n;
    });

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
      return requeue(sql.selectLeasedAmong(workerId, deliveryIds.map(Number)), now);
    },
    releaseOrphanedLeases(workerId, heldIds, leasedBefore, now) {
      return requeue(sql.selectLeasedBefore(workerId, leasedBefore, heldIds.map(Number)), now);
    },
    releaseWorker(workerId, now) {
      return requeue(sql.selectLeasedBy(workerId), now, sql.deleteWorker(workerId));
    },
    reapExpiredLeases(now, leaseTtlMs) {
      const cutoff = now - leaseTtlMs;
      return requeue(sql.selectLeasedByDead(cutoff), now, sql.deleteDeadWorkers(cutoff));
    },
    async repairLanes(now) {
      return Number((await db.rows<{ n: number }>(sql.repairLanes(now)))[0]!.n);
    },
    async nextReadyAt(cap) {
      return (await db.rows<{ at: number | null }>(sql.selectNextReadyAt(cap)))[0]?.at ?? undefined;
    },
    async deliveryStats() {
      const [r] = await db.rows<{ pending: number; oldest: number | null }>(sql.selectDeliveryStats());
      return { pending: Number(r!.pending), oldestDueAt: r!.oldest ?? undefined };
    },
  };
}
