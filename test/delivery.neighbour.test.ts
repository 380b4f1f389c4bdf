import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, LOOPBACK_CALLBACKS } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

const TYPE = 'iModels.iModelCreated.v1';

describe('a slow or dead receiver never delays the others', () => {
  it('keeps delivering to 99 webhooks while the 100th hangs', async () => {
    const r = await new Receiver().start();
    const held: ServerResponse[] = [];
    r.on('/n/0', (_req, res) => {
      held.push(res); // answered only when the test lets go
      return 'handled';
    });
    const h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, deliveryTimeout: '60s', maxInFlightPerWebhook: '16' } });
    try {
      const sub = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      for (let i = 0; i < 100; i++) await h.webhook(sub, { callbackUrl: r.url(`/n/${i}`), eventTypes: [TYPE] });
      const events = Array.from({ length: 20 }, () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } }));
      const res = await h.publish(pub, { events });
      assert.ok(res.json().events.every((e: { matchedWebhooks: number }) => e.matchedWebhooks === 100));

      const others = () => r.received.filter((x) => x.path !== '/n/0').length;
      // The hanging webhook's lane may be served last, its 16 requests racing the last
      // healthy ones to the receiver: wait for both.
      await r.waitFor(() => others() === 99 * 20 && r.at('/n/0').length >= 16, 30_000, 'all deliveries to the 99 healthy receivers, and 16 to the hanging one');
      // Everything for the healthy ones arrived while the bad one still holds every request
      // it got: its share is capped at 16 in flight, and none of them has finished.
      assert.equal(r.at('/n/0').length, 16);
      assert.ok(held.every((res) => !res.writableEnded));
      for (let i = 1; i < 100; i++) assert.equal(r.at(`/n/${i}`).length, 20, `/n/${i}`);

      // Let go: the bad receiver recovers and gets the rest.
      r.on('/n/0', () => 200);
      for (const res of held) res.end('ok');
      await r.waitFor(() => r.at('/n/0').length === 20, 30_000, 'the recovered receiver catches up');
    } finally {
      await h.close();
      await r.close();
    }
  });

  it('serves webhooks round-robin: a backlog on one does not queue the others behind it', async () => {
    const r = await new Receiver().start();
    r.on('/backlog', async () => {
      await new Promise((res) => setTimeout(res, 5));
      return 200;
    });
    const h = await createHarness({ flags: { ...LOOPBACK_CALLBACKS, maxInFlightPerWebhook: '4' } });
    try {
      const sub = await h.client();
      const other = await h.client();
      const pub = await h.client({ accountId: sub.accountId, scopes: [SCOPES.publish] });
      const pubOther = await h.client({ accountId: other.accountId, scopes: [SCOPES.publish] });
      await h.webhook(sub, { callbackUrl: r.url('/backlog'), eventTypes: [TYPE] });
      await h.webhook(other, { callbackUrl: r.url('/quiet'), eventTypes: [TYPE] });
      const events = Array.from({ length: 1000 }, () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: sub.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } }));
      await h.publish(pub, { events });
      await r.waitFor(() => r.at('/backlog').length >= 20, 10_000, 'the backlog is draining');
      await h.publish(pubOther, { eventType: TYPE, iTwinId: randomUUID(), accountId: other.accountId, content: { imodelId: randomUUID(), userId: randomUUID() } });
      await r.waitFor(() => r.at('/quiet').length === 1, 10_000, 'the quiet webhook');
      const backlogDone = r.at('/backlog').length;
      assert.ok(backlogDone < 1000, `the quiet webhook's event went out while ${1000 - backlogDone} of the backlog still waited`);
      await r.waitFor(() => r.at('/backlog').length === 1000, 60_000, 'the backlog drains');
    } finally {
      await h.close();
      await r.close();
    }
  });
});
