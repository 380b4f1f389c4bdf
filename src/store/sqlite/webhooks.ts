import { toEventType, toWebhook, type EventTypeRow, type WebhookRow } from '../rows.ts';
import { applyWebhookPatch, type EventTypesRepo, type Sync, type WebhookRecord, type WebhooksRepo } from '../types.ts';
import { ActivationRefusedError } from '../errors.ts';
import { ownerMayManage } from './access.ts';
import type { SqliteDb } from './db.ts';
import { cancelPending } from './lanes.ts';
import type { LeaseTable } from './leases.ts';

const SELECT_OWNED = 'SELECT * FROM webhooks WHERE owner_client_id = $owner AND id = $id';

export function webhooksRepo(db: SqliteDb, leases: LeaseTable): Sync<WebhooksRepo & EventTypesRepo> {
  const writeSubscriptions = (w: Pick<WebhookRecord, 'id' | 'scope' | 'scopeId' | 'eventTypes'>) => {
    db.run('DELETE FROM webhook_subscriptions WHERE webhook_id = $id', { id: w.id });
    for (const type of w.eventTypes) {
      db.run('INSERT INTO webhook_subscriptions (event_type, scope, scope_id, webhook_id) VALUES ($t, $s, $sid, $id)', {
        t: type,
        s: w.scope,
        sid: w.scopeId,
        id: w.id,
      });
    }
  };

  return {
    createWebhook(w, opts = {}) {
      return db.tx(() => {
        if (opts.ownerMustExist === true && db.get('SELECT 1 FROM clients WHERE client_id = $c', { c: w.ownerClientId }) === undefined) return 'ownerMissing';
        if (opts.maxPerOwner !== undefined && db.get<{ n: number }>('SELECT COUNT(*) AS n FROM webhooks WHERE owner_client_id = $o', { o: w.ownerClientId })!.n >= opts.maxPerOwner) {
          return 'limitReached';
        }
        db.run(
          `INSERT INTO webhooks (id, owner_client_id, scope, scope_id, active, callback_url, event_types, secret_sealed, created_at, modified_at)
           VALUES ($id, $owner, $scope, $scopeId, $active, $url, $types, $secret, $created, $modified)`,
          {
            id: w.id,
            owner: w.ownerClientId,
            scope: w.scope,
            scopeId: w.scopeId,
            active: w.active ? 1 : 0,
            url: w.callbackUrl,
            types: JSON.stringify(w.eventTypes),
            secret: w.secretSealed,
            created: w.createdAt,
            modified: w.modifiedAt,
          },
        );
        writeSubscriptions(w);
        return 'created';
      });
    },

    getWebhook(owner, id) {
      const r = db.get<WebhookRow>(SELECT_OWNED, { owner, id });
      return r && toWebhook(r);
    },

    listWebhooks(owner, limit, after) {
      // One extra row tells whether a next page exists without a count query.
      const rows = db.all<WebhookRow>(
        'SELECT * FROM webhooks WHERE owner_client_id = $owner AND seq > $after ORDER BY seq LIMIT CAST($limit AS INTEGER)',
        { owner, after: after ?? 0, limit: limit + 1 },
      );
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toWebhook), nextCursor: more ? page[page.length - 1]!.seq : undefined };
    },

    updateWebhook(owner, id, patch, now) {
      return db.tx(() => {
        const current = db.get<WebhookRow>(SELECT_OWNED, { owner, id });
        if (current === undefined) return undefined;
        const next = applyWebhookPatch(toWebhook(current), patch, now);
        if (next.active && current.active === 0 && next.scope === 'iTwin' && db.get(`SELECT 1 FROM webhooks w WHERE w.id = $id AND ${ownerMayManage('w')}`, { id }) === undefined) {
          throw new ActivationRefusedError(`The owner of webhook ${id} may not manage iTwin ${next.scopeId}.`);
        }
        db.run(
          `UPDATE webhooks SET active = $active, callback_url = $url, event_types = $types, secret_sealed = $secret, modified_at = $modified,
             deactivated_at = $deactivatedAt, deactivation_cause = $cause
           WHERE id = $id`,
          {
            id,
            active: next.active ? 1 : 0,
            url: next.callbackUrl,
            types: JSON.stringify(next.eventTypes),
            secret: next.secretSealed,
            modified: now,
            deactivatedAt: next.deactivation?.at ?? null,
            cause: next.deactivation?.cause ?? null,
          },
        );
        if (patch.eventTypes !== undefined) writeSubscriptions(next);
        if (current.active === 1 && !next.active) cancelPending(db, leases, id, now);
        return next;
      });
    },

    deleteWebhook(owner, id) {
      return db.run('DELETE FROM webhooks WHERE owner_client_id = $owner AND id = $id', { owner, id }).changes > 0;
    },

    listEventTypes() {
      return db.all<EventTypeRow>('SELECT * FROM event_types ORDER BY builtin DESC, type').map(toEventType);
    },

    getEventTypes(types) {
      if (types.length === 0) return [];
      const rows = db.all<EventTypeRow>('SELECT * FROM event_types WHERE type IN (SELECT value FROM json_each($types))', {
        types: JSON.stringify(types),
      });
      return rows.map(toEventType);
    },

    insertEventType(t) {
      const r = db.run(
        `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
         VALUES ($type, $service, $description, $schema, $example, $builtin, $created) ON CONFLICT (type) DO NOTHING`,
        {
          type: t.type,
          service: t.service,
          description: t.description,
          schema: JSON.stringify(t.contentSchema),
          example: JSON.stringify(t.example),
          builtin: t.builtin ? 1 : 0,
          created: t.createdAt,
        },
      );
      return r.changes > 0;
    },

    upsertBuiltinEventTypes(types) {
      db.tx(() => {
        for (const t of types) {
          db.run(
            `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
             VALUES ($type, $service, $description, $schema, $example, 1, $created)
             ON CONFLICT (type) DO UPDATE SET service = excluded.service, description = excluded.description,
               content_schema = excluded.content_schema, example = excluded.example, builtin = 1`,
            {
              type: t.type,
              service: t.service,
              description: t.description,
              schema: JSON.stringify(t.contentSchema),
              example: JSON.stringify(t.example),
              created: t.createdAt,
            },
          );
        }
      });
    },
  };
}
