// What a PostgreSQL-backed system costs its database, measured so that it does not depend
// on how busy the shared machine is: rows written (pg_stat_user_tables of its schema) and
// the CPU time of the server backends that serve its connections. Every benchmarked
// process connects with its own application_name (PGAPPNAME, or the library's option), so
// its backends are told apart from everyone else's on this shared server; the server's
// own background processes (WAL writer, checkpointer) are not counted for anyone.
import pg from 'pg';
import { sleep } from './stats.ts';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The part of a benchmarked system that lives in PostgreSQL. */
export interface PgFootprint {
  /** The schema holding all its tables. */
  schema: string;
  /** The application_name of every connection it opens. */
  appName: string;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL, application_name: 'bench-meter' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export function dropPgSchema(schema: string): Promise<void> {
  return withAdmin(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
}

export interface RowWrites {
  total: number;
  /** Per table: inserts + updates + deletes. */
  byTable: Map<string, { ins: number; upd: number; del: number }>;
}

/** Rows inserted, updated and deleted so far in every table of the schema (as the statistics have them). */
export function rowWrites(schema: string): Promise<RowWrites> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ relname: string; ins: string; upd: string; del: string }>(
      'SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del FROM pg_stat_user_tables WHERE schemaname = $1',
      [schema],
    );
    const byTable = new Map(rows.map((r) => [r.relname, { ins: Number(r.ins), upd: Number(r.upd), del: Number(r.del) }]));
    return { total: [...byTable.values()].reduce((a, t) => a + t.ins + t.upd + t.del, 0), byTable };
  });
}

/**
 * The statistics once every backend has reported: a backend sends its counts at most once
 * a second while busy and within about 10 s of going idle, so wait until two readings a
 * few seconds apart agree (bounded).
 */
export async function settledRowWrites(schema: string, maxMs = 30_000): Promise<RowWrites> {
  const end = Date.now() + maxMs;
  let last = await rowWrites(schema);
  for (;;) {
    await sleep(3000);
    const now = await rowWrites(schema);
    if (now.total === last.total || Date.now() > end) return now;
    last = now;
  }
}

/** Writes between two readings, per table, largest first. */
export function writesBetween(a: RowWrites, b: RowWrites): { total: number; tables: Array<{ table: string; ins: number; upd: number; del: number }> } {
  const tables = [...b.byTable].map(([table, t]) => {
    const s = a.byTable.get(table) ?? { ins: 0, upd: 0, del: 0 };
    return { table, ins: t.ins - s.ins, upd: t.upd - s.upd, del: t.del - s.del };
  });
  tables.sort((x, y) => y.ins + y.upd + y.del - (x.ins + x.upd + x.del));
  return { total: b.total - a.total, tables: tables.filter((t) => t.ins + t.upd + t.del > 0) };
}

/** CPU ms used so far by one process, from /proc (0 when it is gone). */
async function processCpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time of the backends serving `appName`, over a window: sampled every 250 ms, so
 * that backends connecting (or leaving) during the window count for what they used in it.
 */
export function backendCpuMeter(appName: string) {
  const client = new pg.Client({ connectionString: PG_URL, application_name: 'bench-meter' });
  const seen = new Map<number, { base: number; last: number }>();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  const sample = async () => {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName]);
    for (const { pid } of rows) {
      const cpu = await processCpuMs(pid);
      const s = seen.get(pid);
      // A backend first seen after the window opened was born in it: all its time counts.
      if (s === undefined) seen.set(pid, { base: started ? 0 : cpu, last: cpu });
      else if (cpu > 0) s.last = cpu;
    }
  };
  return {
    async start(): Promise<void> {
      await client.connect();
      await sample();
      started = true;
      timer = setInterval(() => void sample().catch(() => {}), 250);
    },
    /** CPU ms the backends used since start. */
    async stop(): Promise<number> {
      clearInterval(timer);
      await sample().catch(() => {});
      await client.end();
      return [...seen.values()].reduce((a, s) => a + Math.max(0, s.last - s.base), 0);
    },
  };
}
