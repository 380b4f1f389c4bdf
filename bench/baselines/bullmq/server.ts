// Baseline: what a team would build with BullMQ on Redis instead of itwin-webhooks. One
// process holds the publish endpoint (one job per matching subscription, one addBulk per
// request, 202 once Redis has them) and a BullMQ Worker that signs and POSTs each job, with
// retries through BullMQ's own exponential backoff. Not part of the product.
//
// Configured as BullMQ's guides advise (docs/gitbook/guide/going-to-production.md,
// connections.md, parallelism-and-concurrency.md, queues/auto-removal-of-jobs.md):
//   - separate connections for the producer (Queue) and the consumer (Worker);
//   - the Queue's connection fails fast (enableOfflineQueue: false) so a publish answers an
//     error instead of hanging while Redis is away; the Worker's waits forever
//     (maxRetriesPerRequest: null, which BullMQ also enforces for workers);
//   - `concurrency` for IO-bound jobs ("something between 100 and 300 is a quite standard
//     setting"): CONCURRENCY, default 128, the same budget as the other systems;
//   - auto-removal: completed jobs removed at once, failed ones kept 3 days;
//   - error listeners on queue and worker; worker.close() on SIGTERM/SIGINT.
//
// env: REDIS_URL (default redis://127.0.0.1:6379), QUEUE (unique per run), CONCURRENCY.
import { Queue, Worker } from 'bullmq';
import { concurrencyFromEnv, createDeliverer, log, onSignals, startApi, type DeliveryJob } from '../common.ts';

const NAME = 'bullmq-baseline';
const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const QUEUE = process.env.QUEUE ?? `webhook-deliveries-${process.pid}`;
const CONCURRENCY = concurrencyFromEnv();

const redis = { host: REDIS_URL.hostname, port: Number(REDIS_URL.port || 6379) };

const queue = new Queue<DeliveryJob>(QUEUE, {
  connection: { ...redis, enableOfflineQueue: false },
  defaultJobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 5000 },
    removeOnComplete: true,
    removeOnFail: { age: 3 * 24 * 3600 },
  },
});
queue.on('error', (err) => log(NAME, `queue error: ${err.message}`));

const deliverer = createDeliverer(NAME);
const worker = new Worker<DeliveryJob>(QUEUE, (job) => deliverer.deliver(job.data), {
  connection: { ...redis, maxRetriesPerRequest: null },
  concurrency: CONCURRENCY,
});
worker.on('error', (err) => log(NAME, `worker error: ${err.message}`));

await queue.waitUntilReady();
await worker.waitUntilReady();

const api = await startApi(NAME, async (jobs) => {
  await queue.addBulk(jobs.map((data) => ({ name: 'deliver', data })));
});

onSignals(NAME, async () => {
  await api.close();
  await worker.close();
  await queue.close();
  await deliverer.close();
});
