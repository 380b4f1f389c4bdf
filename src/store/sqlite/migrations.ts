import type { SqliteDb } from './db.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Versioned, append-only: never edit a migration that has shipped, add the next one. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'identity, directory, event types and webhooks',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      CREATE TABLE clients (
        client_id   TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        account_id  TEXT NOT NULL,
        scopes      TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE signing_keys (
        kid                TEXT PRIMARY KEY,
        alg                TEXT NOT NULL,
        public_jwk         TEXT NOT NULL,
        private_jwk_sealed TEXT NOT NULL,
        created_at         INTEGER NOT NULL
      );

      CREATE TABLE directory_itwins (
        itwin_id   TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX directory_itwins_account ON directory_itwins (account_id);

      CREATE TABLE directory_grants (
        client_id  TEXT NOT NULL,
        itwin_id   TEXT NOT NULL,
        permission TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, itwin_id, permission)
      ) WITHOUT ROWID;
      CREATE INDEX directory_grants_itwin ON directory_grants (itwin_id);

      CREATE TABLE directory_org_admins (
        client_id  TEXT NOT NULL,
        account_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, account_id)
      ) WITHOUT ROWID;

      CREATE TABLE event_types (
        type           TEXT PRIMARY KEY,
        service        TEXT NOT NULL,
        description    TEXT NOT NULL,
        content_schema TEXT NOT NULL,
        example        TEXT NOT NULL,
        builtin        INTEGER NOT NULL,
        created_at     INTEGER NOT NULL
      );

      -- seq gives the keyset order of the list: it only grows, so a page boundary never
      -- moves when webhooks are inserted concurrently.
      CREATE TABLE webhooks (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        owner_client_id TEXT NOT NULL,
        scope           TEXT NOT NULL,
        scope_id        TEXT NOT NULL,
        active          INTEGER NOT NULL,
        callback_url    TEXT NOT NULL,
        event_types     TEXT NOT NULL,
        secret_sealed   TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        modified_at     INTEGER NOT NULL
      );
      CREATE INDEX webhooks_owner ON webhooks (owner_client_id, seq);

      -- One row per (webhook, subscribed type), keyed for the fan-out lookup at publish.
      CREATE TABLE webhook_subscriptions (
        event_type TEXT NOT NULL,
        scope      TEXT NOT NULL,
        scope_id   TEXT NOT NULL,
        webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        PRIMARY KEY (event_type, scope, scope_id, webhook_id)
      ) WITHOUT ROWID;
      CREATE INDEX webhook_subscriptions_webhook ON webhook_subscriptions (webhook_id);
    `,
  },
  {
    version: 2,
    name: 'events, deliveries, attempts, lanes and workers',
    sql: `
      ALTER TABLE webhooks ADD COLUMN failing_since INTEGER;

      CREATE TABLE events (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id          TEXT NOT NULL,
        event_type          TEXT NOT NULL,
        itwin_id            TEXT,
        account_id          TEXT,
        content             TEXT NOT NULL,
        enqueued_at         INTEGER NOT NULL,
        publisher_client_id TEXT,
        matched             INTEGER NOT NULL
      );
      -- Idempotency looks up the newest event with a messageId inside the window.
      CREATE INDEX events_message ON events (message_id, enqueued_at);

      CREATE TABLE deliveries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_seq   INTEGER NOT NULL REFERENCES events (seq),
        -- pending | inflight | succeeded | failed | cancelled (inflight reads as pending outside)
        status      TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        due_at      INTEGER NOT NULL,
        lease_owner TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        last_status INTEGER,
        last_error  TEXT
      );
      CREATE INDEX deliveries_due ON deliveries (webhook_id, due_at) WHERE status = 'pending';
      CREATE INDEX deliveries_leased ON deliveries (lease_owner) WHERE status = 'inflight';
      CREATE INDEX deliveries_history ON deliveries (webhook_id, id);

      CREATE TABLE delivery_attempts (
        id            INTEGER PRIMARY KEY,
        delivery_id   INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        attempt       INTEGER NOT NULL,
        started_at    INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        status_code   INTEGER,
        error         TEXT,
        response_body TEXT
      );
      CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

      -- One lane per webhook with undelivered work. ready_at: when the lane next has a due
      -- delivery (NULL: none); lanes are served oldest ready_at first, and a served lane is
      -- moved behind the others (ready_at = now, turn = the next turn number), which makes
      -- claiming round-robin across webhooks. inflight counts the webhook's leased
      -- deliveries, so the per-webhook cap holds across workers.
      CREATE TABLE delivery_lanes (
        webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
        ready_at   INTEGER,
        turn       INTEGER NOT NULL DEFAULT 0,
        inflight   INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE INDEX delivery_lanes_ready ON delivery_lanes (ready_at, turn) WHERE ready_at IS NOT NULL;

      CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'the latest attempt on the delivery row',
    sql: `
      -- A delivery's latest attempt lives on its row (when last_started_at is set); the
      -- attempts before it in delivery_attempts. Most deliveries succeed at the first
      -- attempt, and then recording it is one row update instead of an update and an insert.
      -- Rows from before this migration keep all their attempts in delivery_attempts.
      ALTER TABLE deliveries ADD COLUMN last_started_at INTEGER;
      ALTER TABLE deliveries ADD COLUMN last_duration_ms INTEGER;
      ALTER TABLE deliveries ADD COLUMN last_response_body TEXT;
    `,
  },
  {
    version: 4,
    name: 'the idempotency index as a table filled in the background',
    sql: `
      -- Message ids of the events up to meta 'event_ids_upto'; those after it are kept in
      -- memory and merged in, sorted, in batches (recentMessageIds.ts). An index on events
      -- wrote one page per published event, since message ids are random.
      -- The window is checked on the event itself (a hit is rare: a repeated publish).
      CREATE TABLE event_ids (
        message_id TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (message_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO event_ids (message_id, seq) SELECT message_id, seq FROM events ORDER BY message_id, seq;
      INSERT INTO meta (key, value) VALUES ('event_ids_upto', (SELECT CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM events))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
      DROP INDEX events_message;
    `,
  },
  {
    version: 5,
    name: 'delivery leases in the server\'s memory',
    sql: `
      -- One server owns a DATA_DIR, so leases live in its memory (leases.ts): a leased
      -- delivery's row reads 'pending'. Leases of a server that stopped are void: its
      -- deliveries are due again (queue.ts makes their lanes ready at every open).
      UPDATE deliveries SET status = 'pending' WHERE status = 'inflight';
      DROP INDEX deliveries_leased;
      ALTER TABLE deliveries DROP COLUMN lease_owner;
      ALTER TABLE delivery_lanes DROP COLUMN inflight;
    `,
  },
  {
    version: 6,
    name: 'access that ends: secret rotation, token generations, why a webhook was deactivated',
    sql: `
      -- A rotated secret stays valid until previous_secret_expires_at; tokens name the
      -- client's token_generation, and raising it ends every token issued before.
      ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;
      ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER;
      ALTER TABLE clients ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
      -- Set while a webhook is inactive because something deactivated it: the owner, the
      -- delivery engine (gone, failing) or a directory change that took the right away.
      ALTER TABLE webhooks ADD COLUMN deactivated_at INTEGER;
      ALTER TABLE webhooks ADD COLUMN deactivation_cause TEXT;
      -- A directory change looks up the webhooks of the iTwins it touched.
      CREATE INDEX webhooks_itwin ON webhooks (scope_id) WHERE scope = 'iTwin';
      CREATE INDEX directory_org_admins_account ON directory_org_admins (account_id);
    `,
  },
  {
    version: 7,
    name: 'retention: events found by their deliveries, messageIds remembered beyond their events',
    sql: `
      -- Retention (retention.ts) removes an event only once no delivery refers to it, and the
      -- foreign key from deliveries makes SQLite look for those on every event removed.
      CREATE INDEX deliveries_event ON deliveries (event_seq);
      -- An event removed inside its messageId's window: what a repeated publish answers.
      -- Its event_ids row stays until the window ends, and this row with it.
      CREATE TABLE pruned_message_ids (
        seq         INTEGER PRIMARY KEY,
        message_id  TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        enqueued_at INTEGER NOT NULL,
        matched     INTEGER NOT NULL
      );
      CREATE INDEX pruned_message_ids_age ON pruned_message_ids (enqueued_at);
    `,
  },
];

export function migrate(db: SqliteDb): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: number[] = [];
  db.tx(() => {
    const done = new Set(db.all<{ version: number }>('SELECT version FROM schema_migrations').map((r) => r.version));
    const newest = Math.max(0, ...done);
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    if (newest > known) {
      throw new Error(`The database is at schema version ${newest}, newer than this program knows (${known}); upgrade itwin-webhooks.`);
    }
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)', { v: m.version, n: m.name, t: Date.now() });
      applied.push(m.version);
    }
  });
  return applied;
}
