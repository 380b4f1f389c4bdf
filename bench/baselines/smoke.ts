// node bench/baselines/smoke.ts [bullmq|pgboss|graphile ...] [--events N] [--subs N]
//
// Smoke test of the baselines: the shared receiver, each baseline in turn, 8 subscriptions,
// 2,000 events published in batches of 500 (routes round-robin), then wait until the receiver
// has every delivery; prints deliveries/s, duplicates and the publish time. Exits 1 on loss.
import { randomUUID } from 'node:crypto';
import { startReceiver } from '../lib/procs.ts';
import { sleep } from '../lib/stats.ts';
import type { BenchEvent, SystemFactory } from '../lib/system.ts';
import { bullmqBaseline, graphileBaseline, pgbossBaseline } from './index.ts';

const args = process.argv.slice(2);
const opt = (flag: string, fallback: number) => {
  const i = args.indexOf(flag);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const EVENTS = opt('--events', 2000);
const SUBS = opt('--subs', 8);
const BATCH = 500;
const TIMEOUT_MS = 120_000;
const picked = args.filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const all: Record<string, SystemFactory> = { bullmq: bullmqBaseline, pgboss: pgbossBaseline, graphile: graphileBaseline };
const systems = picked.length === 0 ? Object.values(all) : picked.map((p) => all[p] ?? (() => { throw new Error(`unknown baseline ${p}`); })());

const receiver = await startReceiver();
let failed = false;
try {
  for (const factory of systems) {
    await receiver.call({ cmd: 'reset' }, 'ok');
    const t0 = Date.now();
    const system = await factory.start(receiver.url);
    const started = Date.now() - t0;
    try {
      const routes = await system.subscribe(SUBS);
      const published = new Set<string>();
      const p0 = Date.now();
      for (let seq = 0; seq < EVENTS; ) {
        const events: BenchEvent[] = [];
        for (; events.length < BATCH && seq < EVENTS; seq++) {
          const messageId = randomUUID();
          published.add(messageId);
          events.push({ messageId, route: routes[seq % routes.length]!, content: { sentAt: Date.now(), seq } });
        }
        await system.publish(events);
      }
      const publishMs = Date.now() - p0;
      let stats = await receiver.stats();
      while (stats.unique < EVENTS && Date.now() - p0 < TIMEOUT_MS) {
        await sleep(10);
        stats = await receiver.stats();
      }
      const doneMs = Date.now() - p0;
      const final = await receiver.stats(true);
      const seen = new Set(final.ids);
      const lost = [...published].filter((id) => !seen.has(id)).length;
      const rate = (final.unique / doneMs) * 1000;
      process.stdout.write(
        `${factory.name}: ${final.unique}/${EVENTS} delivered in ${doneMs} ms → ${rate.toFixed(0)} deliveries/s ` +
          `(publish of ${EVENTS} took ${publishMs} ms; ${final.duplicates} duplicates; ${lost} lost; started in ${started} ms)\n`,
      );
      if (lost > 0 || final.unique < EVENTS) failed = true;
    } finally {
      await system.stop();
    }
  }
} finally {
  receiver.close();
}
process.exit(failed ? 1 : 0);
