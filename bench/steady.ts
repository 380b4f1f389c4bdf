// npm run bench:steady [-- --system=sqlite] [-- --seconds=15] [-- --warmup=5] [-- --rate=1000]
//
// One system, one long run, and where its CPU went: per thread of each of its processes
// (main thread, store thread, V8's helpers, libuv's pool), per 1,000 deliveries. Without
// --rate the run is the closed-loop throughput scenario of bench/run.ts; with --rate=N it
// publishes single events at N per second and also prints publish→receive percentiles. This is the figure to compare before and after a change to the delivery path:
// CPU per delivery hardly depends on how much of this shared machine a run was given, the
// deliveries per second do.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { bullmqBaseline, graphileBaseline, pgbossBaseline } from './baselines/index.ts';
import { itwinPostgres, itwinSqlite } from './lib/itwinSystem.ts';
import { cpuMs, startReceiver } from './lib/procs.ts';
import { sleep, summarize } from './lib/stats.ts';
import type { BenchEvent, SystemFactory } from './lib/system.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const SYSTEMS: Record<string, SystemFactory> = { sqlite: itwinSqlite, pg1: itwinPostgres(1), pg2: itwinPostgres(2), bullmq: bullmqBaseline, pgboss: pgbossBaseline, graphile: graphileBaseline };
const factory = SYSTEMS[arg('system', 'sqlite')];
const seconds = Number(arg('seconds', '15'));
const warmup = Number(arg('warmup', '5'));
const rate = Number(arg('rate', '0'));
if (factory === undefined || !(seconds > 0) || !(warmup >= 0) || !(rate >= 0 && rate % 100 === 0)) {
  process.stderr.write(`usage: npm run bench:steady -- [--system=${Object.keys(SYSTEMS).join('|')}] [--seconds=N>0] [--warmup=N>=0] [--rate=N, a multiple of 100]\n`);
  process.exit(2);
}

/** CPU ms used so far by each thread of a process, keyed by thread name (threads of one name summed). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Worker threads all share one name: keep them apart (in start order, like their ids).
      const key = tid === String(pid) ? 'main thread' : name === 'WorkerThread' ? `${name} ${tid}` : name;
      out.set(key, (out.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // thread gone
    }
  }
  return out;
}

const receiver = await startReceiver();
const sys = await factory.start(receiver.url);
try {
  const routes = await sys.subscribe(8);
  let seq = 0;
  const event = (route: string): BenchEvent => ({ messageId: randomUUID(), route, content: { sentAt: Date.now(), seq: seq++ } });
  let published = 0;
  let received = 0;
  let running = true;
  const poller = (async () => {
    while (running) {
      received = (await receiver.stats()).total;
      await sleep(20);
    }
  })();
  const end = Date.now() + (warmup + seconds) * 1000;
  const closedLoop = async () => {
    while (Date.now() < end) {
      if (published - received < 20_000) {
        published += 500;
        await sys.publish(Array.from({ length: 500 }, (_, i) => event(routes[(published + i) % routes.length]!)));
      } else await sleep(2);
    }
  };
  // Open loop: every 10 ms, rate/100 single-event publishes, not waiting for their answers.
  const atRate = async () => {
    const start = Date.now();
    const pending: Array<Promise<void>> = [];
    for (let tick = 0; Date.now() < end; tick++) {
      for (let i = 0; i < rate / 100; i++) pending.push(sys.publish([event(routes[published++ % routes.length]!)]));
      await sleep(Math.max(0, start + (tick + 1) * 10 - Date.now()));
    }
    await Promise.all(pending);
  };
  const publishers = rate > 0 ? [atRate()] : [closedLoop(), closedLoop()];
  await sleep(warmup * 1000);
  if (rate > 0) await receiver.call({ cmd: 'latency' }, 'ok');
  const pids = sys.pids();
  const before = pids.map(threadCpu);
  const db = sys.databaseCpu();
  await db.start();
  const others = [process.pid, receiver.child.pid!];
  const othersBefore = others.map((p) => cpuMs([p]));
  const atStart = (await receiver.stats()).total;
  await sleep(seconds * 1000);
  const atEnd = (await receiver.stats()).total;
  const after = pids.map(threadCpu);
  const dbUsed = await db.stop();
  const othersUsed = others.map((p, i) => cpuMs([p]) - othersBefore[i]!);
  running = false;
  await Promise.all(publishers);
  await poller;
  const n = atEnd - atStart;
  if (rate > 0) {
    const l = summarize((await receiver.call<{ latencies: number[] }>({ cmd: 'latencies' }, 'latencies')).latencies);
    console.log(`publish→receive at ${rate}/s: p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms (${l.n} deliveries)`);
  }
  const per = (ms: number) => ((1000 * ms) / Math.max(1, n)).toFixed(1).padStart(7);
  let total = dbUsed;
  console.log(`${sys.name}: ${Math.round(n / seconds)} deliveries/s over ${seconds} s (after ${warmup} s of warm-up); CPU ms per 1,000 deliveries:`);
  pids.forEach((pid, i) => {
    const rows = [...after[i]!].map(([name, ms]) => [name, ms - (before[i]!.get(name) ?? 0)] as const).filter(([, ms]) => ms > 0);
    rows.sort((a, b) => b[1] - a[1]);
    for (const [name, ms] of rows) {
      total += ms;
      console.log(`  ${per(ms)}  pid ${pid} ${name}`);
    }
  });
  if (dbUsed > 0) console.log(`  ${per(dbUsed)}  database server`);
  console.log(`  ${per(total)}  total for the system`);
  console.log(`  ${per(othersUsed[0]!)}  (the driver publishing, not counted)`);
  console.log(`  ${per(othersUsed[1]!)}  (the receiver, not counted)`);
} finally {
  await sys.stop();
  receiver.close();
}
