import type { Routine } from './routine.ts';

export const claimDeliveries: Routine = {
  name: 'claim_deliveries',
  version: 4,
  sql: `
DROP FUNCTION IF EXISTS claim_deliveries(text, bigint, integer, integer);
-- Leases up to p_limit due deliveries to p_worker, never more than p_cap per webhook nor
-- p_app_cap per application across all workers (see lease_due). PL/pgSQL, not SQL: a SQL
-- function's statement is planned again at every call (35 µs of the server's CPU per claim
-- here), a PL/pgSQL one's once per session.
CREATE OR REPLACE FUNCTION claim_deliveries(p_worker text, p_now bigint, p_limit integer, p_cap integer, p_app_cap integer)
RETURNS TABLE (id bigint, webhook_id text, owner_client_id text, attempt integer, callback_url text, secret_sealed text,
               message_id text, event_type text, itwin_id text, content text, enqueued_at bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN QUERY SELECT * FROM lease_due(p_worker, p_now, p_limit, p_cap, p_app_cap, '{}');
END $fn$;
`,
};
