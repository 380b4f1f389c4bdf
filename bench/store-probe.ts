// npm run bench:store [-- --seconds=5] [-- --batch=100] [-- --wal]
//
// The embedded store's own CPU per delivery, with no HTTP, no sender and no threads: one
// loop publishes batches of events to 8 webhooks, leases what became due and writes a
// success for each in batches of 32 (refilling in the same call), as the worker does. It
// also prints the wall time of the two kinds of call: a publish holds the store thread for
// that long per event (with its share of merging message ids into the idempotency table),
// and every result that arrives meanwhile waits.
// With --wal it also counts the WAL frames (pages) each kind of call writes, per event and
// per delivery: it checkpoints before every call for that, so its times are not comparable.
// A change to the store's SQL shows here without the noise of the whole pipeline; judge
// it by running old and new code in alternation (see README).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteSync } from '../src/store/sqlite/store.ts';
import type { AttemptResult, ClaimedDelivery } from '../src/store/types.ts';

const arg = (name: string, fallback: string) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const countWal = process.argv.includes('--wal');
const seconds = arg('seconds', '5');
const batch = arg('batch', '100');
if (!(seconds > 1) || !(Number.isInteger(batch) && batch > 0 && batch <= 1000)) {
  process.stderr.write('usage: npm run bench:store -- [--seconds=N>1] [--batch=1..1000]\n');
  process.exit(2);
}

const WEBHOOKS = 8;
const CONCURRENCY = 128;
const CAP = 16;
const dir = mkdtempSync(join(tmpdir(), 'itwh-store-probe-'));
const { db, store, messageIds } = openSqliteSync(dir);
try {
  const t0 = Date.now();
  for (let i = 0; i < WEBHOOKS; i++) {
    store.createWebhook({ id: randomUUID(), ownerClientId: 'probe', scope: 'iTwin', scopeId: `itwin-${i}`, active: true, callbackUrl: 'https://receiver.example.com/', eventTypes: ['probe.tick.v1'], secretSealed: 'sealed', createdAt: t0, modifiedAt: t0 });
  }
  store.heartbeat('probe-worker', t0);
  let seq = 0;
  let delivered = 0;
  const leased: ClaimedDelivery[] = [];
  const room = (now: number) => ({ now, limit: CONCURRENCY - leased.length, maxInFlightPerWebhook: CAP, maxInFlightPerApplication: CONCURRENCY });
  const start = performance.now();
  let cpuAtWarm = process.cpuUsage();
  let deliveredAtWarm = 0;
  let warm = false;
  /** Wall time of each kind of call, after the warm-up. */
  const wall = { publishMs: 0, events: 0, completeMs: 0, results: 0 };
  /** WAL frames written by each kind of call (--wal), after the warm-up. */
  const frames = { publish: 0, complete: 0 };
  // A checkpoint that empties the WAL, so that the frames in it afterwards are the next call's.
  const emptyWal = () => countWal && db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const walFrames = () => (countWal ? db.get<{ log: number }>('PRAGMA wal_checkpoint(PASSIVE)')!.log : 0);
  while (performance.now() - start < seconds * 1000) {
    const now = Date.now();
    const events = Array.from({ length: batch }, () => ({ messageId: randomUUID(), eventType: 'probe.tick.v1', itwinId: `itwin-${seq % WEBHOOKS}`, accountId: undefined, contentJson: `{"seq":${seq++},"sentAt":${now}}`, publisherClientId: 'probe' }));
    emptyWal();
    const publishFrom = performance.now();
    leased.push(...store.publishAndClaim(events, now, 7 * 86_400_000, { workerId: 'probe-worker', ...room(now) }).claimed);
    const publishFrames = walFrames();
    // Between calls, the server's store thread builds the filter of the idempotency table
    // and merges recent message ids into it.
    while (messageIds.workDue()) messageIds.workStep();
    if (warm) {
      wall.publishMs += performance.now() - publishFrom;
      wall.events += events.length;
      frames.publish += publishFrames;
    }
    while (leased.length > 0) {
      const done = leased.splice(0, 32);
      const results: AttemptResult[] = done.map((d) => ({ deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt: now, durationMs: 1, statusCode: 200, error: undefined, responseBody: '', outcome: 'succeeded', nextAttemptAt: undefined }));
      emptyWal();
      const completeFrom = performance.now();
      leased.push(...store.completeDeliveries('probe-worker', results, { deactivateFailingAfterMs: 86_400_000 }, room(Date.now())).claimed);
      if (warm) frames.complete += walFrames();
      if (warm) {
        wall.completeMs += performance.now() - completeFrom;
        wall.results += done.length;
      }
      delivered += done.length;
    }
    // The first second warms the JIT and the page cache up; it is not counted.
    if (!warm && performance.now() - start > 1000) {
      warm = true;
      cpuAtWarm = process.cpuUsage();
      deliveredAtWarm = delivered;
    }
  }
  const cpu = process.cpuUsage(cpuAtWarm);
  const n = delivered - deliveredAtWarm;
  // µs per delivery is ms per 1,000.
  const perThousand = (us: number) => (us / n).toFixed(1);
  process.stdout.write(`store alone: ${n} deliveries in ${seconds - 1} s; CPU ms per 1,000 deliveries: ${perThousand(cpu.user + cpu.system)} (user ${perThousand(cpu.user)}, system ${perThousand(cpu.system)})\n`);
  const us = (ms: number, per: number) => ((1000 * ms) / Math.max(1, per)).toFixed(1);
  process.stdout.write(`wall time: publish (and lease) ${us(wall.publishMs, wall.events)} µs per event; results (and refill) ${us(wall.completeMs, wall.results)} µs per delivery\n`);
  if (countWal) {
    const pageSize = db.get<{ page_size: number }>('PRAGMA page_size')!.page_size;
    const perItem = (f: number, per: number) => ((f * pageSize) / Math.max(1, per)).toFixed(0);
    process.stdout.write(`WAL written: publish (and lease) ${perItem(frames.publish, wall.events)} bytes per event; results (and refill) ${perItem(frames.complete, wall.results)} bytes per delivery\n`);
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
