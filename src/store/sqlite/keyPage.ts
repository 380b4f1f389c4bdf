import type { KeyPage } from '../types.ts';

/**
 * The keyset condition of a list in creation order (types.ts, KeyPage): rows after the one
 * at ($k0 = created_at, $k1.. = the key columns). With no `after`, every row qualifies.
 */
export function afterKey(keyColumns: string[]): string {
  // (created_at, k1, k2, ...) > ($k0, $k1, ...) written out, so that each step can use the index.
  const columns = ['created_at', ...keyColumns];
  const terms = columns.map((_, i) =>
    [...columns.slice(0, i).map((c, j) => `${c} = $k${j}`), `${columns[i]} > $k${i}`].join(' AND '),
  );
  return `($k0 IS NULL OR (${terms.map((t) => `(${t})`).join(' OR ')}))`;
}

/** The parameters of afterKey and LIMIT: $k0.. (numbers for created_at) and $limit (-1: no limit). */
export function pageLimit(page: KeyPage | undefined, keys = 4): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = { limit: page?.limit ?? -1 };
  for (let i = 0; i < keys; i++) {
    const v = page?.after?.[i];
    out[`k${i}`] = v === undefined ? null : i === 0 ? Number(v) : v;
  }
  return out;
}
