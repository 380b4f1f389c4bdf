import type { AttemptOutcome, ClaimedDelivery, CompletionEffects, DeactivationCause, DeliveryQueue } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { cancelPending, releaseLane } from './lanes.ts';

interface ClaimRow {
  id: number;
  attempts: number;
  message_id: string;
  event_type: string;
  itwin_id: string | null;
  content: string;
  enqueued_at: number;
  callback_url: string;
  secret_sealed: string;
}

/** Queue bookkeeping may lose its last commits to a power cut: that only re-sends deliveries. */
const RELAXED = { relaxed: true };

const FINAL_STATUS: Record<Exclude<AttemptOutcome, 'retry'>, string> = { succeeded: 'succeeded', failed: 'failed', gone: 'failed' };

export function queueRepo(db: SqliteDb): DeliveryQueue {
  /** Puts leased deliveries back in the queue, due now, and frees their lane slots. */
  const requeue = (rows: Array<{ id: number; webhook_id: string }>, now: number) => {
    const perLane = new Map<string, number>();
    for (const r of rows) {
      db.run(`UPDATE deliveries SET status = 'pending', lease_owner = NULL, due_at = $now, updated_at = $now WHERE id = $id`, { id: r.id, now });
      perLane.set(r.webhook_id, (perLane.get(r.webhook_id) ?? 0) + 1);
    }
    for (const [webhookId, n] of perLane) releaseLane(db, webhookId, n, now);
    return rows.length;
  };

  return {
    async heartbeat(workerId, now) {
      db.tx(() => db.run(
        `INSERT INTO workers (id, started_at, heartbeat_at) VALUES ($id, $now, $now)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = $now`,
        { id: workerId, now },
      ), RELAXED);
    },

    async claimDeliveries({ workerId, now, limit, maxInFlightPerWebhook: cap }) {
      return db.tx(() => {
        const lanes = db.all<{ webhook_id: string; inflight: number }>(
          'SELECT webhook_id, inflight FROM delivery_lanes WHERE ready_at <= $now AND inflight < $cap ORDER BY ready_at LIMIT $limit',
          { now, cap, limit },
        );
        const claimed: ClaimedDelivery[] = [];
        for (const lane of lanes) {
          const room = Math.min(cap - lane.inflight, limit - claimed.length);
          if (room <= 0) break;
          const rows = db.all<ClaimRow>(
            `SELECT d.id, d.attempts, e.message_id, e.event_type, e.itwin_id, e.content, e.enqueued_at, w.callback_url, w.secret_sealed
             FROM deliveries d JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.webhook_id = $w AND d.status = 'pending' AND d.due_at <= $now
             ORDER BY d.due_at LIMIT $room`,
            { w: lane.webhook_id, now, room },
          );
          for (const r of rows) {
            db.run(`UPDATE deliveries SET status = 'inflight', lease_owner = $worker, updated_at = $now WHERE id = $id`, { id: r.id, worker: workerId, now });
            claimed.push({
              id: String(r.id),
              webhookId: lane.webhook_id,
              attempt: r.attempts + 1,
              callbackUrl: r.callback_url,
              secretSealed: r.secret_sealed,
              messageId: r.message_id,
              eventType: r.event_type,
              itwinId: r.itwin_id ?? undefined,
              contentJson: r.content,
              enqueuedAt: r.enqueued_at,
            });
          }
          // Re-queue the lane behind the others that are ready now (round-robin), or at
          // its next due time, or idle it when nothing is pending.
          const next = db.get<{ due: number | null }>(`SELECT MIN(due_at) AS due FROM deliveries WHERE webhook_id = $w AND status = 'pending'`, {
            w: lane.webhook_id,
          })!.due;
          db.run('UPDATE delivery_lanes SET inflight = inflight + $n, ready_at = $ready WHERE webhook_id = $w', {
            w: lane.webhook_id,
            n: rows.length,
            ready: next === null ? null : Math.max(next, now),
          });
        }
        return claimed;
      }, RELAXED);
    },

    async completeDeliveries(workerId, results, policy) {
      return db.tx(() => {
        const effects: CompletionEffects = { deactivated: [], stale: 0 };
        const lanes = new Map<string, { released: number; readyAt: number | undefined }>();
        const deactivate = new Map<string, DeactivationCause>();
        const activeCache = new Map<string, boolean>();
        const isActive = (webhookId: string) => {
          let active = activeCache.get(webhookId);
          if (active === undefined) {
            active = db.get<{ active: number }>('SELECT active FROM webhooks WHERE id = $w', { w: webhookId })?.active === 1;
            activeCache.set(webhookId, active);
          }
          return active;
        };

        for (const r of results) {
          const finishedAt = r.startedAt + r.durationMs;
          db.run(
            `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
             SELECT $id, $attempt, $started, $duration, $code, $error, $body WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $id)`,
            {
              id: Number(r.deliveryId),
              attempt: r.attempt,
              started: r.startedAt,
              duration: r.durationMs,
              code: r.statusCode ?? null,
              error: r.error ?? null,
              body: r.responseBody ?? null,
            },
          );
          const retry = r.outcome === 'retry';
          // A retry of a webhook that was deactivated meanwhile is cancelled, never sent.
          const status = r.outcome === 'retry' ? (isActive(r.webhookId) ? 'pending' : 'cancelled') : FINAL_STATUS[r.outcome];
          const updated = db.run(
            `UPDATE deliveries SET status = $status, attempts = $attempt, due_at = $due, lease_owner = NULL, updated_at = $at,
               last_status = $code, last_error = $error
             WHERE id = $id AND status = 'inflight' AND lease_owner = $worker`,
            {
              id: Number(r.deliveryId),
              worker: workerId,
              status,
              attempt: r.attempt,
              due: retry ? r.nextAttemptAt! : finishedAt,
              at: finishedAt,
              code: r.statusCode ?? null,
              error: r.error ?? null,
            },
          ).changes;
          if (updated === 0) {
            // The lease was taken over (this worker was presumed dead): the new owner decides.
            effects.stale++;
            continue;
          }
          const lane = lanes.get(r.webhookId) ?? { released: 0, readyAt: undefined };
          lane.released++;
          if (status === 'pending') lane.readyAt = Math.min(lane.readyAt ?? Infinity, r.nextAttemptAt!);
          lanes.set(r.webhookId, lane);

          if (r.outcome === 'succeeded') {
            db.run('UPDATE webhooks SET failing_since = NULL WHERE id = $w AND failing_since IS NOT NULL', { w: r.webhookId });
          } else if (r.outcome === 'gone') {
            deactivate.set(r.webhookId, 'gone');
          } else {
            db.run('UPDATE webhooks SET failing_since = COALESCE(failing_since, $at) WHERE id = $w', { w: r.webhookId, at: r.startedAt });
            const since = db.get<{ failing_since: number | null }>('SELECT failing_since FROM webhooks WHERE id = $w', { w: r.webhookId })?.failing_since;
            if (since != null && finishedAt - since >= policy.deactivateFailingAfterMs && !deactivate.has(r.webhookId)) {
              deactivate.set(r.webhookId, 'failing');
            }
          }
        }

        for (const [webhookId, lane] of lanes) releaseLane(db, webhookId, lane.released, lane.readyAt);
        const now = Math.max(0, ...results.map((r) => r.startedAt + r.durationMs));
        for (const [webhookId, cause] of deactivate) {
          const changed = db.run('UPDATE webhooks SET active = 0, modified_at = $now WHERE id = $w AND active = 1', { w: webhookId, now }).changes;
          if (changed > 0) {
            cancelPending(db, webhookId, now);
            effects.deactivated.push({ webhookId, cause });
          }
        }
        return effects;
      }, RELAXED);
    },

    async releaseWorker(workerId, now) {
      return db.tx(() => {
        const rows = db.all<{ id: number; webhook_id: string }>(
          `SELECT id, webhook_id FROM deliveries WHERE status = 'inflight' AND lease_owner = $worker`,
          { worker: workerId },
        );
        requeue(rows, now);
        db.run('DELETE FROM workers WHERE id = $id', { id: workerId });
        return rows.length;
      }, RELAXED);
    },

    async reapExpiredLeases(now, leaseTtlMs) {
      return db.tx(() => {
        const cutoff = now - leaseTtlMs;
        // Leases held by workers whose heartbeat is stale, or who left no heartbeat at all.
        const rows = db.all<{ id: number; webhook_id: string }>(
          `SELECT id, webhook_id FROM deliveries
           WHERE status = 'inflight' AND lease_owner NOT IN (SELECT id FROM workers WHERE heartbeat_at >= $cutoff)`,
          { cutoff },
        );
        requeue(rows, now);
        db.run('DELETE FROM workers WHERE heartbeat_at < $cutoff', { cutoff });
        return rows.length;
      }, RELAXED);
    },

    async nextReadyAt(cap) {
      return db.get<{ at: number | null }>('SELECT MIN(ready_at) AS at FROM delivery_lanes WHERE ready_at IS NOT NULL AND inflight < $cap', { cap })?.at ?? undefined;
    },

    async deliveryStats() {
      const pending = db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`)!.n;
      const inflight = db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'inflight'`)!.n;
      // The oldest due delivery, found per lane through the (webhook_id, due_at) index.
      const oldest = db.get<{ at: number | null }>(
        `SELECT MIN((SELECT MIN(due_at) FROM deliveries d WHERE d.webhook_id = l.webhook_id AND d.status = 'pending')) AS at
         FROM delivery_lanes l WHERE l.ready_at IS NOT NULL`,
      )!.at;
      return { pending: pending + inflight, oldestDueAt: oldest ?? undefined };
    },
  };
}

