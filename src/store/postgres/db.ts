import type pg from 'pg';
import { StoreUnavailableError } from '../errors.ts';
import { createPool, isConnectionError, withClient } from './pool.ts';

/** One statement with its parameters (pg's QueryConfig): what every function of sql/ returns. */
export interface Query {
  /**
   * Given to the hot paths' statements: each connection prepares a named statement once
   * and runs it from then on without parsing and planning it again (4 % of the server's CPU
   * per delivery at 1,000 single-event publishes a second). A pooler between this process
   * and the server must keep named statements per server connection (PgBouncer 1.21 and
   * later with max_prepared_statements set), as graphile-worker's do.
   */
  name?: string;
  text: string;
  values?: unknown[];
}

export interface Queryable {
  rows<T = Record<string, unknown>>(query: Query): Promise<T[]>;
  /** How many rows the statement changed. */
  count(query: Query): Promise<number>;
}

/** The pool with the store's error mapping: a lost or refused connection is StoreUnavailableError (the API answers 503). */
export interface PgDb extends Queryable {
  readonly url: string;
  readonly schema: string;
  readonly pool: pg.Pool;
  /** Runs `fn` in one transaction on one connection; a throw rolls it back. */
  tx<T>(fn: (t: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A deadlock (40P01) or a serialization failure (40001): the server rolled the statement or
 * transaction back whole, so running it again from the start is safe. Two transactions
 * that lock the same rows in different orders deadlock (a webhook deleted while a worker
 * writes results for its deliveries, both taking the same delivery rows): the one the
 * server picks is run again instead of failing its request.
 */
const RETRYABLE = new Set(['40P01', '40001']);
/** Runs of one call at most, the first included. */
const RUNS_ON_CONFLICT = 4;

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) throw new StoreUnavailableError(`PostgreSQL is not reachable: ${(err as Error).message}`);
      if (run >= RUNS_ON_CONFLICT || !RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
      // A few milliseconds, at random: the other transaction finishes meanwhile.
      await new Promise((r) => setTimeout(r, Math.random() * 10 * run));
    }
  }
}

const on = (c: pg.Pool | pg.PoolClient): Queryable => ({
  async rows<T>(query: Query) {
    return (await c.query(query)).rows as T[];
  },
  async count(query: Query) {
    return (await c.query(query)).rowCount ?? 0;
  },
});

export function openPgDb(url: string, schema: string, poolSize: number): PgDb {
  const pool = createPool(url, schema, poolSize);
  const direct = on(pool);
  return {
    url,
    schema,
    pool,
    rows: (query) => guard(() => direct.rows(query)),
    count: (query) => guard(() => direct.count(query)),
    tx: (fn) =>
      guard(() =>
        withClient(pool, async (c) => {
          try {
            await c.query('BEGIN');
            const result = await fn(on(c));
            await c.query('COMMIT');
            return result;
          } catch (err) {
            await c.query('ROLLBACK').catch(() => {});
            throw err;
          }
        }),
      ),
    close: () => pool.end(),
  };
}
