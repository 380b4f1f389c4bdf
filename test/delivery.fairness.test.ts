// Fair share between tenants (issue 19 §1), from the outside: one application points 64
// webhooks at a receiver that accepts every request and never answers, and fires 1,920
// test events at them; another application's deliveries must all arrive while those hang.
// Before the fix the attacker's requests held every delivery slot of the worker for the
// whole delivery timeout. Asserted on counts, never on times.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { SETTINGS } from '../src/config/settings.ts';
import { cleanEnv, startServe } from './helpers/child.ts';
import { createHarness, LOOPBACK_CALLBACKS, type Harness } from './helpers/harness.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';
import { Receiver } from './helpers/receiver.ts';

const TYPE = 'iModels.iModelCreated.v1';
const HANGING_WEBHOOKS = 64;
const TESTS_PER_WEBHOOK = 30;
const VICTIM_EVENTS = 200;
/** The default MAX_IN_FLIGHT_PER_APPLICATION: the attack runs against the shipped configuration. */
const APP_CAP = Number(SETTINGS.maxInFlightPerApplication.default);
/** Longer than the test: the attacker's requests hang throughout. */
const FLAGS = { ...LOOPBACK_CALLBACKS, deliveryTimeout: '120s', shutdownGrace: '0ms', testEventsPerWebhookPerMinute: String(TESTS_PER_WEBHOOK) };

const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

/** Runs the attack against the server of `h` (and whatever other workers share its store). */
async function attack(h: Harness, r: Receiver): Promise<void> {
  const held: ServerResponse[] = [];
  const attacker = await h.client();
  const hooks: string[] = [];
  for (let i = 0; i < HANGING_WEBHOOKS; i++) {
    r.on(`/hang/${i}`, (_req, res) => {
      held.push(res); // accepted, never answered
      return 'handled';
    });
    hooks.push((await h.webhook(attacker, { callbackUrl: r.url(`/hang/${i}`), eventTypes: [TYPE] })).id);
  }
  const statuses = new Map<number, number>();
  for (let n = 0; n < TESTS_PER_WEBHOOK; n++) {
    const answers = await Promise.all(hooks.map((id) => h.inject({ method: 'POST', url: `/webhooks/${id}/test`, headers: { authorization: attacker.auth } })));
    for (const a of answers) statuses.set(a.statusCode, (statuses.get(a.statusCode) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [[202, HANGING_WEBHOOKS * TESTS_PER_WEBHOOK]], 'every test event accepted');
  const hanging = () => r.received.filter((x) => x.path.startsWith('/hang/')).length;
  // Alone, the attacker is lent everything up to its cap (and the cap is all it gets).
  await r.waitFor(() => hanging() >= APP_CAP, 60_000, `the attacker's ${APP_CAP} requests`);

  const victim = await h.client();
  const publisher = await h.client({ accountId: victim.accountId, scopes: [SCOPES.publish] });
  await h.webhook(victim, { callbackUrl: r.url('/victim'), eventTypes: [TYPE] });
  for (let i = 0; i < VICTIM_EVENTS; i += 50) {
    const events = Array.from({ length: 50 }, () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: victim.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } }));
    assert.equal((await h.publish(publisher, { events })).statusCode, 202);
  }
  await r.waitFor(() => r.at('/victim').length >= VICTIM_EVENTS, 60_000, `the other application's ${VICTIM_EVENTS} deliveries while the attacker's hang`);

  assert.equal(r.at('/victim').length, VICTIM_EVENTS, 'each of the other application\'s events arrived once');
  assert.equal(hanging(), APP_CAP, `the attacker holds ${APP_CAP} requests in flight, across all workers, and got no more`);
  assert.equal(held.length, APP_CAP);
  assert.ok(held.every((res) => !res.writableEnded), 'none of them was answered: all the other application\'s deliveries went out while they hung');
}

describe('fair share between tenants: one application\'s hanging receivers and test events cannot starve another', () => {
  it('on the embedded store', async () => {
    const r = await new Receiver().start();
    const h = await createHarness({ flags: FLAGS });
    try {
      await attack(h, r);
    } finally {
      await h.close();
      await r.close();
    }
  });

  it('on PostgreSQL, with two worker processes: the cap holds across them', async () => {
    const schema = testSchema('fair');
    const key = 'ab'.repeat(32);
    const r = await new Receiver().start();
    const h = await createHarness({ flags: { ...FLAGS, databaseUrl: TEST_DATABASE_URL, databaseSchema: schema, encryptionKey: key } });
    const env = cleanEnv({
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: schema,
      ENCRYPTION_KEY: key,
      ALLOW_INSECURE_CALLBACKS: 'true',
      CALLBACK_ALLOW_CIDRS: '127.0.0.0/8',
      DELIVERY_TIMEOUT: FLAGS.deliveryTimeout,
      SHUTDOWN_GRACE: '0ms',
    }) as Record<string, string>;
    const worker = await startServe(['--role', 'worker'], env, 60_000);
    children.add(worker.proc);
    try {
      await attack(h, r);
    } finally {
      worker.proc.kill('SIGTERM');
      await worker.exited;
      await h.close();
      await r.close();
      await dropSchema(schema);
    }
  });
});
