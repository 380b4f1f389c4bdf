import type { AttemptResult, ClaimOptions, ClaimRequest } from '../../types.ts';
import type { Query } from '../db.ts';

/** The delivery queue: each statement with its parameters. */

export const upsertHeartbeat = (workerId: string, now: number): Query => ({
  text: 'INSERT INTO workers (id, started_at, heartbeat_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = $2',
  values: [workerId, now],
});

export const claimDeliveries = (c: ClaimRequest): Query => ({
  text: 'SELECT * FROM claim_deliveries($1, $2, $3, $4)',
  values: [c.workerId, c.now, c.limit, c.maxInFlightPerWebhook],
});

/** A claimed delivery as claim_deliveries returns it. */
export interface ClaimRow {
  id: number;
  webhook_id: string;
  attempt: number;
  callback_url: string;
  secret_sealed: string;
  message_id: string;
  event_type: string;
  itwin_id: string | null;
  content: string;
  enqueued_at: number;
}

export const completeDeliveries = (workerId: string, results: AttemptResult[], failingAfterMs: number, claim: ClaimOptions | undefined): Query => ({
  text: 'SELECT complete_deliveries($1, $2::jsonb, $3, $4, $5, $6) AS effects',
  values: [
    workerId,
    JSON.stringify(
      results.map((r) => ({
        id: Number(r.deliveryId),
        w: r.webhookId,
        o: r.outcome,
        n: r.attempt,
        st: r.startedAt,
        ms: r.durationMs,
        code: r.statusCode ?? null,
        err: r.error ?? null,
        body: r.responseBody ?? null,
        next: r.nextAttemptAt ?? null,
      })),
    ),
    failingAfterMs,
    claim?.now ?? 0,
    claim?.limit ?? 0,
    claim?.maxInFlightPerWebhook ?? 0,
  ],
});

/** The ids of a worker's leased deliveries among `ids`. */
export const selectLeasedAmong = (workerId: string, ids: number[]): Query => ({
  text: `SELECT id FROM deliveries WHERE status = 'inflight' AND lease_owner = $1 AND id = ANY ($2::bigint[])`,
  values: [workerId, ids],
});

/** A leased delivery's updated_at is the time of its claim (nothing else touches it while leased). */
export const selectLeasedBefore = (workerId: string, leasedBefore: number, heldIds: number[]): Query => ({
  text: `SELECT id FROM deliveries WHERE status = 'inflight' AND lease_owner = $1 AND updated_at < $2 AND NOT (id = ANY ($3::bigint[]))`,
  values: [workerId, leasedBefore, heldIds],
});

export const selectLeasedBy = (workerId: string): Query => ({
  text: `SELECT id FROM deliveries WHERE status = 'inflight' AND lease_owner = $1`,
  values: [workerId],
});

/** Deliveries leased by workers whose last heartbeat is older than `cutoff` (or gone). */
export const selectLeasedByDead = (cutoff: number): Query => ({
  text: `SELECT id FROM deliveries WHERE status = 'inflight' AND lease_owner NOT IN (SELECT id FROM workers WHERE heartbeat_at >= $1)`,
  values: [cutoff],
});

export const requeueDeliveries = (ids: number[], now: number): Query => ({ text: 'SELECT requeue_deliveries($1::bigint[], $2) AS n', values: [ids, now] });

export const deleteWorker = (workerId: string): Query => ({ text: 'DELETE FROM workers WHERE id = $1', values: [workerId] });

export const deleteDeadWorkers = (cutoff: number): Query => ({ text: 'DELETE FROM workers WHERE heartbeat_at < $1', values: [cutoff] });

export const repairLanes = (now: number): Query => ({ text: 'SELECT repair_lanes($1) AS n', values: [now] });

export const selectNextReadyAt = (cap: number): Query => ({
  text: 'SELECT min(ready_at) AS at FROM delivery_lanes WHERE ready_at IS NOT NULL AND inflight < $1',
  values: [cap],
});

export const selectDeliveryStats = (): Query => ({
  text: `SELECT (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'inflight')) AS pending,
                (SELECT min((SELECT min(due_at) FROM deliveries d WHERE d.webhook_id = l.webhook_id AND d.status = 'pending'))
                   FROM delivery_lanes l WHERE l.ready_at IS NOT NULL) AS oldest`,
});
