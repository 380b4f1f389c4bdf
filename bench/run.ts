// npm run bench [-- --quick]
//
// Loopback benchmarks of itwin-webhooks against a raw undici POST loop measured in the
// same run, on the same receiver (a separate process). Every figure that matters is
// reported as a ratio to that baseline: the machine is shared and noisy, absolute
// numbers are not comparable between runs. Bounded in time; writes BENCHMARKS.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { Producer, provision, type Provisioned } from './lib/itwin.ts';
import { rssMiB, sampleRss, startReceiver, startServer, ROOT, type ReceiverProc, type ServerProc } from './lib/procs.ts';
import { rawAtRate, rawThroughput } from './lib/raw.ts';
import { sleep, summarize, until, type LatencySummary } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const WEBHOOKS = 8;
const CAP = 16;
const CONCURRENCY = WEBHOOKS * CAP;
const T = quick
  ? { warmup: 1000, measure: 4000, latency: 5000, backlog: 100_000 }
  : { warmup: 3000, measure: 12_000, latency: 15_000, backlog: 1_000_000 };
const RATE = 1000;

interface Audit {
  published: number;
  lost: number;
  duplicates: number;
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

async function latencyOf(receiver: ReceiverProc, run: () => Promise<void>, expected: number): Promise<LatencySummary> {
  await receiver.call({ cmd: 'reset' }, 'ok');
  await receiver.call({ cmd: 'latency' }, 'ok');
  await run();
  await until(async () => (await receiver.stats()).total >= expected, 60_000);
  const { latencies } = await receiver.call<{ latencies: number[] }>({ cmd: 'latencies' }, 'latencies');
  return summarize(latencies);
}

async function audit(receiver: ReceiverProc, producer: Producer, timeoutMs: number): Promise<Audit> {
  await until(async () => (await receiver.stats()).unique >= producer.published.length, timeoutMs, 200);
  const stats = await receiver.stats(true);
  const seen = new Set(stats.ids);
  const lost = producer.published.filter((id) => !seen.has(id)).length;
  return { published: producer.published.length, lost, duplicates: stats.duplicates };
}

async function startItwin(receiver: ReceiverProc, webhooks: number, extra: string[] = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'itwh-bench-'));
  const storeArgs = ['--data-dir', dataDir];
  const server = await startServer([
    ...storeArgs,
    '--allow-insecure-callbacks',
    '--callback-allow-cidrs', '127.0.0.0/8',
    '--rate-limit-max', '0',
    '--max-in-flight-per-webhook', String(CAP),
    '--delivery-concurrency', String(CONCURRENCY * 4),
    ...extra,
  ]);
  const provisioned = await provision(server.url, storeArgs, receiver, webhooks);
  return { server, provisioned, dataDir };
}

/** Closed loop: keep at most `outstanding` events published but not yet received. */
async function itwinThroughput(server: ServerProc, p: Provisioned, receiver: ReceiverProc): Promise<{ perSecond: number; audit: Audit }> {
  await receiver.call({ cmd: 'reset' }, 'ok');
  const producer = new Producer(server.url, p);
  let received = 0;
  let running = true;
  const poller = (async () => {
    while (running) {
      received = (await receiver.stats()).total;
      await sleep(20);
    }
  })();
  const start = Date.now();
  const measureFrom = start + T.warmup;
  const end = measureFrom + T.measure;
  let atStart = 0;
  let atEnd = 0;
  const publishers = Array.from({ length: 2 }, async () => {
    while (Date.now() < end) {
      if (producer.published.length - received < 20_000) await producer.batch(500);
      else await sleep(2);
    }
  });
  await sleep(measureFrom - Date.now());
  atStart = (await receiver.stats()).total;
  await sleep(end - Date.now());
  atEnd = (await receiver.stats()).total;
  await Promise.all(publishers);
  running = false;
  await poller;
  const result = { perSecond: (atEnd - atStart) / (T.measure / 1000), audit: await audit(receiver, producer, 120_000) };
  await producer.close();
  return result;
}

async function backlog(receiver: ReceiverProc): Promise<{ build: number; rssStart: number; rssPeak: number; rssEnd: number; rssSteps: number[]; drainPerSecond: number; drainPeak: number; audit: Audit }> {
  const { server, provisioned, dataDir } = await startItwin(receiver, 1);
  try {
    await receiver.call({ cmd: 'reset' }, 'ok');
    await receiver.call({ cmd: 'mode', mode: 'blackhole' }, 'ok');
    const pid = server.child.pid!;
    const rssStart = rssMiB(pid);
    const sampler = sampleRss(pid);
    const producer = new Producer(server.url, provisioned);
    const steps: number[] = [];
    const t0 = Date.now();
    const batches = T.backlog / 1000;
    for (let i = 0; i < batches; i++) {
      await producer.batch(1000);
      if ((i + 1) % (batches / 4) === 0) {
        steps.push(rssMiB(pid));
        log(`backlog: ${(i + 1) * 1000} published, server RSS ${rssMiB(pid).toFixed(0)} MiB`);
      }
    }
    const build = (Date.now() - t0) / 1000;
    const rssPeak = sampler.stop();
    const rssEnd = rssMiB(pid);
    // The receiver comes back: the backlog drains.
    const drainSampler = sampleRss(pid);
    const d0 = Date.now();
    await receiver.call({ cmd: 'mode', mode: 'ok' }, 'ok');
    const result = await audit(receiver, producer, quick ? 120_000 : 600_000);
    const drainSeconds = (Date.now() - d0) / 1000;
    await producer.close();
    return { build, rssStart, rssPeak, rssEnd, rssSteps: steps, drainPerSecond: result.published / drainSeconds, drainPeak: drainSampler.stop(), audit: result };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (n: number) => `${fmt(n, 1)} ms`;

async function main() {
  const started = Date.now();
  const receiver = await startReceiver();
  const urls = Array.from({ length: WEBHOOKS }, (_, i) => receiver.url(`/w/${i}`));
  try {
    // The raw loop runs before and after the itwin-webhooks run; the ratio uses their mean,
    // so that a change of machine load during the run does not favour either side.
    log(`raw undici loop, ${CONCURRENCY} concurrent`);
    const rawBefore = await rawThroughput(urls, { concurrency: CONCURRENCY, warmupMs: T.warmup, durationMs: T.measure });
    log(`raw: ${fmt(rawBefore)}/s; raw latency at ${RATE}/s`);
    const rawLatency = await latencyOf(receiver, () => rawAtRate(urls, { perSecond: RATE, durationMs: T.latency }), (RATE * T.latency) / 1000);

    log('itwin-webhooks on SQLite');
    const { server, provisioned, dataDir } = await startItwin(receiver, WEBHOOKS);
    let sqlite;
    let sqliteLatency: LatencySummary;
    let latencyAudit: Audit;
    try {
      sqlite = await itwinThroughput(server, provisioned, receiver);
      log(`sqlite: ${fmt(sqlite.perSecond)}/s; latency at ${RATE}/s`);
      const producer = new Producer(server.url, provisioned);
      sqliteLatency = await latencyOf(receiver, () => producer.atRate(RATE, T.latency), (RATE * T.latency) / 1000);
      latencyAudit = await audit(receiver, producer, 60_000);
      await producer.close();
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }

    const rawAfter = await rawThroughput(urls, { concurrency: CONCURRENCY, warmupMs: T.warmup, durationMs: T.measure });
    const raw = (rawBefore + rawAfter) / 2;
    log(`raw again: ${fmt(rawAfter)}/s`);

    log(`backlog of ${fmt(T.backlog)} deliveries while the receiver is down`);
    const bl = await backlog(receiver);

    const rows = [
      ['Sustained throughput (deliveries/s)', `${fmt(raw)} (${fmt(rawBefore)} before, ${fmt(rawAfter)} after)`, fmt(sqlite.perSecond), `${fmt((100 * sqlite.perSecond) / raw)} %`, '≥ 50 %'],
      [`publish→receive p50 at ${RATE} events/s`, ms(rawLatency.p50), ms(sqliteLatency.p50), `+${ms(sqliteLatency.p50 - rawLatency.p50)}`, ''],
      [`publish→receive p95 at ${RATE} events/s`, ms(rawLatency.p95), ms(sqliteLatency.p95), `+${ms(sqliteLatency.p95 - rawLatency.p95)}`, ''],
      [`publish→receive p99 at ${RATE} events/s`, ms(rawLatency.p99), ms(sqliteLatency.p99), `+${ms(sqliteLatency.p99 - rawLatency.p99)}`, '≤ 50 ms'],
    ];
    const table = [
      '| Measure | Raw undici loop | itwin-webhooks (SQLite) | Ratio / difference | Target |',
      '|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    const backlogTable = [
      '| Backlog measure | Value |',
      '|---|---|',
      `| Deliveries queued while the receiver was down | ${fmt(T.backlog)} (built in ${fmt(bl.build, 1)} s) |`,
      `| Server RSS before / at each quarter / after | ${fmt(bl.rssStart)} MiB / ${bl.rssSteps.map((v) => fmt(v)).join(', ')} MiB / ${fmt(bl.rssEnd)} MiB |`,
      `| Peak server RSS while building | ${fmt(bl.rssPeak)} MiB |`,
      `| Drain rate once the receiver is back | ${fmt(bl.drainPerSecond)} deliveries/s (peak RSS ${fmt(bl.drainPeak)} MiB) |`,
    ].join('\n');
    const audits = [
      ['throughput run', sqlite.audit],
      ['latency run', latencyAudit],
      ['backlog run', bl.audit],
    ] as const;
    const auditTable = [
      '| Run | Accepted | Lost | Duplicated |',
      '|---|---|---|---|',
      ...audits.map(([name, a]) => `| ${name} | ${fmt(a.published)} | ${fmt(a.lost)} | ${fmt(a.duplicates)} |`),
    ].join('\n');

    const cpu = cpus();
    const machine = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM (${fmt(freemem() / 2 ** 30, 1)} GiB free), Node ${process.version}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
    const report = `# Benchmarks

Command: \`npm run bench${quick ? ' -- --quick' : ''}\` (${quick ? 'quick subset' : 'full run'}, ${fmt((Date.now() - started) / 1000)} s).
Machine: ${machine}.
Date: ${new Date().toISOString()}.

Everything runs on loopback. The receiver is a separate Node process (\`bench/lib/receiver.ts\`)
that answers 200 at once. The baseline is a raw undici POST loop (\`bench/lib/raw.ts\`) that
builds and HMAC-signs the same body as a real delivery, to the same receiver, with the same
concurrency (${CONCURRENCY} = ${WEBHOOKS} webhooks × ${CAP} in flight each), and stores nothing.
itwin-webhooks runs as \`itwin-webhooks serve\` (API and delivery worker in one process) on
its embedded SQLite store with synchronous=FULL for publishes: every answered publish is on
disk. Its producer publishes batches of 500 events, one delivery per event (each event goes
to one of ${WEBHOOKS} iTwin webhooks). Latency is measured from just before the producer
sends the publish request (or the raw POST) to the moment the receiver has the body, with
single-event publishes at a fixed ${RATE} events/s. The machine is shared: compare ratios,
not absolute numbers, between runs.

${table}

${backlogTable}

Loss and duplicate audit (every accepted messageId against what the receiver counted):

${auditTable}
`;
    process.stdout.write(`\n${report}\n`);
    writeFileSync(join(ROOT, 'BENCHMARKS.md'), report);
    log('wrote BENCHMARKS.md');
  } finally {
    receiver.close();
  }
}

await main();
