import type { Routine } from './routine.ts';

export const requeueDeliveries: Routine = {
  name: 'requeue_deliveries',
  version: 1,
  sql: `
-- Puts leased deliveries back in the queue, due now, and frees their lane slots.
CREATE OR REPLACE FUNCTION requeue_deliveries(p_ids bigint[], p_now bigint) RETURNS integer LANGUAGE plpgsql AS $fn$
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
};
