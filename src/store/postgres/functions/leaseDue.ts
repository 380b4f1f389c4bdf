import type { Routine } from './routine.ts';

export const leaseDue: Routine = {
  name: 'lease_due',
  version: 7,
  sql: `
DROP FUNCTION IF EXISTS lease_due(text, bigint, integer, integer, bigint[]);
-- Leases up to p_limit due deliveries to p_worker and drops p_done from its leases (the
-- results just written), in one write of the worker's row; never more than p_cap leased
-- per webhook, nor p_app_cap per application (the webhooks' owner), across all workers.
--
-- Round-robin: the awake lanes are served in webhook_seq order from the worker's own
-- cursor (kept on its row), each up to its free slots, so that every lane with due work
-- gets a turn whatever the others hold. A lane is served by one claim at a time: its
-- advisory lock is tried (never waited for) before its deliveries are read, and the
-- leases of every worker are read after that, on a fresh snapshot, so that a claim that
-- held the lane before has committed and is counted. A lane found with nothing due that
-- has been awake for a second goes to sleep until its next due delivery, or idle: the
-- second keeps a lane that empties between publishes from being written twice each time.
-- The lanes of an application at its cap are passed over and keep their place.
--
-- Its statements (and those of the other hot-path functions) run on generic plans: their
-- parameters are arrays and counts whose values hardly change a plan, and the custom
-- plans the server otherwise chose were made again at every call (a sixth of its CPU at
-- 1,000 publishes a second; 9 % less per delivery without). Plans are made again when an
-- ANALYZE changes a table's statistics (statistics.ts).
CREATE OR REPLACE FUNCTION lease_due(p_worker text, p_now bigint, p_limit integer, p_cap integer, p_app_cap integer, p_done bigint[])
RETURNS TABLE (id bigint, webhook_id text, owner_client_id text, attempt integer, callback_url text, secret_sealed text,
               message_id text, event_type text, itwin_id text, content text, enqueued_at bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
  v_key integer := lane_lock_key();
  v_cursor bigint;
  v_yield real;
  v_read integer := 0;
  v_pos bigint;
  v_seen bigint[] := '{}';
  v_lanes bigint[];
  v_webhooks text[];
  v_room integer[];
  v_owners text[];
  v_app_room integer[];
  v_got_owners text[];
  v_picked_owners text[] := '{}';
  v_passed boolean := false;
  v_leased bigint[];
  v_chunk integer;
  v_got_ids bigint[];
  v_got_lanes bigint[];
  v_picked bigint[] := '{}';
  v_picked_lanes bigint[] := '{}';
  v_sleep bigint[];
  v_last_o bigint;
  v_probed bigint;
  v_next bigint[];
BEGIN
  -- Queue bookkeeping commits without waiting for the WAL flush: losing it to a crash
  -- only makes deliveries be sent again (at least once), never loses one.
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT w.lane_cursor, w.claim_yield INTO v_cursor, v_yield FROM workers w WHERE w.id = p_worker;
  v_cursor := coalesce(v_cursor, 0);
  -- Deliveries per lane read of this worker's last claim that read any (none yet: as many
  -- as a lane may give).
  v_yield := CASE WHEN coalesce(v_yield, 0) > 0 THEN least(v_yield, greatest(p_cap, 1)) ELSE greatest(p_cap, 1) END;
  v_pos := v_cursor;

  IF p_limit > 0 THEN
    -- Lanes asleep whose time has come.
    UPDATE delivery_lanes SET awake = true, ready_at = p_now
     WHERE webhook_seq IN (SELECT l.webhook_seq FROM delivery_lanes l WHERE NOT l.awake AND l.ready_at <= p_now FOR UPDATE SKIP LOCKED);

    -- At most four rounds: enough lanes for the limit are usually found in the first one.
    -- The first reads twice as many lanes as the limit needs when each gives what the
    -- lanes of the worker's last claim gave: each lane read is a scan of up to p_cap
    -- deliveries, so a claim of 64 over 100 busy lanes read 1,000 deliveries to keep 64
    -- when it took one lane per delivery wanted, and a fan-out's lanes, which give one
    -- each, took a second round of their own when it was sized for lanes that give p_cap.
    -- Lanes that give less than that are made up for by the next rounds, which take one
    -- lane per delivery still wanted.
    FOR v_round IN 1..4 LOOP
      v_chunk := CASE WHEN v_round = 1 THEN least(greatest(16, p_limit), greatest(4, ceil(2 * p_limit / v_yield)::integer))
                      ELSE greatest(16, p_limit - cardinality(v_picked)) END;
      SELECT array_agg(c.webhook_seq ORDER BY c.o), array_agg(c.webhook_id ORDER BY c.o) INTO v_lanes, v_webhooks FROM (
        SELECT n.webhook_seq, n.webhook_id, n.o FROM (
          SELECT l.webhook_seq, l.webhook_id, row_number() OVER () AS o FROM (
            (SELECT l1.webhook_seq, l1.webhook_id FROM delivery_lanes l1
              WHERE l1.awake AND l1.webhook_seq > v_pos AND l1.webhook_seq <> ALL (v_seen) ORDER BY l1.webhook_seq LIMIT v_chunk)
            UNION ALL
            (SELECT l2.webhook_seq, l2.webhook_id FROM delivery_lanes l2
              WHERE l2.awake AND l2.webhook_seq <= v_pos AND l2.webhook_seq <> ALL (v_seen) ORDER BY l2.webhook_seq LIMIT v_chunk)
            LIMIT v_chunk) l
        ) n
        WHERE pg_try_advisory_xact_lock(v_key, (n.webhook_seq % 2147483647)::integer)
      ) c;
      EXIT WHEN v_lanes IS NULL;
      v_seen := v_seen || v_lanes;
      v_pos := v_lanes[cardinality(v_lanes)];

      -- Every worker's leases, read after the lanes are ours; those being completed now excepted.
      SELECT coalesce(array_agg(u.d), '{}') INTO v_leased FROM workers w, unnest(w.leased) AS u(d);
      SELECT array_agg(greatest(0, p_cap - coalesce(x.n, 0)) ORDER BY l.o) INTO v_room
        FROM unnest(v_lanes) WITH ORDINALITY AS l(s, o)
        LEFT JOIN (SELECT u.l, count(*)::integer AS n FROM workers w, unnest(w.leased, w.leased_lanes) AS u(d, l)
                    WHERE u.l = ANY (v_lanes) AND NOT (u.d = ANY (coalesce(p_done, '{}'))) GROUP BY u.l) x ON x.l = l.s;
      -- Each lane's application, and what it may lease yet: its leases of every worker and
      -- what this claim took for it in earlier rounds count. When all the leases there are
      -- (but the results being written) and this claim's limit fit within p_app_cap, no
      -- application can reach it: the count per application (a lookup of every lease's
      -- webhook) is skipped. A single worker whose concurrency is within the cap never
      -- needs it.
      SELECT array_agg(coalesce(wh.owner_client_id, '') ORDER BY l.o) INTO v_owners
        FROM unnest(v_webhooks) WITH ORDINALITY AS l(w, o) LEFT JOIN webhooks wh ON wh.id = l.w;
      IF (SELECT count(*) FROM unnest(v_leased) AS u(d) WHERE NOT (u.d = ANY (coalesce(p_done, '{}')))) + p_limit <= p_app_cap THEN
        v_app_room := array_fill(p_app_cap, ARRAY[cardinality(v_lanes)]);
      ELSE
        SELECT array_agg(greatest(0, p_app_cap - coalesce(x.n, 0) - (SELECT count(*) FROM unnest(v_picked_owners) AS p(c) WHERE p.c = l.c)::integer) ORDER BY l.o)
          INTO v_app_room
          FROM unnest(v_owners) WITH ORDINALITY AS l(c, o)
          LEFT JOIN (SELECT wh.owner_client_id AS c, count(*)::integer AS n
                       FROM workers w, unnest(w.leased, w.leased_lanes) AS u(d, l) JOIN webhooks wh ON wh.seq = u.l
                      WHERE wh.owner_client_id = ANY (v_owners) AND NOT (u.d = ANY (coalesce(p_done, '{}'))) GROUP BY wh.owner_client_id) x ON x.c = l.c;
      END IF;
      SELECT v_passed OR coalesce(bool_or(x.room > 0 AND x.app = 0), false) INTO v_passed FROM unnest(v_room, v_app_room) AS x(room, app);

      -- Lane by lane in turn order, each its oldest due deliveries up to its free slots and
      -- its application's (the first lanes of an application in turn order fill its room).
      SELECT array_agg(g.id ORDER BY g.o, g.due_at), array_agg(g.s ORDER BY g.o, g.due_at), array_agg(g.c ORDER BY g.o, g.due_at), max(g.o)
        INTO v_got_ids, v_got_lanes, v_got_owners, v_last_o FROM (
        SELECT t.o, t.s, t.c, t.id, t.due_at FROM (
          SELECT l.o, l.s, l.c, l.app, d.id, d.due_at, row_number() OVER (PARTITION BY l.c ORDER BY l.o, d.due_at) AS n
            FROM unnest(v_lanes, v_webhooks, v_room, v_owners, v_app_room) WITH ORDINALITY AS l(s, w, room, c, app, o)
            CROSS JOIN LATERAL (
              SELECT d.id, d.due_at FROM deliveries d
               WHERE d.webhook_id = l.w AND d.status = 'pending' AND d.due_at <= p_now AND NOT (d.id = ANY (v_leased))
               ORDER BY d.due_at LIMIT least(l.room, l.app)) d
           WHERE least(l.room, l.app) > 0) t
         WHERE t.n <= t.app
         ORDER BY t.o, t.due_at
         LIMIT p_limit - cardinality(v_picked)
      ) g;
      v_picked := v_picked || coalesce(v_got_ids, '{}');
      v_picked_lanes := v_picked_lanes || coalesce(v_got_lanes, '{}');
      v_picked_owners := v_picked_owners || coalesce(v_got_owners, '{}');
      IF v_got_lanes IS NOT NULL THEN v_cursor := v_got_lanes[cardinality(v_got_lanes)]; END IF;
      -- Lanes read to the end (all of them, unless the claim filled up first).
      v_probed := CASE WHEN cardinality(v_picked) >= p_limit THEN v_last_o ELSE cardinality(v_lanes) END;
      v_read := v_read + v_probed;

      -- Lanes read that gave nothing and have nothing due at all (leased or not): asleep or
      -- idle. Not looked for when every lane read gave something (a test of the arrays,
      -- which PL/pgSQL evaluates without starting an executor).
      v_sleep := NULL;
      IF NOT (v_lanes[1:v_probed] <@ coalesce(v_got_lanes, '{}')) THEN
        SELECT array_agg(l.s), array_agg(m.next) INTO v_sleep, v_next
          FROM unnest(v_lanes, v_webhooks, v_room, v_app_room) WITH ORDINALITY AS l(s, w, room, app, o)
          CROSS JOIN LATERAL (SELECT min(d.due_at) AS next FROM deliveries d WHERE d.webhook_id = l.w AND d.status = 'pending') m
         WHERE l.o <= v_probed AND least(l.room, l.app) > 0 AND NOT (l.s = ANY (coalesce(v_got_lanes, '{}'))) AND (m.next IS NULL OR m.next > p_now);
      END IF;
      IF v_sleep IS NOT NULL THEN
        UPDATE delivery_lanes dl SET awake = false, ready_at = n.next FROM unnest(v_sleep, v_next) AS n(s, next)
         WHERE dl.webhook_seq = n.s AND dl.awake AND dl.ready_at < p_now - 1000;
      END IF;

      EXIT WHEN cardinality(v_picked) >= p_limit OR cardinality(v_lanes) < v_chunk;
    END LOOP;
    -- A claim that leased nothing but passed over lanes of applications at their cap moves
    -- the next one past them: many such lanes must not hide the lanes behind them from
    -- claims too small to read that far. One that leased something keeps its cursor on the
    -- last lane it served, so that the lanes it passed over after that (its application's
    -- room ran out while it read) keep their turn: with one application's fan-out to
    -- thousands of webhooks, moving past them left them a whole round of the lanes behind.
    v_passed := v_passed AND cardinality(v_picked) = 0;
    IF v_passed THEN v_cursor := v_pos; END IF;
    IF v_read > 0 THEN v_yield := cardinality(v_picked)::real / v_read; END IF;
  END IF;

  -- One write of the worker's row: the results' leases out, the new ones in. (A worker
  -- that never sent a heartbeat gets a row that the reaper treats as long dead.)
  IF cardinality(v_picked) > 0 OR cardinality(coalesce(p_done, '{}')) > 0 OR v_passed THEN
    INSERT INTO workers AS w (id, started_at, heartbeat_at, leased, leased_lanes, leased_at, lane_cursor, claim_yield)
    VALUES (p_worker, p_now, 0, v_picked, v_picked_lanes, array_fill(p_now, ARRAY[cardinality(v_picked)]), v_cursor, v_yield)
    ON CONFLICT (id) DO UPDATE SET
      leased = (SELECT coalesce(array_agg(u.d ORDER BY u.o), '{}') FROM unnest(w.leased) WITH ORDINALITY AS u(d, o) WHERE NOT (u.d = ANY (coalesce(p_done, '{}'))))
               || EXCLUDED.leased,
      leased_lanes = (SELECT coalesce(array_agg(u.l ORDER BY u.o), '{}') FROM unnest(w.leased, w.leased_lanes) WITH ORDINALITY AS u(d, l, o) WHERE NOT (u.d = ANY (coalesce(p_done, '{}'))))
               || EXCLUDED.leased_lanes,
      leased_at = (SELECT coalesce(array_agg(u.t ORDER BY u.o), '{}') FROM unnest(w.leased, w.leased_at) WITH ORDINALITY AS u(d, t, o) WHERE NOT (u.d = ANY (coalesce(p_done, '{}'))))
               || EXCLUDED.leased_at,
      lane_cursor = EXCLUDED.lane_cursor, claim_yield = EXCLUDED.claim_yield;
  END IF;

  RETURN QUERY
    SELECT d.id, d.webhook_id, w.owner_client_id, d.attempts + 1, w.callback_url, w.secret_sealed, e.message_id, e.event_type, e.itwin_id, e.content, e.enqueued_at
      FROM unnest(v_picked) WITH ORDINALITY AS p(id, o)
      JOIN deliveries d ON d.id = p.id JOIN events e ON e.seq = d.event_seq JOIN webhooks w ON w.id = d.webhook_id
     ORDER BY p.o;
END $fn$;
`,
};
