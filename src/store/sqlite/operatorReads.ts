import type { OperatorReadsRepo } from '../operatorReads.ts';
import { toWebhook, type WebhookRow } from '../rows.ts';
import type { Sync } from '../types.ts';
import type { SqliteDb } from './db.ts';

export function operatorReadsRepo(db: SqliteDb): Sync<OperatorReadsRepo> {
  return {
    getAnyWebhook(id) {
      const row = db.get<WebhookRow>('SELECT * FROM webhooks WHERE id = $id', { id });
      return row === undefined ? undefined : toWebhook(row);
    },
    listAllWebhooks(owner, limit, after) {
      const rows = db.all<WebhookRow>(
        'SELECT * FROM webhooks WHERE ($owner IS NULL OR owner_client_id = $owner) AND seq > $after ORDER BY seq LIMIT CAST($limit AS INTEGER)',
        { owner: owner ?? null, after: after ?? 0, limit: limit + 1 },
      );
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toWebhook), nextCursor: more ? page[page.length - 1]!.seq : undefined };
    },
  };
}
