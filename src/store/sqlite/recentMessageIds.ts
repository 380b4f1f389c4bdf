import type { SqliteDb } from './db.ts';
import { createIdFilter, type IdFilter } from './idFilter.ts';

/** What a repeated publish of a messageId answers with. */
export interface KnownEvent {
  seq: number;
  eventType: string;
  enqueuedAt: number;
  matched: number;
}

/** Rows moved into the index per merge transaction: each holds the store thread a few ms. */
export const MERGE_CHUNK = 1_000;
/** Recent message ids kept in memory before a merge starts (about 100 bytes each). */
export const MERGE_AFTER = 50_000;

const WATERMARK = 'event_ids_upto';

/** The filter of event_ids is sized for at least this many ids, and twice as many as it holds. */
export const FILTER_MIN_CAPACITY = 1 << 20;
/** Nor beyond this many (40 MB): past it, every new id is looked up in the table. */
export const FILTER_MAX_CAPACITY = 32 << 20;
/** Ids read per step while the filter is built (at start, or when it grows): a few ms each. */
export const FILTER_CHUNK = 5_000;

/**
 * The tail's entries grouped by the first characters of their id (after a `urn:uuid:`
 * prefix), groups in key order. A merge chunk then covers a narrow range of the table's
 * keys, so ids that share an index page share its write: that needs the chunks in key
 * order, not each chunk sorted (a transaction writes each page it touches once). Sorting
 * the whole tail instead held the store thread 40 – 290 ms for 50,000 ids on the slower
 * benchmark host; grouping takes a few ms. Ids without a random start (say "evt-1",
 * "evt-2") fall into few groups and lose the locality, not correctness.
 */
export function inKeyOrder(recent: Map<string, number>): Array<[string, number]> {
  const groups = new Map<string, Array<[string, number]>>();
  for (const entry of recent) {
    const id = entry[0];
    const key = id.startsWith('urn:uuid:') ? id.slice(0, 11) : id.slice(0, 2);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(entry);
  }
  return [...groups.keys()].sort().flatMap((key) => groups.get(key)!);
}

/**
 * The idempotency index in two parts. `event_ids` (a table keyed by message id) holds the
 * events up to a watermark; the events after it are held here, in memory, and moved into
 * the table in the background, in key order (see inKeyOrder), in chunks.
 *
 * Why: message ids are random, so indexing each event as it is published writes one
 * index page per event (nearly 7 KB of WAL per event in the benchmark, more than all of
 * the rest of a delivery's writes). Merged many at a time, in key order, events that land
 * on the same page share its write. Nothing is less durable: the events table is the
 * record, and on open the tail is read back from it (the events after the watermark).
 *
 * The tail lives in one process, so one server at a time may use an embedded store
 * (the server takes a lock: serverLock.ts).
 *
 * A Bloom filter of the table's ids (idFilter.ts), built in the background from the
 * table when the store opens and kept up by the merges, answers most lookups of a new id
 * without reading the table. Until it is complete, every lookup reads the table.
 */
export function recentMessageIds(db: SqliteDb, options: { filterMinCapacity?: number } = {}) {
  /** Message id → seq of its newest event. Numbers only: no object per id for the garbage collector to trace. */
  const recent = new Map<string, number>();
  let loaded = false;
  /** A merge under way: the tail as it was when it began, in key order (see inKeyOrder), and how far it has got. */
  let merge: { upTo: number; entries: Array<[string, number]>; done: number } | undefined;
  /** Holds every id in event_ids (and a few more); undefined until first built. */
  let filter: IdFilter | undefined;
  /** A filter being filled from the table, in key order, `after` the last id read. */
  let building: { filter: IdFilter; after: string } | undefined;
  let tableLookups = 0;

  const startBuild = (ids: number) => {
    const capacity = Math.max(options.filterMinCapacity ?? FILTER_MIN_CAPACITY, 2 * ids);
    // Too many ids for a filter of bounded size: the one there is (if any) stays, less
    // and less selective, and the other lookups read the table.
    building = capacity > FILTER_MAX_CAPACITY ? undefined : { filter: createIdFilter(capacity), after: '' };
  };

  const load = () => {
    if (loaded) return;
    const upTo = Number(db.get<{ value: string }>('SELECT value FROM meta WHERE key = $k', { k: WATERMARK })?.value ?? 0);
    const rows = db.all<{ seq: number; message_id: string }>('SELECT seq, message_id FROM events WHERE seq > $upTo ORDER BY seq', { upTo });
    // In seq order: a later event with the same id (outside the window of the first) wins.
    for (const r of rows) recent.set(r.message_id, r.seq);
    // Events of the tail that retention removed inside their window (see retention.ts).
    for (const r of db.all<{ seq: number; message_id: string }>('SELECT seq, message_id FROM pruned_message_ids WHERE seq > $upTo ORDER BY seq', { upTo })) {
      if ((recent.get(r.message_id) ?? 0) < r.seq) recent.set(r.message_id, r.seq);
    }
    // At most one id per event: the newest seq bounds the table's size without counting it.
    startBuild(Number(db.get<{ n: number | null }>('SELECT MAX(seq) AS n FROM events')?.n ?? 0));
    loaded = true;
  };

  return {
    /** Reads the tail back and starts building the filter (otherwise done at first use). */
    load,

    /** The newest event published with this messageId after `since`, if any. */
    find(messageId: string, since: number): KnownEvent | undefined {
      load();
      // The tail holds the newest event of any id it has: if that one is too old, so are the others.
      const seq = recent.get(messageId);
      if (seq !== undefined) {
        // The event, or what retention kept of it inside its window (retention.ts).
        const hit = db.get<{ event_type: string; enqueued_at: number; matched: number }>(
          `SELECT event_type, enqueued_at, matched FROM events WHERE seq = $seq
           UNION ALL SELECT event_type, enqueued_at, matched FROM pruned_message_ids WHERE seq = $seq LIMIT 1`,
          { seq },
        );
        if (hit === undefined) return undefined;
        return hit.enqueued_at > since ? { seq, eventType: hit.event_type, enqueuedAt: hit.enqueued_at, matched: hit.matched } : undefined;
      }
      if (filter !== undefined && !filter.has(messageId)) return undefined;
      tableLookups++;
      // The newest event of the id (a later seq is a later publish); if it is too old, so are
      // the others. One that retention removed inside its window is remembered apart.
      const row = db.get<{ seq: number; event_type: string; enqueued_at: number; matched: number }>(
        `SELECT k.seq, coalesce(e.event_type, p.event_type) AS event_type, coalesce(e.enqueued_at, p.enqueued_at) AS enqueued_at,
                coalesce(e.matched, p.matched) AS matched
           FROM event_ids k LEFT JOIN events e ON e.seq = k.seq LEFT JOIN pruned_message_ids p ON p.seq = k.seq
          WHERE k.message_id = $m AND (e.seq IS NOT NULL OR p.seq IS NOT NULL) ORDER BY k.seq DESC LIMIT 1`,
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

    /** Retention removed this event after its window: the tail need not remember it. */
    forget(messageId: string, seq: number): void {
      if (recent.get(messageId) === seq) recent.delete(messageId);
    },

    /** Message ids not in the table yet. */
    get size(): number {
      return recent.size;
    },

    /** Lookups that read the table (those the filter could not answer). */
    get tableLookups(): number {
      return tableLookups;
    },

    /** Whether the filter is complete, answering lookups of new ids without the table. */
    get filtered(): boolean {
      return filter !== undefined;
    },

    /** Whether background work is due: building the filter, or a merge (see `due`). */
    workDue(mergeAfter = MERGE_AFTER): boolean {
      return building !== undefined || this.due(mergeAfter);
    },

    /**
     * One chunk of background work, in one transaction (call outside any): the filter
     * first (until it is complete, every new id is looked up in the table), else a merge.
     */
    workStep(mergeAfter = MERGE_AFTER): void {
      if (building !== undefined) this.buildStep();
      else if (this.due(mergeAfter)) this.mergeStep();
    },

    /** Whether buildStep has work: the filter is being built. */
    buildDue(): boolean {
      return building !== undefined;
    },

    /** Reads up to `chunk` ids of the table into the filter being built; returns whether more remain. */
    buildStep(chunk = FILTER_CHUNK): boolean {
      const b = building;
      if (b === undefined) return false;
      const ids = db.all<{ message_id: string }>('SELECT message_id FROM event_ids WHERE message_id > $after ORDER BY message_id LIMIT CAST($n AS INTEGER)', {
        after: b.after,
        n: chunk,
      });
      for (const r of ids) b.filter.add(r.message_id);
      if (ids.length === chunk) {
        b.after = ids[ids.length - 1]!.message_id;
        return true;
      }
      filter = b.filter;
      building = undefined;
      return false;
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
        merge = { upTo, entries: inKeyOrder(recent), done: 0 };
      }
      const m = merge;
      const end = Math.min(m.entries.length, m.done + chunk);
      const entries = m.entries.slice(m.done, end);
      db.tx(() => {
        for (const [id, seq] of entries) {
          // A replay after a crash meets rows it wrote already.
          db.run('INSERT OR IGNORE INTO event_ids (message_id, seq) VALUES ($m, $seq)', { m: id, seq });
          // Before the table has it: a filter may then hold an id the table does not (should
          // this transaction fail), never the other way round. The one being built may
          // already have read past this id's place.
          filter?.add(id);
          building?.filter.add(id);
        }
        if (end === m.entries.length) {
          db.run('INSERT INTO meta (key, value) VALUES ($k, $v) ON CONFLICT (key) DO UPDATE SET value = $v', { k: WATERMARK, v: String(m.upTo) });
        }
      }, { relaxed: true });
      // Only once committed: a chunk whose transaction failed is written again next time.
      m.done = end;
      // Its ids are in the table now (and in the filter), so memory can let them go, chunk
      // by chunk rather than all at the end. An id published again meanwhile (a newer
      // seq) stays: it is after the watermark.
      for (const [id, seq] of entries) if (recent.get(id) === seq) recent.delete(id);
      if (m.done < m.entries.length) return true;
      merge = undefined;
      // Full: build a larger one from the table (this one keeps answering meanwhile).
      if (filter !== undefined && building === undefined && filter.count > filter.capacity) startBuild(filter.count);
      return false;
    },
  };
}

export type RecentMessageIds = ReturnType<typeof recentMessageIds>;
