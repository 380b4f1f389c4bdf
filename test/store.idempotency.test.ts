// The embedded store's idempotency index: recent message ids in memory, merged into the
// event_ids table in the background (src/store/sqlite/recentMessageIds.ts). Whatever part
// of the index an event is in, publishing its messageId again inside the window is a
// duplicate, and outside it is a new event.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SqliteDb } from '../src/store/sqlite/db.ts';
import fc from 'fast-check';
import { createIdFilter } from '../src/store/sqlite/idFilter.ts';
import { inKeyOrder } from '../src/store/sqlite/recentMessageIds.ts';
import { openSqliteSync } from '../src/store/sqlite/store.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import type { NewEvent } from '../src/store/types.ts';

const WINDOW = 60_000;
const t0 = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'itwh-idem-'));
  dirs.push(dir);
  return dir;
}

/** Opens the store in `dir` (set up with one webhook on first use) and a maker of events it matches. */
function open(dir: string, filterMinCapacity?: number) {
  const opened = openSqliteSync(dir, { messageIds: { filterMinCapacity } });
  const { store } = opened;
  const itwin = 'b3a3a0c5-0f54-4a36-9d6e-3b4b1d2e0a11';
  if (opened.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM webhooks')!.n === 0) {
    store.putItwin(itwin, 'account', t0);
    store.upsertBuiltinEventTypes([{ type: 'a.b.v1', service: 'a', description: 'd', contentSchema: {}, example: {}, builtin: true, createdAt: t0 }]);
    store.createWebhook({ id: randomUUID(), ownerClientId: 'owner', scope: 'iTwin', scopeId: itwin, active: true, callbackUrl: 'https://r.example.com/', eventTypes: ['a.b.v1'], secretSealed: 's', createdAt: t0, modifiedAt: t0 });
  }
  const event = (messageId: string = randomUUID(), contentJson: string | null = '{}'): NewEvent => ({ messageId, eventType: 'a.b.v1', itwinId: itwin, accountId: 'account', contentJson: contentJson as string, publisherClientId: 'p' });
  const duplicates = (ids: string[], now: number) => opened.store.publishEvents(ids.map((id) => event(id)), now, WINDOW).map((r) => r.duplicate);
  const indexed = () => opened.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM event_ids')!.n;
  return { ...opened, event, duplicates, indexed };
}

describe('sqlite idempotency: recent ids in memory, merged into event_ids', () => {
  it('finds a messageId before, during and after a merge, and new ids published during a merge stay recent', () => {
    const s = open(tempDir());
    try {
      const first = Array.from({ length: 25 }, () => randomUUID());
      assert.deepEqual(s.duplicates(first, t0), first.map(() => false));
      assert.equal(s.messageIds.size, 25);
      assert.equal(s.indexed(), 0);
      assert.ok(s.messageIds.due(25) && !s.messageIds.due(26));

      // Chunks of 10: three steps; between them, everything is still found.
      const during: string[] = [];
      for (let step = 1; step <= 3; step++) {
        const more = s.messageIds.mergeStep(10);
        assert.equal(more, step < 3);
        assert.equal(s.indexed(), Math.min(25, step * 10));
        assert.deepEqual(s.duplicates(first, t0 + step), first.map(() => true), `step ${step}`);
        const id = randomUUID();
        during.push(id);
        assert.deepEqual(s.duplicates([id], t0 + step), [false]);
      }
      // The merged ids left memory; those published during the merge did not.
      assert.equal(s.messageIds.size, 3);
      assert.deepEqual(s.duplicates([...first, ...during], t0 + 10), [...first, ...during].map(() => true));
      assert.equal(s.messageIds.mergeStep(10), false);
      assert.equal(s.messageIds.size, 0);
      assert.equal(s.indexed(), 28);
      assert.deepEqual(s.duplicates([...first, ...during], t0 + 11), [...first, ...during].map(() => true));
      // A duplicate answers with what the first publish stored.
      const [again] = s.store.publishEvents([s.event(first[0])], t0 + 12, WINDOW);
      assert.deepEqual([again!.enqueuedAt, again!.matchedWebhooks, again!.duplicate], [t0, 1, true]);
    } finally {
      s.store.close();
    }
  });

  it('outside the window a messageId is new again, whether its last event is recent or merged', () => {
    const s = open(tempDir());
    try {
      const id = randomUUID();
      assert.deepEqual(s.duplicates([id], t0), [false]);
      assert.deepEqual(s.duplicates([id], t0 + WINDOW), [false], 'recent, expired');
      assert.deepEqual(s.duplicates([id], t0 + WINDOW + 1), [true], 'the second event counts now');
      while (s.messageIds.mergeStep(1));
      // Only the newest event of an id is merged: the older one is past the window for good.
      assert.equal(s.indexed(), 1);
      assert.deepEqual(s.duplicates([id], t0 + 2 * WINDOW - 1), [true], 'merged, the newest of two');
      assert.deepEqual(s.duplicates([id], t0 + 2 * WINDOW), [false], 'merged, expired');
    } finally {
      s.store.close();
    }
  });

  it('writes a merge chunk again when its transaction failed, and keeps finding its ids meanwhile', () => {
    const s = open(tempDir());
    try {
      const ids = Array.from({ length: 10 }, () => randomUUID());
      s.duplicates(ids, t0);
      // The disk refuses the first chunk.
      s.db.exec("CREATE TEMP TRIGGER refuse BEFORE INSERT ON event_ids BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
      assert.throws(() => s.messageIds.mergeStep(5), /disk I\/O error/);
      assert.equal(s.indexed(), 0);
      assert.deepEqual(s.duplicates(ids, t0 + 1), ids.map(() => true));
      s.db.exec('DROP TRIGGER refuse');
      // Then, tried again, the same chunk's COMMIT fails (every statement before it passed).
      const connection = (s.db as unknown as { db: { exec(sql: string): void } }).db;
      const exec = connection.exec.bind(connection);
      connection.exec = (sql: string) => {
        if (sql === 'COMMIT') {
          connection.exec = exec;
          throw new Error('disk I/O error at commit');
        }
        exec(sql);
      };
      assert.throws(() => s.messageIds.mergeStep(5), /at commit/);
      assert.equal(s.indexed(), 0);
      while (s.messageIds.mergeStep(5));
      assert.equal(s.indexed(), 10, 'every id written, the refused chunk too');
      assert.equal(s.messageIds.size, 0);
      assert.deepEqual(s.duplicates(ids, t0 + 2), ids.map(() => true));
    } finally {
      s.store.close();
    }
  });

  it('forgets the ids of a publish that rolled back', () => {
    const s = open(tempDir());
    try {
      const kept = randomUUID();
      // The second event cannot be stored (content is NOT NULL): the whole batch rolls back.
      assert.throws(() => s.store.publishEvents([s.event(kept), s.event(randomUUID(), null)], t0, WINDOW));
      assert.equal(s.messageIds.size, 0);
      assert.deepEqual(s.duplicates([kept], t0 + 1), [false]);
    } finally {
      s.store.close();
    }
  });

  it('reads its recent ids back from the events table after a restart, also halfway through a merge', () => {
    const dir = tempDir();
    const ids = Array.from({ length: 30 }, () => randomUUID());
    let s = open(dir);
    s.duplicates(ids.slice(0, 20), t0);
    s.messageIds.mergeStep(20);
    s.duplicates(ids.slice(20), t0 + 1);
    // The next merge stops after one chunk of 4 (the process ends).
    assert.equal(s.messageIds.mergeStep(4), true);
    s.store.close();

    s = open(dir);
    try {
      assert.deepEqual(s.duplicates(ids, t0 + 2), ids.map(() => true));
      assert.equal(s.messageIds.size, 10, 'the events after the watermark');
      while (s.messageIds.mergeStep(3));
      // The chunk written before the restart is not written twice.
      assert.equal(s.indexed(), 30);
      assert.deepEqual(s.duplicates(ids, t0 + 3), ids.map(() => true));
    } finally {
      s.store.close();
    }
  });

  it('migration 4 indexes the events of an older database', () => {
    const dir = tempDir();
    const ids = [randomUUID(), randomUUID()];
    let s = open(dir);
    s.duplicates(ids, t0);
    // Back to what schema version 3 left: an index on events, no event_ids table.
    s.db.exec(`DROP TABLE event_ids; DELETE FROM meta WHERE key = 'event_ids_upto'; DELETE FROM schema_migrations WHERE version = 4;
               CREATE INDEX events_message ON events (message_id, enqueued_at);`);
    s.store.close();

    s = open(dir);
    try {
      assert.equal(s.indexed(), 2);
      assert.equal(s.messageIds.size, 0, 'nothing left after the watermark');
      assert.deepEqual(s.duplicates([...ids, randomUUID()], t0 + 1), [true, true, false]);
      assert.equal(s.db.get("SELECT name FROM sqlite_schema WHERE name = 'events_message'"), undefined);
    } finally {
      s.store.close();
    }
  });
});

describe('sqlite idempotency: the filter of event_ids', () => {
  it('never forgets an id it was given, and claims few it was not', () => {
    const f = createIdFilter(20_000);
    const added = Array.from({ length: 20_000 }, () => randomUUID());
    for (const id of added) f.add(id);
    assert.equal(f.count, 20_000);
    assert.ok(added.every((id) => f.has(id)));
    const others = Array.from({ length: 20_000 }, () => randomUUID()).filter((id) => f.has(id)).length;
    assert.ok(others < 600, `${others} of 20,000 unknown ids claimed (about 1 % expected)`);
  });

  it('once built, answers new ids without reading the table, and finds every merged one', () => {
    const s = open(tempDir());
    try {
      const ids = Array.from({ length: 30 }, () => randomUUID());
      s.duplicates(ids, t0);
      while (s.messageIds.mergeStep(10));
      assert.ok(s.messageIds.buildDue() && !s.messageIds.filtered);
      // Until the filter is complete, a new id is looked up in the table.
      const before = s.messageIds.tableLookups;
      s.duplicates([randomUUID()], t0 + 1);
      assert.equal(s.messageIds.tableLookups, before + 1);
      while (s.messageIds.buildStep(7));
      assert.ok(s.messageIds.filtered && !s.messageIds.buildDue());
      while (s.messageIds.mergeStep(10));
      const fresh = Array.from({ length: 200 }, () => randomUUID());
      const lookups = s.messageIds.tableLookups;
      assert.deepEqual(s.duplicates(fresh, t0 + 2), fresh.map(() => false));
      assert.ok(s.messageIds.tableLookups - lookups < 10, `${s.messageIds.tableLookups - lookups} of 200 new ids read the table`);
      assert.deepEqual(s.duplicates(ids, t0 + 3), ids.map(() => true));
    } finally {
      s.store.close();
    }
  });

  it('holds the ids merged while it was being built, also those before the place it had read to', () => {
    const dir = tempDir();
    let s = open(dir);
    const first = Array.from({ length: 20 }, () => randomUUID());
    s.duplicates(first, t0);
    while (s.messageIds.mergeStep(10));
    s.store.close();
    // A restart: the filter is built again from the table; stop after the first 5 ids.
    s = open(dir);
    try {
      s.messageIds.load();
      assert.equal(s.messageIds.buildStep(5), true);
      // Ids that sort before any random UUID, so before the place the build has read to.
      const early = Array.from({ length: 10 }, () => `00000000-0000-4000-8000-${randomUUID().slice(-12)}`);
      s.duplicates(early, t0 + 1);
      while (s.messageIds.mergeStep(4));
      while (s.messageIds.buildStep(5));
      assert.ok(s.messageIds.filtered);
      assert.deepEqual(s.duplicates([...first, ...early], t0 + 2), [...first, ...early].map(() => true));
    } finally {
      s.store.close();
    }
  });

  it('grows when full: a larger one is built from the table while the full one keeps answering', () => {
    const s = open(tempDir(), 16);
    try {
      const ids = Array.from({ length: 40 }, () => randomUUID());
      s.duplicates(ids.slice(0, 10), t0);
      while (s.messageIds.buildStep());
      while (s.messageIds.mergeStep());
      assert.ok(s.messageIds.filtered && !s.messageIds.buildDue());
      // 30 more ids: past the capacity of 16, so a new filter (for 2 × 40) is started.
      s.duplicates(ids.slice(10), t0 + 1);
      while (s.messageIds.mergeStep());
      assert.ok(s.messageIds.buildDue(), 'a larger filter is being built');
      assert.deepEqual(s.duplicates(ids, t0 + 2), ids.map(() => true), 'the full one still answers');
      while (s.messageIds.buildStep(3));
      assert.deepEqual(s.duplicates(ids, t0 + 3), ids.map(() => true));
      const fresh = Array.from({ length: 100 }, () => randomUUID());
      const lookups = s.messageIds.tableLookups;
      s.duplicates(fresh, t0 + 4);
      assert.ok(s.messageIds.tableLookups - lookups < 10, 'the new filter is selective again');
    } finally {
      s.store.close();
    }
  });
});

describe('sqlite idempotency in the server: the store thread merges in the background', () => {
  it('moves recent ids into event_ids while publishes go on, and every one stays a duplicate', async () => {
    const dir = tempDir();
    open(dir).store.close();
    const store = await openThreadedSqliteStore(dir, { mergeAfter: 10 });
    const { event } = open(dir);
    const ids = Array.from({ length: 60 }, () => randomUUID());
    try {
      for (let i = 0; i < 60; i += 5) await store.publishEvents(ids.slice(i, i + 5).map((id) => event(id)), t0 + i, WINDOW);
      const answers = await store.publishEvents(ids.map((id) => event(id)), t0 + 100, WINDOW);
      assert.deepEqual(answers.map((a) => a.duplicate), ids.map(() => true));
    } finally {
      await store.close();
    }
    const s = open(dir);
    try {
      // At least 50 of the 60 were merged (a merge starts once 10 are recent).
      assert.ok(s.indexed() >= 50, `${s.indexed()} merged`);
      assert.deepEqual(s.duplicates(ids, t0 + 200), ids.map(() => true));
    } finally {
      s.store.close();
    }
  });
});

describe('sqlite transactions: savepoints and in-memory undo', () => {
  it('undoes what a failed savepoint registered, and a released one with its transaction', () => {
    const db = new SqliteDb(join(tempDir(), 'x.db'));
    try {
      db.exec('CREATE TABLE t (v INTEGER)');
      const log: string[] = [];
      db.tx(() => {
        db.onRollback(() => log.push('outer'));
        assert.throws(() =>
          db.savepoint(() => {
            db.run('INSERT INTO t VALUES (1)');
            db.onRollback(() => log.push('failed savepoint'));
            throw new Error('boom');
          }),
        );
        db.savepoint(() => {
          db.run('INSERT INTO t VALUES (2)');
          db.onRollback(() => log.push('released savepoint'));
        });
      });
      // Committed: only the failed savepoint's undo ran, and only its row is gone.
      assert.deepEqual(log, ['failed savepoint']);
      assert.deepEqual(db.all('SELECT v FROM t').map((r) => r.v), [2]);

      log.length = 0;
      assert.throws(() =>
        db.tx(() => {
          db.onRollback(() => log.push('first'));
          db.savepoint(() => db.onRollback(() => log.push('released')));
          db.run('INSERT INTO t VALUES (3)');
          throw new Error('boom');
        }),
      );
      // Rolled back: everything registered undone, newest first.
      assert.deepEqual(log, ['released', 'first']);
      assert.deepEqual(db.all('SELECT v FROM t').map((r) => r.v), [2]);
      assert.throws(() => db.savepoint(() => 1), /needs an open transaction/);
      assert.throws(() => db.onRollback(() => {}), /needs an open transaction/);
    } finally {
      db.close();
    }
  });
});

describe('sqlite: one server per DATA_DIR', () => {
  it('refuses a second server on the same directory until the first has closed', async () => {
    const dir = tempDir();
    const first = await openThreadedSqliteStore(dir);
    try {
      await assert.rejects(openThreadedSqliteStore(dir), (err: Error) => {
        assert.equal(err.name, 'StoreOpenError');
        assert.match(err.message, /Another itwin-webhooks server is using DATA_DIR .*PostgreSQL/);
        return true;
      });
      // A command that is not a server (directory, migrate) still opens it.
      openSqliteSync(dir).store.close();
    } finally {
      await first.close();
    }
    const second = await openThreadedSqliteStore(dir);
    await second.close();
  });
});

describe('idempotency index: merge order', () => {
  it('a merge takes every recent id once, in key order of their first characters (after urn:uuid:)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(fc.uuid(), fc.uuid().map((u) => `urn:uuid:${u}`), fc.string({ maxLength: 6 })), { maxLength: 300 }), (ids) => {
        const recent = new Map(ids.map((id, i) => [id, i + 1] as [string, number]));
        const ordered = inKeyOrder(recent);
        assert.deepEqual(new Map(ordered), recent, 'each id once, with its seq');
        const group = (id: string) => (id.startsWith('urn:uuid:') ? id.slice(0, 11) : id.slice(0, 2));
        for (let i = 1; i < ordered.length; i++) assert.ok(group(ordered[i - 1]![0]) <= group(ordered[i]![0]), `${ordered[i - 1]![0]} before ${ordered[i]![0]}`);
      }),
    );
  });
});

