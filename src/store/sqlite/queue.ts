import type { Sync, AttemptOutcome, ClaimedDelivery, ClaimOptions, CompletionEffects, DeactivationCause, DeliveryQueue } from '../types.ts';
import type { SqliteDb } from './db.ts';
import { cancelPending, laneReadyBy } from './lanes.ts';
import type { Lease, LeaseTable } from './leases.ts';

interface SendRow {
  id: number;
  attempts: number;
  message_id: string;
  event_type: string;
  itwin_id: string | null;
  content: string;
  enqueued_at: number;
}

/** Queue bookkeeping may lose its last commits to a power cut: that only re-sends deliveries. */
const RELAXED = { relaxed: true };

const FINAL_STATUS: Record<Exclude<AttemptOutcome, 'retry'>, string> = { succeeded: 'succeeded', failed: 'failed', gone: 'failed' };

/** Only the lease holder records on the row (checked in memory); the attempt's columns and the delivery's state change together. */
const RECORD_ATTEMPT = `
  UPDATE deliveries SET status = $status, attempts = $attempt, due_at = $due, updated_at = $at,
    last_status = $code, last_error = $error, last_started_at = $started, last_duration_ms = $duration, last_response_body = $body
  WHERE id = $id AND status = 'pending'`;
const MOVE_LAST_ATTEMPT = `
  INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
  SELECT id, attempts, last_started_at, last_duration_ms, last_status, last_error, last_response_body FROM deliveries
  WHERE id = $id AND status = 'pending' AND last_started_at IS NOT NULL`;
const RECORD_STALE_ATTEMPT = `
  INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
  SELECT $id, $attempt, $started, $duration, $code, $error, $body
  WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $id AND NOT (attempts = $attempt AND last_started_at IS $started))
    AND NOT EXISTS (SELECT 1 FROM delivery_attempts WHERE delivery_id = $id AND attempt = $attempt AND started_at = $started)`;

/**
 * The due time of the first pending delivery of the lane `webhookIdSql` that no one holds
 * (through the leased ones ahead of it); $leased is the JSON array of leased ids.
 */
const firstUnleasedDue = (webhookIdSql: string) => `(
  SELECT due_at FROM deliveries d
  WHERE d.webhook_id = ${webhookIdSql} AND d.status = 'pending' AND d.id NOT IN (SELECT value FROM json_each($leased))
  ORDER BY d.due_at LIMIT 1)`;

export function queueRepo(db: SqliteDb, leases: LeaseTable): Sync<DeliveryQueue> {
  /** Puts leased deliveries back in the queue, due now (cancelled if their webhook is inactive). */
  const requeue = (returned: Array<{ deliveryId: number; lease: Lease }>, now: number) => {
    const lanes = new Set<string>();
    for (const { deliveryId, lease } of returned) {
      leases.drop(deliveryId);
      db.run(
        `UPDATE deliveries SET due_at = $now, updated_at = $now,
           status = CASE WHEN (SELECT active FROM webhooks WHERE id = deliveries.webhook_id) = 1 THEN 'pending' ELSE 'cancelled' END
         WHERE id = $id AND status = 'pending'`,
        { id: deliveryId, now },
      );
      lanes.add(lease.webhookId);
    }
    for (const webhookId of lanes) laneReadyBy(db, webhookId, now);
    return returned.length;
  };

  // The leases of an earlier process died with it: a lane it had idled because every
  // pending delivery was leased is ready again. (Run by a command next to a running server,
  // it may wake a lane that is idle for that reason: its next claim idles it again.)
  db.tx(() =>
    db.run(
      `UPDATE delivery_lanes SET ready_at = (SELECT MIN(due_at) FROM deliveries d WHERE d.webhook_id = delivery_lanes.webhook_id AND d.status = 'pending')
       WHERE ready_at IS NULL AND EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = delivery_lanes.webhook_id AND d.status = 'pending')`,
    ),
  );

  // Turn numbers order lanes that became ready at the same millisecond: a served lane
  // takes the next one and so goes behind every lane served before it.
  let turn = db.get<{ t: number | null }>('SELECT MAX(turn) AS t FROM delivery_lanes')?.t ?? 0;

  /** Leases due deliveries, lane by lane in round-robin order (inside the caller's transaction). */
  const claim = (workerId: string, { now, limit, maxInFlightPerWebhook: cap, maxInFlightPerApplication: appCap }: ClaimOptions): ClaimedDelivery[] => {
    // Lanes at their cap, and those of applications at theirs, stay ready (they have due
    // work) but are passed over, keeping their place: read enough lanes that `limit` others
    // are among them.
    const lanes = db.all<{ webhook_id: string; owner: string }>(
      `SELECT l.webhook_id, w.owner_client_id AS owner FROM delivery_lanes l JOIN webhooks w ON w.id = l.webhook_id
       WHERE l.ready_at <= $now AND w.owner_client_id NOT IN (SELECT value FROM json_each($full))
       ORDER BY l.ready_at, l.turn LIMIT CAST($limit AS INTEGER)`,
      { now, limit: limit + leases.lanesAtCap(cap).length, full: JSON.stringify(leases.ownersAtCap(appCap)) },
    );
    const claimed: ClaimedDelivery[] = [];
    for (const { webhook_id: webhookId, owner } of lanes) {
      if (claimed.length >= limit) break;
      const held = leases.countOf(webhookId);
      const room = Math.min(cap - held, appCap - leases.countOfOwner(owner), limit - claimed.length);
      if (room <= 0) continue;
      // The lane's pending deliveries by due time, through those already leased (they read
      // `pending` too): the first `room` free ones that are due are taken, and the next
      // free one says when the lane is ready again.
      const pending = db.all<{ id: number; due_at: number }>(
        `SELECT id, due_at FROM deliveries WHERE webhook_id = $w AND status = 'pending' ORDER BY due_at LIMIT CAST($n AS INTEGER)`,
        { w: webhookId, n: held + room + 1 },
      );
      const take: number[] = [];
      let readyAt: number | null = null;
      for (const p of pending) {
        if (leases.get(p.id) !== undefined) continue;
        if (take.length < room && p.due_at <= now) take.push(p.id);
        else {
          readyAt = Math.max(p.due_at, now);
          break;
        }
      }
      if (take.length > 0) {
        const target = db.get<{ callback_url: string; secret_sealed: string }>('SELECT callback_url, secret_sealed FROM webhooks WHERE id = $w', {
          w: webhookId,
        })!;
        const rows = new Map(
          db
            .all<SendRow>(
              `SELECT d.id, d.attempts, e.message_id, e.event_type, e.itwin_id, e.content, e.enqueued_at
               FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id IN (SELECT value FROM json_each($ids))`,
              { ids: JSON.stringify(take) },
            )
            .map((r) => [r.id, r]),
        );
        for (const id of take) {
          const r = rows.get(id)!;
          leases.add(id, { workerId, webhookId, ownerClientId: owner, at: now });
          claimed.push({
            id: String(id),
            webhookId,
            ownerClientId: owner,
            attempt: r.attempts + 1,
            callbackUrl: target.callback_url,
            secretSealed: target.secret_sealed,
            messageId: r.message_id,
            eventType: r.event_type,
            itwinId: r.itwin_id ?? undefined,
            contentJson: r.content,
            enqueuedAt: r.enqueued_at,
          });
        }
      }
      // Re-queue the lane behind the others that are ready now (round-robin), or at its
      // next due time, or idle it when every pending delivery is leased.
      db.run('UPDATE delivery_lanes SET turn = $turn, ready_at = $ready WHERE webhook_id = $w', { w: webhookId, ready: readyAt, turn: ++turn });
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
          const held = leases.get(attempt.id)?.workerId === workerId;
          let updated = false;
          if (held) {
            leases.drop(attempt.id);
            // The attempt before this one moves from the row to delivery_attempts; this one takes its place.
            if (r.attempt > 1) db.run(MOVE_LAST_ATTEMPT, { id: attempt.id });
            updated = db.run(RECORD_ATTEMPT, { ...attempt, status, due: retry ? r.nextAttemptAt! : at, at }).changes > 0;
          }
          // A result for a lease that was taken over is history only. It may also be the
          // retry of a completion whose answer was lost: then it is recorded already.
          if (!updated) db.run(RECORD_STALE_ATTEMPT, attempt);
          return { updated, status, due: retry ? r.nextAttemptAt! : at, at };
        });
        effects.stale = applied.filter((a) => !a.updated).length;

        const retryAt = new Map<string, number>();
        const deactivate = new Map<string, DeactivationCause>();
        const failing = new Map<string, { first: number; last: number }>();
        const recovered = new Set<string>();
        results.forEach((r, i) => {
          const row = applied[i]!;
          if (!row.updated) return;
          if (row.status === 'pending') retryAt.set(r.webhookId, Math.min(retryAt.get(r.webhookId) ?? Infinity, row.due));
          if (r.outcome === 'succeeded') recovered.add(r.webhookId);
          else if (r.outcome === 'gone') deactivate.set(r.webhookId, 'gone');
          else {
            const f = failing.get(r.webhookId) ?? { first: r.startedAt, last: row.at };
            failing.set(r.webhookId, { first: Math.min(f.first, r.startedAt), last: Math.max(f.last, row.at) });
          }
        });
        // A freed slot needs no write (the cap is counted in memory); a retry makes its lane ready by its due time.
        for (const [webhookId, at] of retryAt) laneReadyBy(db, webhookId, at);
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
          const changed = db.run(
            'UPDATE webhooks SET active = 0, modified_at = $now, deactivated_at = $now, deactivation_cause = $cause WHERE id = $w AND active = 1',
            { w: webhookId, now, cause },
          ).changes;
          if (changed > 0) {
            cancelPending(db, leases, webhookId, now);
            effects.deactivated.push({ webhookId, cause });
          }
        }
        if (claimOptions !== undefined && claimOptions.limit > 0) effects.claimed = claim(workerId, claimOptions);
        return effects;
      }, RELAXED);
    },

    releaseDeliveries(workerId, deliveryIds, now) {
      return db.tx(() => {
        const ids = new Set(deliveryIds.map(Number));
        return requeue(leases.filter((l, id) => l.workerId === workerId && ids.has(id)), now);
      }, RELAXED);
    },

    releaseOrphanedLeases(workerId, heldIds, leasedBefore, now) {
      return db.tx(() => {
        const held = new Set(heldIds.map(Number));
        return requeue(leases.filter((l, id) => l.workerId === workerId && l.at < leasedBefore && !held.has(id)), now);
      }, RELAXED);
    },

    releaseWorker(workerId, now) {
      return db.tx(() => {
        const n = requeue(leases.filter((l) => l.workerId === workerId), now);
        db.run('DELETE FROM workers WHERE id = $id', { id: workerId });
        return n;
      }, RELAXED);
    },

    reapExpiredLeases(now, leaseTtlMs) {
      return db.tx(() => {
        const cutoff = now - leaseTtlMs;
        // Leases held by workers whose heartbeat is stale, or who left no heartbeat at all.
        const live = new Set(db.all<{ id: string }>('SELECT id FROM workers WHERE heartbeat_at >= $cutoff', { cutoff }).map((w) => w.id));
        const n = requeue(leases.filter((l) => !live.has(l.workerId)), now);
        db.run('DELETE FROM workers WHERE heartbeat_at < $cutoff', { cutoff });
        return n;
      }, RELAXED);
    },

    repairLanes() {
      // Lanes are kept ready by every write that makes work due; this only guards against bugs.
      return db.tx(
        () =>
          db.run(
            `UPDATE delivery_lanes SET ready_at = ${firstUnleasedDue('delivery_lanes.webhook_id')}
             WHERE ready_at IS NULL AND ${firstUnleasedDue('delivery_lanes.webhook_id')} IS NOT NULL`,
            { leased: JSON.stringify(leases.ids()) },
          ).changes,
        RELAXED,
      );
    },

    nextReadyAt(cap, appCap) {
      return (
        db.get<{ at: number }>(
          `SELECT l.ready_at AS at FROM delivery_lanes l JOIN webhooks w ON w.id = l.webhook_id
           WHERE l.ready_at IS NOT NULL AND l.webhook_id NOT IN (SELECT value FROM json_each($full))
             AND w.owner_client_id NOT IN (SELECT value FROM json_each($fullOwners))
           ORDER BY l.ready_at LIMIT 1`,
          { full: JSON.stringify(leases.lanesAtCap(cap)), fullOwners: JSON.stringify(leases.ownersAtCap(appCap)) },
        )?.at ?? undefined
      );
    },

    deliveryStats() {
      // Pending includes the deliveries being sent; the oldest due one is the oldest no one is sending.
      const pending = db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending'`)!.n;
      const oldest = db.get<{ at: number | null }>(
        `SELECT MIN(${firstUnleasedDue('l.webhook_id')}) AS at FROM delivery_lanes l WHERE l.ready_at IS NOT NULL`,
        { leased: JSON.stringify(leases.ids()) },
      )!.at;
      return { pending, oldestDueAt: oldest ?? undefined };
    },
  };
}
