import type { Routine } from './routine.ts';

export const repairLanes: Routine = {
  name: 'repair_lanes',
  version: 2,
  sql: `
-- Wakes lanes that are not awake but have a due delivery, and sets the wake-up time of
-- sleeping ones that have an earlier one (after a process died between a commit and its
-- lane mark). One index probe per lane that is not awake. Returns how many it fixed.
CREATE OR REPLACE FUNCTION repair_lanes(p_now bigint) RETURNS integer LANGUAGE sql AS $fn$
  WITH x AS (
    SELECT l.webhook_seq, (SELECT min(d.due_at) FROM deliveries d WHERE d.webhook_id = l.webhook_id AND d.status = 'pending') AS due
      FROM delivery_lanes l WHERE NOT l.awake
  ),
  fixed AS (
    UPDATE delivery_lanes l SET awake = x.due <= p_now, ready_at = CASE WHEN x.due <= p_now THEN p_now ELSE x.due END
      FROM x
     WHERE l.webhook_seq = x.webhook_seq AND NOT l.awake AND x.due IS NOT NULL
       AND (x.due <= p_now OR l.ready_at IS NULL OR l.ready_at > x.due)
    RETURNING 1
  )
  SELECT count(*)::integer FROM fixed;
$fn$;
`,
};
