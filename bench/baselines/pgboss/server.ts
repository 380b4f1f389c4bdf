// Baseline: what a team would build with pg-boss on PostgreSQL instead of itwin-webhooks.
// One process holds the publish endpoint (one job per matching subscription, one
// `boss.insert()` per request, 202 once the rows are committed) and pg-boss workers that
// sign and POST each job, retried by pg-boss's exponential backoff. Not part of the product.
//
// Configured from pg-boss 12's documentation (docs/api/workers.md, jobs.md, queues.md,
// constructor.md; pgboss.io):
//   - `insert(name, jobs[])` is the documented bulk path ("create multiple jobs in one
//     request"): one statement per publish request.
//   - Retries set on the queue and inherited by every job (jobs.md: "All retry, expiration,
//     and retention options can also be set on the queue"): retryLimit 9 (10 attempts),
//     retryDelay 5 s, retryBackoff true.
//     The backoff is retryDelay × 2^n × (1 + random)/2: 5–10 s before the first retry, then
//     10–20 s, and so on.
//   - The same budget of CONCURRENCY (default 128) deliveries in flight, as
//     `localConcurrency` workers × `batchSize` jobs per fetch, each batch delivered
//     concurrently (Promise.all). Batching is what pg-boss offers for throughput (each fetch
//     and each settlement is one SQL statement and one commit for the whole batch); on this
//     2-core machine PostgreSQL's CPU is the limit and fewer, larger fetches win clearly:
//     measured 1×128 ≈ 2×64 (≈2,600/s) > 4×32 (≈2,000/s) > 8×16 (≈1,250/s). Default
//     PGBOSS_WORKERS=2 → 2 workers × batches of 64: the fastest, with two workers so one
//     batch waiting on a slow receiver does not stop all fetching.
//   - `perJobResults: true`: a failed delivery is failed (and retried) on its own; without it
//     a batch handler is all-or-nothing and one bad receiver would retry its whole batch.
//   - `burstWhenBatchFull`: "the worker keeps fetching continuously with no delay" while
//     fetches come back full, and `pollingIntervalSeconds` at its minimum (0.5) instead of
//     the default "1 job every 2 seconds".
//   - LISTEN/NOTIFY (`useListenNotify` on the instance, `notify: true` on the queue),
//     documented as "cutting dispatch latency to milliseconds". Retries are future-dated
//     jobs, which the docs say are never notified, only "picked up by polling once they
//     become eligible"; with the notify backstop at its default of 30 s a 5 s retry waited
//     30 s, so `notifyPollingIntervalSeconds` is kept at the same 0.5 s as the base poll and
//     the configured backoff is what actually happens. Measured here at 300 single-event
//     publishes/s: p50 14 ms with it, 304 ms polling only. Its cost: a NOTIFY takes a
//     database-wide lock at commit, ~30 % fewer single-event inserts/s (PGBOSS_NOTIFY=0 to
//     compare).
//   - Pool (`max`) left at its default of 10: enough for 2 workers, inserts and maintenance.
//   - `boss.on('error')`, and `stop({ graceful: true })` on SIGTERM/SIGINT.
//
// env: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), PGBOSS_SCHEMA (fresh
// per run), CONCURRENCY, PGBOSS_WORKERS (default 2), PGBOSS_NOTIFY (0 = polling only).
import { PgBoss, type JobResult } from 'pg-boss';
import { concurrencyFromEnv, createDeliverer, log, onSignals, startApi, type DeliveryJob } from '../common.ts';

const NAME = 'pgboss-baseline';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = process.env.PGBOSS_SCHEMA ?? 'pgboss_baseline';
const QUEUE = 'webhook-deliveries';
const CONCURRENCY = concurrencyFromEnv();
const WORKERS = Math.min(CONCURRENCY, Math.max(1, Math.floor(Number(process.env.PGBOSS_WORKERS ?? '2')) || 2));
const BATCH = Math.ceil(CONCURRENCY / WORKERS);
const POLL_SECONDS = 0.5;
const NOTIFY = process.env.PGBOSS_NOTIFY !== '0';

// application_name: pg-boss names its connections 'pgboss' unless told; the benchmark tells its backends apart by PGAPPNAME.
const boss = new PgBoss({ connectionString: DATABASE_URL, schema: SCHEMA, useListenNotify: NOTIFY, application_name: process.env.PGAPPNAME });
boss.on('error', (err) => log(NAME, `error: ${(err as Error).message}`));
boss.on('warning', (w) => log(NAME, `warning: ${w.message}`));
await boss.start();
await boss.createQueue(QUEUE, { retryLimit: 9, retryDelay: 5, retryBackoff: true, notify: NOTIFY });

const deliverer = createDeliverer(NAME);
await boss.work<DeliveryJob>(
  QUEUE,
  {
    batchSize: BATCH,
    localConcurrency: WORKERS,
    perJobResults: true,
    burstWhenBatchFull: true,
    pollingIntervalSeconds: POLL_SECONDS,
    notifyPollingIntervalSeconds: POLL_SECONDS,
  },
  (jobs) =>
    Promise.all(
      jobs.map(async (job): Promise<JobResult> => {
        try {
          await deliverer.deliver(job.data, job.signal);
          return { id: job.id, status: 'completed' };
        } catch (err) {
          return { id: job.id, status: 'failed', output: { message: (err as Error).message } };
        }
      }),
    ),
);

const api = await startApi(NAME, async (jobs) => {
  await boss.insert(QUEUE, jobs.map((data) => ({ data })));
});
log(NAME, `schema ${SCHEMA}: ${WORKERS} workers × batches of ${BATCH}, LISTEN/NOTIFY ${NOTIFY ? 'on' : 'off'}`);

onSignals(NAME, async () => {
  await api.close();
  await boss.stop({ graceful: true });
  await deliverer.close();
});
