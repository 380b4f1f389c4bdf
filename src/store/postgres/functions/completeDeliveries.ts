import type { Routine } from './routine.ts';

export const completeDeliveries: Routine = {
  name: 'complete_deliveries',
  version: 1,
  sql: `
-- Writes attempt results and refills the freed slots. p_results: [{id, w, o, n, st, ms,
-- code, err, body, next}]. Only results whose lease p_worker still holds change state.
-- A worker whose completion committed but whose answer was lost sends it again: the
-- second copy is stale (the lease is gone) and its attempt, already in the history,
-- is not inserted a second time.
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
};
