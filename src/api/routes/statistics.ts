import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AttemptCountRow, DeliveryStatisticsRecord, StatisticsScope } from '../../store/insights.ts';
import type { AppDeps } from '../deps.ts';
import type { WebhookAccess } from '../webhookAccess.ts';
import { commonErrors, errorResponse, Timestamp } from '../../contract/schemas/common.ts';

const BUCKET_MS = 60_000;
const DEFAULT_MINUTES = 60;
const MAX_MINUTES = 24 * 60;
const PERCENTILES = [50, 90, 99] as const;

const Count = Type.Integer({ minimum: 0 });
const DeliveryCounts = Type.Object(
  {
    succeeded: Count,
    failed: Count,
    cancelled: Count,
    retrying: Type.Integer({ minimum: 0, description: 'Pending after a failed attempt (or a redelivery).' }),
    pending: Type.Integer({ minimum: 0, description: 'Not attempted yet.' }),
  },
  { additionalProperties: false, description: 'Deliveries created in the bucket, by their state now.' },
);
const Durations = Type.Object(
  { p50: Count, p90: Count, p99: Count, max: Count },
  { additionalProperties: false, description: 'Attempt durations in ms, to two significant digits (exact below 100 ms); absent when no attempt.' },
);
const AttemptCounts = Type.Object(
  { succeeded: Count, failed: Type.Integer({ minimum: 0, description: 'No 2xx: an error status, a timeout, a refused connection.' }), durationMs: Type.Optional(Durations) },
  { additionalProperties: false, description: 'Attempts started in the bucket.' },
);

export const StatisticsSchema = Type.Object(
  {
    from: Timestamp('Start of the first bucket.'),
    to: Timestamp('End of the last bucket (the end of the current minute).'),
    bucketSeconds: Type.Integer(),
    buckets: Type.Array(Type.Object({ start: Timestamp('Start of the bucket.'), deliveries: DeliveryCounts, attempts: AttemptCounts }, { additionalProperties: false })),
    totals: Type.Object({ deliveries: DeliveryCounts, attempts: AttemptCounts }, { additionalProperties: false }),
  },
  { additionalProperties: false, title: 'DeliveryStatistics' },
);

const StatisticsQuery = Type.Object(
  { minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_MINUTES, default: DEFAULT_MINUTES, description: 'Length of the window, in minutes (one bucket each).' })) },
  { additionalProperties: false },
);

const WebhookParams = () => Type.Object({ webhookId: Type.String() });

type Deliveries = { succeeded: number; failed: number; cancelled: number; retrying: number; pending: number };
type Histogram = Map<number, number>;

/** The value at each percentile (nearest rank) of a histogram of durations; undefined when it is empty. */
export function percentiles(histogram: Histogram): { p50: number; p90: number; p99: number; max: number } | undefined {
  const values = [...histogram.keys()].sort((a, b) => a - b);
  const total = values.reduce((n, v) => n + histogram.get(v)!, 0);
  if (total === 0) return undefined;
  const at = (p: number) => {
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const v of values) {
      seen += histogram.get(v)!;
      if (seen >= rank) return v;
    }
    return values[values.length - 1]!;
  };
  const [p50, p90, p99] = PERCENTILES.map(at) as [number, number, number];
  return { p50, p90, p99, max: values[values.length - 1]! };
}

/** What the store counted, as dense buckets with totals (every bucket present, zeros included). */
export function summarizeStatistics(record: DeliveryStatisticsRecord, from: number, bucketMs: number, buckets: number) {
  const zero = (): Deliveries => ({ succeeded: 0, failed: 0, cancelled: 0, retrying: 0, pending: 0 });
  const deliveries = Array.from({ length: buckets }, zero);
  const attempts = Array.from({ length: buckets }, () => ({ succeeded: 0, failed: 0, durations: new Map() as Histogram }));
  const total = { deliveries: zero(), attempts: { succeeded: 0, failed: 0, durations: new Map() as Histogram } };
  // A row outside the window (a clock that moved) joins the nearest bucket.
  const index = (bucket: number) => Math.min(buckets - 1, Math.max(0, bucket));
  for (const r of record.deliveries) {
    const key: keyof Deliveries = r.status === 'pending' ? (r.attempted ? 'retrying' : 'pending') : r.status;
    deliveries[index(r.bucket)]![key] += r.count;
    total.deliveries[key] += r.count;
  }
  const addAttempts = (into: (typeof attempts)[number], r: AttemptCountRow) => {
    into[r.succeeded ? 'succeeded' : 'failed'] += r.count;
    into.durations.set(r.durationMs, (into.durations.get(r.durationMs) ?? 0) + r.count);
  };
  for (const r of record.attempts) {
    addAttempts(attempts[index(r.bucket)]!, r);
    addAttempts(total.attempts, r);
  }
  const attemptView = (a: (typeof attempts)[number]) => {
    const durationMs = percentiles(a.durations);
    return { succeeded: a.succeeded, failed: a.failed, ...(durationMs === undefined ? {} : { durationMs }) };
  };
  return {
    from: new Date(from).toISOString(),
    to: new Date(from + buckets * bucketMs).toISOString(),
    bucketSeconds: bucketMs / 1000,
    buckets: deliveries.map((d, i) => ({ start: new Date(from + i * bucketMs).toISOString(), deliveries: d, attempts: attemptView(attempts[i]!) })),
    totals: { deliveries: total.deliveries, attempts: attemptView(total.attempts) },
  };
}

/**
 * Deliveries per minute by outcome and attempt-duration percentiles, for one webhook and
 * for all of the caller's webhooks, computed by the server for the dashboard's charts. [ext]
 */
export const statisticsRoutes =
  (deps: AppDeps, access: WebhookAccess): FastifyPluginAsyncTypebox =>
  async (app) => {
    const compute = async (scope: StatisticsScope, minutes: number) => {
      const to = Math.ceil((deps.now() + 1) / BUCKET_MS) * BUCKET_MS;
      const from = to - minutes * BUCKET_MS;
      return summarizeStatistics(await deps.store.deliveryStatistics(scope, from, BUCKET_MS), from, BUCKET_MS, minutes);
    };
    const description =
      'Per minute: the deliveries created in it by their state now, and the attempts made on them by result, with duration percentiles. ' +
      'Attempts are counted on the deliveries created in the window (a late retry of an older delivery is not among them).';
    const route = (summary: string, params?: ReturnType<typeof WebhookParams>) => ({
      config: { auth: access.auth, validationCode: 'InvalidStatisticsRequest' as const },
      schema: {
        summary,
        description,
        tags: [access.tag],
        security: [{ bearer: [] }],
        ...(params === undefined ? {} : { params }),
        querystring: StatisticsQuery,
        response: { 200: StatisticsSchema, ...commonErrors, 404: errorResponse('WebhookNotFound.'), 422: errorResponse('InvalidStatisticsRequest.') },
      },
    });

    app.get(access.statistics.path, route(access.statistics.summary), async (request) => compute(access.statistics.scope(request), request.query.minutes ?? DEFAULT_MINUTES));

    app.get(`${access.prefix}/:webhookId/statistics`, route('Delivery statistics of a webhook', WebhookParams()), async (request) => {
      const { webhookId } = request.params as { webhookId: string };
      const webhook = await access.find(request, webhookId);
      return compute({ webhookId: webhook.id }, request.query.minutes ?? DEFAULT_MINUTES);
    });
  };
