import type { Routine } from './routine.ts';

export const publishEvents: Routine = {
  name: 'publish_events',
  version: 1,
  sql: `
-- Publishes a batch: idempotency keys, events, fan-out and lanes in one call. (Workers
-- are woken by a NOTIFY sent after the commit, coalesced across publishes: a NOTIFY
-- inside the transaction would serialise every publishing commit on one lock.)
-- p_events: [{m, t, i, a, c, p}] (messageId, type, iTwinId, accountId, content, publisher)
-- Returns one row per distinct messageId: its (first) result, whether it was a duplicate,
-- and (on every row) the webhooks that got deliveries. Their lanes are marked ready by
-- the caller after the commit (mark_lanes_ready): a lane's row lock can be held by a
-- worker for a while, and the publish must not wait for it. Should the process die in
-- between, repair_lanes finds the lane.
CREATE OR REPLACE FUNCTION publish_events(p_events jsonb, p_now bigint, p_window bigint)
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
`,
};
