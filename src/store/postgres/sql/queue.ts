import type { AttemptResult, ClaimOptions, ClaimRequest } from '../../types.ts';
import type { Query } from '../db.ts';

/** The delivery queue: each statement with its parameters. */

export const upsertHeartbeat = (workerId: string, now: number): Query => ({
  text: 'INSERT INTO workers (id, started_at, heartbeat_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = $2',
  values: [workerId, now],
});

export const claimDeliveries = (c: ClaimRequest): Query => ({
  name: 'claim_deliveries',
  text: 'SELECT * FROM claim_deliveries($1, $2, $3, $4, $5)',
  values: [c.workerId, c.now, c.limit, c.maxInFlightPerWebhook, c.maxInFlightPerApplication],
});

/** A claimed delivery as claim_deliveries returns it. */
export interface ClaimRow {
  id: number;
  webhook_id: string;
  owner_client_id: string;
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
  name: 'complete_deliveries',
  text: 'SELECT complete_deliveries($1, $2::json, $3, $4, $5, $6, $7) AS effects',
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
    claim?.maxInFlightPerApplication ?? 0,
  ],
});

/** Returns a worker's leases to the queue: those in `ids` (see release_leases). */
export const releaseLeases = (workerId: string, ids: number[], now: number): Query => ({
  text: 'SELECT release_leases($1, $2::bigint[], NULL, NULL, $3, false) AS n',
  values: [workerId, ids, now],
});

/** A claim whose answer never arrived leased them: those leased before `leasedBefore` that the worker does not hold. */
export const releaseOrphans = (workerId: string, heldIds: number[], leasedBefore: number, now: number): Query => ({
  text: 'SELECT release_leases($1, NULL, $2::bigint[], $3, $4, false) AS n',
  values: [workerId, heldIds, leasedBefore, now],
});

/** All of a worker's leases, and its row. */
export const releaseWorker = (workerId: string, now: number): Query => ({ text: 'SELECT release_leases($1, NULL, NULL, NULL, $2, true) AS n', values: [workerId, now] });

/** Workers whose last heartbeat is older than `cutoff`. */
export const selectDeadWorkers = (cutoff: number): Query => ({ text: 'SELECT id FROM workers WHERE heartbeat_at < $1 ORDER BY id', values: [cutoff] });

export const repairLanes = (now: number): Query => ({ text: 'SELECT repair_lanes($1) AS n', values: [now] });

/**
 * The earliest due time of a delivery no one holds, on a lane with fewer than `cap`
 * leased of an application with fewer than `appCap`: over the awake lanes (their first
 * unleased pending delivery) and the sleeping ones (their wake-up time).
 */
export const selectNextReadyAt = (cap: number, appCap: number): Query => ({
  name: 'next_ready_at',
  text: `WITH leases AS (SELECT u.d, u.l FROM workers w, unnest(w.leased, w.leased_lanes) AS u(d, l)),
              busy AS (SELECT l, count(*) AS n FROM leases GROUP BY l),
              full_apps AS (SELECT wh.owner_client_id AS c FROM leases JOIN webhooks wh ON wh.seq = leases.l
                             GROUP BY wh.owner_client_id HAVING count(*) >= $2),
              open_lanes AS (SELECT l.* FROM delivery_lanes l LEFT JOIN busy b ON b.l = l.webhook_seq
                              WHERE coalesce(b.n, 0) < $1
                                AND NOT EXISTS (SELECT 1 FROM webhooks wh JOIN full_apps f ON f.c = wh.owner_client_id WHERE wh.seq = l.webhook_seq))
         SELECT least(
           (SELECT min((SELECT min(d.due_at) FROM deliveries d
                         WHERE d.webhook_id = l.webhook_id AND d.status = 'pending' AND NOT (d.id = ANY (SELECT leases.d FROM leases))))
              FROM open_lanes l WHERE l.awake),
           (SELECT min(l.ready_at) FROM open_lanes l WHERE NOT l.awake AND l.ready_at IS NOT NULL)) AS at`,
  values: [cap, appCap],
});

/** Pending deliveries (leased ones included) and the earliest due time among them, lane by lane. */
export const selectDeliveryStats = (): Query => ({
  text: `SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending,
                (SELECT min((SELECT min(due_at) FROM deliveries d WHERE d.webhook_id = l.webhook_id AND d.status = 'pending'))
                   FROM delivery_lanes l WHERE l.awake OR l.ready_at IS NOT NULL) AS oldest`,
});
