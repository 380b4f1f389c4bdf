// Retention under load: deliveries go on at a steady rate while RETENTION is a few
// seconds, and the store's row counts and file sizes are sampled. Flat means retention
// keeps pace: what it removes, the store reuses.
import { randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { DATABASE_FILE } from '../../src/store/sqlite/store.ts';
import { startItwinWith } from './itwinSystem.ts';
import { PG_URL } from './pgStats.ts';
import type { ReceiverProc } from './procs.ts';
import { sleep } from './stats.ts';
import type { BenchEvent } from './system.ts';

export interface SoakSample {
  atSeconds: number;
  delivered: number;
  /** Rows of deliveries, attempts and events together. */
  rows: number;
  /** MessageIds remembered beyond their pruned events (kept for the 7-day idempotency window, by contract). */
  remembered: number;
  /** Bytes of the tables and indexes of deliveries, attempts and events (SQLite: with the file's free pages). */
  bytes: number;
  /** Bytes of the remembered messageIds (SQLite: with their rows of the idempotency index). */
  rememberedBytes: number;
  /** SQLite: the database file and its WAL, everything included. */
  fileBytes?: number;
}

const TABLES = ['deliveries', 'delivery_attempts', 'events'];

type Reading = Omit<SoakSample, 'atSeconds' | 'delivered'>;

async function sampler(store: 'sqlite' | 'postgres', where: string): Promise<{ sample(): Promise<Reading>; close(): Promise<void> }> {
  if (store === 'sqlite') {
    const db = new DatabaseSync(join(where, DATABASE_FILE), { readOnly: true });
    return {
      async sample() {
        const count = (t: string) => Number((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
        // Pages of the tables and their indexes (dbstat), and the free ones waiting for reuse.
        const pages = (tables: string[]) =>
          Number(
            (db.prepare(`SELECT coalesce(sum(pgsize), 0) AS b FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name IN (SELECT value FROM json_each(?)))`).get(JSON.stringify(tables)) as { b: number }).b,
          );
        const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
        const free = Number((db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count) * pageSize;
        const fileBytes = readdirSync(where)
          .filter((f) => f.startsWith(DATABASE_FILE))
          .reduce((n, f) => n + statSync(join(where, f)).size, 0);
        return {
          rows: TABLES.reduce((n, t) => n + count(t), 0),
          remembered: count('pruned_message_ids'),
          bytes: pages(TABLES) + free,
          rememberedBytes: pages(['pruned_message_ids', 'event_ids']),
          fileBytes,
        };
      },
      async close() {
        db.close();
      },
    };
  }
  const c = new pg.Client({ connectionString: PG_URL, application_name: 'bench-meter' });
  await c.connect();
  return {
    async sample() {
      const count = async (t: string) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${where}.${t}`)).rows[0]!.n);
      const size = async (tables: string[]) =>
        Number((await c.query<{ b: string }>('SELECT coalesce(sum(pg_total_relation_size(($1 || \'.\' || t)::regclass)), 0) AS b FROM unnest($2::text[]) t', [where, tables])).rows[0]!.b);
      let rows = 0;
      for (const t of TABLES) rows += await count(t);
      return { rows, remembered: await count('pruned_message_ids'), bytes: await size(TABLES), rememberedBytes: await size(['pruned_message_ids']) };
    },
    close: () => c.end(),
  };
}

/**
 * `seconds` of single-delivery events at `rate` per second (batches of rate/10 every
 * 100 ms, to 8 webhooks) with RETENTION=`retention`; a sample every `everySeconds`.
 */
export async function retentionSoak(
  store: 'sqlite' | 'postgres',
  receiver: ReceiverProc,
  opts: { seconds?: number; rate?: number; retention?: string; everySeconds?: number } = {},
): Promise<SoakSample[]> {
  const seconds = opts.seconds ?? 60;
  const rate = opts.rate ?? 500;
  const every = opts.everySeconds ?? 5;
  const { sys, dataDir, schema } = await startItwinWith(store, { RETENTION: opts.retention ?? '2s' }, receiver.url);
  const meter = await sampler(store, (dataDir ?? schema)!);
  try {
    const routes = await sys.subscribe(8);
    await receiver.call({ cmd: 'reset' }, 'ok');
    let seq = 0;
    const event = (route: string): BenchEvent => ({ messageId: randomUUID(), route, content: { sentAt: Date.now(), seq: seq++ } });
    const t0 = Date.now();
    const samples: SoakSample[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let tick = 0; publishing; tick++) {
        await sys.publish(Array.from({ length: rate / 10 }, (_, i) => event(routes[i % routes.length]!)));
        await sleep(Math.max(0, t0 + (tick + 1) * 100 - Date.now()));
      }
    })();
    for (let at = every; at <= seconds; at += every) {
      await sleep(Math.max(0, t0 + at * 1000 - Date.now()));
      const s = await meter.sample();
      samples.push({ atSeconds: at, delivered: (await receiver.stats()).total, ...s });
    }
    publishing = false;
    await publisher;
    return samples;
  } finally {
    await meter.close();
    await sys.stop();
  }
}
