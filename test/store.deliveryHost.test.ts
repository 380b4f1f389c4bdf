// The delivery worker as the store thread hosts it (deliveryHost.ts), run here on the test's
// own thread against the synchronous store, so that what it hands to the main thread can be
// watched and answered by hand.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load.ts';
import { createSecretBox } from '../src/crypto/secretBox.ts';
import { serveRemoteAttempts, type RemoteAttempt, type RemoteResult } from '../src/delivery/remoteSender.ts';
import { createSender } from '../src/delivery/sender.ts';
import { hostDelivery } from '../src/store/sqlite/deliveryHost.ts';
import { openSqliteSync } from '../src/store/sqlite/store.ts';
import { tempDir } from './helpers/harness.ts';
import { eventually, Receiver } from './helpers/receiver.ts';

describe('the delivery worker hosted on the store thread', () => {
  it('sends its share itself, hands the rest over, and records the results that come back', async () => {
    const r = await new Receiver().start();
    let inFlight = 0;
    let most = 0;
    r.on('/hook', async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((res) => setTimeout(res, 10));
      inFlight--;
      return 200;
    });
    const dir = tempDir();
    const { store, db } = openSqliteSync(dir);
    const key = randomBytes(32);
    const box = createSecretBox(key);
    const config = loadConfig({ deliveryConcurrency: '8', maxInFlightPerWebhook: '8', allowInsecureCallbacks: true, callbackAllowCidrs: '127.0.0.0/8' }, {});
    const handedOver: RemoteAttempt[][] = [];
    const logs: string[] = [];
    let closes = 0;
    const host = hostDelivery(store, { delivery: config.delivery, callbacks: config.callbacks, key, userAgent: 'test', logLevel: 'info' }, {
      postAttempts: (attempts) => handedOver.push(attempts),
      postClose: () => closes++,
      postLog: (line) => logs.push(line),
    });
    try {
      const now = Date.now();
      const id = randomUUID();
      r.setSecret('/hook', 'a-secret-of-thirty-two-characters!!');
      store.createWebhook({ id, ownerClientId: 'c', scope: 'iTwin', scopeId: 'itwin-1', active: true, callbackUrl: r.url('/hook'), eventTypes: ['a.b.v1'], secretSealed: box.seal('a-secret-of-thirty-two-characters!!', `webhook:${id}`), createdAt: now, modifiedAt: now });
      const events = Array.from({ length: 30 }, (_, i) => ({ messageId: randomUUID(), eventType: 'a.b.v1', itwinId: 'itwin-1', accountId: undefined, contentJson: `{"n":${i}}`, publisherClientId: undefined }));
      store.publishEvents(events, now, 86_400_000);
      await host.control('start', []);

      // 4 of the 8 go out from here; the others are handed over and wait for their answers.
      await eventually(async () => handedOver.flat().length >= 4 && r.received.length >= 4, 5000, 'both halves busy');
      const local = r.received.length;
      assert.ok(most <= 4, `at most 4 sent here at once (${most})`);

      // The main thread's side: a real sender makes the handed-over attempts.
      const main = createSender({ delivery: config.delivery, callbacks: config.callbacks, box, userAgent: 'test', now: Date.now });
      const served = serveRemoteAttempts(main, (result: RemoteResult) => host.settle([result]));
      let taken = 0;
      const serve = () => {
        const all = handedOver.flat();
        served.attempts(all.slice(taken));
        taken = all.length;
      };
      const pump = setInterval(serve, 5);
      await eventually(async () => store.listDeliveries(id, 'succeeded', 100, undefined).items.length === 30, 10_000, 'all 30 recorded as succeeded');
      clearInterval(pump);
      assert.ok(local > 0 && taken > 0, `some sent here (${local}), some handed over (${taken})`);
      assert.equal(r.received.length, 30, 'each delivery sent once');
      assert.ok(r.received.every((x) => x.signatureValid === true));
      assert.ok(most <= 8, `at most DELIVERY_CONCURRENCY in flight (${most})`);
      const counts = host.control('counts', []) as { attempts: Record<string, number> };
      assert.equal(counts.attempts.succeeded, 30, 'results from both sides are counted');
      assert.ok(logs.some((l) => l.includes('dispatcher started')), 'it logs through the channel');

      await host.control('stop', [1000]);
      assert.equal(closes, 1, 'stopping tells the main thread to close its sender');
      await main.close();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
      await r.close();
    }
  });
});
