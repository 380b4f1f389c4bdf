// Baseline: what a team would build with graphile-worker on PostgreSQL instead of
// itwin-webhooks. One process holds the publish endpoint (one job per matching
// subscription, one `addJobs()` call per request, 202 once the rows are committed) and a
// graphile-worker runner whose task signs and POSTs each job, retried by graphile-worker's
// own exponential backoff. Not part of the product.
//
// Configured as graphile-worker's performance docs (worker.graphile.org/docs/performance)
// configure their ~183,000 jobs/s run, scaled to this benchmark's budget:
//   - `concurrency` = CONCURRENCY (default 128) jobs at once: the same budget of deliveries
//     in flight as every other system here.
//   - `preset.worker.localQueue.size`: "A good starting point is often concurrentJobs + 1"
//     (index.d.ts); jobs are fetched and locked in batches by the pool instead of one
//     round trip per job. (Their perf run: 500 for 24 jobs at once, on many tiny jobs.)
//   - `completeJobBatchDelay: 0` and `failJobBatchDelay: 0`: completions and failures of
//     one tick of the event loop share one statement ("batching of job completion ...
//     can significantly reduce load on the database").
//   - `maxPoolSize`: the docs' run uses concurrentJobs + 1 connections; here the task
//     never touches the database, and the pool serves fetches, batched completions and
//     the publish endpoint's addJobs: 10 (the default) is plenty and leaves PostgreSQL's
//     connection budget to the rest of the machine.
//   - `addJobs()` (workerUtils), the documented bulk insert: one statement per publish.
//   - Retries: `maxAttempts: 10` per job (10 attempts, like pg-boss's retryLimit 9),
//     backed off by graphile-worker as exp(min(attempts, 10)) seconds.
//   - LISTEN/NOTIFY is built in (new jobs wake the pool at once); `pollInterval` stays
//     at its default of 2 s, which only matters for future-dated retries.
//   - `noHandleSignals`: the process stops the runner itself on SIGTERM (graceful).
//
// env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), GRAPHILE_SCHEMA
// (fresh per run), CONCURRENCY.
import { Logger, makeWorkerUtils, run, type Task } from 'graphile-worker';
import { concurrencyFromEnv, createDeliverer, log, onSignals, startApi, type DeliveryJob } from '../common.ts';

const NAME = 'graphile-baseline';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = process.env.GRAPHILE_SCHEMA ?? 'graphile_baseline';
const CONCURRENCY = concurrencyFromEnv();
const TASK = 'deliver';
const MAX_ATTEMPTS = 10;

const deliverer = createDeliverer(NAME);
// A failed delivery throws: graphile-worker records the failure and schedules the retry.
const deliver: Task = async (payload, helpers) => deliverer.deliver(payload as DeliveryJob, helpers.abortSignal);

// Its warnings and errors on stderr, like the other baselines; not its info lines.
const logger = new Logger(() => (level, message) => {
  if (level === 'warning' || level === 'error') log(NAME, `${level}: ${message}`);
});

const utils = await makeWorkerUtils({ connectionString: DATABASE_URL, schema: SCHEMA, logger });
await utils.migrate();
const runner = await run({
  connectionString: DATABASE_URL,
  schema: SCHEMA,
  logger,
  concurrency: CONCURRENCY,
  noHandleSignals: true,
  taskList: { [TASK]: deliver },
  preset: {
    worker: {
      localQueue: { size: CONCURRENCY + 1 },
      completeJobBatchDelay: 0,
      failJobBatchDelay: 0,
    },
  },
});
runner.events.on('pool:listen:error', ({ error }) => log(NAME, `listen error: ${(error as Error).message}`));

const api = await startApi(NAME, async (jobs) => {
  await utils.addJobs(jobs.map((payload) => ({ identifier: TASK, payload, maxAttempts: MAX_ATTEMPTS })));
});
log(NAME, `schema ${SCHEMA}: concurrency ${CONCURRENCY}, local queue of ${CONCURRENCY + 1}, batched completion`);

onSignals(NAME, async () => {
  await api.close();
  await runner.stop();
  await utils.release();
  await deliverer.close();
});
