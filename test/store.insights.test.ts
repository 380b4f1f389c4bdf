import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { firstIdCreatedFromSql } from '../src/store/insights.ts';

/**
 * The window of the dashboard's statistics starts at a delivery id found by a binary search
 * in SQL (store/insights.ts). The conformance suite checks the counts on both stores; this
 * checks the search itself: it must land where the window begins, not merely somewhere
 * before it (which would give the same counts, slowly).
 */
describe('the first delivery id created from a time', () => {
  it('is where the rows created at or after it begin, over ids with gaps (property)', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE deliveries (id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL)');
    const search = db.prepare(firstIdCreatedFromSql('$from'));
    const insert = db.prepare('INSERT INTO deliveries (id, created_at) VALUES (?, ?)');
    try {
      fc.assert(
        fc.property(
          fc.array(fc.record({ gap: fc.integer({ min: 1, max: 1000 }), step: fc.integer({ min: 0, max: 50 }) }), { maxLength: 300 }),
          fc.integer({ min: -100, max: 20_000 }),
          (rows, from) => {
            db.exec('DELETE FROM deliveries');
            let id = 0;
            let at = 0;
            const all: Array<{ id: number; at: number }> = [];
            for (const r of rows) {
              id += r.gap;
              at += r.step;
              insert.run(id, at);
              all.push({ id, at });
            }
            const first = (search.get({ from }) as { first: number }).first;
            // The rows from `first` on are exactly those created at or after `from`.
            assert.deepEqual(all.filter((r) => r.id >= first), all.filter((r) => r.at >= from));
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      db.close();
    }
  });
});
