// itwin-webhooks as a benchmarked system: `serve` processes started like an operator
// would, provisioned through the data store (10,000 webhooks through the HTTP API would
// take longer than the measurements), driven through its public publish API.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { registerClient } from '../../src/auth/clients.ts';
import { loadStoreConfig, type StoreConfig } from '../../src/config/load.ts';
import { openStore } from '../../src/store/open.ts';
import type { Store } from '../../src/store/types.ts';
import { backendCpuMeter, dropPgSchema, PG_URL, type PgFootprint } from './pgStats.ts';
import { processCpuMeter, startServer, type ServerProc } from './procs.ts';
import type { BenchEvent, SystemFactory, SystemInstance } from './system.ts';

export const BENCH_TYPE = 'bench.tick.v1';
export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
const ENCRYPTION_KEY = 'cd'.repeat(32);

/** Per-webhook cap and per-process concurrency used for every itwin-webhooks run (the baselines' 128, too). */
export const CAP = 16;
export const CONCURRENCY = 128;

/** Webhooks created (and deleted) at once when a scenario is set up (and torn down): neither is measured. */
const PROVISION_AT_ONCE = 16;

function serveArgs(concurrency: number): string[] {
  return [
    '--allow-insecure-callbacks',
    '--callback-allow-cidrs',
    '127.0.0.0/8',
    '--rate-limit-max',
    '0',
    '--max-in-flight-per-webhook',
    String(CAP),
    '--delivery-concurrency',
    String(concurrency),
  ];
}

async function provisionStore(config: StoreConfig) {
  const { store, box } = await openStore(config);
  const account = randomUUID();
  const pub = await registerClient(store, { name: 'bench-producer', accountId: account, scopes: ['webhooks:publish'], now: Date.now() });
  const sub = await registerClient(store, { name: 'bench-subscriber', accountId: account, scopes: ['webhooks:modify'], now: Date.now() });
  await store.insertEventType({
    type: BENCH_TYPE,
    service: 'bench',
    description: 'Benchmark tick: when it was published and its sequence number.',
    contentSchema: { type: 'object', required: ['sentAt', 'seq'], properties: { sentAt: { type: 'integer' }, seq: { type: 'integer' } } },
    example: { sentAt: 0, seq: 0 },
    builtin: false,
    createdAt: Date.now(),
  });
  return { store, box, account, pub, sub, config };
}

function instance(
  name: string,
  servers: ServerProc[],
  database: PgFootprint | undefined,
  p: Awaited<ReturnType<typeof provisionStore>>,
  receiverUrl: (path: string) => string,
  cleanup: () => Promise<void>,
): SystemInstance {
  const api = servers[0]!;
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  let store: Store = p.store;
  let token: Promise<string> | undefined;
  const getToken = () =>
    (token ??= fetch(`${api.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: p.pub.clientId, client_secret: p.pub.clientSecret }),
    }).then(async (r) => ((await r.json()) as { access_token: string }).access_token));
  let next = 0;

  return {
    name,
    pids: () => servers.map((s) => s.child.pid!),
    databaseCpu: () => (database === undefined ? processCpuMeter(() => []) : backendCpuMeter(database.appName)),
    postgres: database,
    async subscribe(count, options = {}) {
      const sealer = p.box;
      const routes = Array.from({ length: count }, () => options.sharedRoute ?? randomUUID());
      const create = async (route: string, i: number) => {
        if (options.sharedRoute === undefined || i === 0) await store.putItwin(route, p.account, Date.now());
        const id = randomUUID();
        const at = Date.now();
        await store.createWebhook({
          id,
          ownerClientId: p.sub.clientId,
          scope: 'iTwin',
          scopeId: route,
          active: true,
          callbackUrl: receiverUrl(`/w/${next + i}`),
          eventTypes: [BENCH_TYPE],
          secretSealed: sealer.seal(BENCH_SECRET, `webhook:${id}`),
          createdAt: at,
          modifiedAt: at,
        });
      };
      // Provisioning is not measured: a few at a time, so that 10,000 webhooks take seconds, not minutes.
      await create(routes[0]!, 0);
      for (let i = 1; i < count; i += PROVISION_AT_ONCE) await Promise.all(routes.slice(i, i + PROVISION_AT_ONCE).map((r, j) => create(r, i + j)));
      next += count;
      return routes;
    },
    async publish(events: BenchEvent[]) {
      const res = await request(`${api.url}/webhooks/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await getToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events: events.map((e) => ({ eventType: BENCH_TYPE, iTwinId: e.route, messageId: e.messageId, content: e.content })) }),
        dispatcher: agent,
      });
      const text = await res.body.text();
      if (res.statusCode !== 202) throw new Error(`${name} publish: ${res.statusCode} ${text.slice(0, 200)}`);
    },
    async flushStats() {
      // The provisioning connections' statistics reach pg_stat_user_tables when they close.
      await store.close();
      store = (await openStore(p.config)).store;
    },
    async unsubscribeAll() {
      // One by one, the 10,000 webhooks of the fan-out took 13.5 s to delete on PostgreSQL.
      for (;;) {
        const page = await store.listWebhooks(p.sub.clientId, 1000, undefined);
        if (page.items.length === 0) break;
        for (let i = 0; i < page.items.length; i += PROVISION_AT_ONCE) await Promise.all(page.items.slice(i, i + PROVISION_AT_ONCE).map((w) => store.deleteWebhook(p.sub.clientId, w.id)));
      }
      next = 0;
    },
    async stop(beforeCleanup) {
      await agent.close();
      await Promise.all(servers.map((s) => s.stop()));
      await store.close();
      await beforeCleanup?.();
      await cleanup();
    },
  };
}

export const itwinSqlite: SystemFactory = {
  name: 'itwin-webhooks (SQLite)',
  describe: 'one `serve` process (API and delivery worker) on the embedded SQLite store; every publish is answered after its commit is fsynced (the WAL synced off the store thread)',
  async start(receiverUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'itwh-bench-'));
    const config = loadStoreConfig({ dataDir }, {});
    const p = await provisionStore(config);
    const server = await startServer(['--data-dir', dataDir, ...serveArgs(CONCURRENCY)]);
    return instance(this.name, [server], undefined, p, receiverUrl, async () => rmSync(dataDir, { recursive: true, force: true }));
  },
};

/** A fresh PostgreSQL schema provisioned like an operator would, with the environment its processes share. */
async function postgresSchema() {
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  // Every connection of its processes names the schema, so that its backends can be told apart.
  const env = { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY, PGAPPNAME: schema };
  const p = await provisionStore(loadStoreConfig({}, env));
  return { schema, env, p, drop: () => dropPgSchema(schema) };
}

/** One API process and `workers` worker processes on a fresh PostgreSQL schema. */
export function itwinPostgres(workers: number): SystemFactory {
  return {
    name: `itwin-webhooks (PostgreSQL, ${workers} worker${workers > 1 ? 's' : ''})`,
    describe: `one \`serve --role api\` and ${workers} \`serve --role worker\` process${workers > 1 ? 'es' : ''} on PostgreSQL (synchronous_commit on)`,
    async start(receiverUrl) {
      const { schema, env, p, drop } = await postgresSchema();
      const api = await startServer(['--role', 'api', ...serveArgs(CONCURRENCY)], env);
      const workerProcs = await Promise.all(Array.from({ length: workers }, () => startServer(['--role', 'worker', ...serveArgs(CONCURRENCY)], env)));
      return instance(this.name, [api, ...workerProcs], { schema, appName: schema }, p, receiverUrl, drop);
    },
  };
}

/**
 * itwin-webhooks on PostgreSQL with its worker processes started and stopped by the
 * caller: a backlog is published with no worker running, then drained.
 */
export async function itwinPostgresDrainTarget(receiverUrl: (path: string) => string) {
  const { schema, env, p, drop } = await postgresSchema();
  const api = await startServer(['--role', 'api', ...serveArgs(CONCURRENCY)], env);
  let workers: ServerProc[] = [];
  const sys = instance('itwin-webhooks (PostgreSQL)', [api], { schema, appName: schema }, p, receiverUrl, async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await drop();
  });
  return {
    sys,
    footprint: { schema, appName: schema },
    async startWorkers(n: number) {
      workers = await Promise.all(Array.from({ length: n }, () => startServer(['--role', 'worker', ...serveArgs(CONCURRENCY)], env)));
    },
    async stopWorkers() {
      await Promise.all(workers.map((w) => w.stop()));
      workers = [];
    },
  };
}

/**
 * itwin-webhooks with settings of its own (environment variables, e.g. RETENTION): one
 * `serve` process on SQLite, or one API and one worker process on PostgreSQL. Says where
 * its data is, for scenarios that look at it.
 */
export async function startItwinWith(
  store: 'sqlite' | 'postgres',
  settings: Record<string, string>,
  receiverUrl: (path: string) => string,
): Promise<{ sys: SystemInstance; dataDir?: string; schema?: string }> {
  if (store === 'sqlite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'itwh-bench-'));
    const p = await provisionStore(loadStoreConfig({ dataDir }, {}));
    const server = await startServer(['--data-dir', dataDir, ...serveArgs(CONCURRENCY)], settings);
    return { sys: instance('itwin-webhooks (SQLite)', [server], undefined, p, receiverUrl, async () => rmSync(dataDir, { recursive: true, force: true })), dataDir };
  }
  const { schema, env, p, drop } = await postgresSchema();
  const all = { ...env, ...settings };
  const api = await startServer(['--role', 'api', ...serveArgs(CONCURRENCY)], all);
  const worker = await startServer(['--role', 'worker', ...serveArgs(CONCURRENCY)], all);
  return { sys: instance('itwin-webhooks (PostgreSQL, 1 worker)', [api, worker], { schema, appName: schema }, p, receiverUrl, drop), schema };
}
