// npm run bench:calls [-- --against=REV] [-- --calls=N] [-- --webhooks=N]
//
// The server's side of a fan-out's result writes, before and after a change: a refill of 56
// over lanes of one delivery each (lease_due) and a result write of 56 successes refilled with
// 56 (complete_deliveries), each at git revision REV's version of the function and at the
// working tree's, on one database state, called in turns (every call rolled back, so each
// sees the same tables) and timed from the client. Turns rather than runs one after the
// other: this machine's speed drifts within minutes, and both versions see the same drift.
// REV's complete_deliveries calls the working tree's lease_due: each line compares one
// function's own change. A version whose signature differs from these calls is not comparable.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadStoreConfig } from '../src/config/load.ts';
import type { Routine } from '../src/store/postgres/functions/routine.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { dropPgSchema, PG_URL } from './lib/pgStats.ts';
import { ROOT } from './lib/procs.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const against = arg('against', 'HEAD');
const calls = Number(arg('calls', '300'));
const webhooks = Number(arg('webhooks', '3000'));
if (!/^[\w./~^-]+$/.test(against) || !Number.isInteger(calls) || calls < 20 || calls > 5000 || !Number.isInteger(webhooks) || webhooks < 200 || webhooks > 20_000) {
  process.stderr.write('usage: npm run bench:calls -- [--against=REV] [--calls=20..5000] [--webhooks=200..20000]\n');
  process.exit(2);
}
const BATCH = 56;

/** REV's version of a routine, renamed NAME_base. */
async function routineAt(file: string, exportName: string, name: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'itwh-calls-'));
  try {
    const path = join(dir, `${file}.ts`);
    writeFileSync(path, execFileSync('git', ['show', `${against}:src/store/postgres/functions/${file}.ts`], { cwd: ROOT }));
    const routine = ((await import(path)) as Record<string, Routine>)[exportName]!;
    return routine.sql.replace(/^DROP FUNCTION[^\n]*\n/m, '').replace(`CREATE OR REPLACE FUNCTION ${name}(`, `CREATE OR REPLACE FUNCTION ${name}_base(`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const schema = `bench_calls_${randomUUID().slice(0, 8)}`;
const config = loadStoreConfig({}, { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64) });
const store = await openPostgresStore(config);
const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
await client.connect();
try {
  const ACCOUNT = randomUUID();
  const TYPE = 'iModels.iModelCreated.v1';
  const T0 = Date.now();
  for (let i = 0; i < webhooks; i++) {
    await store.createWebhook({
      id: randomUUID(), ownerClientId: 'app', scope: 'Account', scopeId: ACCOUNT, active: true, callbackUrl: `https://receiver.example.com/hook/${i}`,
      eventTypes: [TYPE], secretSealed: 'x'.repeat(90), createdAt: T0, modifiedAt: T0,
    });
  }
  const event = { messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: ACCOUNT, contentJson: JSON.stringify({ text: 'x'.repeat(300) }), publisherClientId: undefined };
  await store.publishEvents([event], T0 + 10, 7 * 86_400_000);
  await client.query('ANALYZE');

  const leaseBase = await routineAt('leaseDue', 'leaseDue', 'lease_due');
  const completeBase = await routineAt('completeDeliveries', 'completeDeliveries', 'complete_deliveries');
  await client.query(leaseBase);
  await client.query(completeBase);
  const baseResultsType = /p_results (jsonb|json)\b/.exec(completeBase)?.[1] ?? 'jsonb';

  // A worker whose last claim got one delivery per lane, holding 56 leases whose results are written.
  await client.query("INSERT INTO workers (id, started_at, heartbeat_at) VALUES ('w', 0, 0)");
  const leased = (await client.query<{ id: number; webhook_id: string }>("SELECT id, webhook_id FROM lease_due('w', $1, $2, 16, 128, '{}')", [T0 + 100, BATCH])).rows;
  const results = JSON.stringify(leased.map((r) => ({ id: Number(r.id), w: r.webhook_id, o: 'succeeded', n: 1, st: T0 + 200, ms: 3, code: 200, err: null, body: null, next: null })));
  const at = T0 + 300;
  const pairs = {
    'lease_due (refill of 56)': {
      base: () => client.query(`SELECT coalesce(json_agg(c), '[]') AS j FROM lease_due_base('w', $1, $2, 16, 128, '{}') c`, [at, BATCH]),
      now: () => client.query(`SELECT coalesce(json_agg(c), '[]') AS j FROM lease_due('w', $1, $2, 16, 128, '{}') c`, [at, BATCH]),
    },
    'complete_deliveries (56 results, refill of 56)': {
      base: () => client.query(`SELECT complete_deliveries_base($1, $2::${baseResultsType}, $3, $4, $5, 16, 128) AS e`, ['w', results, 86_400_000, at, BATCH]),
      now: () => client.query('SELECT complete_deliveries($1, $2::json, $3, $4, $5, 16, 128) AS e', ['w', results, 86_400_000, at, BATCH]),
    },
  };
  console.log(`${against} against the working tree: ${webhooks} webhooks, one event to all of them, ${calls} calls of each version in turns`);
  for (const [label, fns] of Object.entries(pairs)) {
    const ms: Record<'base' | 'now', number[]> = { base: [], now: [] };
    for (let i = 0; i < calls; i++) {
      for (const k of i % 2 === 0 ? (['base', 'now'] as const) : (['now', 'base'] as const)) {
        await client.query('BEGIN');
        const t = process.hrtime.bigint();
        await fns[k]();
        ms[k].push(Number(process.hrtime.bigint() - t) / 1e6);
        await client.query('ROLLBACK');
      }
    }
    // The first calls plan the statements of each version's session cache.
    const base = median(ms.base.slice(10));
    const now = median(ms.now.slice(10));
    console.log(`${label}: ${against} ${base.toFixed(3)} ms, working tree ${now.toFixed(3)} ms (median per call): ${(now / base).toFixed(2)}×`);
  }
} finally {
  await client.end();
  await store.close();
  await dropPgSchema(schema);
}
