import type { KeyPage } from '../../types.ts';

/**
 * The keyset condition and LIMIT of a list in creation order (types.ts, KeyPage), with its
 * parameters numbered from `first`: rows after (created_at, ...keyColumns) = page.after.
 */
export function keyPage(keyColumns: string[], page: KeyPage | undefined, first: number): { where: string; limit: string; values: unknown[] } {
  const limit = `LIMIT $${first}`;
  const values: unknown[] = [page?.limit ?? null];
  if (page?.after === undefined) return { where: 'true', limit, values };
  const columns = ['created_at', ...keyColumns];
  const params = columns.map((_, i) => `$${first + 1 + i}`);
  values.push(Number(page.after[0]), ...columns.slice(1).map((_, i) => page.after![i + 1] ?? ''));
  // (created_at, k1, ...) > ($a, $b, ...): a row comparison, which PostgreSQL answers from the index.
  return { where: `(${columns.join(', ')}) > (${params.join(', ')})`, limit, values };
}
