// npm run bench:pg -- [--rows[=pg1,pgboss,graphile]] [--workers[=1,2,4]] [--rounds=3] [--drains[=4]] [--history[=1000000]] [--soak[=sqlite,postgres]]
//
// The PostgreSQL scenarios of `npm run bench` on their own, for working on the PostgreSQL
// store: rows written per delivery (both shapes), the 1/2/4-worker drain table (--rounds
// rounds, the counts in turn in each: medians), repeated
// drains on one schema, a drain with a large finished history already present, and a
// soak of both stores under a short RETENTION. Without arguments it runs all five. Prints what it measured; writes nothing.
import { graphileBaseline, pgbossBaseline } from './baselines/index.ts';
import { itwinPostgres } from './lib/itwinSystem.ts';
import { drainsBy, drainWithHistory, repeatedDrains, rowsPerDelivery, workerScaling } from './lib/pgScenarios.ts';
import { startReceiver } from './lib/procs.ts';
import { retentionSoak } from './lib/soak.ts';
import type { SystemFactory } from './lib/system.ts';

const arg = (name: string): string | undefined => {
  const a = process.argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  return a === undefined ? undefined : (a.split('=')[1] ?? '');
};
const any = ['rows', 'workers', 'drains', 'history', 'soak'].some((n) => arg(n) !== undefined);
const want = (name: string) => !any || arg(name) !== undefined;
const list = (name: string, fallback: string) => (arg(name) || fallback).split(',');
const ROWS: Record<string, SystemFactory> = { pg1: itwinPostgres(1), pgboss: pgbossBaseline, graphile: graphileBaseline };
const log = (m: string) => process.stderr.write(`[bench:pg ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const rounds = Number(arg('rounds') || '3');
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write('bench:pg: --rounds takes a whole number of at least 1\n');
  process.exit(2);
}

const receiver = await startReceiver();
try {
  if (want('rows')) {
    for (const key of list('rows', 'pg1,pgboss,graphile')) {
      const f = ROWS[key];
      if (f === undefined) throw new Error(`--rows: unknown system ${key} (${Object.keys(ROWS).join(', ')})`);
      log(`rows written per delivery: ${f.name}`);
      const r = await rowsPerDelivery(f, receiver);
      console.log(`${f.name}: ${r.single.toFixed(2)} rows written per delivery (single-delivery events), ${r.fanOut.toFixed(2)} (1 → 100 fan-out)`);
      for (const [shape, tables] of Object.entries(r.tables)) console.log(`  ${shape}: ${tables.map(([t, w]) => `${t} ${w}`).join('; ')}`);
    }
  }
  if (want('workers')) {
    log('worker processes draining a backlog');
    const scaling = await workerScaling(receiver, list('workers', '1,2,4').map(Number), rounds, log);
    for (const [n, r] of scaling.medians) {
      const each = drainsBy(scaling, n).map((d) => Math.round(d!.perSecond)).join(', ');
      console.log(`${n} worker${n > 1 ? 's' : ''}: ${Math.round(r.perSecond)} deliveries/s (median of ${each}), ${r.vsOne.toFixed(2)}× one; database ${Math.round(r.dbUsPerDelivery)} µs CPU per delivery, ${r.dbVsOne.toFixed(2)}× one's`);
    }
  }
  if (want('drains')) {
    log('repeated drains on one schema');
    const rs = await repeatedDrains(receiver, Number(arg('drains') || '4'), log);
    console.log(`repeated drains: ${rs.map((r) => `${Math.round(r.perSecond)}/s at ${Math.round(r.dbUsPerDelivery)} µs`).join(' → ')}`);
  }
  if (want('history')) {
    log('drain with history present');
    const r = await drainWithHistory(receiver, Number(arg('history') || '1000000'), log);
    console.log(`with history: ${Math.round(r.perSecond)} deliveries/s, database ${Math.round(r.dbUsPerDelivery)} µs per delivery (history inserted in ${r.fillSeconds.toFixed(0)} s)`);
  }
  if (want('soak')) {
    for (const store of list('soak', 'sqlite,postgres') as Array<'sqlite' | 'postgres'>) {
      log(`retention soak: ${store}, RETENTION=2s, 500 deliveries/s`);
      const samples = await retentionSoak(store, receiver);
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      console.log(`soak (${store}): ${samples.map((s) => `${s.atSeconds} s: ${s.rows} rows, ${mib(s.bytes)} MiB, ${s.remembered} messageIds remembered`).join('; ')}`);
    }
  }
} finally {
  receiver.close();
}
