import type { Routine } from './routine.ts';

export const markLanesReady: Routine = {
  name: 'mark_lanes_ready',
  version: 1,
  sql: `
-- A lane becomes ready at p_at unless it is ready earlier (keeping its round-robin
-- place). Lanes are touched in webhook id order by every writer, so that concurrent
-- transactions take their row locks in the same order and cannot deadlock.
CREATE OR REPLACE FUNCTION mark_lanes_ready(p_webhooks text[], p_at bigint) RETURNS void LANGUAGE sql AS $fn$
  INSERT INTO delivery_lanes AS l (webhook_id, ready_at, inflight)
  SELECT w, p_at, 0 FROM unnest(p_webhooks) AS w ORDER BY w
  ON CONFLICT (webhook_id) DO UPDATE SET ready_at = CASE
    WHEN l.ready_at IS NULL OR l.ready_at > p_at THEN p_at ELSE l.ready_at END;
$fn$;
`,
};
