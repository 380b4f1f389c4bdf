// npm run bench [-- --quick] [-- --only=name,name]
//
// Loopback benchmarks of itwin-webhooks and of what a team would build instead (BullMQ on
// Redis, pg-boss and graphile-worker on PostgreSQL), against a raw undici POST loop measured in the same run,
// all delivering to the same receiver process. The machine is shared and noisy: compare
// ratios to the raw loop, not absolute numbers between runs. Bounded in time; prints one
// table and writes it, with the machine and the command, to BENCHMARKS.md.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { bullmqBaseline, graphileBaseline, pgbossBaseline } from './baselines/index.ts';
import { itwinPostgres, itwinSqlite } from './lib/itwinSystem.ts';
import { DRAIN_BACKLOG, DRAIN_WEBHOOKS, drainsBy, drainWithHistory, repeatedDrains, rowsPerDelivery, workerScaling, type DrainResult, type RowsResult, type WorkerScaling } from './lib/pgScenarios.ts';
import { retentionSoak, type SoakSample } from './lib/soak.ts';
import { cpuMs, rssMiB, ROOT, startReceiver, type ReceiverProc } from './lib/procs.ts';
import { rawAtRate, rawThroughput } from './lib/raw.ts';
import { sleep, summarize, until, type LatencySummary } from './lib/stats.ts';
import type { BenchEvent, SystemFactory, SystemInstance } from './lib/system.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const WEBHOOKS = 8;
const CAP = 16;
const CONCURRENCY = WEBHOOKS * CAP;
const RATE = 1000;
const T = quick
  ? { warmup: 1000, measure: 4000, latency: 4000, fanOut: 2000, backlogEvents: 1000, backlogFanOut: 100, drainWindow: 5000, systems: ['raw', 'sqlite', 'pg1', 'bullmq', 'pgboss', 'graphile'],
      rows: 2000, workers: [1, 2], workerRounds: 1, drains: 2, history: 100_000, soakSeconds: 20 }
  : { warmup: 4000, measure: 8000, latency: 8000, fanOut: 10_000, backlogEvents: 10_000, backlogFanOut: 100, drainWindow: 12_000, systems: ['raw', 'sqlite', 'pg1', 'bullmq', 'pgboss', 'graphile'],
      rows: 6000, workers: [1, 2, 4], workerRounds: 3, drains: 4, history: 1_000_000, soakSeconds: 45 };
/**
 * Scenarios a system skips, the whole run being bounded to 12 minutes (as are the warm-ups
 * of 4 s, drains measured over 12 s and rows counted over 6,000 deliveries; the soaks keep
 * their 45 s, whose thirds must see past the 10 s between retention's looks).
 * graphile-worker's backlog would say what pg-boss's does (how a PostgreSQL job table takes
 * a million rows); BullMQ's took the longest of all to build (42 to 72 s of a run: a
 * million jobs in Redis, 0.9 GiB) and no target compares it (BENCHMARKS.md's earlier
 * rounds have it).
 */
const SKIP: Record<string, string[]> = { graphile: ['backlog'], bullmq: ['backlog'] };
const BACKLOG = T.backlogEvents * T.backlogFanOut;

const SYSTEMS: Record<string, SystemFactory> = {
  sqlite: itwinSqlite,
  pg1: itwinPostgres(1),
  pg2: itwinPostgres(2),
  bullmq: bullmqBaseline,
  pgboss: pgbossBaseline,
  graphile: graphileBaseline,
};
/** Whose rows written per delivery are counted (the systems on PostgreSQL). */
const ROWS_OF = ['pg1', 'pgboss', 'graphile'];

const ANALYSIS_MARKER = '<!-- analysis: kept across runs -->';

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface Audit {
  expected: number;
  lost: number;
  duplicates: number;
}

interface Result {
  name: string;
  describe: string;
  throughput?: number;
  /** The raw loop measured just before and just after this system's throughput run (its baseline). */
  rawAdjacent?: Array<{ perSecond: number; cpuMsPerThousand: number }>;
  /** CPU time of the system's processes and its database per 1,000 deliveries, in the throughput window. */
  cpuPerThousand?: number;
  /** Of which its database's (the backends serving it; Redis: the server), in µs per delivery. */
  dbUsPerDelivery?: number;
  rows?: RowsResult;
  latency?: LatencySummary;
  fanOutMs?: number;
  backlog?: { buildSeconds: number; rssStart: number; rssPeakBuild: number; drainRate: number; rssPeakDrain: number };
  audits: Array<[string, Audit]>;
  error?: string;
}

let seq = 0;
const event = (route: string): BenchEvent => ({ messageId: randomUUID(), route, content: { sentAt: Date.now(), seq: seq++ } });

async function audit(receiver: ReceiverProc, published: string[], deliveriesPerEvent: number, timeoutMs: number): Promise<Audit> {
  const expected = published.length * deliveriesPerEvent;
  await until(async () => (await receiver.stats()).unique >= expected, timeoutMs, 200);
  const stats = await receiver.stats(true);
  const seen = new Set(stats.ids);
  const lostEvents = published.filter((id) => !seen.has(id)).length;
  return { expected, lost: Math.max(expected - stats.unique, lostEvents * deliveriesPerEvent), duplicates: stats.duplicates };
}

const memory = (sys: SystemInstance) => sys.pids().reduce((sum, pid) => sum + rssMiB(pid), 0);

/** Closed loop: keep at most 20,000 published events not yet received. */
async function throughput(sys: SystemInstance, receiver: ReceiverProc): Promise<{ perSecond: number; cpuPerThousand: number; dbUsPerDelivery: number; audit: Audit }> {
  const routes = await sys.subscribe(WEBHOOKS);
  await receiver.call({ cmd: 'reset' }, 'ok');
  const published: string[] = [];
  let received = 0;
  let running = true;
  const poller = (async () => {
    while (running) {
      received = (await receiver.stats()).total;
      await sleep(20);
    }
  })();
  const end = Date.now() + T.warmup + T.measure;
  const publishers = Array.from({ length: 2 }, async () => {
    while (Date.now() < end) {
      if (published.length - received < 20_000) {
        const events = Array.from({ length: 500 }, (_, i) => event(routes[(published.length + i) % routes.length]!));
        published.push(...events.map((e) => e.messageId));
        await sys.publish(events);
      } else await sleep(2);
    }
  });
  await sleep(T.warmup);
  // CPU is the steadier measure on a shared machine: what the system (with its database)
  // spends per delivery does not depend on how much of the machine it was given.
  const db = sys.databaseCpu();
  await db.start();
  const cpuStart = cpuMs(sys.pids());
  const atStart = (await receiver.stats()).total;
  await sleep(T.measure);
  const atEnd = (await receiver.stats()).total;
  const dbUsed = await db.stop();
  const cpuUsed = cpuMs(sys.pids()) - cpuStart + dbUsed;
  await Promise.all(publishers);
  running = false;
  await poller;
  const result = {
    perSecond: (atEnd - atStart) / (T.measure / 1000),
    cpuPerThousand: (1000 * cpuUsed) / Math.max(1, atEnd - atStart),
    dbUsPerDelivery: (1000 * dbUsed) / Math.max(1, atEnd - atStart),
    audit: await audit(receiver, published, 1, 180_000),
  };
  await sys.unsubscribeAll();
  return result;
}

/** Open loop: single-event publishes at RATE per second; publish→receive latency. */
async function latency(sys: SystemInstance, receiver: ReceiverProc): Promise<{ summary: LatencySummary; audit: Audit }> {
  const routes = await sys.subscribe(WEBHOOKS);
  const published: string[] = [];
  const atRate = async (ms: number) => {
    const start = Date.now();
    const pending: Array<Promise<void>> = [];
    for (let tick = 0; Date.now() - start < ms; tick++) {
      for (let i = 0; i < RATE / 100; i++) {
        const e = event(routes[published.length % routes.length]!);
        published.push(e.messageId);
        pending.push(sys.publish([e]));
      }
      await sleep(Math.max(0, start + (tick + 1) * 10 - Date.now()));
    }
    await Promise.all(pending);
  };
  // Warm up first (connections, JIT, caches), then measure from a clean slate.
  await receiver.call({ cmd: 'reset' }, 'ok');
  await atRate(2000);
  await audit(receiver, published, 1, 60_000);
  published.length = 0;
  await receiver.call({ cmd: 'reset' }, 'ok');
  await receiver.call({ cmd: 'latency' }, 'ok');
  await atRate(T.latency);
  const result = await audit(receiver, published, 1, 60_000);
  const { latencies } = await receiver.call<{ latencies: number[] }>({ cmd: 'latencies' }, 'latencies');
  await sys.unsubscribeAll();
  return { summary: summarize(latencies), audit: result };
}

/** One event to T.fanOut webhooks: time from the publish until the last delivery arrives. */
async function fanOut(sys: SystemInstance, receiver: ReceiverProc): Promise<{ ms: number; audit: Audit }> {
  const route = randomUUID();
  await sys.subscribe(T.fanOut, { sharedRoute: route });
  await receiver.call({ cmd: 'reset' }, 'ok');
  const e = event(route);
  const t0 = Date.now();
  await sys.publish([e]);
  await until(async () => (await receiver.stats()).unique >= T.fanOut, 120_000, 5);
  const ms = Date.now() - t0;
  const result = await audit(receiver, [e.messageId], T.fanOut, 10_000);
  await sys.unsubscribeAll();
  return { ms, audit: result };
}

/** The receiver goes down (takes connections, never answers) while a backlog builds; then it comes back. */
async function backlog(sys: SystemInstance, receiver: ReceiverProc): Promise<NonNullable<Result['backlog']>> {
  const route = randomUUID();
  await sys.subscribe(T.backlogFanOut, { sharedRoute: route });
  await receiver.call({ cmd: 'reset' }, 'ok');
  await receiver.call({ cmd: 'mode', mode: 'blackhole' }, 'ok');
  const rssStart = memory(sys);
  let rssPeakBuild = rssStart;
  const sampler = setInterval(() => (rssPeakBuild = Math.max(rssPeakBuild, memory(sys))), 250);
  const t0 = Date.now();
  for (let i = 0; i < T.backlogEvents / 500; i++) await sys.publish(Array.from({ length: 500 }, () => event(route)));
  const buildSeconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  log(`  backlog of ${BACKLOG.toLocaleString('en-US')} built in ${buildSeconds.toFixed(1)} s, RSS ${rssStart.toFixed(0)} → ${rssPeakBuild.toFixed(0)} MiB; draining`);
  let rssPeakDrain = memory(sys);
  const drainSampler = setInterval(() => (rssPeakDrain = Math.max(rssPeakDrain, memory(sys))), 250);
  const d0 = Date.now();
  await receiver.call({ cmd: 'mode', mode: 'ok' }, 'ok');
  await until(async () => (await receiver.stats()).unique >= BACKLOG, T.drainWindow, 200);
  const drained = (await receiver.stats()).unique;
  const drainRate = drained / ((Date.now() - d0) / 1000);
  clearInterval(drainSampler);
  // The last scenario: the system is stopped and its data dropped next, so the backlog's
  // webhooks are not deleted one by one (that cascades over a million rows).
  return { buildSeconds, rssStart, rssPeakBuild, drainRate, rssPeakDrain };
}

/** The raw loop's throughput, as the baseline of whatever runs next to it. */
const rawRun = (urls: string[]) => rawThroughput(urls, { concurrency: CONCURRENCY, warmupMs: T.warmup, durationMs: T.measure });

async function measure(key: string, factory: SystemFactory, receiver: ReceiverProc, urls: string[]): Promise<Result> {
  const result: Result = { name: factory.name, describe: factory.describe, audits: [] };
  let sys: SystemInstance | undefined;
  try {
    sys = await factory.start(receiver.url);
    // The machine's speed drifts within a run: each system is compared with the raw loop
    // measured right before and right after its own throughput run.
    log(`${factory.name}: raw loop, throughput, raw loop`);
    const rawBefore = await rawRun(urls);
    const tp = await throughput(sys, receiver);
    result.rawAdjacent = [rawBefore, await rawRun(urls)];
    result.throughput = tp.perSecond;
    result.cpuPerThousand = tp.cpuPerThousand;
    result.dbUsPerDelivery = tp.dbUsPerDelivery;
    result.audits.push(['throughput', tp.audit]);
    log(`  ${Math.round(tp.perSecond)}/s, ${fmt(tp.cpuPerThousand)} CPU ms per 1,000, database ${fmt(tp.dbUsPerDelivery)} µs per delivery (raw loop ${result.rawAdjacent.map((r) => Math.round(r.perSecond)).join('/s, ')}/s); latency at ${RATE}/s`);
    const lat = await latency(sys, receiver);
    result.latency = lat.summary;
    result.audits.push(['latency', lat.audit]);
    log(`  p99 ${lat.summary.p99} ms; fan-out to ${T.fanOut}`);
    const fo = await fanOut(sys, receiver);
    result.fanOutMs = fo.ms;
    result.audits.push(['fan-out', fo.audit]);
    if (!(SKIP[key] ?? []).includes('backlog')) {
      log(`  ${fo.ms} ms; backlog`);
      result.backlog = await backlog(sys, receiver);
      log(`  drain ${Math.round(result.backlog.drainRate)}/s`);
    }
  } catch (err) {
    result.error = (err as Error).message;
    log(`  ${factory.name} failed: ${result.error}`);
  } finally {
    await receiver.call({ cmd: 'mode', mode: 'ok' }, 'ok');
    await sys?.stop().catch((err: Error) => log(`  stop failed: ${err.message}`));
  }
  return result;
}

/** The PostgreSQL store's own scenarios (bench/lib/pgScenarios.ts, soak.ts). */
interface PgExtras {
  workers?: WorkerScaling;
  drains?: DrainResult[];
  history?: DrainResult & { fillSeconds: number };
  soak: Partial<Record<'sqlite' | 'postgres', SoakSample[]>>;
  errors: string[];
}

async function postgresScenarios(receiver: ReceiverProc, results: Result[]): Promise<PgExtras> {
  const extras: PgExtras = { soak: {}, errors: [] };
  const attempt = async <R>(what: string, fn: () => Promise<R>): Promise<R | undefined> => {
    try {
      return await fn();
    } catch (err) {
      extras.errors.push(`${what}: ${(err as Error).message}`);
      log(`  ${what} failed: ${(err as Error).message}`);
      return undefined;
    }
  };
  for (const key of ROWS_OF.filter((k) => T.systems.includes(k) && (only === undefined || only.includes(k)))) {
    log(`rows written per delivery: ${SYSTEMS[key]!.name}`);
    const rows = await attempt(`rows of ${key}`, () => rowsPerDelivery(SYSTEMS[key]!, receiver, T.rows));
    const r = results.find((x) => x.name === SYSTEMS[key]!.name);
    if (rows !== undefined && r !== undefined) r.rows = rows;
    if (rows !== undefined) log(`  ${rows.single.toFixed(2)} single, ${rows.fanOut.toFixed(2)} fan-out`);
  }
  if (only !== undefined && !only.includes('pg1')) return extras;
  log(`worker processes draining ${fmt(DRAIN_BACKLOG)} deliveries to ${DRAIN_WEBHOOKS} webhooks`);
  extras.workers = await attempt('workers', () => workerScaling(receiver, T.workers, T.workerRounds, log));
  log(`${T.drains} drains in a row on one schema`);
  extras.drains = await attempt('drains', () => repeatedDrains(receiver, T.drains, log));
  log(`a drain with ${fmt(T.history)} finished deliveries present`);
  extras.history = await attempt('history', () => drainWithHistory(receiver, T.history, log));
  for (const store of ['sqlite', 'postgres'] as const) {
    log(`retention soak: ${store}, RETENTION=2s, 500 deliveries/s for ${T.soakSeconds} s`);
    const samples = await attempt(`soak of ${store}`, () => retentionSoak(store, receiver, { seconds: T.soakSeconds, everySeconds: Math.max(2, Math.round(T.soakSeconds / 9)) }));
    if (samples !== undefined) extras.soak[store] = samples;
  }
  return extras;
}

/** Whether the soak stayed flat: the last third's peak within a quarter of the middle third's. */
function soakFlat(samples: SoakSample[] | undefined, value: (s: SoakSample) => number): { flat: boolean; middle: number; last: number } | undefined {
  if (samples === undefined || samples.length < 6) return undefined;
  const third = Math.floor(samples.length / 3);
  const middle = Math.max(...samples.slice(third, 2 * third).map(value));
  const last = Math.max(...samples.slice(2 * third).map(value));
  return { flat: last <= middle * 1.25, middle, last };
}

/**
 * The targets the issues set, checked against this run's figures: each line says met, NOT
 * met, or not measured. Throughput targets are ratios to systems measured in the same run.
 */
function verdicts(results: Result[], extras: PgExtras): string[] {
  // A system whose later scenario failed still has the figures of those before it.
  const by = (name: string) => results.find((r) => r.name === SYSTEMS[name]?.name);
  const sqlite = by('sqlite');
  const pg = by('pg1');
  const baselines: Array<[string, Result | undefined]> = [
    ['BullMQ', by('bullmq')],
    ['pg-boss', by('pgboss')],
    ['graphile-worker', by('graphile')],
  ];
  const line = (ok: boolean | undefined, text: string) => `- ${ok === undefined ? 'not measured' : ok ? 'met' : '**NOT met**'}: ${text}`;
  const p99 = (r: Result | undefined) => r?.latency?.p99;
  const ahead = (a: Result | undefined, b: Result | undefined, what: 'throughput' | 'p99') => {
    const [x, y] = what === 'throughput' ? [a?.throughput, b?.throughput] : [p99(a), p99(b)];
    if (x === undefined || y === undefined) return undefined;
    return what === 'throughput' ? x > y : x < y;
  };
  const lossless = results.every((r) => r.audits.every(([, a]) => a.lost === 0 && a.duplicates === 0));
  return [
    line(sqlite && sqlite.throughput! >= baselineOf(sqlite)! / 2, `SQLite at least 50 % of the raw loop run next to it (${sqlite === undefined ? '–' : `${fmt((100 * sqlite.throughput!) / baselineOf(sqlite)!)} %`})`),
    line(sqlite && p99(sqlite)! <= 50, `SQLite p99 publish→receive at most 50 ms at ${RATE}/s (${fmt(p99(sqlite), 1)} ms)`),
    ...baselines.map(([label, b]) =>
      line(ahead(sqlite, b, 'throughput') && ahead(sqlite, b, 'p99'), `SQLite ahead of ${label} on throughput and p99 (${fmt(sqlite?.throughput)}/s vs ${fmt(b?.throughput)}/s; ${fmt(p99(sqlite), 1)} vs ${fmt(p99(b), 1)} ms)`),
    ),
    line(
      ahead(pg, by('pgboss'), 'throughput') && ahead(pg, by('pgboss'), 'p99'),
      `PostgreSQL (1 worker) ahead of pg-boss on throughput and p99 (${fmt(pg?.throughput)}/s vs ${fmt(by('pgboss')?.throughput)}/s; ${fmt(p99(pg), 1)} vs ${fmt(p99(by('pgboss')), 1)} ms)`,
    ),
    line(results.length === 0 ? undefined : lossless, 'no delivery lost or duplicated in any audited run'),
    ...postgresVerdicts(by, extras, line),
  ];
}

/** Issue 18's targets for the PostgreSQL store. */
function postgresVerdicts(by: (name: string) => Result | undefined, pg: PgExtras, line: (ok: boolean | undefined, text: string) => string): string[] {
  const ours = by('pg1');
  const boss = by('pgboss');
  const graphile = by('graphile');
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a / b);
  const w1 = pg.workers?.medians.find(([n]) => n === 1)?.[1];
  const w2 = pg.workers?.medians.find(([n]) => n === 2)?.[1];
  const d1 = pg.drains?.[0];
  const dn = pg.drains?.at(-1);
  const rate = ratio(ours?.throughput, boss?.throughput);
  const db = ratio(ours?.dbUsPerDelivery, boss?.dbUsPerDelivery);
  const vsGraphile = ratio(ours?.throughput, graphile?.throughput);
  const twoWorkers = w2?.vsOne;
  const twoDb = w2?.dbVsOne;
  const rounds = pg.workers?.rounds.length ?? 0;
  const ofRounds = rounds > 1 ? `, medians of ${rounds} rounds` : '';
  const growth = ratio(dn?.dbUsPerDelivery, d1?.dbUsPerDelivery);
  const history = ratio(pg.history?.perSecond, d1?.perSecond);
  const drain = ratio(ours?.backlog?.drainRate, ours?.throughput);
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${fmt(100 * x)} %`);
  const times = (x: number | undefined) => (x === undefined ? '–' : `${fmt(x, 2)}×`);
  const soak = (store: 'sqlite' | 'postgres') => {
    const rows = soakFlat(pg.soak[store], (s) => s.rows);
    const bytes = soakFlat(pg.soak[store], (s) => s.bytes);
    return line(
      rows === undefined || bytes === undefined ? undefined : rows.flat && bytes.flat,
      `${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: with RETENTION=2s, rows and bytes of deliveries, attempts and events flat while deliveries go on (peak of the last third against the middle third: ${fmt(rows?.last)} against ${fmt(rows?.middle)} rows, ${fmt((bytes?.last ?? NaN) / 2 ** 20, 1)} against ${fmt((bytes?.middle ?? NaN) / 2 ** 20, 1)} MiB)`,
    );
  };
  return [
    line(ours?.rows && ours.rows.single <= 4, `PostgreSQL: at most 4 rows written per delivery for single-delivery events (${fmt(ours?.rows?.single, 2)}; pg-boss ${fmt(boss?.rows?.single, 2)}, graphile-worker ${fmt(graphile?.rows?.single, 2)})`),
    line(ours?.rows && ours.rows.fanOut <= 3, `PostgreSQL: at most 3 rows written per delivery for a 1 → 100 fan-out (${fmt(ours?.rows?.fanOut, 2)})`),
    line(growth === undefined ? undefined : growth <= 1.3, `PostgreSQL: database CPU per delivery of the last of ${pg.drains?.length ?? 4} drains in a row within 30 % of the first's (${fmt(dn?.dbUsPerDelivery)} against ${fmt(d1?.dbUsPerDelivery)} µs: ${times(growth)})`),
    line(history === undefined ? undefined : history >= 0.8, `PostgreSQL: a drain with ${fmt(T.history)} finished deliveries present at least 80 % as fast as on empty tables (${fmt(pg.history?.perSecond)} against ${fmt(d1?.perSecond)}/s: ${pct(history)})`),
    line(twoWorkers === undefined ? undefined : twoWorkers >= 0.9 && twoDb! <= 1.15, `PostgreSQL: 2 workers at least 0.9× as fast as one, database CPU per delivery within 15 % (${times(twoWorkers)}; ${fmt(w2?.dbUsPerDelivery)} against ${fmt(w1?.dbUsPerDelivery)} µs: ${times(twoDb)}${ofRounds})`),
    line(rate === undefined ? undefined : rate >= 1.3, `PostgreSQL (1 worker) at least 1.3× pg-boss's deliveries/s (${fmt(ours?.throughput)} against ${fmt(boss?.throughput)}/s: ${times(rate)})`),
    line(db === undefined ? undefined : db <= 0.7, `PostgreSQL (1 worker) at most 70 % of pg-boss's database CPU per delivery (${fmt(ours?.dbUsPerDelivery)} against ${fmt(boss?.dbUsPerDelivery)} µs: ${pct(db)})`),
    line(vsGraphile === undefined ? undefined : vsGraphile >= 0.8, `PostgreSQL (1 worker) at least 0.8× graphile-worker's deliveries/s (${fmt(ours?.throughput)} against ${fmt(graphile?.throughput)}/s: ${times(vsGraphile)}; its database ${fmt(graphile?.dbUsPerDelivery)} µs per delivery)`),
    line(ours?.latency === undefined ? undefined : ours.latency.p99 <= 50, `PostgreSQL p99 publish→receive at most 50 ms at ${RATE}/s (${fmt(ours?.latency?.p99, 1)} ms)`),
    line(ours?.fanOutMs === undefined ? undefined : ours.fanOutMs <= 2000, `PostgreSQL fan-out to ${fmt(T.fanOut)} webhooks in at most 2 s (${fmt(ours?.fanOutMs)} ms)`),
    line(drain === undefined ? undefined : drain >= 0.8, `PostgreSQL backlog drain at least 80 % of its steady rate (${fmt(ours?.backlog?.drainRate)} against ${fmt(ours?.throughput)}/s: ${pct(drain)})`),
    soak('sqlite'),
    soak('postgres'),
  ];
}

/** The PostgreSQL sections of the report. */
function postgresReport(results: Result[], pg: PgExtras): string {
  const rowsOf = ROWS_OF.map((k) => results.find((r) => r.name === SYSTEMS[k]!.name)).filter((r): r is Result => r?.rows !== undefined);
  const rowsTable = [
    '| System | Rows written per delivery: single-delivery events | 1 → 100 fan-out | Where (single; fan-out), per delivery | Database CPU µs per delivery (throughput run) |',
    '|---|---|---|---|---|',
    ...rowsOf.map(
      (r) =>
        `| ${r.name} | ${fmt(r.rows!.single, 2)} | ${fmt(r.rows!.fanOut, 2)} | ${r.rows!.tables.single.map(([t, w]) => `${t} ${w}`).join(', ')}; ${r.rows!.tables.fanOut.map(([t, w]) => `${t} ${w}`).join(', ')} | ${fmt(r.dbUsPerDelivery)} |`,
    ),
  ].join('\n');
  const workersTable = [
    `| Worker processes (${DRAIN_WEBHOOKS} webhooks, backlog of ${fmt(DRAIN_BACKLOG)}) | Deliveries/s (median) | vs 1 worker (median of the rounds' ratios) | Database CPU µs per delivery (median) | vs 1 worker | Each round: deliveries/s (database µs) |`,
    '|---|---|---|---|---|---|',
    ...(pg.workers?.medians ?? []).map(
      ([n, r]) =>
        `| ${n} | ${fmt(r.perSecond)} | ${fmt(r.vsOne, 2)}× | ${fmt(r.dbUsPerDelivery)} | ${fmt(r.dbVsOne, 2)}× | ${drainsBy(pg.workers!, n).map((d) => (d === undefined ? '–' : `${fmt(d.perSecond)} (${fmt(d.dbUsPerDelivery)})`)).join('; ')} |`,
    ),
  ].join('\n');
  const historyTable = [
    `| History already in the tables (1 worker, ${fmt(DRAIN_BACKLOG)} deliveries drained) | Deliveries/s | Database CPU µs per delivery |`,
    '|---|---|---|',
    ...(pg.drains ?? []).map((r, i) => `| drain ${i + 1} in a row on one schema (${fmt(i * DRAIN_BACKLOG)} finished before it) | ${fmt(r.perSecond)} | ${fmt(r.dbUsPerDelivery)} |`),
    ...(pg.history === undefined ? [] : [`| ${fmt(T.history)} finished deliveries inserted first (generate_series, ${fmt(pg.history.fillSeconds)} s) | ${fmt(pg.history.perSecond)} | ${fmt(pg.history.dbUsPerDelivery)} |`]),
  ].join('\n');
  const soakRows = (['sqlite', 'postgres'] as const).flatMap((store) =>
    (pg.soak[store] ?? []).map(
      (s) =>
        `| ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${s.atSeconds} s | ${fmt(s.delivered)} | ${fmt(s.rows)} | ${fmt(s.bytes / 2 ** 20, 1)} MiB | ${fmt(s.remembered)}, ${fmt(s.rememberedBytes / 2 ** 20, 1)} MiB | ${s.fileBytes === undefined ? '–' : `${fmt(s.fileBytes / 2 ** 20, 1)} MiB`} |`,
    ),
  );
  const soakTable = [
    '| Store | At | Delivered so far | Rows: deliveries, attempts, events | Their bytes (SQLite: with free pages) | MessageIds remembered past their events (SQLite: with the idempotency index) | SQLite file and WAL |',
    '|---|---|---|---|---|---|---|',
    ...soakRows,
  ].join('\n');
  return `## PostgreSQL: rows written, workers, history, retention

Rows written: inserts + updates + deletes over every table of the system's schema in
\`pg_stat_user_tables\`, per delivery, with every delivery accepted at its first attempt
(${fmt(T.rows)} deliveries of each shape, published in batches). Database CPU: the backends
serving the system's connections (told apart by application_name), not the server's
background processes nor anyone else's.

${rowsTable}

Backlogs published with no worker running, then drained (the rate between 1 % and 99 % of
the backlog received; database CPU over the whole drain). The worker counts take turns in
${fmt(T.workerRounds)} round${T.workerRounds > 1 ? 's' : ''}, each drain on a fresh schema; the ratios to one worker are taken within a
round and their median is what the target reads:

${workersTable}

${historyTable}

Retention soak: single-delivery events at 500/s with RETENTION=2s (the loop's rounds are
10 s apart, so history lives 2 – 12 s); where the server's autovacuum is off, as here,
retention vacuums PostgreSQL's tables. MessageIds of removed events are remembered for the
rest of their 7-day idempotency window (contract §6), so those grow for 7 days by design.

${soakTable}
${pg.errors.length > 0 ? `\nNot measured: ${pg.errors.join('; ')}.\n` : ''}`;
}

/** Mean deliveries per second of the raw loop runs next to a system's throughput run. */
const baselineOf = (r: Result) => (r.rawAdjacent === undefined ? undefined : r.rawAdjacent.reduce((a, x) => a + x.perSecond, 0) / r.rawAdjacent.length);

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main() {
  const started = Date.now();
  const receiver = await startReceiver();
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => receiver.url(`/w/${i}`));
  const systems = T.systems.filter((s) => s !== 'raw' && (only === undefined || only.includes(s)));
  const results: Result[] = [];
  try {
    log(`raw undici loop at ${RATE}/s (latency)`);
    await receiver.call({ cmd: 'latency' }, 'ok');
    await rawAtRate(urls, { perSecond: RATE, durationMs: 2000 });
    await receiver.call({ cmd: 'reset' }, 'ok');
    await receiver.call({ cmd: 'latency' }, 'ok');
    await rawAtRate(urls, { perSecond: RATE, durationMs: T.latency });
    await until(async () => (await receiver.stats()).total >= (RATE * T.latency) / 1000, 30_000);
    const rawLatency = summarize((await receiver.call<{ latencies: number[] }>({ cmd: 'latencies' }, 'latencies')).latencies);
    for (const name of systems) results.push(await measure(name, SYSTEMS[name]!, receiver, urls));
    const extras = await postgresScenarios(receiver, results);
    const rawRuns = results.flatMap((r) => r.rawAdjacent ?? []);
    if (rawRuns.length === 0) rawRuns.push(await rawRun(urls));
    const raw = rawRuns.reduce((a, r) => a + r.perSecond, 0) / rawRuns.length;
    const rawCpu = rawRuns.reduce((a, r) => a + r.cpuMsPerThousand, 0) / rawRuns.length;
    const rawRange = `${fmt(Math.min(...rawRuns.map((r) => r.perSecond)))} to ${fmt(Math.max(...rawRuns.map((r) => r.perSecond)))}/s`;
    log(`raw loop ${rawRange} over ${rawRuns.length} runs`);

    const pct = (r: Result) => (r.throughput === undefined || baselineOf(r) === undefined ? '–' : `${fmt((100 * r.throughput) / baselineOf(r)!)} % of ${fmt(baselineOf(r))}`);
    const rows = [
      `| Raw undici POST loop (ceiling, no storage) | ${fmt(raw)} (mean of ${rawRuns.length} runs, ${rawRange}) | 100 % | ${fmt(rawCpu)} (client) | ${fmt(rawLatency.p50, 1)} / ${fmt(rawLatency.p95, 1)} / ${fmt(rawLatency.p99, 1)} | – | – | – | – |`,
      ...results.map((r) => {
        if (r.error !== undefined && r.throughput === undefined) return `| ${r.name} | failed: ${r.error.slice(0, 80)} | | | | | | | |`;
        const l = r.latency;
        const lost = r.audits.reduce((a, [, x]) => a + x.lost, 0);
        const dup = r.audits.reduce((a, [, x]) => a + x.duplicates, 0);
        const b = r.backlog;
        return (
          `| ${r.name} | ${fmt(r.throughput)} | ${pct(r)} | ${fmt(r.cpuPerThousand)}${r.dbUsPerDelivery ? ` (${fmt(r.dbUsPerDelivery)})` : ''} | ${l === undefined ? '–' : `${fmt(l.p50, 1)} / ${fmt(l.p95, 1)} / ${fmt(l.p99, 1)}`} | ` +
          `${r.fanOutMs === undefined ? '–' : `${fmt(r.fanOutMs)} ms`} | ` +
          `${b === undefined ? '(not run)' : `${fmt(b.buildSeconds, 1)} s; RSS ${fmt(b.rssStart)} → peak ${fmt(b.rssPeakBuild)} MiB`} | ` +
          `${b === undefined ? '(not run)' : `${fmt(b.drainRate)}/s, peak ${fmt(b.rssPeakDrain)} MiB`} | ${lost} / ${dup} |`
        );
      }),
    ];
    const table = [
      `| System | Deliveries/s (sustained) | vs the raw loop run next to it | CPU ms per 1,000 deliveries (of which the database's) | publish→receive p50 / p95 / p99 ms at ${RATE}/s | Fan-out: 1 event → ${fmt(T.fanOut)} webhooks | Backlog of ${fmt(BACKLOG)} built (receiver down) | Drain once it is back | Lost / duplicated |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
    const cpu = cpus();
    const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM (${fmt(freemem() / 2 ** 30, 1)} GiB free), Node ${process.version}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
    const report = `# Benchmarks

Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${quick ? 'quick subset' : 'full run'}, ${fmt((Date.now() - started) / 1000)} s).
Machine: ${machine}.
Date: ${new Date().toISOString()}.

${table}

Targets (from the issues), checked against the figures above:

${verdicts(results, extras).join('\n')}

How to read it:

- Everything runs on loopback and delivers to one receiver process (\`bench/lib/receiver.ts\`) that
  answers 200 at once. The raw loop (\`bench/lib/raw.ts\`) builds and HMAC-signs the same body as a
  real delivery and POSTs it with undici's \`request()\`, ${CONCURRENCY} in flight, storing nothing.
  The machine's speed drifts within a run, so it runs right before and right after each
  system's throughput run, and each system's share is of the mean of those two (${rawRange}
  over this run's ${rawRuns.length} raw runs; its row shows their mean).
- Every Node.js process of the run (driver, receiver, raw loop, itwin-webhooks, the baselines)
  runs with \`NODE_OPTIONS=--v8-pool-size=1\` (set by \`npm run bench\`), as the README advises
  on a 2-core machine: ${process.env.NODE_OPTIONS?.includes('--v8-pool-size=1') ? 'it was set for this run' : '**it was not set for this run**'}.
- Every system gets the same work and the same concurrency budget: ${WEBHOOKS} webhooks × ${CAP} in
  flight = ${CONCURRENCY}; the same signing code; batches of 500 events per publish request.
  Throughput is a closed loop (at most 20,000 events outstanding), measured for ${T.measure / 1000} s
  after ${T.warmup / 1000} s of warm-up; one delivery per event.
- CPU ms per 1,000 deliveries: CPU time (user + system, all threads) that the system's own
  processes and its database used in the throughput window, per 1,000 deliveries received;
  not the receiver's nor the producer's. The database's share: on PostgreSQL the backends
  serving the system's connections (told apart by application_name; the server's WAL writer
  and checkpointer, shared by everyone, are not counted), on Redis the server's processes.
  For the raw loop it is the client alone. Unlike deliveries per second it hardly depends on
  how much of this shared 2-core machine a run was given, so it is the figure to compare
  when judging a change to the code.
- Latency: single-event publishes at a fixed ${RATE}/s for ${T.latency / 1000} s after 2 s of warm-up,
  from just before the publish request is sent to the moment the receiver has the body.
- Fan-out: one event matching ${fmt(T.fanOut)} webhooks (each its own receiver path), time until the
  last delivery arrived.
- Backlog: ${fmt(T.backlogFanOut)} webhooks share one route, ${fmt(T.backlogEvents)} events are published while the
  receiver takes connections and never answers (${fmt(BACKLOG)} deliveries); then it answers again and
  the drain rate is measured over at most ${T.drainWindow / 1000} s. Memory is the peak RSS of the
  system's own processes (databases excluded).
- Lost / duplicated: every run counts what arrived against what was accepted (throughput, latency
  and fan-out runs, after they drain); both must be 0 without faults.

Systems:
${results.map((r) => `- **${r.name}**: ${r.describe}.${r.error !== undefined ? ` Error: ${r.error}` : ''}`).join('\n')}

${postgresReport(results, extras)}`;
    process.stdout.write(`\n${report}\n`);
    // The hand-written analysis below the marker survives a re-run; the figures above it do not.
    const path = join(ROOT, 'BENCHMARKS.md');
    const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const marker = previous.indexOf(ANALYSIS_MARKER);
    writeFileSync(path, marker >= 0 ? `${report}\n${previous.slice(marker)}` : report);
    log('wrote BENCHMARKS.md');
  } finally {
    receiver.close();
  }
}

await main();
