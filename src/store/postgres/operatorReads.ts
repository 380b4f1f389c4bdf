import type { OperatorReadsRepo } from '../operatorReads.ts';
import { toWebhook, type WebhookRow } from '../rows.ts';
import type { PgDb } from './db.ts';
import * as sql from './sql/operatorReads.ts';

export function operatorReadsRepo(db: PgDb): OperatorReadsRepo {
  return {
    async getAnyWebhook(id) {
      const [row] = await db.rows<WebhookRow>(sql.selectAnyWebhook(id));
      return row === undefined ? undefined : toWebhook(row);
    },
    async listAllWebhooks(owner, limit, after) {
      const rows = await db.rows<WebhookRow>(sql.selectAllWebhooksPage(owner, limit, after));
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      return { items: page.map(toWebhook), nextCursor: more ? page[page.length - 1]!.seq : undefined };
    },
  };
}
