import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg, { type PoolClient } from 'pg';
import { loadStoreConfig } from '../src/config/load.ts';
import { StoreUnavailableError } from '../src/store/errors.ts';
import { ROUTINES } from '../src/store/postgres/functions/index.ts';
import { applyRoutines } from '../src/store/postgres/migrations.ts';
import { openPgDb, type PgDb } from '../src/store/postgres/db.ts';
import { eventsRepo } from '../src/store/postgres/events.ts';
import * as eventsSql from '../src/store/postgres/sql/events.ts';
import * as queueSql from '../src/store/postgres/sql/queue.ts';
import { startStatisticsKeeper } from '../src/store/postgres/statistics.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import type { Store } from '../src/store/types.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';
import { storeConformance } from './helpers/storeConformance.ts';
import { eventually } from './helpers/receiver.ts';

/** A store on a schema of its own and a connection to that schema; `cleanup` closes both and drops the schema. */
async function storeOnOwnSchema(name: string) {
  const schema = testSchema(name);
  const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64) });
  const store = await openPostgresStore(config);
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  return {
    config,
    store,
    client,
    async cleanup() {
      await client.end();
      await store.close();
      await dropSchema(schema);
    },
  };
}

/** Creates a webhook of application 'app' on an Account scope, created and modified at `at`. */
function createAccountWebhook(store: Pick<Store, 'createWebhook'>, w: { id: string; account: string; eventType: string; at: number; path?: string; active?: boolean }) {
  return store.createWebhook({
    id: w.id,
    ownerClientId: 'app',
    scope: 'Account',
    scopeId: w.account,
    active: w.active ?? true,
    callbackUrl: `https://receiver.example.com/hook${w.path ?? ''}`,
    eventTypes: [w.eventType],
    secretSealed: 'sealed',
    createdAt: w.at,
    modifiedAt: w.at,
  });
}

// The same conformance suite as SQLite, on PostgreSQL: every test gets its own schema.
storeConformance({
  name: 'PostgreSQL',
  async open() {
    const schema = testSchema('conf');
    const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64), DATABASE_POOL_SIZE: '12' });
    const store = await openPostgresStore(config);
    return {
      store,
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
});

describe('PostgreSQL: a connection lost in the middle of a transaction', () => {
  it('fails that call with StoreUnavailableError; the process lives and the store goes on', async () => {
    const schema = testSchema('lost');
    const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64) });
    const store = await openPostgresStore(config);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const T0 = Date.UTC(2026, 10, 22, 10);
    const id = randomUUID();
    try {
      await createAccountWebhook(store, { id, account: randomUUID(), eventType: 'iModels.iModelCreated.v1', at: T0, active: false });
      // Hold the webhook's row so that the update's transaction waits inside, then kill
      // its connection there, as a database restart would.
      await admin.query('BEGIN');
      await admin.query(`SELECT 1 FROM ${schema}.webhooks WHERE id = $1 FOR UPDATE`, [id]);
      const update = store.updateWebhook('app', id, { active: true }, T0 + 1);
      const settled = update.then(
        () => undefined,
        (err: unknown) => err,
      );
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        // Found by what blocks it, not by its query text: pg_stat_activity may still show the
        // connection's previous statement (COMMIT, idle) while it already waits for the lock.
        const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))');
        pid = rows[0]?.pid as number | undefined;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(pid !== undefined, 'the update is waiting inside its transaction');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const err = await settled;
      assert.ok(err instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${String(err)}`);
      await admin.query('ROLLBACK');
      // The process is still here and the pool hands out working connections again.
      await new Promise((r) => setTimeout(r, 100));
      const updated = await store.updateWebhook('app', id, { active: true }, T0 + 2);
      assert.equal(updated?.active, true);
      assert.equal((await store.getWebhook('app', id))?.active, true);
    } finally {
      await admin.end();
      await store.close();
      await dropSchema(schema);
    }
  });
});

describe('PostgreSQL: a deadlock does not fail the call the server picks to abort', () => {
  it('deleting a webhook while another transaction takes its deliveries in the other order deletes it (run again), and the other transaction commits', async () => {
    const { store, client: other, cleanup } = await storeOnOwnSchema('deadlock');
    const T0 = Date.UTC(2026, 10, 22, 10);
    const ACCOUNT = '0a000000-0000-4000-8000-000000000002';
    const TYPE = 'iModels.iModelCreated.v1';
    const id = randomUUID();
    try {
      await createAccountWebhook(store, { id, account: ACCOUNT, eventType: TYPE, at: T0 });
      const event = () => ({ messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined });
      await store.publishEvents([event(), event()], T0 + 1, 7 * 86_400_000);
      const ids = (await other.query<{ id: string }>('SELECT id FROM deliveries ORDER BY id')).rows.map((r) => r.id);
      assert.equal(ids.length, 2);
      // The other transaction (a worker writing results, say) takes the later delivery
      // first; the delete, which goes in id order, then waits for it holding the first.
      // Each waiting server process looks for a deadlock deadlock_timeout after its wait
      // began: the other's is raised so that the delete's process is the one that finds it
      // (with both at 1 s, a busy host once let the other's look first by a few ms).
      await other.query("SET deadlock_timeout = '10s'");
      await other.query('BEGIN');
      await other.query("UPDATE deliveries SET updated_at = updated_at + 1 WHERE id = $1", [ids[1]]);
      const deleted = store.deleteWebhook('app', id);
      let waiting = false;
      for (let i = 0; i < 250 && !waiting; i++) {
        const { rows } = await other.query('SELECT 1 FROM pg_stat_activity WHERE pg_backend_pid() = ANY (pg_blocking_pids(pid))');
        waiting = rows.length > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(waiting, 'the delete waits for the other transaction');
      // Now the other takes the first one: a deadlock, which the delete's server process
      // finds (after its deadlock_timeout) and aborts the delete.
      await other.query("UPDATE deliveries SET updated_at = updated_at + 1 WHERE id = $1", [ids[0]]);
      await other.query('COMMIT');
      assert.equal(await deleted, true, 'the delete ran again and went through');
      assert.equal((await other.query('SELECT count(*)::int AS n FROM deliveries')).rows[0].n, 0);
      assert.equal(await store.getWebhook('app', id), undefined);
    } finally {
      await other.query('ROLLBACK').catch(() => {});
      await cleanup();
    }
  });
});

describe('PostgreSQL: server-side functions are defined once and created by version', () => {
  it('creates each routine on a new database, recreates one whose version rose or whose text changed, and never downgrades one', async () => {
    const { config, store, client, cleanup } = await storeOnOwnSchema('routines');
    try {
      const held = (await client.query<{ name: string; version: number }>('SELECT name, version FROM schema_routines ORDER BY name')).rows;
      assert.deepEqual(
        held.map((r) => r.name),
        ROUTINES.map((r) => r.name).sort(),
      );
      const probe = (version: number, answer: number) => ({
        name: 'probe',
        version,
        sql: `CREATE OR REPLACE FUNCTION probe() RETURNS integer LANGUAGE sql AS $$ SELECT ${answer} $$;`,
      });
      const answer = async () => (await client.query<{ n: number }>('SELECT probe() AS n')).rows[0]!.n;
      await applyRoutines(client as unknown as PoolClient, [probe(2, 20)]);
      assert.equal(await answer(), 20);
      await applyRoutines(client as unknown as PoolClient, [probe(1, 10)]);
      assert.equal(await answer(), 20, 'an older version leaves the newer one in place');
      await applyRoutines(client as unknown as PoolClient, [probe(2, 21)]);
      assert.equal(await answer(), 21, 'the same version with other text is recreated');
      await applyRoutines(client as unknown as PoolClient, [probe(3, 30)]);
      assert.equal(await answer(), 30);
      // Opening again finds everything up to date: no migration applied.
      let applied: number[] | undefined;
      const again = await openPostgresStore(config, { onMigrated: (v) => (applied = v) });
      await again.close();
      assert.deepEqual(applied, []);
    } finally {
      await cleanup();
    }
  });
});

describe('PostgreSQL: a publish gives the webhooks it touched in lane order', () => {
  it('publish_events returns each webhook that got deliveries once, in creation (lane) order, whatever their ids', async () => {
    const { store, client, cleanup } = await storeOnOwnSchema('touched');
    const T0 = Date.UTC(2026, 10, 22, 10);
    const ACCOUNT = '0a000000-0000-4000-8000-000000000001';
    const TYPE = 'iModels.iModelCreated.v1';
    try {
      // Created in an order that neither their ids nor their reverse sort in; one more
      // webhook subscribes to another type and gets nothing.
      const ids = ['c', 'a', 'e', 'b', 'd'].map((ch) => `${ch.repeat(8)}-0000-4000-8000-000000000000`);
      const others = '99999999-0000-4000-8000-000000000000';
      for (const [i, id] of [...ids.slice(0, 2), others, ...ids.slice(2)].entries()) {
        await createAccountWebhook(store, { id, account: ACCOUNT, eventType: id === others ? 'iModels.iModelDeleted.v1' : TYPE, at: T0 + i, path: `/${i}` });
      }
      // Two events, each matching all five: every webhook is named once.
      const events = [randomUUID(), randomUUID()].map((m) => ({ m, t: TYPE, i: null, a: ACCOUNT, c: '{}', p: null }));
      const { rows } = await client.query<{ touched: string[] | null }>('SELECT touched FROM publish_events($1::jsonb, $2, $3)', [JSON.stringify(events), T0 + 10, 7 * 86_400_000]);
      assert.equal(rows.length, 2);
      assert.deepEqual(rows[0]!.touched, ids, 'in the order the webhooks were created, which claims serve their lanes in');
    } finally {
      await cleanup();
    }
  });
});

describe('PostgreSQL: the planner statistics follow the tables', () => {
  it('an open store analyzes a table within seconds of it growing by more than 1,000 rows and what it held (autovacuum or not)', async () => {
    const schema = testSchema('stats');
    const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64) });
    const store = await openPostgresStore(config);
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const analyzed = async (table: string) =>
      (await admin.query<{ n: string }>('SELECT analyze_count + autoanalyze_count AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2', [schema, table])).rows[0]?.n;
    try {
      const before = Number(await analyzed('event_types'));
      // 1,500 rows into a table of none, outside the store (its statistics counters see them
      // all the same), on a connection that ends at once: a backend reports its counts then.
      const writer = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await writer.connect();
      await writer.query(
        `INSERT INTO ${schema}.event_types (type, service, description, content_schema, example, builtin, created_at)
         SELECT 'stats.t' || i || '.v1', 'stats', 'd', '{}', '{}', false, 0 FROM generate_series(1, 1500) i`,
      );
      await writer.end();
      const deadline = Date.now() + 20_000;
      while (Number(await analyzed('event_types')) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(Number(await analyzed('event_types')) > before, 'the grown table was analyzed while the store was open');
    } finally {
      await admin.end();
      await store.close();
      await dropSchema(schema);
    }
  });

  it('a writer that inserted more rows than a table held at its last ANALYZE (and 1,000 more) has it analyzed before it goes on', async () => {
    const schema = testSchema('inserted');
    const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64) });
    await (await openPostgresStore(config)).close();
    const db = openPgDb(TEST_DATABASE_URL, schema, 2);
    // Its own looks stopped: only what the writer says can bring an ANALYZE here.
    const keeper = startStatisticsKeeper(db);
    await keeper.stop();
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
    await admin.connect();
    const insert = (n: number) =>
      admin.query(`INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at) SELECT 'w', 1, 'succeeded', 1, 0, 0, 0 FROM generate_series(1, $1)`, [n]);
    const reltuples = async () => (await admin.query<{ n: number }>(`SELECT reltuples::int AS n FROM pg_class WHERE oid = 'deliveries'::regclass`)).rows[0]!.n;
    try {
      await insert(1500);
      await keeper.inserted('deliveries', 1500);
      assert.equal(await reltuples(), 1500, 'analyzed: 1,500 rows into a table that held none');
      await insert(900);
      await keeper.inserted('deliveries', 900);
      assert.equal(await reltuples(), 1500, 'not analyzed: 1,000 rows or fewer');
      await insert(2400);
      await keeper.inserted('deliveries', 2400);
      assert.equal(await reltuples(), 1500, 'not analyzed: fewer than what it held and 1,000 more');
      await insert(2600);
      await keeper.inserted('deliveries', 2600);
      assert.equal(await reltuples(), 7400, 'analyzed: more than what it held (1,500) and 1,000 more');
    } finally {
      await admin.end();
      await db.close();
      await dropSchema(schema);
    }
  });
});

describe('PostgreSQL: the hot paths run prepared statements', () => {
  it('a connection parses and plans a publish, its lane mark, a claim and a result write once, then runs each again from its prepared statement', async () => {
    const { config, store, cleanup } = await storeOnOwnSchema('prepared');
    // One connection, so that every call below runs on it and its prepared statements can be read.
    const db = openPgDb(TEST_DATABASE_URL, config.databaseSchema, 1);
    const T0 = Date.UTC(2026, 11, 3, 20);
    const ACCOUNT = '0a000000-0000-4000-8000-000000000004';
    const TYPE = 'iModels.iModelCreated.v1';
    try {
      await createAccountWebhook(store, { id: randomUUID(), account: ACCOUNT, eventType: TYPE, at: T0 });
      const claim = { workerId: 'w', now: T0 + 10, limit: 4, maxInFlightPerWebhook: 4, maxInFlightPerApplication: 4 };
      for (let i = 0; i < 2; i++) {
        const event = { messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined };
        const [published] = await db.rows<eventsSql.PublishRow>(eventsSql.publishEvents([event], T0 + i, 7 * 86_400_000));
        await db.rows(eventsSql.markLanesReady(published!.touched ?? [], T0 + i));
        const [leased] = await db.rows<queueSql.ClaimRow>(queueSql.claimDeliveries(claim));
        assert.ok(leased, 'the claim leases the delivery just published');
        const result = { deliveryId: String(leased.id), webhookId: leased.webhook_id, attempt: 1, startedAt: T0 + 20, durationMs: 1, statusCode: 200, error: undefined, responseBody: undefined, outcome: 'succeeded' as const, nextAttemptAt: undefined };
        await db.rows(queueSql.completeDeliveries('w', [result], 86_400_000, undefined));
      }
      const prepared = await db.rows<{ name: string; runs: number }>({ text: 'SELECT name, (generic_plans + custom_plans)::integer AS runs FROM pg_prepared_statements ORDER BY name' });
      assert.deepEqual(
        prepared.map((p) => [p.name, p.runs]),
        [
          ['claim_deliveries', 2],
          ['complete_deliveries', 2],
          ['mark_lanes_ready', 2],
          ['publish_events', 2],
        ],
      );
    } finally {
      await db.close();
      await cleanup();
    }
  });
});

describe('PostgreSQL: a publish wakes the workers once its lanes are marked', () => {
  it('a process LISTENing hears of a publish by another, and finds the lane awake when it does', async () => {
    const { config, store, client, cleanup } = await storeOnOwnSchema('woken');
    const worker = await openPostgresStore(config, { migrate: false });
    const T0 = Date.now();
    const ACCOUNT = '0a000000-0000-4000-8000-000000000005';
    const TYPE = 'iModels.iModelCreated.v1';
    /** Whether the lane was awake at each wake-up after the first (the one of connecting). */
    const awakeAtWakeUp: boolean[] = [];
    let connected = false;
    const stop = worker.subscribeDue(() => {
      if (!connected) {
        connected = true;
        return;
      }
      void client.query<{ awake: boolean }>('SELECT bool_and(awake) AS awake FROM delivery_lanes').then((r) => awakeAtWakeUp.push(r.rows[0]!.awake));
    });
    try {
      const webhookId = randomUUID();
      await createAccountWebhook(store, { id: webhookId, account: ACCOUNT, eventType: TYPE, at: T0 });
      // A lane asleep, as one is once its work is done.
      await client.query('UPDATE delivery_lanes SET awake = false, ready_at = NULL');
      await eventually(() => connected, 10_000, 'the LISTEN connection');
      await store.publishEvents([{ messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined }], T0 + 1, 7 * 86_400_000);
      await eventually(() => awakeAtWakeUp.length >= 1, 10_000, 'the wake-up of the publish');
      assert.deepEqual(awakeAtWakeUp, [true]);
    } finally {
      stop();
      await worker.close();
      await cleanup();
    }
  });
});

describe('PostgreSQL: a publish has the statistics of deliveries brought up before the workers are woken', () => {
  it('tells the keeper how many deliveries its new events got (duplicates none), then marks the lanes', async () => {
    const calls: string[] = [];
    const rows = [
      { message_id: 'a', event_type: 't', enqueued_at: 1, matched: 1200, duplicate: false, touched: ['w1', 'w2'] },
      { message_id: 'b', event_type: 't', enqueued_at: 1, matched: 700, duplicate: true, touched: null },
      { message_id: 'c', event_type: 't', enqueued_at: 1, matched: 300, duplicate: false, touched: null },
    ];
    const db = { rows: async () => rows } as unknown as PgDb;
    const repo = eventsRepo(
      db,
      { markReady: async (ids) => void calls.push(`mark ${ids.join(',')}`) },
      { inserted: async (table, n) => void calls.push(`inserted ${table} ${n}`) },
    );
    const event = (m: string) => ({ messageId: m, eventType: 't', itwinId: undefined, accountId: 'acc', contentJson: '{}', publisherClientId: undefined });
    const published = await repo.publishEvents([event('a'), event('b'), event('c')], 1, 1000);
    assert.deepEqual(published.map((p) => p.duplicate), [false, true, false]);
    assert.deepEqual(calls, ['inserted deliveries 1500', 'mark w1,w2']);
  });
});

describe('PostgreSQL: a claim over many busy lanes reads the lanes it needs, not one per delivery wanted', () => {
  it('a claim of 32 (16 per webhook) over 40 webhooks with 20 due each leases the first two lanes and reads the deliveries of a few lanes, not of 32', async () => {
    const { store, client, cleanup } = await storeOnOwnSchema('lanesread');
    const T0 = Date.UTC(2026, 10, 22, 10);
    const ACCOUNT = '0a000000-0000-4000-8000-000000000003';
    const TYPE = 'iModels.iModelCreated.v1';
    try {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const id = randomUUID();
        ids.push(id);
        await createAccountWebhook(store, { id, account: ACCOUNT, eventType: TYPE, at: T0 + i, path: `/${i}` });
      }
      const events = Array.from({ length: 20 }, () => ({ messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined }));
      await store.publishEvents(events, T0 + 100, 7 * 86_400_000);
      // Plans as in production: on statistics of what the tables hold.
      await client.query('ANALYZE deliveries');
      await client.query('ANALYZE delivery_lanes');
      await client.query('BEGIN');
      try {
        const leased = (await client.query<{ webhook_id: string }>("SELECT webhook_id FROM lease_due('w', $1, 32, 16, 128, '{}')", [T0 + 200])).rows;
        // Counted by this transaction's own statistics (no wait for the server's reports):
        // the entries the deliveries' indexes gave, one per delivery a lane's scan read.
        const [{ read }] = (
          await client.query<{ read: string }>("SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) AS read FROM pg_index WHERE indrelid = 'deliveries'::regclass")
        ).rows as [{ read: string }];
        assert.equal(leased.length, 32);
        assert.deepEqual([...new Set(leased.map((r) => r.webhook_id))].sort(), ids.slice(0, 2).sort(), 'the first two lanes in turn order, 16 each');
        const [{ y }] = (await client.query<{ y: number }>("SELECT claim_yield AS y FROM workers WHERE id = 'w'")).rows as [{ y: number }];
        assert.equal(y, 16, 'deliveries per lane read, kept to size the next claim');
        // Before: one lane read per delivery still wanted, 32 lanes of 16 (512 read).
        assert.ok(Number(read) <= 128, `deliveries read for a claim of 32: ${read}`);
      } finally {
        await client.query('ROLLBACK');
      }
    } finally {
      await cleanup();
    }
  });
});

describe("PostgreSQL: a claim's first round of lanes is sized by what the worker's last claim got per lane", () => {
  it("keeps what a claim got per lane read (a fan-out's one), and a claim sized by it leases what one sized for full lanes does", async () => {
    const { store, client, cleanup } = await storeOnOwnSchema('laneyield');
    const T0 = Date.UTC(2026, 11, 4, 10);
    const ACCOUNT = '0a000000-0000-4000-8000-000000000004';
    const TYPE = 'iModels.iModelCreated.v1';
    try {
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        const id = randomUUID();
        ids.push(id);
        await createAccountWebhook(store, { id, account: ACCOUNT, eventType: TYPE, at: T0 + i, path: `/${i}` });
      }
      const event = { messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: '{}', publisherClientId: undefined };
      await store.publishEvents([event], T0 + 100, 7 * 86_400_000);
      await client.query('ANALYZE deliveries');
      await client.query('ANALYZE delivery_lanes');
      await client.query("INSERT INTO workers (id, started_at, heartbeat_at) VALUES ('fresh', $1, $1), ('fanned', $1, $1)", [T0]);
      await client.query("UPDATE workers SET claim_yield = 1 WHERE id = 'fanned'");
      // The same claim of 40 by each worker on the same tables, rolled back: the fresh one
      // reads 5 lanes (sized for lanes that give 16), then the 35 it still wants; the other
      // reads the 40 at once.
      const claim = async (worker: string) => {
        await client.query('BEGIN');
        try {
          const leased = (await client.query<{ webhook_id: string }>("SELECT webhook_id FROM lease_due($1, $2, 40, 16, 128, '{}')", [worker, T0 + 200])).rows;
          const [{ y }] = (await client.query<{ y: number }>('SELECT claim_yield AS y FROM workers WHERE id = $1', [worker])).rows as [{ y: number }];
          return { lanes: leased.map((r) => r.webhook_id), claimYield: y };
        } finally {
          await client.query('ROLLBACK');
        }
      };
      const fresh = await claim('fresh');
      const fanned = await claim('fanned');
      assert.deepEqual(fresh.lanes, ids.slice(0, 40), 'the first 40 lanes in turn order, one delivery each');
      assert.deepEqual(fanned.lanes, fresh.lanes);
      assert.deepEqual([fresh.claimYield, fanned.claimYield], [1, 1], 'one delivery per lane read, kept for the next claim');
    } finally {
      await cleanup();
    }
  });
});
