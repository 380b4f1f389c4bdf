// The PostgreSQL scenarios of bench/run.ts: what each delivery costs the database in rows
// written (both shapes), how workers scale, and whether the cost stays flat as history grows.
// Counts (rows) and CPU per delivery hardly depend on how busy the shared machine is; the
// deliveries per second do, so they are compared within one run.
import { randomUUID } from 'node:crypto';
import { itwinPostgresDrainTarget } from './itwinSystem.ts';
import { fillHistory } from './pgHistory.ts';
import { backendCpuMeter, rowWrites, writesBetween, type RowWrites } from './pgStats.ts';
import type { ReceiverProc } from './procs.ts';
import { median, sleep, until } from './stats.ts';
import type { BenchEvent, SystemFactory, SystemInstance } from './system.ts';

export const BENCH_EVENT_TYPE = 'bench.tick.v1';

let seq = 0;
const event = (route: string): BenchEvent => ({ messageId: randomUUID(), route, content: { sentAt: Date.now(), seq: seq++ } });

/** Longer than PostgreSQL's 10 s between an idle connection's statistics reports. */
const STATS_SETTLE_MS = 11_000;

async function publishAll(sys: SystemInstance, events: BenchEvent[], perRequest = 500): Promise<void> {
  // Two requests at a time, like the throughput scenario's two publishers.
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < events.length) {
        const chunk = events.slice(next, (next += perRequest));
        await sys.publish(chunk);
      }
    }),
  );
}

async function received(receiver: ReceiverProc, n: number, timeoutMs: number): Promise<void> {
  if (!(await until(async () => (await receiver.stats()).unique >= n, timeoutMs, 100))) {
    throw new Error(`only ${(await receiver.stats()).unique} of ${n} deliveries arrived within ${timeoutMs / 1000} s`);
  }
}

export interface RowsResult {
  /** Rows written per delivery, single-delivery events (8 webhooks). */
  single: number;
  /** Rows written per delivery, one event to 100 webhooks. */
  fanOut: number;
  /** Where they went: table → writes per delivery, per shape. */
  tables: { single: Array<[string, string]>; fanOut: Array<[string, string]> };
}

/**
 * Rows written (inserts + updates + deletes in pg_stat_user_tables of the system's schema)
 * per delivery on the happy path: every delivery published once and accepted at its first
 * attempt. `deliveries` of each shape; readings are taken once the statistics of the
 * phase before have been reported.
 */
export async function rowsPerDelivery(factory: SystemFactory, receiver: ReceiverProc, deliveries = 8000): Promise<RowsResult> {
  const sys = await factory.start(receiver.url);
  let final: RowWrites | undefined;
  try {
    const schema = sys.postgres!.schema;
    const single = await sys.subscribe(8);
    const fanRoute = randomUUID();
    await sys.subscribe(100, { sharedRoute: fanRoute });
    await sys.flushStats?.();
    await receiver.call({ cmd: 'reset' }, 'ok');
    await sleep(STATS_SETTLE_MS);
    const a = await rowWrites(schema);
    await publishAll(
      sys,
      Array.from({ length: deliveries }, (_, i) => event(single[i % single.length]!)),
    );
    await received(receiver, deliveries, 120_000);
    await sleep(STATS_SETTLE_MS);
    const b = await rowWrites(schema);
    await publishAll(
      sys,
      Array.from({ length: deliveries / 100 }, () => event(fanRoute)),
      5,
    );
    await received(receiver, 2 * deliveries, 120_000);
    // Stopping closes every connection: their last counts are reported at once.
    await sys.stop(async () => {
      final = await rowWrites(schema);
    });
    const perTable = (w: ReturnType<typeof writesBetween>): Array<[string, string]> =>
      w.tables.map((t) => [t.table, `${((t.ins + t.upd + t.del) / deliveries).toFixed(2)} (${[t.ins && `${(t.ins / deliveries).toFixed(2)} ins`, t.upd && `${(t.upd / deliveries).toFixed(2)} upd`, t.del && `${(t.del / deliveries).toFixed(2)} del`].filter(Boolean).join(', ')})`]);
    const w1 = writesBetween(a, b);
    const w2 = writesBetween(b, final!);
    return { single: w1.total / deliveries, fanOut: w2.total / deliveries, tables: { single: perTable(w1), fanOut: perTable(w2) } };
  } catch (err) {
    if (final === undefined) await sys.stop().catch(() => {});
    throw err;
  }
}

export interface DrainResult {
  perSecond: number;
  /** CPU µs of the database backends serving the system, per delivery. */
  dbUsPerDelivery: number;
}

type DrainTarget = Awaited<ReturnType<typeof itwinPostgresDrainTarget>>;

/**
 * Publishes `events` single-delivery events over `routes` with no worker running, then
 * starts `workers` worker processes and measures the drain: deliveries per second between
 * 1 % and 99 % of the backlog received (worker start-up excluded), and the database's CPU
 * per delivery over the whole drain.
 */
async function drainOnce(target: DrainTarget, receiver: ReceiverProc, routes: string[], events: number, workers: number): Promise<DrainResult> {
  await receiver.call({ cmd: 'reset' }, 'ok');
  await publishAll(
    target.sys,
    Array.from({ length: events }, (_, i) => event(routes[i % routes.length]!)),
  );
  const db = backendCpuMeter(target.footprint.appName);
  await db.start();
  await target.startWorkers(workers);
  let t1: number | undefined;
  let t99: number | undefined;
  await until(
    async () => {
      const n = (await receiver.stats()).unique;
      if (t1 === undefined && n >= events / 100) t1 = Date.now();
      if (t99 === undefined && n >= (events * 99) / 100) t99 = Date.now();
      return n >= events;
    },
    180_000,
    20,
  );
  const dbMs = await db.stop();
  await target.stopWorkers();
  const n = (await receiver.stats()).unique;
  if (n < events) throw new Error(`drain: only ${n} of ${events} arrived`);
  return { perSecond: (0.98 * events) / (((t99 ?? Date.now()) - t1!) / 1000), dbUsPerDelivery: (1000 * dbMs) / events };
}

export const DRAIN_WEBHOOKS = 64;
export const DRAIN_BACKLOG = 32_000;

/** Each worker count's drains, and the medians over the rounds. */
export interface WorkerScaling {
  /** Round by round, each count's drain in the order run. */
  rounds: Array<Array<[number, DrainResult]>>;
  /**
   * Per count: the medians of its drains, and the medians of the ratios to the 1-worker
   * drain of the same round (run a few seconds before it: the host's speed drifts less
   * within a round than across rounds).
   */
  medians: Array<[number, DrainResult & { vsOne: number; dbVsOne: number }]>;
}

/** The drains by `workers` worker processes, round by round (undefined in a round without that count). */
export const drainsBy = (scaling: WorkerScaling, workers: number): Array<DrainResult | undefined> =>
  scaling.rounds.map((round) => round.find(([n]) => n === workers)?.[1]);

/**
 * 1, 2 and 4 worker processes, each draining a backlog of DRAIN_BACKLOG on a fresh schema
 * with DRAIN_WEBHOOKS webhooks, in `rounds` rounds that take the counts in turn. One drain
 * of 32,000 takes about 4 s, and on this shared 2-core host the same code's 2-worker drain
 * against the 1-worker one moved between 0.64 and 1.51× from one pair to the next: wider
 * than the margin the target sets, so one pair does not tell.
 */
export async function workerScaling(receiver: ReceiverProc, counts = [1, 2, 4], rounds = 3, log: (m: string) => void = () => {}): Promise<WorkerScaling> {
  const out: WorkerScaling = { rounds: [], medians: [] };
  for (let round = 1; round <= rounds; round++) {
    const drains: Array<[number, DrainResult]> = [];
    for (const n of counts) {
      const target = await itwinPostgresDrainTarget(receiver.url);
      try {
        const routes = await target.sys.subscribe(DRAIN_WEBHOOKS);
        const r = await drainOnce(target, receiver, routes, DRAIN_BACKLOG, n);
        log(`  round ${round}, ${n} worker${n > 1 ? 's' : ''}: ${Math.round(r.perSecond)}/s, database ${Math.round(r.dbUsPerDelivery)} µs per delivery`);
        drains.push([n, r]);
      } finally {
        await target.sys.stop();
      }
    }
    out.rounds.push(drains);
  }
  const ones = drainsBy(out, 1);
  for (const n of counts) {
    // Every round ran every count.
    const mine = drainsBy(out, n) as DrainResult[];
    const pairs = mine.map((r, i) => [r, ones[i]] as const).filter((p): p is readonly [DrainResult, DrainResult] => p[1] !== undefined);
    out.medians.push([
      n,
      {
        perSecond: median(mine.map((r) => r.perSecond)),
        dbUsPerDelivery: median(mine.map((r) => r.dbUsPerDelivery)),
        vsOne: median(pairs.map(([r, one]) => r.perSecond / one.perSecond)),
        dbVsOne: median(pairs.map(([r, one]) => r.dbUsPerDelivery / one.dbUsPerDelivery)),
      },
    ]);
  }
  return out;
}

/** The same backlog drained `times` times in a row on one schema, by one worker: does the cost grow with the history left behind? */
export async function repeatedDrains(receiver: ReceiverProc, times = 4, log: (m: string) => void = () => {}): Promise<DrainResult[]> {
  const target = await itwinPostgresDrainTarget(receiver.url);
  try {
    const routes = await target.sys.subscribe(DRAIN_WEBHOOKS);
    const out: DrainResult[] = [];
    for (let i = 0; i < times; i++) {
      const r = await drainOnce(target, receiver, routes, DRAIN_BACKLOG, 1);
      log(`  drain ${i + 1}: ${Math.round(r.perSecond)}/s, database ${Math.round(r.dbUsPerDelivery)} µs per delivery`);
      out.push(r);
    }
    return out;
  } finally {
    await target.sys.stop();
  }
}

/** A drain of the backlog on a schema that already holds `history` finished deliveries (inserted with generate_series). */
export async function drainWithHistory(receiver: ReceiverProc, history = 1_000_000, log: (m: string) => void = () => {}): Promise<DrainResult & { fillSeconds: number }> {
  const target = await itwinPostgresDrainTarget(receiver.url);
  try {
    const routes = await target.sys.subscribe(DRAIN_WEBHOOKS);
    const t0 = Date.now();
    await fillHistory(target.footprint.schema, history, BENCH_EVENT_TYPE);
    const fillSeconds = (Date.now() - t0) / 1000;
    log(`  ${history.toLocaleString('en-US')} finished deliveries inserted in ${fillSeconds.toFixed(1)} s; draining`);
    const r = await drainOnce(target, receiver, routes, DRAIN_BACKLOG, 1);
    log(`  ${Math.round(r.perSecond)}/s, database ${Math.round(r.dbUsPerDelivery)} µs per delivery`);
    return { ...r, fillSeconds };
  } finally {
    await target.sys.stop();
  }
}
