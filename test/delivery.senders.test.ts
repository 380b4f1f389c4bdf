import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createRemoteSender, serveRemoteAttempts, type RemoteAttempt, type RemoteResult } from '../src/delivery/remoteSender.ts';
import type { Sender } from '../src/delivery/sender.ts';
import { createSplitSender } from '../src/delivery/splitSender.ts';
import type { AttemptResult, ClaimedDelivery } from '../src/store/types.ts';

function delivery(id: number): ClaimedDelivery {
  return {
    id: String(id),
    webhookId: `w${id % 3}`,
    attempt: 1,
    callbackUrl: 'https://receiver.example.com/',
    secretSealed: 'sealed',
    messageId: `m${id}`,
    eventType: 'iModels.iModelCreated.v1',
    itwinId: undefined,
    contentJson: '{}',
    enqueuedAt: 0,
  };
}

function result(d: ClaimedDelivery, by: string): AttemptResult {
  return { deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt: 0, durationMs: 1, statusCode: 200, error: undefined, responseBody: by, outcome: 'succeeded', nextAttemptAt: undefined };
}

/** A sender whose attempts finish only when the test says so. */
function heldSender(name: string) {
  const open = new Map<string, () => void>();
  let closed = false;
  const sender: Sender = {
    send: (d) =>
      new Promise<AttemptResult>((resolve) => {
        open.set(d.id, () => {
          open.delete(d.id);
          resolve(result(d, name));
        });
      }),
    async close() {
      closed = true;
      for (const finish of [...open.values()]) finish();
    },
  };
  return { sender, open, finish: (id: string) => open.get(id)!(), closed: () => closed };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('split sender', () => {
  it('sends locally up to its limit and the rest through the other sender; a finished local attempt frees its place', async () => {
    const local = heldSender('local');
    const overflow = heldSender('overflow');
    const split = createSplitSender(local.sender, overflow.sender, 2);
    const answers = [1, 2, 3, 4, 5].map((i) => split.send(delivery(i)));
    assert.deepEqual([...local.open.keys()], ['1', '2']);
    assert.deepEqual([...overflow.open.keys()], ['3', '4', '5']);
    local.finish('1');
    assert.equal((await answers[0])!.responseBody, 'local');
    await tick();
    const sixth = split.send(delivery(6));
    assert.deepEqual([...local.open.keys()], ['2', '6'], 'the freed local place is used again');
    for (const id of ['2', '6']) local.finish(id);
    for (const id of ['3', '4', '5']) overflow.finish(id);
    assert.deepEqual((await Promise.all([...answers.slice(1), sixth])).map((r) => `${r.deliveryId}:${r.responseBody}`), ['2:local', '3:overflow', '4:overflow', '5:overflow', '6:local']);
    await split.close();
    assert.ok(local.closed() && overflow.closed(), 'closing closes both');
  });

  it('never has more than its limit in flight locally, and every attempt is answered by the sender that made it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.oneof(fc.constant('send' as const), fc.nat(20)), { maxLength: 60 }), async (limit, steps) => {
        const local = heldSender('local');
        const overflow = heldSender('overflow');
        const split = createSplitSender(local.sender, overflow.sender, limit);
        const answers: Array<Promise<AttemptResult>> = [];
        const madeBy = new Map<string, string>();
        let next = 1;
        for (const step of steps) {
          if (step === 'send') {
            const d = delivery(next++);
            answers.push(split.send(d));
            madeBy.set(d.id, local.open.has(d.id) ? 'local' : 'overflow');
          } else {
            const open = [...local.open.keys(), ...overflow.open.keys()];
            if (open.length === 0) continue;
            const id = open[step % open.length]!;
            (local.open.has(id) ? local.finish : overflow.finish)(id);
            await tick();
          }
          assert.ok(local.open.size <= limit);
          assert.equal(split.localInFlight(), local.open.size);
        }
        await split.close();
        for (const r of await Promise.all(answers)) assert.equal(r.responseBody, madeBy.get(r.deliveryId));
      }),
      { numRuns: 100 },
    );
  });
});

/** Two "threads": messages are copied with structuredClone, as postMessage copies them, and arrive a turn later. */
function wired(sendingSide: Sender) {
  const batches: RemoteAttempt[][] = [];
  let closes = 0;
  let results: RemoteResult[] = [];
  const served = serveRemoteAttempts(sendingSide, (r) => {
    if (results.push(r) === 1) {
      setImmediate(() => {
        const batch = structuredClone(results);
        results = [];
        remote.settle(batch);
      });
    }
  });
  const remote = createRemoteSender(
    {
      postAttempts: (attempts) => {
        const copy = structuredClone(attempts);
        batches.push(copy);
        setImmediate(() => served.attempts(copy));
      },
      postClose: () => {
        closes++;
        setImmediate(() => void served.close());
      },
    },
    { closeWaitMs: 200 },
  );
  return { remote, batches, closes: () => closes };
}

describe('remote sender', () => {
  it('hands the attempts of one turn over in one message and gives each caller its own result, whatever the order of the answers', async () => {
    const other = heldSender('main thread');
    const { remote, batches } = wired(other.sender);
    const answers = [1, 2, 3].map((i) => remote.send(delivery(i)));
    await tick();
    await tick();
    assert.equal(batches.length, 1, 'one message for the three');
    assert.deepEqual(batches[0]!.map(([, d]) => d.id), ['1', '2', '3']);
    assert.equal(remote.pending(), 3);
    other.finish('3');
    other.finish('1');
    assert.equal((await answers[2])!.deliveryId, '3');
    assert.equal((await answers[0])!.deliveryId, '1');
    other.finish('2');
    const second = await answers[1]!;
    assert.equal(second.deliveryId, '2');
    assert.equal(second.responseBody, 'main thread');
    assert.equal(remote.pending(), 0);
  });

  it('close asks the other side to abort what it sends and waits for those answers', async () => {
    const other = heldSender('main thread');
    const { remote, closes } = wired(other.sender);
    const answer = remote.send(delivery(7));
    await tick();
    await tick();
    await remote.close();
    assert.equal(closes(), 1);
    assert.ok(other.closed(), 'the sending side closed its sender');
    assert.equal((await answer).deliveryId, '7', 'the aborted attempt was answered before close returned');
    assert.equal(remote.pending(), 0);
  });

  it('close does not wait forever for a side that never answers', async () => {
    const silent: Sender = { send: () => new Promise<AttemptResult>(() => {}), close: async () => {} };
    const { remote } = wired(silent);
    void remote.send(delivery(8));
    await tick();
    await remote.close();
    assert.equal(remote.pending(), 1, 'left unanswered: its lease is released as unsent');
  });
});
