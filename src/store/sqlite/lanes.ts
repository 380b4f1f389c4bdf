import type { SqliteDb } from './db.ts';

/**
 * A lane becomes ready at `at` unless it is already ready earlier (which keeps its place
 * in the round-robin order). Call inside the transaction that made the work due.
 */
export function markLaneReady(db: SqliteDb, webhookId: string, at: number): void {
  db.run(
    `INSERT INTO delivery_lanes (webhook_id, ready_at, inflight) VALUES ($w, $at, 0)
     ON CONFLICT (webhook_id) DO UPDATE SET ready_at = CASE
       WHEN delivery_lanes.ready_at IS NULL OR delivery_lanes.ready_at > $at THEN $at ELSE delivery_lanes.ready_at END`,
    { w: webhookId, at },
  );
}

/** Gives back `count` in-flight slots of a lane, and makes it ready at `readyAt` if given. */
export function releaseLane(db: SqliteDb, webhookId: string, count: number, readyAt: number | undefined): void {
  db.run(
    `UPDATE delivery_lanes SET inflight = MAX(0, inflight - $n),
       ready_at = CASE WHEN $at IS NULL THEN ready_at
                       WHEN ready_at IS NULL OR ready_at > $at THEN $at ELSE ready_at END
     WHERE webhook_id = $w`,
    { w: webhookId, n: count, at: readyAt ?? null },
  );
}

/** Cancels every pending delivery of a webhook (deactivated or gone) and idles its lane. */
export function cancelPending(db: SqliteDb, webhookId: string, now: number): number {
  const n = db.run(`UPDATE deliveries SET status = 'cancelled', updated_at = $now WHERE webhook_id = $w AND status = 'pending'`, { w: webhookId, now }).changes;
  db.run('UPDATE delivery_lanes SET ready_at = NULL WHERE webhook_id = $w', { w: webhookId });
  return n;
}
