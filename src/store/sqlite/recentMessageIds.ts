import type { SqliteDb } from './db.ts';

/** What a repeated publish of a messageId answers with. */
export interface KnownEvent {
  seq: number;
  eventType: string;
  enqueuedAt: number;
  matched: number;
}

/** Rows moved into the index per merge transaction: each holds the store thread a few ms. */
export const MERGE_CHUNK = 2_000;
/** Recent message ids kept in memory before a merge starts (about 100 bytes each). */
export const MERGE_AFTER = 50_000;

const WATERMARK = 'event_ids_upto';

/**
 * The idempotency index in two parts. `event_ids` (a table keyed by message id) holds the
 * events up to a watermark; the events after it are held here, in memory, and moved into
 * the table in the background, sorted, in chunks.
 *
 * Why: message ids are random, so indexing each event as it is published writes one
 * index page per event (nearly 7 KB of WAL per event in the benchmark, more than all of
 * the rest of a delivery's writes). Merged many at a time, in key order, events that land
 * on the same page share its write. Nothing is less durable: the events table is the
 * record, and on open the tail is read back from it (the events after the watermark).
 *
 * The tail lives in one process, so one server at a time may use an embedded store
 * (the server takes a lock: serverLock.ts).
 */
export function recentMessageIds(db: SqliteDb) {
  /** Message id → seq of its newest event. Numbers only: no object per id for the garbage collector to trace. */
  const recent = new Map<string, number>();
  let loaded = false;
  /** A merge under way: the tail as it was when it began, sorted by id, and how far it has got. */
  let merge: { upTo: number; entries: Array<[string, number]>; done: number } | undefined;

  const load = () => {
    if (loaded) return;
    const upTo = Number(db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: WATERMARK })?.value ?? 0);
    const rows = db.all<{ seq: number; message_id: string }>('SELECT seq, message_id FROM events WHERE seq > $upTo ORDER BY seq', { upTo });
    // In seq order: a later event with the same id (outside the window of the first) wins.
    for (const r of rows) recent.set(r.message_id, r.seq);
    loaded = true;
  };

  return {
    /** The newest event published with this messageId after `since`, if any. */
    find(messageId: string, since: number): KnownEvent | undefined {
      load();
      // The tail holds the newest event of any id it has: if that one is too old, so are the others.
      const seq = recent.get(messageId);
      if (seq !== undefined) {
        const hit = db.get<{ event_type: string; enqueued_at: number; matched: number }>('SELECT event_type, enqueued_at, matched FROM events WHERE seq = $seq', { seq })!;
        return hit.enqueued_at > since ? { seq, eventType: hit.event_type, enqueuedAt: hit.enqueued_at, matched: hit.matched } : undefined;
      }
      // The newest event of the id (a later seq is a later publish); if it is too old, so are the others.
      const row = db.get<{ seq: number; event_type: string; enqueued_at: number; matched: number }>(
        `SELECT e.seq, e.event_type, e.enqueued_at, e.matched FROM event_ids k JOIN events e ON e.seq = k.seq
         WHERE k.message_id = $m ORDER BY k.seq DESC LIMIT 1`,
        { m: messageId },
      );
      return row !== undefined && row.enqueued_at > since ? { seq: row.seq, eventType: row.event_type, enqueuedAt: row.enqueued_at, matched: row.matched } : undefined;
    },

    /** Records an event inserted by the open transaction; forgotten again if it rolls back. */
    add(messageId: string, seq: number): void {
      load();
      const before = recent.get(messageId);
      recent.set(messageId, seq);
      db.onRollback(() => (before === undefined ? recent.delete(messageId) : recent.set(messageId, before)));
    },

    /** Message ids not in the table yet. */
    get size(): number {
      return recent.size;
    },

    /** Whether mergeStep has work: a merge under way, or a tail of at least `after` ids. */
    due(after = MERGE_AFTER): boolean {
      return merge !== undefined || (loaded && recent.size >= after);
    },

    /**
     * Moves up to `chunk` message ids into the table, in one transaction, starting a merge
     * of the whole tail if none is under way. Call outside any transaction. Returns whether
     * the merge has more to do.
     */
    mergeStep(chunk = MERGE_CHUNK): boolean {
      load();
      if (merge === undefined) {
        if (recent.size === 0) return false;
        let upTo = 0;
        for (const seq of recent.values()) upTo = Math.max(upTo, seq);
        // In the table's key order, so that ids sharing an index page are written together.
        const entries = [...recent].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        merge = { upTo, entries, done: 0 };
      }
      const m = merge;
      db.tx(() => {
        const end = Math.min(m.entries.length, m.done + chunk);
        for (let i = m.done; i < end; i++) {
          // A replay after a crash meets rows it wrote already.
          const [id, seq] = m.entries[i]!;
          db.run('INSERT OR IGNORE INTO event_ids (message_id, seq) VALUES ($m, $seq)', { m: id, seq });
        }
        if (end === m.entries.length) {
          db.run('INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT (key) DO UPDATE SET value = $v', { k: WATERMARK, v: String(m.upTo) });
        }
        m.done = end;
      }, { relaxed: true });
      if (m.done < m.entries.length) return true;
      // What publishes added during the merge stays: it is after the watermark.
      for (const [id, seq] of m.entries) if (recent.get(id) === seq) recent.delete(id);
      merge = undefined;
      return false;
    },
  };
}

export type RecentMessageIds = ReturnType<typeof recentMessageIds>;
