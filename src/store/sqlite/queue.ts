import type { Sync, AttemptOutcome, ClaimedDelivery, ClaimOptions, CompletionEffects, DeactivationCause, DeliveryQueue } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { cancelPending, releaseLane } from './lanes.ts';

interface ClaimRow {
  seq: number;
  message_id: string;
  event_type: string;
  itwin_id: string | null;
  content: string;
  enqueued_at: number;
}

/** Queue bookkeeping may lose its last commits to a power cut: that only re-sends deliveries. */
const RELAXED = { relaxed: true };

const FINAL_STATUS: Record<Exclude<AttemptOutcome, 'retry'>, string> = { succeeded: 'succeeded', failed: 'failed', gone: 'failed' };

/** Only the lease holder records on the row; the attempt's own columns and the delivery's state change together. */
const RECORD_ATTEMPT = `
  UPDATE deliveries SET status = $status, attempts = $attempt, due_at = $due, lease_owner = NULL, updated_at = $at,
    last_status = $code, last_error = $error, last_started_at = $started, last_duration_ms = $duration, last_response_body = $body
  WHERE id = $id AND status = 'inflight' AND lease_owner = $worker`;
const MOVE_LAST_ATTEMPT = `
  INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
  SELECT id, attempts, last_started_at, last_duration_ms, last_status, last_error, last_response_body FROM deliveries
  WHERE id = $id AND status = 'inflight' AND lease_owner = $worker AND last_started_at IS NOT NULL`;
const RECORD_STALE_ATTEMPT = `
  INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
  SELECT $id, $attempt, $started, $duration, $code, $error, $body
  WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $id AND NOT (attempts = $attempt AND last_started_at IS $started))
    AND NOT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $id AND attempt = $attempt AND started_at = $started)`;

export function queueRepo(db: SqliteDb): Sync<DeliveryQueue> {
  /** Puts leased deliveries back in the queue, due now, and frees their lane slots. */
  const requeue = (rows: Array<{ id: number; webhook_id: string }>, now: number) => {
    const perLane = new Map<string, number>();
    for (const r of rows) {
      // A webhook deactivated meanwhile gets nothing more: its returned deliveries are cancelled.
      db.run(
        `UPDATE deliveries SET lease_owner = NULL, due_at = $now, updated_at = $now,
           status = CASE WHEN (SELECT active FROM webhooks WHERE id = deliveries.webhook_id) = 1 THEN 'pending' ELSE 'cancelled' END
         WHERE id = $id`,
        { id: r.id, now },
      );
      perLane.set(r.webhook_id, (perLane.get(r.webhook_id) ?? 0) + 1);
    }
    for (const [webhookId, n] of perLane) releaseLane(db, webhookId, n, now);
    return rows.length;
  };

  // Turn numbers order lanes that became ready at the same millisecond: a served lane
  // takes the next one and so goes behind every lane served before it.
  let turn = db.get<{ t: number | null }>('SELECT MAX(turn) AS t FROM delivery_lanes')?.t ?? 0;

  /** Leases due deliveries, lane by lane in round-robin order (inside the caller's transaction). */
  const claim = (workerId: string, { now, limit, maxInFlightPerWebhook: cap }: ClaimOptions): ClaimedDelivery[] => {
    const lanes = db.all<{ webhook_id: string; inflight: number }>(
      'SELECT webhook_id, inflight FROM delivery_lanes WHERE ready_at <= $now AND inflight < $cap ORDER BY ready_at, turn LIMIT CAST($limit AS INTEGER)',
      { now, cap, limit },
    );
    const claimed: ClaimedDelivery[] = [];
    for (const lane of lanes) {
      const room = Math.min(cap - lane.inflight, limit - claimed.length);
      if (room <= 0) break;
      // One statement leases the lane's oldest due deliveries; a second reads what to send.
      const leased = db.all<{ id: number; attempts: number; event_seq: number }>(
        `UPDATE deliveries SET status = 'inflight', lease_owner = $worker, updated_at = $now
         WHERE id IN (SELECT id FROM deliveries WHERE webhook_id = $w AND status = 'pending' AND due_at <= $now ORDER BY due_at LIMIT CAST($room AS INTEGER))
         RETURNING id, attempts, event_seq`,
        { w: lane.webhook_id, worker: workerId, now, room },
      );
      if (leased.length > 0) {
        const target = db.get<{ callback_url: string; secret_sealed: string }>('SELECT callback_url, secret_sealed FROM webhooks WHERE id = $w', {
          w: lane.webhook_id,
        })!;
        const events = new Map(
          db
            .all<ClaimRow>(
              'SELECT seq, message_id, event_type, itwin_id, content, enqueued_at FROM events WHERE seq IN (SELECT value FROM json_each($seqs))',
              { seqs: JSON.stringify(leased.map((l) => l.event_seq)) },
            )
            .map((e) => [e.seq, e]),
        );
        for (const l of leased) {
          const e = events.get(l.event_seq)!;
          claimed.push({
            id: String(l.id),
            webhookId: lane.webhook_id,
            attempt: l.attempts + 1,
            callbackUrl: target.callback_url,
            secretSealed: target.secret_sealed,
            messageId: e.message_id,
            eventType: e.event_type,
            itwinId: e.itwin_id ?? undefined,
            contentJson: e.content,
            enqueuedAt: e.enqueued_at,
          });
        }
      }
      // Re-queue the lane behind the others that are ready now (round-robin), or at
      // its next due time, or idle it when nothing is pending.
      db.run(
        `UPDATE delivery_lanes SET inflight = inflight + $n, turn = $turn,
           ready_at = (SELECT CASE WHEN MIN(due_at) IS NULL THEN NULL ELSE MAX(MIN(due_at), $now) END
                         FROM deliveries WHERE webhook_id = $w AND status = 'pending')
         WHERE webhook_id = $w`,
        { w: lane.webhook_id, n: leased.length, now, turn: ++turn },
      );
    }
    return claimed;
  };

  return {
    heartbeat(workerId, now) {
      db.tx(() => db.run(
        `INSERT INTO workers (id, started_at, heartbeat_at) VALUES ($id, $now, $now)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = $now`,
        { id: workerId, now },
      ), RELAXED);
    },

    claimDeliveries({ workerId, ...options }) {
      return db.tx(() => claim(workerId, options), RELAXED);
    },

    completeDeliveries(workerId, results, policy, claimOptions) {
      return db.tx(() => {
        const effects: CompletionEffects & { claimed: ClaimedDelivery[] } = { deactivated: [], stale: 0, claimed: [] };
        const webhookIds = [...new Set(results.map((r) => r.webhookId))];
        const active = new Set(
          db
            .all<{ id: string }>('SELECT id FROM webhooks WHERE active = 1 AND id IN (SELECT value FROM json_each($ids))', { ids: JSON.stringify(webhookIds) })
            .map((r) => r.id),
        );
        // Only results whose lease this worker still holds change state; the others were
        // taken over (this worker was presumed dead) and their new owner decides. Every
        // attempt is history either way, as long as its delivery still exists.
        const applied = results.map((r) => {
          const retry = r.outcome === 'retry';
          // A retry of a webhook that was deactivated meanwhile is cancelled, never sent.
          const status = r.outcome === 'retry' ? (active.has(r.webhookId) ? 'pending' : 'cancelled') : FINAL_STATUS[r.outcome];
          const at = r.startedAt + r.durationMs;
          const attempt = { id: Number(r.deliveryId), attempt: r.attempt, started: r.startedAt, duration: r.durationMs, code: r.statusCode ?? null, error: r.error ?? null, body: r.responseBody ?? null };
          const params = { ...attempt, worker: workerId, status, due: retry ? r.nextAttemptAt! : at, at };
          // The attempt before this one moves from the row to delivery_attempts; this one takes its place.
          if (r.attempt > 1) db.run(MOVE_LAST_ATTEMPT, { id: attempt.id, worker: workerId });
          const updated = db.run(RECORD_ATTEMPT, params).changes > 0;
          // A result for a lease that was taken over is history only. It may also be the
          // retry of a completion whose answer was lost: then it is recorded already.
          if (!updated) db.run(RECORD_STALE_ATTEMPT, attempt);
          return { updated, status, due: retry ? r.nextAttemptAt! : at, at };
        });
        effects.stale = applied.filter((a) => !a.updated).length;

        const lanes = new Map<string, { released: number; readyAt: number | undefined }>();
        const deactivate = new Map<string, DeactivationCause>();
        const failing = new Map<string, { first: number; last: number }>();
        const recovered = new Set<string>();
        results.forEach((r, i) => {
          const row = applied[i]!;
          if (!row.updated) return;
          const lane = lanes.get(r.webhookId) ?? { released: 0, readyAt: undefined };
          lane.released++;
          if (row.status === 'pending') lane.readyAt = Math.min(lane.readyAt ?? Infinity, row.due);
          lanes.set(r.webhookId, lane);
          if (r.outcome === 'succeeded') recovered.add(r.webhookId);
          else if (r.outcome === 'gone') deactivate.set(r.webhookId, 'gone');
          else {
            const f = failing.get(r.webhookId) ?? { first: r.startedAt, last: row.at };
            failing.set(r.webhookId, { first: Math.min(f.first, r.startedAt), last: Math.max(f.last, row.at) });
          }
        });
        for (const [webhookId, lane] of lanes) releaseLane(db, webhookId, lane.released, lane.readyAt);
        // One success ends a webhook's failure streak; a streak that lasts too long deactivates it.
        for (const webhookId of recovered) {
          db.run('UPDATE webhooks SET failing_since = NULL WHERE id = $w AND failing_since IS NOT NULL', { w: webhookId });
        }
        for (const [webhookId, f] of failing) {
          if (recovered.has(webhookId) || deactivate.has(webhookId)) continue;
          const since = db.get<{ since: number }>(
            'UPDATE webhooks SET failing_since = COALESCE(failing_since, $first) WHERE id = $w RETURNING failing_since AS since',
            { w: webhookId, first: f.first },
          )?.since;
          if (since !== undefined && f.last - since >= policy.deactivateFailingAfterMs) deactivate.set(webhookId, 'failing');
        }
        const now = Math.max(0, ...applied.map((a) => a.at));
        for (const [webhookId, cause] of deactivate) {
          const changed = db.run('UPDATE webhooks SET active = 0, modified_at = $now WHERE id = $w AND active = 1', { w: webhookId, now }).changes;
          if (changed > 0) {
            cancelPending(db, webhookId, now);
            effects.deactivated.push({ webhookId, cause });
          }
        }
        if (claimOptions !== undefined && claimOptions.limit > 0) effects.claimed = claim(workerId, claimOptions);
        return effects;
      }, RELAXED);
    },

    releaseDeliveries(workerId, deliveryIds, now) {
      return db.tx(() => {
        const rows = db.all<{ id: number; webhook_id: string }>(
          `SELECT id, webhook_id FROM deliveries WHERE status = 'inflight' AND lease_owner = $worker AND id IN (SELECT value FROM json_each($ids))`,
          { worker: workerId, ids: JSON.stringify(deliveryIds.map(Number)) },
        );
        return requeue(rows, now);
      }, RELAXED);
    },

    releaseOrphanedLeases(workerId, heldIds, leasedBefore, now) {
      return db.tx(() => {
        // A leased delivery's updated_at is the time of its claim (nothing else touches it while leased).
        const rows = db.all<{ id: number; webhook_id: string }>(
          `SELECT id, webhook_id FROM deliveries
           WHERE status = 'inflight' AND lease_owner = $worker AND updated_at < $before AND id NOT IN (SELECT value FROM json_each($held))`,
          { worker: workerId, before: leasedBefore, held: JSON.stringify(heldIds.map(Number)) },
        );
        return requeue(rows, now);
      }, RELAXED);
    },

    releaseWorker(workerId, now) {
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

    reapExpiredLeases(now, leaseTtlMs) {
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

    repairLanes() {
      // Lanes are updated in the publish's own transaction here; this only guards against bugs.
      return db.tx(
        () =>
          db.run(
            `UPDATE delivery_lanes SET ready_at = (SELECT MIN(due_at) FROM deliveries d WHERE d.webhook_id = delivery_lanes.webhook_id AND d.status = 'pending')
             WHERE ready_at IS NULL AND EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = delivery_lanes.webhook_id AND d.status = 'pending')`,
          ).changes,
        RELAXED,
      );
    },
    nextReadyAt(cap) {
      return db.get<{ at: number | null }>('SELECT MIN(ready_at) AS at FROM delivery_lanes WHERE ready_at IS NOT NULL AND inflight < $cap', { cap })?.at ?? undefined;
    },

    deliveryStats() {
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

