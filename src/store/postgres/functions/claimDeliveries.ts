import type { Routine } from './routine.ts';

export const claimDeliveries: Routine = {
  name: 'claim_deliveries',
  version: 1,
  sql: `
-- Leases up to p_limit due deliveries to p_worker, lane by lane in round-robin order,
-- never more than p_cap leased per webhook across all workers. Lanes are locked with
-- SKIP LOCKED: two workers never wait on each other, and never serve one lane at once.
CREATE OR REPLACE FUNCTION claim_deliveries(p_worker text, p_now bigint, p_limit integer, p_cap integer)
RETURNS TABLE (id bigint, webhook_id text, attempt integer, callback_url text, secret_sealed text,
               message_id text, event_type text, itwin_id text, content text, enqueued_at bigint)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  lane record;
  v_taken integer := 0;
  v_n integer;
BEGIN
  -- Queue bookkeeping commits without waiting for the WAL flush: losing it to a crash
  -- only makes deliveries be sent again (at least once), never loses one.
  PERFORM set_config('synchronous_commit', 'off', true);
  FOR lane IN
    SELECT l.webhook_id AS w, l.inflight AS inflight FROM delivery_lanes l
     WHERE l.ready_at <= p_now AND l.inflight < p_cap
     ORDER BY l.ready_at, l.turn LIMIT p_limit
     FOR UPDATE SKIP LOCKED
  LOOP
    EXIT WHEN v_taken >= p_limit;
    RETURN QUERY
      WITH picked AS (
        SELECT d.id FROM deliveries d
         WHERE d.webhook_id = lane.w AND d.status = 'pending' AND d.due_at <= p_now
         ORDER BY d.due_at LIMIT least(p_cap - lane.inflight, p_limit - v_taken)
         FOR UPDATE SKIP LOCKED
      ),
      leased AS (
        UPDATE deliveries d SET status = 'inflight', lease_owner = p_worker, updated_at = p_now
          FROM picked WHERE d.id = picked.id
        RETURNING d.id, d.attempts, d.event_seq
      )
      SELECT l.id, lane.w, l.attempts + 1, w.callback_url, w.secret_sealed, e.message_id, e.event_type, e.itwin_id, e.content, e.enqueued_at
        FROM leased l JOIN events e ON e.seq = l.event_seq JOIN webhooks w ON w.id = lane.w;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_taken := v_taken + v_n;
    UPDATE delivery_lanes l SET inflight = l.inflight + v_n, turn = nextval('delivery_lane_turns'),
           ready_at = (SELECT CASE WHEN min(d.due_at) IS NULL THEN NULL ELSE greatest(min(d.due_at), p_now) END
                         FROM deliveries d WHERE d.webhook_id = lane.w AND d.status = 'pending')
     WHERE l.webhook_id = lane.w;
  END LOOP;
END $fn$;
`,
};
