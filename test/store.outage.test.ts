// The embedded store's thread ends when the WAL cannot be synced (nothing could be answered
// as durable after that). Then the store is lost: the API answers as in a PostgreSQL outage
// (503), /readyz reports not ready, and `serve` exits non-zero once the work in flight has
// settled, for its supervisor to restart it. The failure is injected into the store thread.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { superviseServer } from '../src/cli/serve.ts';
import { createLogger } from '../src/observability/logger.ts';
import { StoreUnavailableError } from '../src/store/errors.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import type { NewEvent } from '../src/store/types.ts';
import { createHarness, LOOPBACK_CALLBACKS, tempDir } from './helpers/harness.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

const TYPE = 'iModels.iModelCreated.v1';
const event = (): NewEvent => ({ messageId: randomUUID(), eventType: TYPE, itwinId: undefined, accountId: randomUUID(), contentJson: '{}', publisherClientId: undefined });

describe('embedded store: a failed WAL sync ends the store thread', () => {
  it('the publish is refused as a store outage, never answered as stored; every later call fails the same way', async () => {
    const dir = tempDir();
    const store = await openThreadedSqliteStore(dir, { faults: { walSyncFailsAfter: 1 } });
    try {
      assert.equal((await store.publishEvents([event()], Date.now(), 60_000)).length, 1, 'the first sync succeeds');
      await assert.rejects(store.publishEvents([event()], Date.now(), 60_000), (err: Error) => {
        assert.ok(err instanceof StoreUnavailableError, `a store outage, got ${err.name}: ${err.message}`);
        assert.match(err.message, /could not be synced to disk/);
        return true;
      });
      const lost = await store.lost;
      assert.ok(lost instanceof StoreUnavailableError);
      await assert.rejects(store.getMeta('anything'), StoreUnavailableError);
      await assert.rejects(store.ping(), StoreUnavailableError);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the server answers 503 and not ready, and stops (exit 1) only after the delivery in flight settled', async () => {
    const r = await new Receiver().start();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    r.on('/slow', async () => {
      await held;
      return 200;
    });
    // Only publishes wait for a sync: the first publish is durable, the second ends the thread.
    const h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, shutdownGrace: '30s' }, storeFaults: { walSyncFailsAfter: 1 } });
    const exits: Array<{ code: number; immediately: boolean; inFlightSettled: boolean }> = [];
    let settled = false;
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      await h.webhook(sub, { callbackUrl: r.url('/slow'), eventTypes: [TYPE] });
      const body = () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      assert.equal((await h.publish(pub, body())).statusCode, 202);
      await r.waitFor(() => r.received.length === 1, 10_000, 'the first delivery in flight');

      const refused = await h.publish(pub, body());
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(refused.json().error.code, 'ServiceUnavailable');
      assert.ok(refused.headers['retry-after'] !== undefined);
      assert.ok(await h.server.lost instanceof StoreUnavailableError);
      const ready = await h.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal((await h.inject({ method: 'GET', url: '/webhooks', headers: { authorization: sub.auth } })).statusCode, 503);

      // What `serve` does: it stops the server, which waits for the attempt under way.
      const logs: string[] = [];
      superviseServer(h.server, {
        logger: createLogger('info', { write: (line: string) => void logs.push(line) }),
        graceMs: 30_000,
        exit: (code, immediately) => exits.push({ code, immediately, inFlightSettled: settled }),
        signals: new EventEmitter(),
      });
      await eventually(() => logs.some((l) => l.includes('shutting down')), 5000, 'the shutdown begun');
      // Time enough for a shutdown that did not wait to end (none does: the attempt is held).
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(exits, [], 'not before the delivery in flight settled');
      settled = true;
      release();
      const deadline = Date.now() + 20_000;
      while (exits.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(exits, [{ code: 1, immediately: false, inFlightSettled: true }]);
    } finally {
      release();
      await h.close();
      await r.close();
    }
  });
});
