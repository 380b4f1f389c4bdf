import { toEventType, toWebhook, type EventTypeRow, type WebhookRow } from '../rows.ts';
import { applyWebhookPatch, type EventTypesRepo, type WebhookRecord, type WebhooksRepo } from '../types.ts';
import { ActivationRefusedError } from '../errors.ts';
import type { PgDb, Queryable } from './db.ts';
import * as access from './sql/access.ts';
import * as identity from './sql/identity.ts';
import * as sql from './sql/webhooks.ts';

const writeSubscriptions = async (t: Queryable, w: Pick<WebhookRecord, 'id' | 'scope' | 'scopeId' | 'eventTypes'>) => {
  await t.count(sql.deleteSubscriptions(w.id));
  await t.count(sql.insertSubscriptions(w));
};

export function webhooksRepo(db: PgDb): WebhooksRepo & EventTypesRepo {
  return {
    createWebhook(w, opts = {}) {
      return db.tx(async (t) => {
        // Held until the commit: deleting the client waits, then deletes this webhook too.
        if (opts.ownerMustExist === true && (await t.rows(identity.lockClient(w.ownerClientId))).length === 0) return 'ownerMissing';
        if (opts.maxPerOwner !== undefined) {
          await t.rows(sql.lockOwnerWebhooks(w.ownerClientId));
          const [{ n }] = (await t.rows<{ n: number }>(sql.countOwnedWebhooks(w.ownerClientId))) as [{ n: number }];
          if (n >= opts.maxPerOwner) return 'limitReached';
        }
        await t.count(sql.insertWebhook(w));
        await t.count(sql.insertLane(w.id));
        await writeSubscriptions(t, w);
        return 'created' as const;
      });
    },
    async getWebhook(owner, id) {
      const [r] = await db.rows<WebhookRow>(sql.selectOwnedWebhook(owner, id));
      return r && toWebhook(r);
    },
    async listWebhooks(owner, limit, after) {
      const rows = await db.rows<WebhookRow>(sql.selectWebhookPage(owner, limit, after));
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toWebhook), nextCursor: more ? page[page.length - 1]!.seq : undefined };
    },
    updateWebhook(owner, id, patch, now) {
      return db.tx(async (t) => {
        // Activating: the rows that give the right are locked first (directory rows before
        // webhook rows, as a revocation takes them), so that a revocation waits for this
        // transaction and then deactivates what it activated.
        const permitted = patch.active === true && ((await t.rows(access.lockOwnerGrant(id))).length > 0 || (await t.rows(access.lockOwnerOrgAdmin(id))).length > 0);
        const [current] = await t.rows<WebhookRow>(sql.selectOwnedWebhook(owner, id, { forUpdate: true }));
        if (current === undefined) return undefined;
        const next = applyWebhookPatch(toWebhook(current), patch, now);
        if (next.active && current.active !== true && next.scope === 'iTwin' && !permitted) {
          throw new ActivationRefusedError(`The owner of webhook ${id} may not manage iTwin ${next.scopeId}.`);
        }
        await t.count(sql.updateWebhook(next));
        if (patch.eventTypes !== undefined) await writeSubscriptions(t, next);
        if (current.active === true && !next.active) await t.rows(sql.cancelPending([id], now));
        return next;
      });
    },
    deleteWebhook(owner, id) {
      return db.tx(async (t) => {
        await t.count(sql.deleteAttemptsOf(owner, id));
        await t.count(sql.deleteDeliveriesOf(owner, id));
        return (await t.count(sql.deleteOwnedWebhook(owner, id))) > 0;
      });
    },

    async listEventTypes() {
      return (await db.rows<EventTypeRow>(sql.selectEventTypes())).map(toEventType);
    },
    async getEventTypes(types) {
      if (types.length === 0) return [];
      return (await db.rows<EventTypeRow>(sql.selectEventTypesIn(types))).map(toEventType);
    },
    async insertEventType(t) {
      return (await db.rows(sql.insertEventType(t))).length > 0;
    },
    async upsertBuiltinEventTypes(types) {
      await db.count(sql.upsertBuiltinEventTypes(types));
    },
  };
}
