import type { PoolClient } from 'pg';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versioned, append-only. The same tables as the SQLite store, plus server-side functions
 * for the three hot paths (publish, claim, complete) so each is one round trip.
 * Times are Unix milliseconds in bigint, like the SQLite store.
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

      -- A lane becomes ready at p_at unless it is ready earlier (keeping its round-robin
      -- place). Lanes are touched in webhook id order by every writer, so that concurrent
      -- transactions take their row locks in the same order and cannot deadlock.
      CREATE FUNCTION mark_lanes_ready(p_webhooks text[], p_at bigint) RETURNS void LANGUAGE sql AS $fn$
        INSERT INTO delivery_lanes AS l (webhook_id, ready_at, inflight)
        SELECT w, p_at, 0 FROM unnest(p_webhooks) AS w ORDER BY w
        ON CONFLICT (webhook_id) DO UPDATE SET ready_at = CASE
          WHEN l.ready_at IS NULL OR l.ready_at > p_at THEN p_at ELSE l.ready_at END;
      $fn$;

      -- Publishes a batch: idempotency keys, events, fan-out and lanes in one call. (Workers
      -- are woken by a NOTIFY sent after the commit, coalesced across publishes: a NOTIFY
      -- inside the transaction would serialise every publishing commit on one lock.)
      -- p_events: [{m, t, i, a, c, p}] (messageId, type, iTwinId, accountId, content, publisher)
      -- Returns one row per distinct messageId: its (first) result, whether it was a duplicate,
      -- and (on every row) the webhooks that got deliveries. Their lanes are marked ready by
      -- the caller after the commit (mark_lanes_ready): a lane's row lock can be held by a
      -- worker for a while, and the publish must not wait for it. Should the process die in
      -- between, repair_lanes finds the lane.
      CREATE FUNCTION publish_events(p_events jsonb, p_now bigint, p_window bigint)
      RETURNS TABLE (message_id text, event_type text, enqueued_at bigint, matched integer, duplicate boolean, touched text[])
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        v_fresh text[];
        v_touched text[];
      BEGIN
        -- Claim the keys in a fixed order; a key that is still valid makes its event a duplicate.
        WITH ids AS (SELECT DISTINCT e ->> 'm' AS m FROM jsonb_array_elements(p_events) e ORDER BY 1),
        claimed AS (
          INSERT INTO idempotency_keys AS k (message_id, event_seq, expires_at)
          SELECT m, NULL, p_now + p_window FROM ids ORDER BY m
          ON CONFLICT (message_id) DO UPDATE SET event_seq = NULL, expires_at = EXCLUDED.expires_at
            WHERE k.expires_at <= p_now
          RETURNING k.message_id
        )
        SELECT coalesce(array_agg(message_id), '{}') INTO v_fresh FROM claimed;

        -- (Each CTE reads the others' RETURNING rows, never a table another CTE of the
        -- same statement changes: those changes are not visible inside the statement.)
        WITH src AS (
          SELECT DISTINCT ON (e ->> 'm') e ->> 'm' AS m, e ->> 't' AS t, e ->> 'i' AS i, e ->> 'a' AS a, e ->> 'c' AS c, e ->> 'p' AS p, ord
            FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
           WHERE e ->> 'm' = ANY (v_fresh)
           ORDER BY e ->> 'm', ord
        ),
        matches AS (
          SELECT src.m, s.webhook_id
            FROM src JOIN webhook_subscriptions s ON s.event_type = src.t
             AND ((s.scope = 'iTwin' AND s.scope_id = src.i) OR (s.scope = 'Account' AND s.scope_id = src.a))
            JOIN webhooks w ON w.id = s.webhook_id AND w.active
        ),
        ins AS (
          INSERT INTO events (message_id, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
          SELECT m, t, i, a, c, p_now, p, (SELECT count(*) FROM matches WHERE matches.m = src.m) FROM src ORDER BY ord
          RETURNING seq, message_id
        ),
        keys AS (
          UPDATE idempotency_keys k SET event_seq = ins.seq FROM ins WHERE k.message_id = ins.message_id RETURNING k.message_id
        ),
        fan AS (
          INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at)
          SELECT matches.webhook_id, ins.seq, 'pending', 0, p_now, p_now, p_now
            FROM matches JOIN ins ON ins.message_id = matches.m
          RETURNING webhook_id
        )
        SELECT coalesce(array_agg(DISTINCT webhook_id), '{}') INTO v_touched FROM fan;

        RETURN QUERY
          SELECT k.message_id, ev.event_type, ev.enqueued_at, ev.matched, NOT (k.message_id = ANY (v_fresh)), v_touched
            FROM (SELECT DISTINCT e ->> 'm' AS m FROM jsonb_array_elements(p_events) e) ids
            JOIN idempotency_keys k ON k.message_id = ids.m
            JOIN events ev ON ev.seq = k.event_seq;
      END $fn$;

      -- Leases up to p_limit due deliveries to p_worker, lane by lane in round-robin order,
      -- never more than p_cap leased per webhook across all workers. Lanes are locked with
      -- SKIP LOCKED: two workers never wait on each other, and never serve one lane at once.
      CREATE FUNCTION claim_deliveries(p_worker text, p_now bigint, p_limit integer, p_cap integer)
      RETURNS TABLE (id bigint, webhook_id text, attempt integer, callback_url text, secret_sealed text,
                     message_id text, event_type text, itwin_id text, content text, enqueued_at bigint)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        lane record;
        v_taken integer := 0;
        v_n integer;
      BEGIN
        -- Queue bookkeeping commits without waiting for the WAL flush: losing it to a crash
        -- only makes deliveries be sent again (at least once), never loses one.
        PERFORM set_config('synchronous_commit', 'off', true);
        FOR lane IN
          SELECT l.webhook_id AS w, l.inflight AS inflight FROM delivery_lanes l
           WHERE l.ready_at <= p_now AND l.inflight < p_cap
           ORDER BY l.ready_at, l.turn LIMIT p_limit
           FOR UPDATE SKIP LOCKED
        LOOP
          EXIT WHEN v_taken >= p_limit;
          RETURN QUERY
            WITH picked AS (
              SELECT d.id FROM deliveries d
               WHERE d.webhook_id = lane.w AND d.status = 'pending' AND d.due_at <= p_now
               ORDER BY d.due_at LIMIT least(p_cap - lane.inflight, p_limit - v_taken)
               FOR UPDATE SKIP LOCKED
            ),
            leased AS (
              UPDATE deliveries d SET status = 'inflight', lease_owner = p_worker, updated_at = p_now
                FROM picked WHERE d.id = picked.id
              RETURNING d.id, d.attempts, d.event_seq
            )
            SELECT l.id, lane.w, l.attempts + 1, w.callback_url, w.secret_sealed, e.message_id, e.event_type, e.itwin_id, e.content, e.enqueued_at
              FROM leased l JOIN events e ON e.seq = l.event_seq JOIN webhooks w ON w.id = lane.w;
          GET DIAGNOSTICS v_n = ROW_COUNT;
          v_taken := v_taken + v_n;
          UPDATE delivery_lanes l SET inflight = l.inflight + v_n, turn = nextval('delivery_lane_turns'),
                 ready_at = (SELECT CASE WHEN min(d.due_at) IS NULL THEN NULL ELSE greatest(min(d.due_at), p_now) END
                               FROM deliveries d WHERE d.webhook_id = lane.w AND d.status = 'pending')
           WHERE l.webhook_id = lane.w;
        END LOOP;
      END $fn$;

      -- Writes attempt results and refills the freed slots. p_results: [{id, w, o, n, st, ms,
      -- code, err, body, next}]. Only results whose lease p_worker still holds change state.
      CREATE FUNCTION complete_deliveries(p_worker text, p_results jsonb, p_failing_after bigint,
                                          p_now bigint, p_limit integer, p_cap integer)
      RETURNS jsonb LANGUAGE plpgsql AS $fn$
      DECLARE
        v_applied jsonb;
        v_deactivated jsonb := '[]';
        v_claimed jsonb := '[]';
        v_row record;
        v_expired boolean;
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        WITH r AS (
          SELECT * FROM jsonb_to_recordset(p_results)
            AS x(id bigint, w text, o text, n integer, st bigint, ms integer, code integer, err text, body text, next bigint)
        ),
        upd AS (
          UPDATE deliveries d SET
            status = CASE r.o WHEN 'succeeded' THEN 'succeeded'
                              WHEN 'retry' THEN CASE WHEN wh.active THEN 'pending' ELSE 'cancelled' END
                              ELSE 'failed' END,
            attempts = r.n,
            due_at = CASE WHEN r.o = 'retry' THEN r.next ELSE r.st + r.ms END,
            lease_owner = NULL, updated_at = r.st + r.ms, last_status = r.code, last_error = r.err
          FROM r JOIN webhooks wh ON wh.id = r.w
          WHERE d.id = r.id AND d.status = 'inflight' AND d.lease_owner = p_worker
          RETURNING d.id, d.webhook_id AS w, d.status AS s, d.due_at AS due, r.o, r.st, r.st + r.ms AS at
        ),
        ins AS (
          INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
          SELECT r.id, r.n, r.st, r.ms, r.code, r.err, r.body FROM r WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = r.id)
          RETURNING 1
        )
        SELECT coalesce(jsonb_agg(to_jsonb(upd)), '[]') INTO v_applied FROM upd;

        -- Lock the lanes involved in a fixed order (no deadlocks with publishes or other
        -- workers), as late as possible: publishes wait for these locks.
        PERFORM 1 FROM delivery_lanes WHERE webhook_id IN (SELECT DISTINCT a ->> 'w' FROM jsonb_array_elements(v_applied) a)
         ORDER BY webhook_id FOR UPDATE;
        UPDATE delivery_lanes l SET inflight = greatest(0, l.inflight - x.n),
               ready_at = CASE WHEN x.ready IS NULL THEN l.ready_at
                               WHEN l.ready_at IS NULL OR l.ready_at > x.ready THEN x.ready ELSE l.ready_at END
          FROM (SELECT a ->> 'w' AS w, count(*) AS n,
                       min(CASE WHEN a ->> 's' = 'pending' THEN (a ->> 'due')::bigint END) AS ready
                  FROM jsonb_array_elements(v_applied) a GROUP BY 1) x
         WHERE l.webhook_id = x.w;

        -- Failure streaks: one success ends a webhook's streak; a streak that lasted
        -- p_failing_after deactivates it; a 410 deactivates at once.
        FOR v_row IN
          SELECT a ->> 'w' AS w,
                 bool_or(a ->> 'o' = 'succeeded') AS ok,
                 bool_or(a ->> 'o' = 'gone') AS gone,
                 min((a ->> 'st')::bigint) FILTER (WHERE a ->> 'o' IN ('retry', 'failed')) AS first_fail,
                 max((a ->> 'at')::bigint) AS last_at
            FROM jsonb_array_elements(v_applied) a GROUP BY 1 ORDER BY 1
        LOOP
          IF v_row.ok THEN
            UPDATE webhooks SET failing_since = NULL WHERE id = v_row.w AND failing_since IS NOT NULL;
          ELSIF v_row.gone THEN
            v_deactivated := v_deactivated || jsonb_build_object('webhookId', v_row.w, 'cause', 'gone');
          ELSIF v_row.first_fail IS NOT NULL THEN
            UPDATE webhooks SET failing_since = coalesce(failing_since, v_row.first_fail) WHERE id = v_row.w
              RETURNING v_row.last_at - failing_since >= p_failing_after INTO v_expired;
            IF v_expired THEN
              v_deactivated := v_deactivated || jsonb_build_object('webhookId', v_row.w, 'cause', 'failing');
            END IF;
          END IF;
        END LOOP;

        SELECT coalesce(jsonb_agg(x.d), '[]') INTO v_deactivated FROM (
          SELECT d FROM jsonb_array_elements(v_deactivated) d
           WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d ->> 'webhookId' AND w.active)
        ) x;
        IF jsonb_array_length(v_deactivated) > 0 THEN
          UPDATE webhooks SET active = false, modified_at = p_now
           WHERE id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d);
          UPDATE deliveries SET status = 'cancelled', updated_at = p_now
           WHERE webhook_id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d) AND status = 'pending';
          UPDATE delivery_lanes SET ready_at = NULL
           WHERE webhook_id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d);
        END IF;

        IF p_limit > 0 THEN
          SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') INTO v_claimed FROM claim_deliveries(p_worker, p_now, p_limit, p_cap) c;
        END IF;

        RETURN jsonb_build_object(
          'stale', jsonb_array_length(p_results) - jsonb_array_length(v_applied),
          'deactivated', v_deactivated,
          'claimed', v_claimed);
      END $fn$;

      -- Makes idle lanes with pending deliveries ready again (after a process died between a
      -- publish's commit and its lane update). Cheap: one index probe per idle lane.
      CREATE FUNCTION repair_lanes(p_now bigint) RETURNS integer LANGUAGE sql AS $fn$
        WITH fixed AS (
          UPDATE delivery_lanes l SET ready_at = greatest(x.due, 0)
            FROM (SELECT l2.webhook_id,
                         (SELECT min(d.due_at) FROM deliveries d WHERE d.webhook_id = l2.webhook_id AND d.status = 'pending') AS due
                    FROM delivery_lanes l2 WHERE l2.ready_at IS NULL ORDER BY l2.webhook_id) x
           WHERE l.webhook_id = x.webhook_id AND x.due IS NOT NULL AND l.ready_at IS NULL
          RETURNING 1
        )
        SELECT count(*)::integer FROM fixed;
      $fn$;

      -- Puts leased deliveries back in the queue, due now, and frees their lane slots.
      CREATE FUNCTION requeue_deliveries(p_ids bigint[], p_now bigint) RETURNS integer LANGUAGE plpgsql AS $fn$
      DECLARE
        v_n integer;
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        PERFORM 1 FROM delivery_lanes WHERE webhook_id IN (SELECT webhook_id FROM deliveries WHERE id = ANY (p_ids))
         ORDER BY webhook_id FOR UPDATE;
        -- A webhook deactivated meanwhile gets nothing more: its returned deliveries are cancelled.
        WITH back AS (
          UPDATE deliveries d SET lease_owner = NULL, due_at = p_now, updated_at = p_now,
                 status = CASE WHEN (SELECT w.active FROM webhooks w WHERE w.id = d.webhook_id) THEN 'pending' ELSE 'cancelled' END
           WHERE d.id = ANY (p_ids) AND d.status = 'inflight'
          RETURNING d.webhook_id
        ),
        per AS (SELECT webhook_id, count(*) AS n FROM back GROUP BY 1),
        lanes AS (
          UPDATE delivery_lanes l SET inflight = greatest(0, l.inflight - per.n),
                 ready_at = CASE WHEN l.ready_at IS NULL OR l.ready_at > p_now THEN p_now ELSE l.ready_at END
            FROM per WHERE l.webhook_id = per.webhook_id RETURNING 1
        )
        SELECT coalesce(sum(n), 0) INTO v_n FROM per;
        RETURN v_n;
      END $fn$;
    `,
  },
  {
    version: 3,
    name: 'a completion written again is not recorded twice',
    sql: `
      -- A worker whose completion committed but whose answer was lost sends it again: the
      -- second copy is stale (the lease is gone) and its attempt, already in the history,
      -- is not inserted a second time. Only the INSERT INTO delivery_attempts changes.
      CREATE OR REPLACE FUNCTION complete_deliveries(p_worker text, p_results jsonb, p_failing_after bigint,
                                          p_now bigint, p_limit integer, p_cap integer)
      RETURNS jsonb LANGUAGE plpgsql AS $fn$
      DECLARE
        v_applied jsonb;
        v_deactivated jsonb := '[]';
        v_claimed jsonb := '[]';
        v_row record;
        v_expired boolean;
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        WITH r AS (
          SELECT * FROM jsonb_to_recordset(p_results)
            AS x(id bigint, w text, o text, n integer, st bigint, ms integer, code integer, err text, body text, next bigint)
        ),
        upd AS (
          UPDATE deliveries d SET
            status = CASE r.o WHEN 'succeeded' THEN 'succeeded'
                              WHEN 'retry' THEN CASE WHEN wh.active THEN 'pending' ELSE 'cancelled' END
                              ELSE 'failed' END,
            attempts = r.n,
            due_at = CASE WHEN r.o = 'retry' THEN r.next ELSE r.st + r.ms END,
            lease_owner = NULL, updated_at = r.st + r.ms, last_status = r.code, last_error = r.err
          FROM r JOIN webhooks wh ON wh.id = r.w
          WHERE d.id = r.id AND d.status = 'inflight' AND d.lease_owner = p_worker
          RETURNING d.id, d.webhook_id AS w, d.status AS s, d.due_at AS due, r.o, r.st, r.st + r.ms AS at
        ),
        ins AS (
          INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response_body)
          SELECT r.id, r.n, r.st, r.ms, r.code, r.err, r.body FROM r WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = r.id)
            AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = r.id AND a.attempt = r.n AND a.started_at = r.st)
          RETURNING 1
        )
        SELECT coalesce(jsonb_agg(to_jsonb(upd)), '[]') INTO v_applied FROM upd;

        -- Lock the lanes involved in a fixed order (no deadlocks with publishes or other
        -- workers), as late as possible: publishes wait for these locks.
        PERFORM 1 FROM delivery_lanes WHERE webhook_id IN (SELECT DISTINCT a ->> 'w' FROM jsonb_array_elements(v_applied) a)
         ORDER BY webhook_id FOR UPDATE;
        UPDATE delivery_lanes l SET inflight = greatest(0, l.inflight - x.n),
               ready_at = CASE WHEN x.ready IS NULL THEN l.ready_at
                               WHEN l.ready_at IS NULL OR l.ready_at > x.ready THEN x.ready ELSE l.ready_at END
          FROM (SELECT a ->> 'w' AS w, count(*) AS n,
                       min(CASE WHEN a ->> 's' = 'pending' THEN (a ->> 'due')::bigint END) AS ready
                  FROM jsonb_array_elements(v_applied) a GROUP BY 1) x
         WHERE l.webhook_id = x.w;

        -- Failure streaks: one success ends a webhook's streak; a streak that lasted
        -- p_failing_after deactivates it; a 410 deactivates at once.
        FOR v_row IN
          SELECT a ->> 'w' AS w,
                 bool_or(a ->> 'o' = 'succeeded') AS ok,
                 bool_or(a ->> 'o' = 'gone') AS gone,
                 min((a ->> 'st')::bigint) FILTER (WHERE a ->> 'o' IN ('retry', 'failed')) AS first_fail,
                 max((a ->> 'at')::bigint) AS last_at
            FROM jsonb_array_elements(v_applied) a GROUP BY 1 ORDER BY 1
        LOOP
          IF v_row.ok THEN
            UPDATE webhooks SET failing_since = NULL WHERE id = v_row.w AND failing_since IS NOT NULL;
          ELSIF v_row.gone THEN
            v_deactivated := v_deactivated || jsonb_build_object('webhookId', v_row.w, 'cause', 'gone');
          ELSIF v_row.first_fail IS NOT NULL THEN
            UPDATE webhooks SET failing_since = coalesce(failing_since, v_row.first_fail) WHERE id = v_row.w
              RETURNING v_row.last_at - failing_since >= p_failing_after INTO v_expired;
            IF v_expired THEN
              v_deactivated := v_deactivated || jsonb_build_object('webhookId', v_row.w, 'cause', 'failing');
            END IF;
          END IF;
        END LOOP;

        SELECT coalesce(jsonb_agg(x.d), '[]') INTO v_deactivated FROM (
          SELECT d FROM jsonb_array_elements(v_deactivated) d
           WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d ->> 'webhookId' AND w.active)
        ) x;
        IF jsonb_array_length(v_deactivated) > 0 THEN
          UPDATE webhooks SET active = false, modified_at = p_now
           WHERE id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d);
          UPDATE deliveries SET status = 'cancelled', updated_at = p_now
           WHERE webhook_id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d) AND status = 'pending';
          UPDATE delivery_lanes SET ready_at = NULL
           WHERE webhook_id IN (SELECT d ->> 'webhookId' FROM jsonb_array_elements(v_deactivated) d);
        END IF;

        IF p_limit > 0 THEN
          SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]') INTO v_claimed FROM claim_deliveries(p_worker, p_now, p_limit, p_cap) c;
        END IF;

        RETURN jsonb_build_object(
          'stale', jsonb_array_length(p_results) - jsonb_array_length(v_applied),
          'deactivated', v_deactivated,
          'claimed', v_claimed);
      END $fn$;
    `,
  },
];
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
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
