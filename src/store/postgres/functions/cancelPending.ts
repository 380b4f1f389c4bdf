import type { Routine } from './routine.ts';

export const cancelPending: Routine = {
  name: 'cancel_pending',
  version: 1,
  sql: `
-- A webhook that stops being active sends nothing more: its pending deliveries are
-- cancelled (those being sent right now are left to their results, which cancel a retry)
-- and its lane goes idle.
CREATE OR REPLACE FUNCTION cancel_pending(p_webhooks text[], p_now bigint) RETURNS void LANGUAGE sql AS $fn$
  UPDATE deliveries SET status = 'cancelled', updated_at = p_now
   WHERE webhook_id = ANY (p_webhooks) AND status = 'pending'
     AND NOT (id = ANY (SELECT unnest(leased) FROM workers));
  UPDATE delivery_lanes SET awake = false, ready_at = NULL WHERE webhook_id = ANY (p_webhooks) AND (awake OR ready_at IS NOT NULL);
$fn$;
`,
};
