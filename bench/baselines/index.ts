// The baselines as benchmarked systems (bench/lib/system.ts): each is one child process
// (publish endpoint and workers, like `itwin-webhooks serve` with role all) started on a
// fresh BullMQ queue / pg-boss or graphile-worker schema, driven over its small HTTP API, and cleaned up after.
// What a team would build instead of itwin-webhooks; not part of the product.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { backendCpuMeter, dropPgSchema, PG_URL, type PgFootprint } from '../lib/pgStats.ts';
import { pidsNamed, processCpuMeter, ROOT } from '../lib/procs.ts';
import type { BenchEvent, SystemFactory, SystemInstance } from '../lib/system.ts';

/** Deliveries in flight per baseline process. */
export const BASELINE_CONCURRENCY = 128;
const SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SUBSCRIBE_CHUNK = 1000;

interface Child {
  child: ChildProcess;
  url: string;
}

async function spawnServer(name: string, script: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, [`${ROOT}bench/baselines/${script}`], {
    env: { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ''}`, CONCURRENCY: String(BASELINE_CONCURRENCY), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(c));
  let out = '';
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^listening (\d+)$/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening`));
    });
  });
  let port: number;
  try {
    port = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  child.stdout!.resume();
  return { child, url: `http://127.0.0.1:${port}` };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function terminate(child: ChildProcess, graceMs = 60_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function instance(name: string, server: Child, database: 'redis-server' | PgFootprint, receiverUrl: (path: string) => string, cleanup: () => Promise<void>): SystemInstance {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  let next = 0;
  const call = async (method: 'POST' | 'DELETE', path: string, body: unknown, expected: number) => {
    const res = await request(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: agent,
    });
    const text = await res.body.text();
    if (res.statusCode !== expected) throw new Error(`${name} ${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`);
  };
  return {
    name,
    pids: () => [server.child.pid!],
    databaseCpu: () => (database === 'redis-server' ? processCpuMeter(() => pidsNamed(database)) : backendCpuMeter(database.appName)),
    postgres: database === 'redis-server' ? undefined : database,
    async subscribe(count, options = {}) {
      const routes: string[] = [];
      let chunk: Array<{ id: string; route: string; url: string; secret: string }> = [];
      for (let n = 0; n < count; n++) {
        const i = next++;
        const route = options.sharedRoute ?? randomUUID();
        chunk.push({ id: `sub-${i}`, route, url: receiverUrl(`/w/${i}`), secret: SECRET });
        routes.push(route);
        if (chunk.length === SUBSCRIBE_CHUNK) {
          await call('POST', '/subscriptions', { subscriptions: chunk }, 204);
          chunk = [];
        }
      }
      if (chunk.length > 0) await call('POST', '/subscriptions', { subscriptions: chunk }, 204);
      return routes;
    },
    publish: (events: BenchEvent[]) => call('POST', '/events', { events }, 202),
    async unsubscribeAll() {
      await call('DELETE', '/subscriptions', undefined, 204);
      next = 0;
    },
    async stop(beforeCleanup) {
      await agent.close();
      await terminate(server.child);
      await beforeCleanup?.();
      await cleanup();
    },
  };
}

export const bullmqBaseline: SystemFactory = {
  name: 'BullMQ baseline (Redis)',
  describe:
    'one process: publish endpoint + BullMQ 6 Worker (concurrency 128), one job per delivery in Redis (addBulk per publish; ' +
    'subscriptions in process memory); Redis here has no persistence (no AOF, no RDB), so its 202 is not durable',
  async start(receiverUrl) {
    const queue = `bench-bullmq-${randomUUID().slice(0, 8)}`;
    const server = await spawnServer('bullmq-baseline', 'bullmq/server.ts', { QUEUE: queue, REDIS_URL });
    return instance(this.name, server, 'redis-server', receiverUrl, async () => {
      // Every key of the queue (BullMQ's default prefix "bull"), whatever state it was left in.
      const redis = new Redis(REDIS_URL);
      try {
        let cursor = '0';
        do {
          const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `bull:${queue}:*`, 'COUNT', 1000);
          cursor = nextCursor;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    });
  },
};

/** A baseline whose queue lives in a fresh PostgreSQL schema, dropped after the run; `schemaEnv` names it for the server. */
function postgresBaseline(name: string, describe: string, script: string, schemaEnv: string): SystemFactory {
  return {
    name,
    describe,
    async start(receiverUrl) {
      const dir = script.split('/')[0]!;
      const schema = `bench_${dir}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const server = await spawnServer(`${dir}-baseline`, script, { [schemaEnv]: schema, DATABASE_URL: PG_URL, PGAPPNAME: schema });
      return instance(name, server, { schema, appName: schema }, receiverUrl, () => dropPgSchema(schema));
    },
  };
}

export const pgbossBaseline = postgresBaseline(
  'pg-boss baseline (PostgreSQL)',
  'one process: publish endpoint + pg-boss 12 workers (2 × batches of 64 = 128 in flight, LISTEN/NOTIFY), one job row per delivery in PostgreSQL ' +
    '(insert() per publish, committed before the 202, synchronous_commit on; subscriptions in process memory)',
  'pgboss/server.ts',
  'PGBOSS_SCHEMA',
);

export const graphileBaseline = postgresBaseline(
  'graphile-worker baseline (PostgreSQL)',
  'one process: publish endpoint + graphile-worker 0.18 runner (concurrency 128, localQueue of 129, batched completion and failure), one job row ' +
    'per delivery in PostgreSQL (addJobs() per publish, committed before the 202, synchronous_commit on; subscriptions in process memory)',
  'graphile/server.ts',
  'GRAPHILE_SCHEMA',
);

export const baselines: SystemFactory[] = [bullmqBaseline, pgbossBaseline, graphileBaseline];
