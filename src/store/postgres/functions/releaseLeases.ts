import type { Routine } from './routine.ts';

export const releaseLeases: Routine = {
  name: 'release_leases',
  version: 1,
  sql: `
-- Returns leased deliveries of p_worker to the queue, due now: those in p_ids, or (p_ids
-- NULL) those leased before p_before that are not in p_held, or (both NULL) all of them;
-- with p_forget the worker's row goes too. A delivery of a webhook that is no longer active
-- is cancelled instead. Their lanes are woken (a lane deactivated and activated again while
-- they were leased went idle). Returns how many it returned.
CREATE OR REPLACE FUNCTION release_leases(p_worker text, p_ids bigint[], p_held bigint[], p_before bigint, p_now bigint, p_forget boolean)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  v_back bigint[];
  v_lanes text[];
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT coalesce(array_agg(u.d), '{}') INTO v_back
    FROM workers w, unnest(w.leased, w.leased_at) AS u(d, t)
   WHERE w.id = p_worker
     AND CASE WHEN p_ids IS NOT NULL THEN u.d = ANY (p_ids)
              WHEN p_before IS NOT NULL THEN u.t < p_before AND NOT (u.d = ANY (coalesce(p_held, '{}')))
              ELSE true END;
  IF p_forget THEN
    DELETE FROM workers WHERE id = p_worker;
  ELSIF cardinality(v_back) > 0 THEN
    UPDATE workers w SET
      leased = (SELECT coalesce(array_agg(u.d ORDER BY u.o), '{}') FROM unnest(w.leased) WITH ORDINALITY AS u(d, o) WHERE NOT (u.d = ANY (v_back))),
      leased_lanes = (SELECT coalesce(array_agg(u.l ORDER BY u.o), '{}') FROM unnest(w.leased, w.leased_lanes) WITH ORDINALITY AS u(d, l, o) WHERE NOT (u.d = ANY (v_back))),
      leased_at = (SELECT coalesce(array_agg(u.t ORDER BY u.o), '{}') FROM unnest(w.leased, w.leased_at) WITH ORDINALITY AS u(d, t, o) WHERE NOT (u.d = ANY (v_back)))
     WHERE w.id = p_worker;
  END IF;
  WITH back AS (
    UPDATE deliveries d SET due_at = p_now, updated_at = p_now,
           status = CASE WHEN (SELECT wh.active FROM webhooks wh WHERE wh.id = d.webhook_id) THEN 'pending' ELSE 'cancelled' END
     WHERE d.id = ANY (v_back) AND d.status = 'pending'
    RETURNING d.webhook_id, d.status
  )
  SELECT array_agg(DISTINCT webhook_id) FILTER (WHERE status = 'pending') INTO v_lanes FROM back;
  IF v_lanes IS NOT NULL THEN PERFORM mark_lanes_ready(v_lanes, p_now); END IF;
  RETURN cardinality(v_back);
END $fn$;
`,
};
