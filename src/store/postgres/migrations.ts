import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { ROUTINES } from './functions/index.ts';
import type { Routine } from './functions/routine.ts';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versioned, append-only: the tables. The server-side functions of the hot paths (publish,
 * claim, complete: one round trip each) live in functions/, one file each, and are created
 * after the migrations (applyRoutines). Times are Unix milliseconds in bigint, like the
 * SQLite store.
 */
export const PG_MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    name: 'identity, directory, event types and webhooks',
    sql: `
      CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);

      CREATE TABLE clients (
        client_id   text PRIMARY KEY,
        name        text NOT NULL,
        account_id  text NOT NULL,
        scopes      text NOT NULL,
        secret_hash text NOT NULL,
        created_at  bigint NOT NULL
      );

      CREATE TABLE signing_keys (
        kid                text PRIMARY KEY,
        alg                text NOT NULL,
        public_jwk         text NOT NULL,
        private_jwk_sealed text NOT NULL,
        created_at         bigint NOT NULL
      );

      CREATE TABLE directory_itwins (
        itwin_id   text PRIMARY KEY,
        account_id text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX directory_itwins_account ON directory_itwins (account_id);

      CREATE TABLE directory_grants (
        client_id  text NOT NULL,
        itwin_id   text NOT NULL,
        permission text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (client_id, itwin_id, permission)
      );
      CREATE INDEX directory_grants_itwin ON directory_grants (itwin_id);

      CREATE TABLE directory_org_admins (
        client_id  text NOT NULL,
        account_id text NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (client_id, account_id)
      );

      CREATE TABLE event_types (
        type           text PRIMARY KEY,
        service        text NOT NULL,
        description    text NOT NULL,
        content_schema text NOT NULL,
        example        text NOT NULL,
        builtin        boolean NOT NULL,
        created_at     bigint NOT NULL
      );

      CREATE TABLE webhooks (
        seq             bigserial PRIMARY KEY,
        id              text NOT NULL UNIQUE,
        owner_client_id text NOT NULL,
        scope           text NOT NULL,
        scope_id        text NOT NULL,
        active          boolean NOT NULL,
        callback_url    text NOT NULL,
        event_types     text NOT NULL,
        secret_sealed   text NOT NULL,
        created_at      bigint NOT NULL,
        modified_at     bigint NOT NULL,
        failing_since   bigint
      );
      CREATE INDEX webhooks_owner ON webhooks (owner_client_id, seq);

      CREATE TABLE webhook_subscriptions (
        event_type text NOT NULL,
        scope      text NOT NULL,
        scope_id   text NOT NULL,
        webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        PRIMARY KEY (event_type, scope, scope_id, webhook_id)
      );
      CREATE INDEX webhook_subscriptions_webhook ON webhook_subscriptions (webhook_id);
    `,
  },
  {
    version: 2,
    name: 'events, deliveries, attempts, lanes, workers and their functions',
    sql: `
      CREATE TABLE events (
        seq                 bigserial PRIMARY KEY,
        message_id          text NOT NULL,
        event_type          text NOT NULL,
        itwin_id            text,
        account_id          text,
        content             text NOT NULL,
        enqueued_at         bigint NOT NULL,
        publisher_client_id text,
        matched             integer NOT NULL
      );

      -- One row per messageId: concurrent publishes of the same id serialise on it, and an
      -- expired key is taken over by the next event with that id.
      CREATE TABLE idempotency_keys (
        message_id text PRIMARY KEY,
        event_seq  bigint,
        expires_at bigint NOT NULL
      );

      CREATE TABLE deliveries (
        id          bigserial PRIMARY KEY,
        webhook_id  text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_seq   bigint NOT NULL REFERENCES events (seq),
        status      text NOT NULL,
        attempts    integer NOT NULL DEFAULT 0,
        due_at      bigint NOT NULL,
        lease_owner text,
        created_at  bigint NOT NULL,
        updated_at  bigint NOT NULL,
        last_status integer,
        last_error  text
      );
      CREATE INDEX deliveries_due ON deliveries (webhook_id, due_at) WHERE status = 'pending';
      CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE status = 'inflight';
      CREATE INDEX deliveries_history ON deliveries (webhook_id, id);

      CREATE TABLE delivery_attempts (
        id            bigserial PRIMARY KEY,
        delivery_id   bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        attempt       integer NOT NULL,
        started_at    bigint NOT NULL,
        duration_ms   integer NOT NULL,
        status_code   integer,
        error         text,
        response_body text
      );
      CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

      -- See the SQLite schema for how lanes make claiming round-robin; turns come from a
      -- sequence here, shared by every worker.
      CREATE TABLE delivery_lanes (
        webhook_id text PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
        ready_at   bigint,
        turn       bigint NOT NULL DEFAULT 0,
        inflight   integer NOT NULL DEFAULT 0
      );
      CREATE INDEX delivery_lanes_ready ON delivery_lanes (ready_at, turn) WHERE ready_at IS NOT NULL;
      CREATE SEQUENCE delivery_lane_turns;

      CREATE TABLE workers (
        id           text PRIMARY KEY,
        started_at   bigint NOT NULL,
        heartbeat_at bigint NOT NULL
      );
    `,
  },
  {
    version: 3,
    // Redefined complete_deliveries (a completion written again is not recorded twice):
    // functions now live in functions/ and are recreated by version, not in migrations.
    name: 'a completion written again is not recorded twice',
    sql: '',
  },
  {
    version: 4,
    name: 'leases per worker, lanes marked only when they change, the latest attempt on the delivery, idempotency on the event',
    sql: `
      -- Leases leave the delivery rows: each worker's leases are its one row of workers,
      -- which only it updates (once per claim or completion). A leased delivery reads
      -- pending; being sent is being in some worker's lease set.
      UPDATE deliveries SET status = 'pending' WHERE status = 'inflight';
      DROP INDEX deliveries_leased;
      ALTER TABLE deliveries DROP COLUMN lease_owner,
        ADD COLUMN last_started_at bigint, ADD COLUMN last_duration_ms integer, ADD COLUMN last_response_body text;
      DELETE FROM workers;
      ALTER TABLE workers
        ADD COLUMN leased bigint[] NOT NULL DEFAULT '{}',
        ADD COLUMN leased_lanes bigint[] NOT NULL DEFAULT '{}',
        ADD COLUMN leased_at bigint[] NOT NULL DEFAULT '{}',
        ADD COLUMN lane_cursor bigint NOT NULL DEFAULT 0;
      -- Rewritten on every claim and completion: room on the page keeps the updates HOT.
      ALTER TABLE workers SET (fillfactor = 20);

      -- No foreign key is checked per delivery (each check locks the referenced row): a
      -- webhook's deliveries and their attempts are deleted with it explicitly, and
      -- retention removes events only once no delivery refers to them.
      ALTER TABLE deliveries DROP CONSTRAINT deliveries_webhook_id_fkey, DROP CONSTRAINT deliveries_event_seq_fkey;
      ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_delivery_id_fkey;
      CREATE INDEX deliveries_event ON deliveries (event_seq);

      -- The idempotency key is a unique column of the event itself (no row of its own to
      -- write); a key past its window is taken over by clearing it on the old event. A
      -- messageId whose event retention removed inside the window lives on in
      -- pruned_message_ids until the window ends.
      ALTER TABLE events ADD COLUMN message_key text COLLATE "C";
      UPDATE events e SET message_key = k.message_id FROM idempotency_keys k WHERE k.event_seq = e.seq;
      CREATE UNIQUE INDEX events_message_key ON events (message_key);
      DROP TABLE idempotency_keys;
      CREATE TABLE pruned_message_ids (
        message_id  text PRIMARY KEY,
        event_type  text NOT NULL,
        enqueued_at bigint NOT NULL,
        matched     integer NOT NULL,
        expires_at  bigint NOT NULL
      );
      CREATE INDEX pruned_message_ids_expiry ON pruned_message_ids (expires_at);

      -- Lanes: one per webhook, written only when it changes state: awake (it may have due
      -- work; claims go round the awake lanes from each worker's own cursor), asleep until
      -- ready_at (its next due delivery is later), or idle (nothing pending). Claims and
      -- the marks after a publish serialise per lane on an advisory lock, not a row.
      DROP TABLE delivery_lanes;
      DROP SEQUENCE delivery_lane_turns;
      CREATE TABLE delivery_lanes (
        webhook_seq bigint PRIMARY KEY,
        webhook_id  text NOT NULL UNIQUE REFERENCES webhooks (id) ON DELETE CASCADE,
        awake       boolean NOT NULL DEFAULT false,
        -- awake: since when; asleep: when it wakes
        ready_at    bigint
      ) WITH (fillfactor = 50);
      CREATE INDEX delivery_lanes_awake ON delivery_lanes (webhook_seq) WHERE awake;
      CREATE INDEX delivery_lanes_asleep ON delivery_lanes (ready_at) WHERE NOT awake AND ready_at IS NOT NULL;
      -- Every lane starts awake: the first claims put those with nothing due to sleep.
      INSERT INTO delivery_lanes (webhook_seq, webhook_id, awake, ready_at) SELECT seq, id, true, 0 FROM webhooks;

      DROP FUNCTION IF EXISTS requeue_deliveries(bigint[], bigint);
    `,
  },
  {
    version: 5,
    name: 'access that ends: secret rotation, token generations, why a webhook was deactivated',
    sql: `
      -- See the SQLite schema (version 6) for what these hold.
      ALTER TABLE clients ADD COLUMN previous_secret_hash text, ADD COLUMN previous_secret_expires_at bigint,
        ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
      ALTER TABLE webhooks ADD COLUMN deactivated_at bigint, ADD COLUMN deactivation_cause text;
      CREATE INDEX webhooks_itwin ON webhooks (scope_id) WHERE scope = 'iTwin';
      CREATE INDEX directory_org_admins_account ON directory_org_admins (account_id);
    `,
  },
  {
    version: 6,
    name: 'autovacuum settings for the tables that churn',
    sql: `
      -- Where the server's autovacuum runs, these tables are vacuumed sooner than its
      -- defaults (20 % dead rows): the pending index of deliveries only ever holds due work
      -- once the dead entries left by results are gone, and workers and delivery_lanes are
      -- tiny tables rewritten all the time. (Where it is off, retention vacuums them:
      -- retention.ts.)
      ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);
      ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.05);
      ALTER TABLE delivery_attempts SET (autovacuum_vacuum_scale_factor = 0.05);
      ALTER TABLE workers SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 200);
      ALTER TABLE delivery_lanes SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 500);
    `,
  },
  {
    version: 7,
    name: 'worker rows kept whole',
    sql: `
      -- A worker's row holds its leases (three arrays of up to its concurrency): past 2 kB,
      -- every write of it was compressed (pglz) to fit the default toast target. Kept whole
      -- up to a page, it is written as it is.
      ALTER TABLE workers SET (toast_tuple_target = 8160);
    `,
  },
  {
    version: 8,
    name: 'webhooks with a failure streak',
    sql: `
      -- Every result write looks up whether its succeeded webhooks have a streak to end: on
      -- this index, usually empty, instead of on each webhook's row.
      CREATE INDEX webhooks_failing ON webhooks (id) WHERE failing_since IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'how many deliveries per lane a worker\'s last claim got',
    sql: `
      -- Sizes the first round of lanes the next claim reads (lease_due).
      ALTER TABLE workers ADD COLUMN claim_yield real NOT NULL DEFAULT 0;
    `,
  },
];
/**
 * (Re)creates each routine that the database lacks, holds in an older version, or holds in
 * the same version with other text; each in its own transaction, under the migration lock.
 * One the database holds in a newer version is left alone (a newer process installed it).
 */
export async function applyRoutines(client: PoolClient, routines: Routine[]): Promise<void> {
  await client.query('CREATE TABLE IF NOT EXISTS schema_routines (name text PRIMARY KEY, version integer NOT NULL, checksum text NOT NULL, applied_at bigint NOT NULL)');
  const have = new Map(
    (await client.query<{ name: string; version: number; checksum: string }>('SELECT name, version, checksum FROM schema_routines')).rows.map((r) => [r.name, r]),
  );
  // A routine this program no longer has was dropped by the migration that retired it.
  await client.query('DELETE FROM schema_routines WHERE NOT (name = ANY ($1::text[]))', [routines.map((r) => r.name)]);
  for (const r of routines) {
    const checksum = createHash('sha256').update(r.sql).digest('hex');
    const held = have.get(r.name);
    if (held !== undefined && (Number(held.version) > r.version || (Number(held.version) === r.version && held.checksum === checksum))) continue;
    await client.query('BEGIN');
    try {
      await client.query(r.sql);
      await client.query(
        `INSERT INTO schema_routines (name, version, checksum, applied_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at`,
        [r.name, r.version, checksum, Date.now()],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
}

/** A lock key of our own, so that processes starting together run the migrations once. */
const MIGRATION_LOCK = 7_419_563_211;

/**
 * Applies the migrations that are missing, under a session advisory lock: of several
 * processes starting at once on an empty database, one migrates and the others wait, then
 * find nothing left to do. Returns the versions this call applied.
 */
export async function migratePostgres(client: PoolClient, schema: string): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`SET search_path TO ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...done);
    const known = Math.max(...PG_MIGRATIONS.map((m) => m.version));
    if (newest > known) {
      throw new Error(`The database is at schema version ${newest}, newer than this program knows (${known}); upgrade itwin-webhooks.`);
    }
    const applied: number[] = [];
    for (const m of PG_MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      applied.push(m.version);
    }
    await applyRoutines(client, ROUTINES);
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
