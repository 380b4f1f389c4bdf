import type { EventTypeRecord, WebhookRecord } from '../../types.ts';
import type { Query } from '../db.ts';

/** Webhooks, their subscriptions and the event types: each statement with its parameters. */

export const insertWebhook = (w: WebhookRecord): Query => ({
  text: `INSERT INTO webhooks (id, owner_client_id, scope, scope_id, active, callback_url, event_types, secret_sealed, created_at, modified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  values: [w.id, w.ownerClientId, w.scope, w.scopeId, w.active, w.callbackUrl, JSON.stringify(w.eventTypes), w.secretSealed, w.createdAt, w.modifiedAt],
});

/**
 * A transaction lock of one owner's webhooks: two creations of one owner count one after the
 * other. (Its own statement: a count in the same one would read the snapshot from before the wait.)
 */
export const lockOwnerWebhooks = (owner: string): Query => ({ text: "SELECT pg_advisory_xact_lock(hashtext('itwin_webhooks_owner:' || $1))", values: [owner] });

export const countOwnedWebhooks = (owner: string): Query => ({ text: 'SELECT COUNT(*)::int AS n FROM webhooks WHERE owner_client_id = $1', values: [owner] });

export const selectOwnedWebhook = (owner: string, id: string, opts: { forUpdate?: boolean } = {}): Query => ({
  text: `SELECT * FROM webhooks WHERE owner_client_id = $1 AND id = $2${opts.forUpdate === true ? ' FOR UPDATE' : ''}`,
  values: [owner, id],
});

/** One row more than the page, so that the caller knows whether another page follows. */
export const selectWebhookPage = (owner: string, limit: number, after: number | undefined): Query => ({
  text: 'SELECT * FROM webhooks WHERE owner_client_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
  values: [owner, after ?? 0, limit + 1],
});

export const updateWebhook = (w: WebhookRecord): Query => ({
  text: `UPDATE webhooks SET active = $2, callback_url = $3, event_types = $4, secret_sealed = $5, modified_at = $6,
           deactivated_at = $7, deactivation_cause = $8 WHERE id = $1`,
  values: [w.id, w.active, w.callbackUrl, JSON.stringify(w.eventTypes), w.secretSealed, w.modifiedAt, w.deactivation?.at ?? null, w.deactivation?.cause ?? null],
});

export const deleteOwnedWebhook = (owner: string, id: string): Query => ({ text: 'DELETE FROM webhooks WHERE owner_client_id = $1 AND id = $2', values: [owner, id] });

export const deleteSubscriptions = (webhookId: string): Query => ({ text: 'DELETE FROM webhook_subscriptions WHERE webhook_id = $1', values: [webhookId] });

export const insertSubscriptions = (w: Pick<WebhookRecord, 'id' | 'scope' | 'scopeId' | 'eventTypes'>): Query => ({
  text: 'INSERT INTO webhook_subscriptions (event_type, scope, scope_id, webhook_id) SELECT t, $2, $3, $4 FROM unnest($1::text[]) AS t',
  values: [w.eventTypes, w.scope, w.scopeId, w.id],
});

/** Every webhook has its delivery lane from the start (see migration 4). */
export const insertLane = (webhookId: string): Query => ({
  text: 'INSERT INTO delivery_lanes (webhook_seq, webhook_id) SELECT seq, id FROM webhooks WHERE id = $1',
  values: [webhookId],
});

/** A deactivated webhook sends nothing more (see cancel_pending). */
export const cancelPending = (webhookIds: string[], now: number): Query => ({ text: 'SELECT cancel_pending($1::text[], $2)', values: [webhookIds, now] });

/**
 * A deleted webhook's deliveries and their attempts go with it (no foreign key does it:
 * see migration 4). `where` picks the webhooks: by owner and id, or all of an owner's.
 */
export const deleteAttemptsOf = (owner: string, id: string | undefined): Query => ({
  text: `DELETE FROM delivery_attempts WHERE delivery_id IN (
           SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.owner_client_id = $1 AND ($2::text IS NULL OR w.id = $2))`,
  values: [owner, id ?? null],
});

export const deleteDeliveriesOf = (owner: string, id: string | undefined): Query => ({
  text: `DELETE FROM deliveries WHERE webhook_id IN (SELECT w.id FROM webhooks w WHERE w.owner_client_id = $1 AND ($2::text IS NULL OR w.id = $2))`,
  values: [owner, id ?? null],
});

export const selectEventTypes = (): Query => ({ text: 'SELECT * FROM event_types ORDER BY builtin DESC, type' });

export const selectEventTypesIn = (types: string[]): Query => ({ text: 'SELECT * FROM event_types WHERE type = ANY ($1::text[])', values: [types] });

export const insertEventType = (t: EventTypeRecord): Query => ({
  text: `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (type) DO NOTHING RETURNING type`,
  values: [t.type, t.service, t.description, JSON.stringify(t.contentSchema), JSON.stringify(t.example), t.builtin, t.createdAt],
});

export const upsertBuiltinEventTypes = (types: EventTypeRecord[]): Query => ({
  text: `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
         SELECT t ->> 'type', t ->> 'service', t ->> 'description', t ->> 'schema', t ->> 'example', true, (t ->> 'created')::bigint
           FROM jsonb_array_elements($1::jsonb) t
         ON CONFLICT (type) DO UPDATE SET service = EXCLUDED.service, description = EXCLUDED.description,
           content_schema = EXCLUDED.content_schema, example = EXCLUDED.example, builtin = true`,
  values: [
    JSON.stringify(
      types.map((t) => ({ type: t.type, service: t.service, description: t.description, schema: JSON.stringify(t.contentSchema), example: JSON.stringify(t.example), created: t.createdAt })),
    ),
  ],
});
