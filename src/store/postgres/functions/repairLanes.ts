import type { Routine } from './routine.ts';

export const repairLanes: Routine = {
  name: 'repair_lanes',
  version: 1,
  sql: `
-- Makes idle lanes with pending deliveries ready again (after a process died between a
-- publish's commit and its lane update). Cheap: one index probe per idle lane.
CREATE OR REPLACE FUNCTION repair_lanes(p_now bigint) RETURNS integer LANGUAGE sql AS $fn$
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
`,
};
