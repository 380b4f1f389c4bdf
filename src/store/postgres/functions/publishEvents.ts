import type { Routine } from './routine.ts';

export const publishEvents: Routine = {
  name: 'publish_events',
  version: 5,
  sql: `
-- Publishes a batch: events and their fan-out in one call, one row written per event and
-- one per delivery. p_events: [{m, t, i, a, c, p}] (messageId, type, iTwinId, accountId,
-- content, publisher). The messageId is the event's unique message_key: a second publish
-- of it inside the window conflicts and is a duplicate; a key past its window is first
-- taken over (cleared on the old event); a key whose event retention removed inside the
-- window is in pruned_message_ids. Keys are inserted in messageId order, so that two
-- publishes sharing ids wait for each other instead of deadlocking.
-- Returns one row per distinct messageId: its (first) result, whether it was a duplicate,
-- and on the first row the webhooks that got deliveries, in lane order, whose lanes the
-- caller marks after the commit (mark_lanes_ready).
-- Generic plans: see lease_due.
CREATE OR REPLACE FUNCTION publish_events(p_events jsonb, p_now bigint, p_window bigint)
RETURNS TABLE (message_id text, event_type text, enqueued_at bigint, matched integer, duplicate boolean, touched text[])
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
DECLARE
  -- The batch's distinct events (the first of each messageId), in arrival order.
  v_m text[]; v_t text[]; v_i text[]; v_a text[]; v_c text[]; v_p text[];
  -- Their matches: event index, webhook, its lane (webhook seq).
  v_match_e integer[]; v_match_w text[]; v_match_s bigint[];
  -- Stored now: event index, seq.
  v_new_e integer[]; v_new_seq bigint[];
  v_touched text[];
BEGIN
  SELECT array_agg(x.m ORDER BY x.ord), array_agg(x.t ORDER BY x.ord), array_agg(x.i ORDER BY x.ord),
         array_agg(x.a ORDER BY x.ord), array_agg(x.c ORDER BY x.ord), array_agg(x.p ORDER BY x.ord)
    INTO v_m, v_t, v_i, v_a, v_c, v_p
    FROM (SELECT DISTINCT ON (r.m) r.* FROM ROWS FROM (jsonb_to_recordset(p_events) AS (m text, t text, i text, a text, c text, p text))
            WITH ORDINALITY AS r(m, t, i, a, c, p, ord) ORDER BY r.m, r.ord) x;

  -- Keys past their window go to the new event.
  UPDATE events SET message_key = NULL WHERE message_key = ANY (v_m) AND events.enqueued_at + p_window <= p_now;

  SELECT array_agg(mt.e ORDER BY mt.e, mt.w), array_agg(mt.w ORDER BY mt.e, mt.w), array_agg(mt.s ORDER BY mt.e, mt.w)
    INTO v_match_e, v_match_w, v_match_s FROM (
    SELECT s.e, sub.webhook_id AS w, w.seq AS s FROM unnest(v_t, v_i, v_a) WITH ORDINALITY AS s(t, i, a, e)
      JOIN webhook_subscriptions sub ON sub.event_type = s.t AND sub.scope = 'iTwin' AND sub.scope_id = s.i
      JOIN webhooks w ON w.id = sub.webhook_id AND w.active
    UNION ALL
    SELECT s.e, sub.webhook_id, w.seq FROM unnest(v_t, v_i, v_a) WITH ORDINALITY AS s(t, i, a, e)
      JOIN webhook_subscriptions sub ON sub.event_type = s.t AND sub.scope = 'Account' AND sub.scope_id = s.a
      JOIN webhooks w ON w.id = sub.webhook_id AND w.active
  ) mt;

  WITH counted AS (SELECT e, count(*)::integer AS n FROM unnest(v_match_e) AS e GROUP BY e),
  ins AS (
    INSERT INTO events (message_id, message_key, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
    SELECT s.m, s.m, s.t, s.i, s.a, s.c, p_now, s.p, coalesce(c.n, 0)
      FROM unnest(v_m, v_t, v_i, v_a, v_c, v_p) WITH ORDINALITY AS s(m, t, i, a, c, p, e) LEFT JOIN counted c ON c.e = s.e
     WHERE NOT EXISTS (SELECT 1 FROM pruned_message_ids k WHERE k.message_id = s.m AND k.expires_at > p_now)
     ORDER BY s.m
    ON CONFLICT (message_key) DO NOTHING
    RETURNING seq, events.message_id
  )
  SELECT array_agg(s.e), array_agg(ins.seq) INTO v_new_e, v_new_seq FROM ins JOIN unnest(v_m) WITH ORDINALITY AS s(m, e) ON s.m = ins.message_id;

  -- An insert that waited for a prune of the same messageId (removing its event inside the
  -- window) went through once that committed: it is a duplicate after all.
  IF EXISTS (SELECT 1 FROM pruned_message_ids k WHERE k.message_id = ANY (v_m) AND k.expires_at > p_now) THEN
    WITH raced AS (
      DELETE FROM events ev USING pruned_message_ids k
       WHERE ev.seq = ANY (v_new_seq) AND k.message_id = ev.message_id AND k.expires_at > p_now
      RETURNING ev.seq
    )
    SELECT array_agg(n.e), array_agg(n.seq) INTO v_new_e, v_new_seq FROM unnest(v_new_e, v_new_seq) AS n(e, seq)
     WHERE n.seq NOT IN (SELECT seq FROM raced);
  END IF;

  INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at)
  SELECT mt.w, n.seq, 'pending', 0, p_now, p_now, p_now
    FROM unnest(v_new_e, v_new_seq) AS n(e, seq) JOIN unnest(v_match_e, v_match_w) AS mt(e, w) ON mt.e = n.e
   ORDER BY n.e, mt.w;
  -- The webhooks that got deliveries, in lane order (webhook seq, the order claims serve
  -- lanes in): a fan-out too large for one mark is marked ahead of the claims, never behind.
  SELECT array_agg(t.w ORDER BY t.s) INTO v_touched FROM (
    SELECT DISTINCT mt.w, mt.s FROM unnest(v_new_e) AS n(e) JOIN unnest(v_match_e, v_match_w, v_match_s) AS mt(e, w, s) ON mt.e = n.e
  ) t;

  RETURN QUERY
    SELECT s.m, coalesce(ev.event_type, k.event_type), coalesce(ev.enqueued_at, k.enqueued_at), coalesce(ev.matched, k.matched),
           NOT (s.e = ANY (coalesce(v_new_e, '{}'))),
           CASE WHEN s.e = 1 THEN coalesce(v_touched, '{}') END
      FROM unnest(v_m) WITH ORDINALITY AS s(m, e)
      LEFT JOIN events ev ON ev.message_key = s.m
      LEFT JOIN pruned_message_ids k ON ev.seq IS NULL AND k.message_id = s.m
     ORDER BY s.e;
END $fn$;
`,
};
