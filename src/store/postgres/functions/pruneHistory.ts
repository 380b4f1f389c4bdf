import type { Routine } from './routine.ts';

export const pruneHistory: Routine = {
  name: 'prune_history',
  version: 1,
  sql: `
-- One batch of retention (see ../../retention.ts). Two passes go round the history in key
-- order, each from its cursor (p_deliveries_after, p_events_after) over at most p_limit
-- rows, so that no call reads more than that and nothing needs an index of its own:
--   deliveries, by id: the finished ones last changed before p_before go, with their
--   attempts; the pass ends at the first delivery created at p_before or later (none after
--   it can be old enough) and starts again from the beginning, where the ones kept (still
--   pending, or changed since) are looked at again;
--   events, by seq: those enqueued before p_before that no delivery refers to go; one
--   whose messageId window is still open is remembered in pruned_message_ids.
-- Remembered messageIds whose window has ended go too. One process prunes at a time (the
-- others find the lock taken and do nothing). Returns what went and the next cursors (0:
-- the pass starts again from the beginning).
CREATE OR REPLACE FUNCTION prune_history(p_before bigint, p_now bigint, p_window bigint, p_limit integer,
                                         p_deliveries_after bigint, p_events_after bigint)
RETURNS TABLE (deliveries integer, attempts integer, events integer, message_ids integer,
               deliveries_after bigint, events_after bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_variable
DECLARE
  v_ids bigint[];
  v_next_d bigint;
  v_next_e bigint;
  v_deliveries integer := 0;
  v_attempts integer := 0;
  v_events integer := 0;
  v_keys integer := 0;
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('itwin_webhooks.prune:' || current_schema())) THEN
    RETURN QUERY SELECT 0, 0, 0, 0, p_deliveries_after, p_events_after;
    RETURN;
  END IF;
  -- A batch lost to a crash is pruned again by the next one.
  PERFORM set_config('synchronous_commit', 'off', true);

  WITH batch AS (
    SELECT d.id, d.status, d.updated_at, d.created_at FROM deliveries d WHERE d.id > p_deliveries_after ORDER BY d.id LIMIT p_limit
  ), s AS (SELECT count(*) AS n, max(b.id) AS last, min(b.id) FILTER (WHERE b.created_at >= p_before) AS f FROM batch b)
  SELECT (SELECT array_agg(b.id) FROM batch b WHERE b.status <> 'pending' AND b.updated_at < p_before AND (s.f IS NULL OR b.id < s.f)),
         CASE WHEN s.n < p_limit OR s.f IS NOT NULL THEN 0 ELSE s.last END
    INTO v_ids, v_next_d FROM s;

  IF v_ids IS NOT NULL THEN
    -- Checked again on the row: a redelivery may have made it pending since the batch was read.
    WITH gone AS (
      DELETE FROM deliveries d WHERE d.id = ANY (v_ids) AND d.status <> 'pending' AND d.updated_at < p_before RETURNING d.id, d.attempts
    ), a AS (
      DELETE FROM delivery_attempts x WHERE x.delivery_id IN (SELECT gone.id FROM gone) RETURNING 1
    )
    -- Attempts: all those of the deliveries removed (the latest lives on the delivery row).
    SELECT (SELECT count(*) FROM gone), (SELECT coalesce(sum(gone.attempts), 0) FROM gone) INTO v_deliveries, v_attempts;
  END IF;

  WITH batch AS (
    SELECT e.seq, e.enqueued_at FROM events e WHERE e.seq > p_events_after ORDER BY e.seq LIMIT p_limit
  ), stats AS (SELECT count(*) AS n, max(b.seq) AS last, min(b.seq) FILTER (WHERE b.enqueued_at >= p_before) AS f FROM batch b),
  gone AS (
    DELETE FROM events e USING batch b, stats s
     WHERE e.seq = b.seq AND b.enqueued_at < p_before AND (s.f IS NULL OR b.seq < s.f)
       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)
    RETURNING e.message_key, e.event_type, e.enqueued_at, e.matched
  ), kept AS (
    INSERT INTO pruned_message_ids (message_id, event_type, enqueued_at, matched, expires_at)
    SELECT g.message_key, g.event_type, g.enqueued_at, g.matched, g.enqueued_at + p_window FROM gone g
     WHERE g.message_key IS NOT NULL AND g.enqueued_at + p_window > p_now
    ON CONFLICT (message_id) DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone), CASE WHEN s.n < p_limit OR s.f IS NOT NULL THEN 0 ELSE s.last END
    INTO v_events, v_next_e FROM stats s;

  WITH expired AS (
    DELETE FROM pruned_message_ids k WHERE k.message_id IN (
      SELECT k2.message_id FROM pruned_message_ids k2 WHERE k2.expires_at <= p_now ORDER BY k2.expires_at LIMIT p_limit)
    RETURNING 1
  )
  SELECT count(*) INTO v_keys FROM expired;

  RETURN QUERY SELECT v_deliveries, v_attempts, v_events, v_keys, coalesce(v_next_d, 0), coalesce(v_next_e, 0);
END $fn$;
`,
};
