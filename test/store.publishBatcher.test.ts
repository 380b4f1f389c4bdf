/**
 * The PostgreSQL store's publish batching (src/store/postgres/publishBatcher.ts) and its
 * after-commit lane marks (laneMarks.ts), with fake transactions held open by the test:
 * which publishes share a transaction, what each is answered, and what a failure fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { laneMarks, MARK_CHUNK } from '../src/store/postgres/laneMarks.ts';
import { publishBatcher, type CommittedEvent } from '../src/store/postgres/publishBatcher.ts';
import type { NewEvent, PublishedEvent } from '../src/store/types.ts';

const ev = (messageId: string): NewEvent => ({ messageId, eventType: 'iModels.iModelCreated.v1', itwinId: 'i', accountId: undefined, contentJson: '{}', publisherClientId: undefined });

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function harness(opts: { parallel?: number; maxEvents?: number } = {}) {
  const commits: Array<{ ids: string[]; now: number; windowMs: number; done: ReturnType<typeof deferred<Map<string, CommittedEvent>>> }> = [];
  const publish = publishBatcher({
    parallel: opts.parallel ?? 1,
    maxEvents: opts.maxEvents ?? 100,
    commit(events, now, windowMs) {
      const done = deferred<Map<string, CommittedEvent>>();
      commits.push({ ids: events.map((e) => e.messageId), now, windowMs, done });
      return done.promise;
    },
  });
  /** Answers commit `i` as the database would: every distinct id new, matched by one webhook, unless listed as already known. */
  const answer = (i: number, known: string[] = []) =>
    commits[i]!.done.resolve(new Map(commits[i]!.ids.map((id) => [id, { eventType: 't', enqueuedAt: commits[i]!.now, matchedWebhooks: 1, duplicate: known.includes(id) }])));
  return { commits, publish, answer };
}

const flushed = () => new Promise((r) => setImmediate(r));
const dupes = (rs: PublishedEvent[]) => rs.map((r) => `${r.messageId}:${r.duplicate ? 'dup' : 'new'}`);

describe('PostgreSQL publish batching', () => {
  it('sends a lone publish at once, and merges those that arrive while it runs into the next transaction', async () => {
    const h = harness();
    const a = h.publish([ev('a')], 10, 1000);
    const b = h.publish([ev('b')], 11, 1000);
    const c = h.publish([ev('c'), ev('d')], 12, 1000);
    assert.deepEqual(
      h.commits.map((c) => c.ids),
      [['a']],
      'the first goes alone, at once',
    );
    h.answer(0);
    assert.deepEqual(dupes(await a), ['a:new']);
    await flushed();
    assert.deepEqual(
      h.commits.map((c) => c.ids),
      [['a'], ['b', 'c', 'd']],
      'the two that waited share one transaction',
    );
    assert.equal(h.commits[1]!.now, 12, 'a merged transaction runs at the latest of their times');
    h.answer(1);
    assert.deepEqual(dupes(await b), ['b:new']);
    assert.deepEqual(dupes(await c), ['c:new', 'd:new']);
  });

  it('answers a messageId repeated across merged requests as new for the first and a duplicate for the later ones', async () => {
    const h = harness();
    const first = h.publish([ev('x')], 1, 1000);
    const a = h.publish([ev('m'), ev('n')], 2, 1000);
    const b = h.publish([ev('m')], 2, 1000);
    h.answer(0);
    await first;
    await flushed();
    h.answer(1, ['n']);
    assert.deepEqual(dupes(await a), ['m:new', 'n:dup'], 'the database knew n already');
    assert.deepEqual(dupes(await b), ['m:dup'], 'm was new in the request before it');
  });

  it('never merges requests with different idempotency windows, nor beyond the largest merged size', async () => {
    const h = harness({ maxEvents: 3 });
    const p = [
      h.publish([ev('a')], 1, 1000),
      h.publish([ev('b'), ev('c')], 1, 1000),
      h.publish([ev('d')], 1, 5000),
      h.publish([ev('e'), ev('f')], 1, 5000),
      h.publish([ev('g'), ev('h')], 1, 5000),
    ];
    for (let i = 0; i < 4; i++) {
      await flushed();
      h.answer(i);
    }
    await Promise.all(p);
    assert.deepEqual(
      h.commits.map((c) => `${c.windowMs}:${c.ids.join('')}`),
      ['1000:a', '1000:bc', '5000:def', '5000:gh'],
    );
  });

  it('runs up to `parallel` transactions at once', async () => {
    const h = harness({ parallel: 2 });
    const p = [h.publish([ev('a')], 1, 1000), h.publish([ev('b')], 1, 1000), h.publish([ev('c')], 1, 1000)];
    assert.deepEqual(
      h.commits.map((c) => c.ids),
      [['a'], ['b']],
    );
    h.answer(1);
    await p[1];
    await flushed();
    assert.deepEqual(
      h.commits.map((c) => c.ids),
      [['a'], ['b'], ['c']],
    );
    h.answer(0);
    h.answer(2);
    await Promise.all(p);
  });

  it('fails every request of a failed transaction, and only those', async () => {
    const h = harness();
    const a = h.publish([ev('a')], 1, 1000);
    const b = h.publish([ev('b')], 1, 1000);
    const c = h.publish([ev('c')], 1, 1000);
    h.commits[0]!.done.reject(new Error('connection lost'));
    await assert.rejects(a, /connection lost/);
    await flushed();
    h.commits[1]!.done.reject(new Error('deadlock'));
    await assert.rejects(b, /deadlock/);
    await assert.rejects(c, /deadlock/);
    const d = h.publish([ev('d')], 1, 1000);
    h.answer(2);
    assert.deepEqual(dupes(await d), ['d:new'], 'the batcher goes on after failures');
  });
});

describe('PostgreSQL lane marks after a publish', () => {
  it('writes one mark at a time; lanes marked meanwhile share the next, at the latest time, in the order given', async () => {
    const writes: Array<{ ids: string[]; at: number; done: ReturnType<typeof deferred<void>> }> = [];
    const marks = laneMarks({
      mark(ids, at) {
        const done = deferred<void>();
        writes.push({ ids, at, done });
        return done.promise;
      },
    });
    const first = marks.markReady(['w2', 'w1'], 5);
    const second = marks.markReady(['w3', 'w1'], 7);
    const third = marks.markReady(['w0'], 6);
    assert.deepEqual(
      writes.map((w) => [w.ids, w.at]),
      [[['w2', 'w1'], 5]],
    );
    writes[0]!.done.resolve();
    await first;
    await flushed();
    assert.deepEqual(
      writes.map((w) => [w.ids, w.at]),
      [
        [['w2', 'w1'], 5],
        [['w3', 'w1', 'w0'], 7],
      ],
    );
    writes[1]!.done.reject(new Error('lock timeout'));
    await second;
    await third;
    assert.equal(writes.length, 2, 'a failed mark is not written again (repairLanes finds its lanes)');
    await marks.markReady([], 9);
    assert.equal(writes.length, 2, 'nothing to mark writes nothing');
  });

  it('marks many lanes in statements of at most MARK_CHUNK lanes, each of which wakes the workers', async () => {
    const writes: string[][] = [];
    const marks = laneMarks({ mark: async (ids) => writes.push(ids) });
    const lanes = Array.from({ length: 2 * MARK_CHUNK + 1 }, (_, i) => `w${String(i).padStart(5, '0')}`);
    await marks.markReady(lanes, 1);
    assert.deepEqual(
      writes.map((w) => w.length),
      [MARK_CHUNK, MARK_CHUNK, 1],
    );
    assert.deepEqual(writes.flat(), lanes, 'in the order given (a publish gives its lanes in the order claims serve them)');
  });
});
