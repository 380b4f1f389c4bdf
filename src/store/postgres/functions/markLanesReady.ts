import type { Routine } from './routine.ts';

export const markLanesReady: Routine = {
  name: 'mark_lanes_ready',
  version: 4,
  sql: `
-- Wakes the lanes of p_webhooks that are not awake, after the commit that gave them work
-- (publish, redelivery, test event). A lane already awake is not written. Each lane's
-- advisory lock (see lane_lock_key) is taken first, in id order: a claim that holds it may
-- be putting the lane to sleep on a snapshot without this work, and the mark must see the
-- lane after that claim's commit, never before. Its commit does not wait for the WAL flush:
-- a mark lost to a crash is found by repair_lanes, and the NOTIFY its caller sends in the
-- same statement holds the server's one notification lock until the commit is done.
CREATE OR REPLACE FUNCTION lane_lock_key() RETURNS integer LANGUAGE sql STABLE AS $fn$
  SELECT hashtext('itwin_webhooks.lanes:' || current_schema())
$fn$;

-- Generic plans: see lease_due.
CREATE OR REPLACE FUNCTION mark_lanes_ready(p_webhooks text[], p_at bigint) RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  v_lanes bigint[];
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  SELECT array_agg(webhook_seq ORDER BY webhook_seq) INTO v_lanes FROM delivery_lanes WHERE webhook_id = ANY (p_webhooks);
  PERFORM pg_advisory_xact_lock(lane_lock_key(), (s % 2147483647)::integer) FROM unnest(v_lanes) s;
  UPDATE delivery_lanes SET awake = true, ready_at = p_at WHERE webhook_seq = ANY (v_lanes) AND NOT awake;
END $fn$;
`,
};
