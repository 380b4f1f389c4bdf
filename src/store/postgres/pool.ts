import pg from 'pg';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);

/** Is this error a lost or refused connection rather than a problem with the query? */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code !== undefined && CONNECTION_CODES.has(e.code)) return true;
  const m = e?.message ?? '';
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(m);
}

/** bigint columns are Unix-millisecond times and counts: JavaScript numbers hold them exactly. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(url: string, schema: string, size: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${schema}`,
    types,
  });
  // A pooled connection that dies while idle (e.g. the server restarted) emits here; the
  // pool discards it and opens a new one on the next query. Without a listener it would crash.
  pool.on('error', () => {});
  return pool;
}

/**
 * Runs `fn` with a client checked out of the pool. The pool listens for a connection's
 * 'error' only while the client is idle; a connection that dies while checked out (the
 * server restarted mid-transaction) emits it on the client, and with no listener that
 * would crash the process. The statement under way fails on its own; the broken client is
 * discarded on release instead of going back to the pool.
 */
export async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  c.on('error', onError);
  try {
    return await fn(c);
  } catch (err) {
    if (isConnectionError(err)) broken ??= err as Error;
    throw err;
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}

export function createClient(url: string, schema: string): pg.Client {
  return new pg.Client({ connectionString: url, options: `-c search_path=${schema}`, types, connectionTimeoutMillis: 5000 });
}
