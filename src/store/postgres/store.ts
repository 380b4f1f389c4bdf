import type pg from 'pg';
import type { StoreConfig } from '../../config/load.ts';
import {
  applyWebhookPatch,
  type ClaimedDelivery,
  type ClientRecord,
  type DeactivationCause,
  type DeliveryDetail,
  type DeliveryStatus,
  type DeliverySummary,
  type EventTypeRecord,
  type NewEvent,
  type PublishedEvent,
  type Store,
  type WebhookRecord,
  type WebhookScope,
} from '../types.ts';
import { migratePostgres } from './migrations.ts';
import { createClient, createPool, isConnectionError, redactUrl, StoreUnavailableError, withClient } from './pool.ts';

type Row = Record<string, unknown>;

interface WebhookRow {
  seq: number;
  id: string;
  owner_client_id: string;
  scope: string;
  scope_id: string;
  active: boolean;
  callback_url: string;
  event_types: string;
  secret_sealed: string;
  created_at: number;
  modified_at: number;
}

const toWebhook = (r: WebhookRow): WebhookRecord => ({
  id: r.id,
  ownerClientId: r.owner_client_id,
  scope: r.scope as WebhookScope,
  scopeId: r.scope_id,
  active: r.active,
  callbackUrl: r.callback_url,
  eventTypes: JSON.parse(r.event_types) as string[],
  secretSealed: r.secret_sealed,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

const toClient = (r: Row): ClientRecord => ({
  clientId: r.client_id as string,
  name: r.name as string,
  accountId: r.account_id as string,
  scopes: (r.scopes as string).split(' ').filter(Boolean),
  secretHash: r.secret_hash as string,
  createdAt: r.created_at as number,
});

const toEventType = (r: Row): EventTypeRecord => ({
  type: r.type as string,
  service: r.service as string,
  description: r.description as string,
  contentSchema: JSON.parse(r.content_schema as string) as Record<string, unknown>,
  example: JSON.parse(r.example as string) as Record<string, unknown>,
  builtin: r.builtin as boolean,
  createdAt: r.created_at as number,
});

const SUMMARY = `d.id, d.webhook_id, e.message_id, e.event_type, d.status, d.attempts, d.created_at, d.updated_at, d.due_at, d.last_status, d.last_error`;

const toSummary = (r: Row): DeliverySummary => ({
  id: String(r.id),
  webhookId: r.webhook_id as string,
  messageId: r.message_id as string,
  eventType: r.event_type as string,
  status: (r.status === 'inflight' ? 'pending' : r.status) as DeliveryStatus,
  attempts: r.attempts as number,
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
  nextAttemptAt: r.status === 'pending' ? (r.due_at as number) : undefined,
  lastStatusCode: (r.last_status as number | null) ?? undefined,
  lastError: (r.last_error as string | null) ?? undefined,
});

const toClaimed = (r: Row): ClaimedDelivery => ({
  id: String(r.id),
  webhookId: r.webhook_id as string,
  attempt: r.attempt as number,
  callbackUrl: r.callback_url as string,
  secretSealed: r.secret_sealed as string,
  messageId: r.message_id as string,
  eventType: r.event_type as string,
  itwinId: (r.itwin_id as string | null) ?? undefined,
  contentJson: r.content as string,
  enqueuedAt: Number(r.enqueued_at),
});

/** Publish transactions running at once per process; requests beyond wait and merge. */
const PARALLEL_PUBLISHES = 4;
/** Largest merged publish (events), so that one transaction stays short. */
const MERGED_EVENTS_MAX = 5000;

const deliveryRowId = (id: string): number | undefined => (/^[1-9]\d{0,15}$/.test(id) ? Number(id) : undefined);

export interface PostgresStore extends Store {
  /** Calls `onDue` whenever some process published or made a delivery due (LISTEN/NOTIFY). */
  subscribeDue(onDue: () => void): () => void;
}

/**
 * The store on PostgreSQL, for several API and worker processes sharing one database.
 * Hot paths (publish, claim, complete) are server-side functions (migrations.ts): one
 * round trip each. A lost connection surfaces as StoreUnavailableError (the API answers
 * 503); the pool reconnects by itself on the next query.
 */
export async function openPostgresStore(
  config: StoreConfig,
  options: { migrate?: boolean; /** Called with the versions this process applied (none when up to date). */ onMigrated?: (versions: number[]) => void } = {},
): Promise<PostgresStore> {
  const url = config.databaseUrl!;
  const schema = config.databaseSchema;
  const pool = createPool(url, schema, config.databasePoolSize);

  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) throw new StoreUnavailableError(`PostgreSQL is not reachable: ${(err as Error).message}`);
      throw err;
    }
  };
  const q = <T = Row>(sql: string, params: unknown[] = []) => guard(async () => (await pool.query(sql, params)).rows as T[]);
  const tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) =>
    guard(() =>
      withClient(pool, async (c) => {
        try {
          await c.query('BEGIN');
          const result = await fn(c);
          await c.query('COMMIT');
          return result;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {});
          throw err;
        }
      }),
    );

  if (options.migrate !== false) {
    try {
      // (Not `onMigrated?.(await migrate…)`: optional call skips evaluating its arguments.)
      const applied = await withClient(pool, (c) => migratePostgres(c, schema));
      options.onMigrated?.(applied);
    } catch (err) {
      await pool.end();
      throw new StoreUnavailableError(`Cannot prepare the PostgreSQL database ${redactUrl(url)}: ${(err as Error).message}`);
    }
  }

  const writeSubscriptions = async (c: pg.PoolClient, w: Pick<WebhookRecord, 'id' | 'scope' | 'scopeId' | 'eventTypes'>) => {
    await c.query('DELETE FROM webhook_subscriptions WHERE webhook_id = $1', [w.id]);
    await c.query(
      'INSERT INTO webhook_subscriptions (event_type, scope, scope_id, webhook_id) SELECT t, $2, $3, $4 FROM unnest($1::text[]) AS t',
      [w.eventTypes, w.scope, w.scopeId, w.id],
    );
  };
  const cancelPending = async (c: pg.PoolClient, webhookId: string, now: number) => {
    await c.query(`UPDATE deliveries SET status = 'cancelled', updated_at = $2 WHERE webhook_id = $1 AND status = 'pending'`, [webhookId, now]);
    await c.query('UPDATE delivery_lanes SET ready_at = NULL WHERE webhook_id = $1', [webhookId]);
  };
  const requeueWhere = (where: string, params: unknown[], now: number, after?: string) =>
    tx(async (c) => {
      const ids = (await c.query<{ id: number }>(`SELECT id FROM deliveries WHERE status = 'inflight' AND ${where}`, params)).rows.map((r) => r.id);
      const n = ids.length === 0 ? 0 : Number((await c.query<{ n: number }>('SELECT requeue_deliveries($1::bigint[], $2) AS n', [ids, now])).rows[0]!.n);
      if (after !== undefined) await c.query(after, params);
      if (n > 0) notifyDue();
      return n;
    });

  // Wake the workers after a commit that made work due: one NOTIFY per few milliseconds at
  // most, outside the publishing transaction (see publish_events). Lost or failed, it is
  // covered by the workers' polling backstop.
  let notifyScheduled = false;
  const notifyDue = () => {
    if (notifyScheduled) return;
    notifyScheduled = true;
    setTimeout(() => {
      notifyScheduled = false;
      pool.query(`SELECT pg_notify('itwin_webhooks_due', '')`).catch(() => {});
    }, 2);
  };

  /**
   * After a publish committed, its lanes become ready and the workers are woken. Outside
   * the publish's transaction (a worker may hold a lane's lock for a moment), and one
   * statement at a time per process: publishes that commit meanwhile share the next one,
   * so a burst of publishes to the same webhooks queues on nothing. Should this fail, the
   * publish is still durable and repairLanes (every worker's reaper) finds the lanes.
   */
  let marks = new Set<string>();
  let markAt = 0;
  let markWaiters: Array<() => void> = [];
  let marking = false;
  const markReady = (webhookIds: string[], now: number): Promise<void> => {
    if (webhookIds.length === 0) return Promise.resolve();
    for (const id of webhookIds) marks.add(id);
    markAt = Math.max(markAt, now);
    const done = new Promise<void>((resolve) => markWaiters.push(resolve));
    if (!marking) void flushMarks();
    return done;
  };
  async function flushMarks(): Promise<void> {
    marking = true;
    while (marks.size > 0) {
      const ids = [...marks].sort();
      const waiters = markWaiters;
      marks = new Set();
      markWaiters = [];
      try {
        await pool.query('SELECT mark_lanes_ready($1::text[], $2)', [ids, markAt]);
        notifyDue();
      } catch {
        // repaired later; see above
      }
      for (const w of waiters) w();
    }
    marking = false;
  }

  /**
   * Publishes share transactions under load: a few run at once, and requests that arrive
   * while they do go together in the next one. One commit (one WAL flush) then stores many
   * small publishes, which is what the database waits on. A lone publish goes at once.
   * Results are matched back in arrival order, so the same messageId in two merged
   * requests is new for the first and a duplicate for the second, as if they ran in turn.
   */
  interface PendingPublish {
    events: NewEvent[];
    now: number;
    windowMs: number;
    resolve(results: PublishedEvent[]): void;
    reject(err: unknown): void;
  }
  const waitingPublishes: PendingPublish[] = [];
  let runningPublishes = 0;
  const startPublishes = () => {
    while (runningPublishes < PARALLEL_PUBLISHES && waitingPublishes.length > 0) {
      const batch: PendingPublish[] = [];
      let size = 0;
      while (waitingPublishes.length > 0 && (batch.length === 0 || size + waitingPublishes[0]!.events.length <= MERGED_EVENTS_MAX)) {
        const next = waitingPublishes.shift()!;
        if (batch.length > 0 && next.windowMs !== batch[0]!.windowMs) {
          waitingPublishes.unshift(next);
          break;
        }
        batch.push(next);
        size += next.events.length;
      }
      runningPublishes++;
      void runPublishes(batch).finally(() => {
        runningPublishes--;
        startPublishes();
      });
    }
  };
  const runPublishes = async (batch: PendingPublish[]) => {
    try {
      const all = batch.flatMap((b) => b.events);
      const now = Math.max(...batch.map((b) => b.now));
      // publish_events repeats the touched webhooks on every row; parsing that array once per
      // event cost the API process a tenth of its time, so only the first row carries it.
      const rows = await q<{ message_id: string; event_type: string; enqueued_at: number; matched: number; duplicate: boolean; touched: string[] | null }>(
        `SELECT p.message_id, p.event_type, p.enqueued_at, p.matched, p.duplicate,
                CASE WHEN row_number() OVER () = 1 THEN p.touched END AS touched
           FROM publish_events($1::jsonb, $2, $3) p`,
        [
          JSON.stringify(all.map((e) => ({ m: e.messageId, t: e.eventType, i: e.itwinId ?? null, a: e.accountId ?? null, c: e.contentJson, p: e.publisherClientId ?? null }))),
          now,
          batch[0]!.windowMs,
        ],
      );
      await markReady(rows[0]?.touched ?? [], now);
      const byId = new Map(rows.map((r) => [r.message_id, r]));
      const seen = new Set<string>();
      for (const b of batch) {
        b.resolve(
          b.events.map((e): PublishedEvent => {
            const r = byId.get(e.messageId)!;
            const duplicate = r.duplicate || seen.has(e.messageId);
            seen.add(e.messageId);
            return { messageId: e.messageId, eventType: r.event_type, enqueuedAt: r.enqueued_at, matchedWebhooks: r.matched, duplicate };
          }),
        );
      }
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  };

  const store: PostgresStore = {
    kind: 'postgres',

    // --- clients and keys
    async createClient(c) {
      await q('INSERT INTO clients (client_id, name, account_id, scopes, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        c.clientId,
        c.name,
        c.accountId,
        c.scopes.join(' '),
        c.secretHash,
        c.createdAt,
      ]);
    },
    async getClient(clientId) {
      const [r] = await q('SELECT * FROM clients WHERE client_id = $1', [clientId]);
      return r && toClient(r);
    },
    async listClients() {
      return (await q('SELECT * FROM clients ORDER BY created_at, client_id')).map(toClient);
    },
    async deleteClient(clientId) {
      return tx(async (c) => {
        const webhooks = (await c.query('DELETE FROM webhooks WHERE owner_client_id = $1', [clientId])).rowCount ?? 0;
        await c.query('DELETE FROM directory_grants WHERE client_id = $1', [clientId]);
        await c.query('DELETE FROM directory_org_admins WHERE client_id = $1', [clientId]);
        const deleted = ((await c.query('DELETE FROM clients WHERE client_id = $1', [clientId])).rowCount ?? 0) > 0;
        return { deleted, webhooks };
      });
    },
    async listSigningKeys() {
      return (await q('SELECT * FROM signing_keys ORDER BY created_at DESC, kid')).map((r) => ({
        kid: r.kid as string,
        alg: r.alg as string,
        publicJwk: JSON.parse(r.public_jwk as string) as Record<string, unknown>,
        privateJwkSealed: r.private_jwk_sealed as string,
        createdAt: r.created_at as number,
      }));
    },
    async insertFirstSigningKey(k) {
      await tx(async (c) => {
        // Processes starting together must agree on one key: the first to lock the table wins.
        await c.query('LOCK TABLE signing_keys IN EXCLUSIVE MODE');
        await c.query(
          'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, created_at) SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)',
          [k.kid, k.alg, JSON.stringify(k.publicJwk), k.privateJwkSealed, k.createdAt],
        );
      });
    },

    // --- directory
    async putItwin(itwinId, accountId, now) {
      await q(
        'INSERT INTO directory_itwins (itwin_id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (itwin_id) DO UPDATE SET account_id = EXCLUDED.account_id',
        [itwinId, accountId, now],
      );
    },
    async removeItwin(itwinId) {
      return tx(async (c) => {
        await c.query('DELETE FROM directory_grants WHERE itwin_id = $1', [itwinId]);
        return ((await c.query('DELETE FROM directory_itwins WHERE itwin_id = $1', [itwinId])).rowCount ?? 0) > 0;
      });
    },
    async listItwins(accountId) {
      return (await q('SELECT * FROM directory_itwins WHERE $1::text IS NULL OR account_id = $1 ORDER BY created_at, itwin_id', [accountId ?? null])).map(
        (r) => ({ itwinId: r.itwin_id as string, accountId: r.account_id as string, createdAt: r.created_at as number }),
      );
    },
    async getItwinAccount(itwinId) {
      return (await q<{ account_id: string }>('SELECT account_id FROM directory_itwins WHERE itwin_id = $1', [itwinId]))[0]?.account_id;
    },
    async getItwinAccounts(itwinIds) {
      const out: Record<string, string> = {};
      for (const r of await q<{ itwin_id: string; account_id: string }>('SELECT itwin_id, account_id FROM directory_itwins WHERE itwin_id = ANY ($1::text[])', [
        itwinIds,
      ])) {
        out[r.itwin_id] = r.account_id;
      }
      return out;
    },
    async grant(clientId, itwinId, permission, now) {
      await q('INSERT INTO directory_grants (client_id, itwin_id, permission, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        clientId,
        itwinId,
        permission,
        now,
      ]);
    },
    async revoke(clientId, itwinId, permission) {
      return (await guard(() => pool.query('DELETE FROM directory_grants WHERE client_id = $1 AND itwin_id = $2 AND permission = $3', [clientId, itwinId, permission])))
        .rowCount! > 0;
    },
    async listGrants(filter) {
      return (
        await q(
          `SELECT * FROM directory_grants WHERE ($1::text IS NULL OR client_id = $1) AND ($2::text IS NULL OR itwin_id = $2)
           ORDER BY created_at, client_id, itwin_id`,
          [filter.clientId ?? null, filter.itwinId ?? null],
        )
      ).map((r) => ({ clientId: r.client_id as string, itwinId: r.itwin_id as string, permission: r.permission as string, createdAt: r.created_at as number }));
    },
    async hasGrant(clientId, itwinId, permission) {
      return (await q('SELECT 1 FROM directory_grants WHERE client_id = $1 AND itwin_id = $2 AND permission = $3', [clientId, itwinId, permission])).length > 0;
    },
    async addOrgAdmin(clientId, accountId, now) {
      await q('INSERT INTO directory_org_admins (client_id, account_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [clientId, accountId, now]);
    },
    async removeOrgAdmin(clientId, accountId) {
      return (await guard(() => pool.query('DELETE FROM directory_org_admins WHERE client_id = $1 AND account_id = $2', [clientId, accountId]))).rowCount! > 0;
    },
    async listOrgAdmins(accountId) {
      return (await q('SELECT * FROM directory_org_admins WHERE $1::text IS NULL OR account_id = $1 ORDER BY created_at, client_id', [accountId ?? null])).map(
        (r) => ({ clientId: r.client_id as string, accountId: r.account_id as string, createdAt: r.created_at as number }),
      );
    },
    async isOrgAdmin(clientId, accountId) {
      return (await q('SELECT 1 FROM directory_org_admins WHERE client_id = $1 AND account_id = $2', [clientId, accountId])).length > 0;
    },

    // --- event types
    async listEventTypes() {
      return (await q('SELECT * FROM event_types ORDER BY builtin DESC, type')).map(toEventType);
    },
    async getEventTypes(types) {
      if (types.length === 0) return [];
      return (await q('SELECT * FROM event_types WHERE type = ANY ($1::text[])', [types])).map(toEventType);
    },
    async insertEventType(t) {
      const rows = await q(
        `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (type) DO NOTHING RETURNING type`,
        [t.type, t.service, t.description, JSON.stringify(t.contentSchema), JSON.stringify(t.example), t.builtin, t.createdAt],
      );
      return rows.length > 0;
    },
    async upsertBuiltinEventTypes(types) {
      await q(
        `INSERT INTO event_types (type, service, description, content_schema, example, builtin, created_at)
         SELECT t ->> 'type', t ->> 'service', t ->> 'description', t ->> 'schema', t ->> 'example', true, (t ->> 'created')::bigint
           FROM jsonb_array_elements($1::jsonb) t
         ON CONFLICT (type) DO UPDATE SET service = EXCLUDED.service, description = EXCLUDED.description,
           content_schema = EXCLUDED.content_schema, example = EXCLUDED.example, builtin = true`,
        [
          JSON.stringify(
            types.map((t) => ({ type: t.type, service: t.service, description: t.description, schema: JSON.stringify(t.contentSchema), example: JSON.stringify(t.example), created: t.createdAt })),
          ),
        ],
      );
    },

    // --- webhooks
    async createWebhook(w) {
      await tx(async (c) => {
        await c.query(
          `INSERT INTO webhooks (id, owner_client_id, scope, scope_id, active, callback_url, event_types, secret_sealed, created_at, modified_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [w.id, w.ownerClientId, w.scope, w.scopeId, w.active, w.callbackUrl, JSON.stringify(w.eventTypes), w.secretSealed, w.createdAt, w.modifiedAt],
        );
        await writeSubscriptions(c, w);
      });
    },
    async getWebhook(owner, id) {
      const [r] = await q<WebhookRow>('SELECT * FROM webhooks WHERE owner_client_id = $1 AND id = $2', [owner, id]);
      return r && toWebhook(r);
    },
    async listWebhooks(owner, limit, after) {
      const rows = await q<WebhookRow>('SELECT * FROM webhooks WHERE owner_client_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [owner, after ?? 0, limit + 1]);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toWebhook), nextCursor: more ? page[page.length - 1]!.seq : undefined };
    },
    async updateWebhook(owner, id, patch, now) {
      return tx(async (c) => {
        const current = (await c.query<WebhookRow>('SELECT * FROM webhooks WHERE owner_client_id = $1 AND id = $2 FOR UPDATE', [owner, id])).rows[0];
        if (current === undefined) return undefined;
        const next = applyWebhookPatch(toWebhook(current), patch, now);
        await c.query('UPDATE webhooks SET active = $2, callback_url = $3, event_types = $4, secret_sealed = $5, modified_at = $6 WHERE id = $1', [
          id,
          next.active,
          next.callbackUrl,
          JSON.stringify(next.eventTypes),
          next.secretSealed,
          now,
        ]);
        if (patch.eventTypes !== undefined) await writeSubscriptions(c, next);
        if (current.active && !next.active) await cancelPending(c, id, now);
        return next;
      });
    },
    async deleteWebhook(owner, id) {
      return (await guard(() => pool.query('DELETE FROM webhooks WHERE owner_client_id = $1 AND id = $2', [owner, id]))).rowCount! > 0;
    },

    // --- events
    publishEvents(events, now, windowMs) {
      return new Promise((resolve, reject) => {
        waitingPublishes.push({ events, now, windowMs, resolve, reject });
        startPublishes();
      });
    },
    async publishTestEvent(event, webhookId, now) {
      return tx(async (c) => {
        const seq = (
          await c.query<{ seq: number }>(
            `INSERT INTO events (message_id, event_type, itwin_id, account_id, content, enqueued_at, publisher_client_id, matched)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1) RETURNING seq`,
            [event.messageId, event.eventType, event.itwinId ?? null, event.accountId ?? null, event.contentJson, now, event.publisherClientId ?? null],
          )
        ).rows[0]!.seq;
        const id = (
          await c.query<{ id: number }>(
            `INSERT INTO deliveries (webhook_id, event_seq, status, attempts, due_at, created_at, updated_at) VALUES ($1, $2, 'pending', 0, $3, $3, $3) RETURNING id`,
            [webhookId, seq, now],
          )
        ).rows[0]!.id;
        await c.query('SELECT mark_lanes_ready($1::text[], $2)', [[webhookId], now]);
        notifyDue();
        return { enqueuedAt: now, deliveryId: String(id) };
      });
    },

    // --- delivery queue
    async heartbeat(workerId, now) {
      await q('INSERT INTO workers (id, started_at, heartbeat_at) VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = $2', [workerId, now]);
    },
    async claimDeliveries({ workerId, now, limit, maxInFlightPerWebhook }) {
      return (await q('SELECT * FROM claim_deliveries($1, $2, $3, $4)', [workerId, now, limit, maxInFlightPerWebhook])).map(toClaimed);
    },
    async completeDeliveries(workerId, results, policy, claim) {
      const payload = results.map((r) => ({
        id: Number(r.deliveryId),
        w: r.webhookId,
        o: r.outcome,
        n: r.attempt,
        st: r.startedAt,
        ms: r.durationMs,
        code: r.statusCode ?? null,
        err: r.error ?? null,
        body: r.responseBody ?? null,
        next: r.nextAttemptAt ?? null,
      }));
      const [row] = await q<{ effects: { stale: number; deactivated: Array<{ webhookId: string; cause: DeactivationCause }>; claimed: Row[] } }>(
        'SELECT complete_deliveries($1, $2::jsonb, $3, $4, $5, $6) AS effects',
        [workerId, JSON.stringify(payload), policy.deactivateFailingAfterMs, claim?.now ?? 0, claim?.limit ?? 0, claim?.maxInFlightPerWebhook ?? 0],
      );
      const effects = row!.effects;
      return { stale: effects.stale, deactivated: effects.deactivated, claimed: effects.claimed.map(toClaimed) };
    },
    async releaseDeliveries(workerId, deliveryIds, now) {
      return requeueWhere('lease_owner = $1 AND id = ANY ($2::bigint[])', [workerId, deliveryIds.map(Number)], now);
    },
    async releaseOrphanedLeases(workerId, heldIds, leasedBefore, now) {
      // A leased delivery's updated_at is the time of its claim (nothing else touches it while leased).
      return requeueWhere('lease_owner = $1 AND updated_at < $2 AND NOT (id = ANY ($3::bigint[]))', [workerId, leasedBefore, heldIds.map(Number)], now);
    },
    async releaseWorker(workerId, now) {
      return requeueWhere('lease_owner = $1', [workerId], now, 'DELETE FROM workers WHERE id = $1');
    },
    async reapExpiredLeases(now, leaseTtlMs) {
      const cutoff = now - leaseTtlMs;
      return requeueWhere('lease_owner NOT IN (SELECT id FROM workers WHERE heartbeat_at >= $1)', [cutoff], now, 'DELETE FROM workers WHERE heartbeat_at < $1');
    },
    async repairLanes(now) {
      return Number((await q<{ n: number }>('SELECT repair_lanes($1) AS n', [now]))[0]!.n);
    },
    async nextReadyAt(cap) {
      return (await q<{ at: number | null }>('SELECT min(ready_at) AS at FROM delivery_lanes WHERE ready_at IS NOT NULL AND inflight < $1', [cap]))[0]?.at ?? undefined;
    },
    async deliveryStats() {
      const [r] = await q<{ pending: number; oldest: number | null }>(
        `SELECT (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'inflight')) AS pending,
                (SELECT min((SELECT min(due_at) FROM deliveries d WHERE d.webhook_id = l.webhook_id AND d.status = 'pending'))
                   FROM delivery_lanes l WHERE l.ready_at IS NOT NULL) AS oldest`,
      );
      return { pending: Number(r!.pending), oldestDueAt: r!.oldest ?? undefined };
    },

    // --- history
    async listDeliveries(webhookId, status, limit, after) {
      const statuses = status === undefined ? null : status === 'pending' ? ['pending', 'inflight'] : [status];
      const rows = await q(
        `SELECT ${SUMMARY} FROM deliveries d JOIN events e ON e.seq = d.event_seq
          WHERE d.webhook_id = $1 AND d.id < $2 AND ($3::text[] IS NULL OR d.status = ANY ($3::text[]))
          ORDER BY d.id DESC LIMIT $4`,
        [webhookId, after ?? Number.MAX_SAFE_INTEGER, statuses, limit + 1],
      );
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toSummary), nextCursor: more ? (page[page.length - 1]!.id as number) : undefined };
    },
    async getDelivery(webhookId, deliveryId) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      const [r] = await q(
        `SELECT ${SUMMARY}, e.itwin_id, e.content, e.enqueued_at FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1 AND d.webhook_id = $2`,
        [id, webhookId],
      );
      if (r === undefined) return undefined;
      const attempts = await q('SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id', [id]);
      const detail: DeliveryDetail = {
        ...toSummary(r),
        itwinId: (r.itwin_id as string | null) ?? undefined,
        contentJson: r.content as string,
        enqueuedAt: r.enqueued_at as number,
        attemptLog: attempts.map((a) => ({
          attempt: a.attempt as number,
          startedAt: a.started_at as number,
          durationMs: a.duration_ms as number,
          statusCode: (a.status_code as number | null) ?? undefined,
          error: (a.error as string | null) ?? undefined,
          responseBody: (a.response_body as string | null) ?? undefined,
        })),
      };
      return detail;
    },
    async redeliver(webhookId, deliveryId, now) {
      const id = deliveryRowId(deliveryId);
      if (id === undefined) return undefined;
      return tx(async (c) => {
        const updated = await c.query(
          `UPDATE deliveries SET status = 'pending', due_at = $3, updated_at = $3 WHERE id = $1 AND webhook_id = $2 AND status <> 'inflight' RETURNING id`,
          [id, webhookId, now],
        );
        if ((updated.rowCount ?? 0) > 0) {
          await c.query('SELECT mark_lanes_ready($1::text[], $2)', [[webhookId], now]);
          notifyDue();
        }
        const [r] = (await c.query(`SELECT ${SUMMARY} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1 AND d.webhook_id = $2`, [id, webhookId])).rows;
        return r === undefined ? undefined : toSummary(r);
      });
    },

    // --- misc
    async getMeta(key) {
      return (await q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))[0]?.value;
    },
    async setMetaIfAbsent(key, value) {
      await q('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      return (await q<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))[0]!.value;
    },
    async ping() {
      await q('SELECT 1');
    },
    async close() {
      for (const stop of listeners) stop();
      await pool.end();
    },

    subscribeDue(onDue) {
      let client: pg.Client | undefined;
      let stopped = false;
      let delay = 100;
      const connect = async () => {
        while (!stopped) {
          const c = createClient(url, schema);
          c.on('error', () => {});
          try {
            await c.connect();
            await c.query('LISTEN itwin_webhooks_due');
            client = c;
            delay = 100;
            c.on('notification', () => onDue());
            // Notifications sent while we were not listening are lost: catch up once.
            onDue();
            await new Promise<void>((resolve) => c.once('end', resolve));
          } catch {
            await c.end().catch(() => {});
          }
          client = undefined;
          if (stopped) return;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      };
      void connect();
      const stop = () => {
        stopped = true;
        void client?.end().catch(() => {});
      };
      listeners.add(stop);
      return () => {
        listeners.delete(stop);
        stop();
      };
    },
  };
  const listeners = new Set<() => void>();
  return store;
}
