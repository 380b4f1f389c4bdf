import type { SqliteDb } from './db.ts';
import type { LeaseTable } from './leases.ts';

/**
 * A lane becomes ready at `at` unless it is already ready earlier (which keeps its place
 * in the round-robin order). Call inside the transaction that made the work due.
 */
export function markLaneReady(db: SqliteDb, webhookId: string, at: number): void {
  db.run(
    `INSERT INTO delivery_lanes (webhook_id, ready_at) VALUES ($w, $at)
     ON CONFLICT (webhook_id) DO UPDATE SET ready_at = CASE
       WHEN delivery_lanes.ready_at IS NULL OR delivery_lanes.ready_at > $at THEN $at ELSE delivery_lanes.ready_at END`,
    { w: webhookId, at },
  );
}

/** Makes an existing lane ready by `at` (a retry or a returned lease); a deleted webhook's lane stays gone. */
export function laneReadyBy(db: SqliteDb, webhookId: string, at: number): void {
  db.run(
    'UPDATE delivery_lanes SET ready_at = $at WHERE webhook_id = $w AND (ready_at IS NULL OR ready_at > $at)',
    { w: webhookId, at },
  );
}

/**
 * Cancels every pending delivery of a webhook (deactivated or gone) and idles its lane.
 * Deliveries being sent are left to their result: a retry of an inactive webhook is
 * cancelled then, and so is a lease given back unsent.
 */
export function cancelPending(db: SqliteDb, leases: LeaseTable, webhookId: string, now: number): number {
  const n = db.run(
    `UPDATE deliveries SET status = 'cancelled', updated_at = $now
     WHERE webhook_id = $w AND status = 'pending' AND id NOT IN (SELECT value FROM json_each($leased))`,
    { w: webhookId, now, leased: JSON.stringify(leases.ids(webhookId)) },
  ).changes;
  db.run('UPDATE delivery_lanes SET ready_at = NULL WHERE webhook_id = $w', { w: webhookId });
  return n;
}
