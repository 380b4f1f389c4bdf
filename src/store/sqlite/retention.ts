import type { PruneResult, RetentionRepo } from '../retention.ts';
import type { Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';
import type { LeaseTable } from './leases.ts';
import type { RecentMessageIds } from './recentMessageIds.ts';

/**
 * Retention on the embedded store: batched deletes, each call one short transaction on the
 * store thread. Two passes go round the history in key order from cursors kept here, as on
 * PostgreSQL (see its prune_history): deliveries by id, ending at the first one created at
 * the cutoff or later, then again from the start; events by seq. An event removed inside
 * its messageId's window leaves a row in pruned_message_ids, which the idempotency index
 * (recentMessageIds.ts) reads when the event is gone. SQLite puts the pages deletes free on its freelist and
 * reuses them for new rows, so the file stops growing once retention keeps pace.
 */
/**
 * One step of a pass over rows read in key order after the cursor: the rows before the
 * first one too new to go (none after it can be old enough either), and where the next
 * step starts (0: the pass is over and starts again from the beginning).
 */
function passStep<R>(batch: R[], limit: number, key: (r: R) => number, tooNew: (r: R) => boolean): { looked: R[]; next: number } {
  const frontier = batch.findIndex(tooNew);
  return {
    looked: frontier < 0 ? batch : batch.slice(0, frontier),
    next: frontier >= 0 || batch.length < limit ? 0 : key(batch[batch.length - 1]!),
  };
}

export function retentionRepo(db: SqliteDb, leases: LeaseTable, messageIds: RecentMessageIds): Sync<RetentionRepo> {
  let deliveriesAfter = 0;
  let eventsAfter = 0;

  const pruneDeliveries = (before: number, limit: number) => {
    const batch = db.all<{ id: number; status: string; updated_at: number; created_at: number; attempts: number }>(
      'SELECT id, status, updated_at, created_at, attempts FROM deliveries WHERE id > $after ORDER BY id LIMIT CAST($n AS INTEGER)',
      { after: deliveriesAfter, n: limit },
    );
    const { looked, next } = passStep(batch, limit, (d) => d.id, (d) => d.created_at >= before);
    deliveriesAfter = next;
    // (A leased delivery reads pending: it stays.)
    const gone = looked.filter((d) => d.status !== 'pending' && d.updated_at < before && leases.get(d.id) === undefined);
    if (gone.length === 0) return { deliveries: 0, attempts: 0 };
    const json = JSON.stringify(gone.map((d) => d.id));
    db.run('DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each($ids))', { ids: json });
    const deliveries = db.run('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each($ids))', { ids: json }).changes;
    // Attempts: all those of the deliveries removed (the latest lives on the delivery row).
    return { deliveries, attempts: gone.reduce((n, d) => n + d.attempts, 0) };
  };

  const pruneEvents = (before: number, windowStart: number, limit: number) => {
    const batch = db.all<{ seq: number; message_id: string; event_type: string; enqueued_at: number; matched: number }>(
      'SELECT seq, message_id, event_type, enqueued_at, matched FROM events WHERE seq > $after ORDER BY seq LIMIT CAST($n AS INTEGER)',
      { after: eventsAfter, n: limit },
    );
    const { looked, next } = passStep(batch, limit, (e) => e.seq, (e) => e.enqueued_at >= before);
    eventsAfter = next;
    let events = 0;
    for (const e of looked) {
      if (db.get('SELECT 1 FROM deliveries WHERE event_seq = $seq LIMIT 1', { seq: e.seq }) !== undefined) continue;
      db.run('DELETE FROM events WHERE seq = $seq', { seq: e.seq });
      events++;
      if (e.enqueued_at > windowStart) {
        // Inside its window: a repeated publish must still find it (its event_ids row stays).
        db.run('INSERT OR IGNORE INTO pruned_message_ids (seq, message_id, event_type, enqueued_at, matched) VALUES ($seq, $m, $t, $at, $n)', {
          seq: e.seq,
          m: e.message_id,
          t: e.event_type,
          at: e.enqueued_at,
          n: e.matched,
        });
      } else {
        db.run('DELETE FROM event_ids WHERE message_id = $m AND seq = $seq', { m: e.message_id, seq: e.seq });
        // Past its window it is no duplicate anyway (whether or not this commits).
        messageIds.forget(e.message_id, e.seq);
      }
    }
    return events;
  };

  /** Remembered messageIds whose window has ended, with their event_ids rows. */
  const forgetMessageIds = (windowStart: number, limit: number) => {
    const old = db.all<{ seq: number; message_id: string }>(
      'SELECT seq, message_id FROM pruned_message_ids WHERE enqueued_at <= $w ORDER BY enqueued_at LIMIT CAST($n AS INTEGER)',
      { w: windowStart, n: limit },
    );
    for (const k of old) {
      db.run('DELETE FROM event_ids WHERE message_id = $m AND seq = $seq', { m: k.message_id, seq: k.seq });
      db.run('DELETE FROM pruned_message_ids WHERE seq = $seq', { seq: k.seq });
    }
    return old.length;
  };

  return {
    pruneHistory({ before, now, idempotencyWindowMs, limit }): PruneResult {
      const windowStart = now - idempotencyWindowMs;
      // Bookkeeping a crash may lose: the next batch removes the same rows.
      return db.tx(
        () => {
          const { deliveries, attempts } = pruneDeliveries(before, limit);
          const events = pruneEvents(before, windowStart, limit);
          const forgotten = forgetMessageIds(windowStart, limit);
          return { deliveries, attempts, events, messageIds: forgotten, more: deliveriesAfter !== 0 || eventsAfter !== 0 || forgotten >= limit };
        },
        { relaxed: true },
      );
    },
  };
}
