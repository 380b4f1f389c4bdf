// The delivery worker's pure scheduler (src/delivery/scheduler.ts): its caps and its lease
// accounting under any sequence of events, checked against a model of what it was told.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createScheduler, type SchedulerAction, type SchedulerLimits } from '../src/delivery/scheduler.ts';
import type { ClaimedDelivery } from '../src/store/types.ts';

const WEBHOOKS = ['w0', 'w1', 'w2', 'w3', 'w4'];
/** w0, w1 and w2 belong to one application; w3 and w4 to two others. */
const TENANT: Record<string, string> = { w0: 'app-a', w1: 'app-a', w2: 'app-a', w3: 'app-b', w4: 'app-c' };

let seq = 0;
function delivery(webhookId: string): ClaimedDelivery {
  const id = String(++seq);
  return { id, webhookId, ownerClientId: TENANT[webhookId] ?? `app-of-${webhookId}`, attempt: 1, callbackUrl: `https://r.example.com/${webhookId}`, secretSealed: 's', messageId: `m${id}`, eventType: 't.e.v1', itwinId: undefined, contentJson: '{}', enqueuedAt: 0 };
}

type Op =
  | { op: 'offer'; webhooks: number[] }
  | { op: 'finish'; pick: number }
  | { op: 'record'; n: number }
  | { op: 'deactivate'; webhook: number }
  | { op: 'activate'; webhook: number }
  | { op: 'reserve'; limit: number }
  | { op: 'answer'; pick: number; webhooks: number[] }
  | { op: 'stop' };

const webhookIndex = fc.integer({ min: 0, max: WEBHOOKS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 50, arbitrary: fc.record({ op: fc.constant('offer' as const), webhooks: fc.array(webhookIndex, { maxLength: 12 }) }) },
  { weight: 60, arbitrary: fc.record({ op: fc.constant('finish' as const), pick: fc.nat() }) },
  { weight: 30, arbitrary: fc.record({ op: fc.constant('record' as const), n: fc.nat({ max: 10 }) }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('deactivate' as const), webhook: webhookIndex }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('activate' as const), webhook: webhookIndex }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('reserve' as const), limit: fc.nat({ max: 8 }) }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('answer' as const), pick: fc.nat(), webhooks: fc.array(webhookIndex, { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'stop' as const }) },
);
const limitsArb: fc.Arbitrary<SchedulerLimits> = fc
  .record({
    concurrency: fc.integer({ min: 1, max: 8 }),
    maxInFlightPerWebhook: fc.integer({ min: 1, max: 4 }),
    maxInFlightPerApplication: fc.integer({ min: 1, max: 10 }),
    factor: fc.integer({ min: 1, max: 2 }),
    ahead: fc.integer({ min: 0, max: 8 }),
  })
  .map(({ concurrency, maxInFlightPerWebhook, maxInFlightPerApplication, factor, ahead }) => ({
    concurrency,
    maxInFlightPerWebhook,
    maxInFlightPerApplication,
    unrecordedCap: concurrency * factor,
    leaseBudget: concurrency * factor + ahead,
  }));

/** Runs the operations against a scheduler and a model of what it was told and answered, checking both after each. */
function run(limits: SchedulerLimits, ops: Op[]): void {
  const s = createScheduler(limits);
  const offered = new Map<string, ClaimedDelivery>();
  const sending = new Map<string, ClaimedDelivery>();
  const sent = new Set<string>();
  const released = new Set<string>();
  const inactive = new Set<string>();
  const reservations: number[] = [];
  let unrecorded = 0;
  let recorded = 0;
  let stopped = false;

  const waitingOf = (w: string) => [...offered.values()].filter((d) => d.webhookId === w && !sent.has(d.id) && !released.has(d.id)).length;
  const sendingTo = (w: string) => [...sending.values()].filter((d) => d.webhookId === w).length;
  const sendingOfTenant = (t: string) => [...sending.values()].filter((d) => TENANT[d.webhookId] === t).length;
  /** A lane with work it may send now, but for the process-wide caps. */
  const laneReady = (w: string) =>
    !stopped && waitingOf(w) > 0 && sendingTo(w) < limits.maxInFlightPerWebhook && sendingOfTenant(TENANT[w]!) < limits.maxInFlightPerApplication;
  const tenantReady = (t: string) => WEBHOOKS.some((w) => TENANT[w] === t && laneReady(w));
  const TENANTS = [...new Set(Object.values(TENANT))];
  /**
   * Fairness: how many sends of each other tenant (of each other lane of the same tenant)
   * went out while a ready tenant (lane) waited, since it last sent or stopped being ready.
   */
  const behindTenant = new Map<string, Map<string, number>>();
  const behindLane = new Map<string, Map<string, number>>();
  const waitBehind = (table: Map<string, Map<string, number>>, waiter: string, other: string, what: string) => {
    const row = table.get(waiter) ?? new Map<string, number>();
    table.set(waiter, row);
    const n = (row.get(other) ?? 0) + 1;
    row.set(other, n);
    assert.ok(n <= 1, `${what} ${waiter}, ready, waited behind ${n} sends of ${other}`);
  };
  const forgetWaits = () => {
    for (const t of TENANTS) if (!tenantReady(t)) behindTenant.delete(t);
    for (const w of WEBHOOKS) if (!laneReady(w)) behindLane.delete(w);
  };
  const checkTurn = (d: ClaimedDelivery) => {
    const tenant = TENANT[d.webhookId]!;
    for (const t of TENANTS) if (t !== tenant && tenantReady(t)) waitBehind(behindTenant, t, tenant, 'tenant');
    for (const w of WEBHOOKS) if (w !== d.webhookId && TENANT[w] === tenant && laneReady(w)) waitBehind(behindLane, w, d.webhookId, 'lane');
    behindTenant.delete(tenant);
    behindLane.delete(d.webhookId);
  };

  const apply = (actions: SchedulerAction[]) => {
    for (const a of actions) {
      if (a.kind === 'send') {
        const d = a.delivery;
        assert.ok(offered.has(d.id), 'sends only what was offered');
        checkTurn(d);
        assert.ok(!sent.has(d.id) && !released.has(d.id), `${d.id} sent once, and never after its release`);
        assert.ok(!stopped, 'nothing is sent once stopped');
        assert.ok(!inactive.has(d.webhookId), 'nothing is sent to an inactive webhook');
        sent.add(d.id);
        sending.set(d.id, d);
      } else {
        for (const id of a.deliveryIds) {
          assert.ok(offered.has(id) && !sent.has(id) && !released.has(id), `${id} released once, unsent`);
          released.add(id);
        }
      }
    }
  };
  const offer = (webhooks: number[], most: number) => {
    const batch = webhooks.slice(0, most).map((i) => delivery(WEBHOOKS[i]!));
    for (const d of batch) offered.set(d.id, d);
    apply(s.offer(batch));
  };

  const check = () => {
    const c = s.counts();
    const waitingIds = [...offered.keys()].filter((id) => !sent.has(id) && !released.has(id));
    assert.equal(c.sending, sending.size, 'sending');
    assert.equal(c.waiting, waitingIds.length, 'waiting = offered - sent - released');
    assert.equal(c.unrecorded, unrecorded, 'unrecorded');
    assert.equal(c.reserved, reservations.reduce((a, b) => a + b, 0), 'reserved');
    assert.equal(c.leased, c.sending + c.waiting + c.unrecorded + c.reserved, 'leased = sending + waiting + unrecorded + reserved');
    assert.equal(c.leased - c.reserved, offered.size - released.size - recorded, 'every lease offered is held until released or recorded');
    assert.ok(c.leased <= limits.leaseBudget, `leases ${c.leased} within the budget ${limits.leaseBudget}`);
    assert.ok(c.sending <= limits.concurrency, 'at most `concurrency` in flight');
    assert.ok(c.sending + c.unrecorded <= limits.unrecordedCap, 'at most `unrecordedCap` sent and unrecorded');
    const perWebhook = new Map<string, number>();
    for (const d of sending.values()) perWebhook.set(d.webhookId, (perWebhook.get(d.webhookId) ?? 0) + 1);
    for (const [w, n] of perWebhook) assert.ok(n <= limits.maxInFlightPerWebhook, `${w}: ${n} in flight`);
    for (const t of TENANTS) assert.ok(sendingOfTenant(t) <= limits.maxInFlightPerApplication, `${t}: ${sendingOfTenant(t)} in flight`);
    // Work-conserving: while work waits that its lane and tenant could send, the process-wide
    // caps are full (what a tenant at its cap leaves goes to the others).
    if (!stopped && !s.full()) {
      for (const id of waitingIds) {
        const w = offered.get(id)!.webhookId;
        assert.ok(!laneReady(w), `${id} of ${w} waits while the process, its webhook and its application have room`);
      }
    }
    forgetWaits();
  };

  for (const o of ops) {
    switch (o.op) {
      case 'offer':
        // A claim asks for no more than the room there is.
        offer(o.webhooks, s.room());
        break;
      case 'finish': {
        const all = [...sending.values()];
        if (all.length === 0) break;
        const d = all[o.pick % all.length]!;
        sending.delete(d.id);
        unrecorded++;
        apply(s.finish(d));
        break;
      }
      case 'record': {
        const n = Math.min(o.n, unrecorded);
        unrecorded -= n;
        recorded += n;
        apply(s.recorded(n));
        break;
      }
      case 'deactivate':
        inactive.add(WEBHOOKS[o.webhook]!);
        apply(s.deactivate(WEBHOOKS[o.webhook]!));
        break;
      case 'activate':
        inactive.delete(WEBHOOKS[o.webhook]!);
        s.activate(WEBHOOKS[o.webhook]!);
        break;
      case 'reserve':
        reservations.push(s.reserve(o.limit));
        break;
      case 'answer': {
        if (reservations.length === 0) break;
        const [n] = reservations.splice(o.pick % reservations.length, 1);
        s.unreserve(n!);
        offer(o.webhooks, n!);
        break;
      }
      case 'stop':
        for (const id of s.stop()) {
          assert.ok(offered.has(id) && !sent.has(id) && !released.has(id));
          released.add(id);
        }
        stopped = true;
        break;
    }
    check();
  }
}

describe('delivery scheduler', () => {
  it('holds every cap, accounts for every lease, and no tenant with work waits behind more than its share of another, whatever happens in whatever order', () => {
    fc.assert(fc.property(limitsArb, fc.array(opArb, { maxLength: 120 }), (limits, ops) => run(limits, ops)), { numRuns: 400 });
  });

  it('gives the process-wide slots to applications in turn, then to the webhooks of one application in turn', () => {
    const s = createScheduler({ concurrency: 1, maxInFlightPerWebhook: 4, maxInFlightPerApplication: 4, unrecordedCap: 1, leaseBudget: 100 });
    // app-a offers 9 deliveries over three webhooks before app-b's 3 arrive.
    const batch = [...['w0', 'w0', 'w0', 'w1', 'w1', 'w1', 'w2', 'w2', 'w2'], ...['w3', 'w3', 'w3']].map(delivery);
    const order: string[] = [];
    const take = (actions: SchedulerAction[]) => {
      for (const a of actions) if (a.kind === 'send') order.push(a.delivery.webhookId);
      return actions.find((a) => a.kind === 'send');
    };
    let current = take(s.offer(batch));
    while (current !== undefined && current.kind === 'send') {
      s.finish(current.delivery);
      current = take(s.recorded(1));
    }
    assert.deepEqual(order, ['w0', 'w3', 'w1', 'w3', 'w2', 'w3', 'w0', 'w1', 'w2', 'w0', 'w1', 'w2']);
  });

  it('an application whose receivers hang holds its cap and no more; every other application is served meanwhile; alone, one gets everything up to its cap', () => {
    const limits = { concurrency: 256, maxInFlightPerWebhook: 16, maxInFlightPerApplication: 128, unrecordedCap: 512, leaseBudget: 768 };
    const s = createScheduler(limits);
    // The attack: 64 webhooks of one application, 30 deliveries each, none ever answered.
    const attack = Array.from({ length: 64 * 30 }, (_, i) => ({ ...delivery(`attacker-${i % 64}`), ownerClientId: 'app-attacker' }));
    const sends = (actions: SchedulerAction[]) => actions.flatMap((a) => (a.kind === 'send' ? [a.delivery] : []));
    // The store leases it its application cap's worth: its sends, unwritten results and as many waiting.
    const hanging = sends(s.offer(attack.slice(0, 128 * 3)));
    assert.equal(hanging.length, 128, 'the attacker alone: its cap');
    // Another application's deliveries arrive while all of those hang: every one is sent.
    const victim = Array.from({ length: 500 }, () => delivery('w3'));
    let victimSent = 0;
    for (let i = 0; i < victim.length; i += 4) {
      assert.ok(s.room() >= 4, 'the attacker\'s leases leave room for claims');
      for (const d of sends(s.offer(victim.slice(i, i + 4)))) {
        assert.equal(d.ownerClientId, 'app-b');
        victimSent++;
        assert.deepEqual(sends(s.finish(d)), [], 'the slot a victim\'s delivery frees goes to no attacker delivery');
        s.recorded(1);
      }
    }
    assert.equal(victimSent, victim.length);
    assert.equal(s.counts().sending, 128, 'the attacker still holds its cap, nothing more');
  });

  it('refuses to count what it was never told (a finish without a send, more results than attempts)', () => {
    const s = createScheduler({ concurrency: 2, maxInFlightPerWebhook: 1, maxInFlightPerApplication: 2, unrecordedCap: 2, leaseBudget: 4 });
    const d = delivery('w0');
    assert.throws(() => s.finish(d), /was not being sent/);
    assert.throws(() => s.recorded(1), /only 0 unrecorded/);
    assert.throws(() => s.unreserve(1), /only 0 reserved/);
  });
});
