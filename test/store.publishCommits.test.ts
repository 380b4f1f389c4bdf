/**
 * The embedded store's publish commits (src/store/sqlite/publishCommits.ts) with a fake
 * transaction and a fake fsync, so that every ordering can be held still and checked:
 * nobody is answered before the sync after its commit, publishes arriving meanwhile share
 * the next commit, and a failed sync answers nothing as durable again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publishCommits, type Outcome } from '../src/store/sqlite/publishCommits.ts';

function harness(opts: { failGroup?: (calls: string[]) => boolean } = {}) {
  const groups: string[][] = [];
  const syncs: Array<(err: Error | null) => void> = [];
  const answers: Array<{ call: string; outcome: Outcome }> = [];
  const failures: Error[] = [];
  const commits = publishCommits<string>({
    commitGroup(calls) {
      if (opts.failGroup?.(calls) === true) throw new Error(`transaction of ${calls.join('+')} failed`);
      groups.push(calls);
      // A call named bad-* fails on its own, inside the group.
      return calls.map((c): Outcome => (c.startsWith('bad') ? { ok: false, error: new Error(`${c} refused`) } : { ok: true, value: `${c} stored` }));
    },
    syncWal: (done) => syncs.push(done),
    answer: (call, outcome) => answers.push({ call, outcome }),
    onSyncFailure: (err) => failures.push(err),
  });
  let released = 0;
  const close = () => commits.close(() => released++);
  const publish = (...calls: string[]) => {
    for (const c of calls) commits.add(c);
    commits.flush();
  };
  const answered = () => answers.map((a) => `${a.call}:${a.outcome.ok ? String(a.outcome.value) : (a.outcome.error as Error).message}`);
  return { groups, syncs, answers, failures, publish, answered, close, released: () => released };
}

describe('publish commits on the embedded store', () => {
  it('answer nobody before the WAL sync that follows their commit has ended', () => {
    const h = harness();
    h.publish('a', 'bad-b', 'c');
    assert.deepEqual(h.groups, [['a', 'bad-b', 'c']], 'one transaction for the publishes that arrived together');
    assert.equal(h.syncs.length, 1, 'one sync for the group');
    assert.deepEqual(h.answers, [], 'committed but not synced: nobody is answered yet');
    h.syncs[0]!(null);
    assert.deepEqual(h.answered(), ['a:a stored', 'bad-b:bad-b refused', 'c:c stored']);
  });

  it('make publishes that arrive during a sync wait for it, then commit them together with one sync', () => {
    const h = harness();
    h.publish('a');
    h.publish('b');
    h.publish('c', 'd');
    assert.deepEqual(h.groups, [['a']], 'b, c and d wait: a sync is under way');
    assert.equal(h.syncs.length, 1);
    h.syncs[0]!(null);
    assert.deepEqual(h.answered(), ['a:a stored']);
    assert.deepEqual(h.groups, [['a'], ['b', 'c', 'd']], 'the waiting publishes share the next transaction');
    assert.equal(h.syncs.length, 2, 'and the next sync');
    h.syncs[1]!(null);
    assert.deepEqual(h.answered(), ['a:a stored', 'b:b stored', 'c:c stored', 'd:d stored']);
    h.publish('e');
    assert.deepEqual(h.groups.at(-1), ['e'], 'with no sync under way a publish commits at once');
  });

  it('answer a group whose transaction failed with its error at once, and go on with the next', () => {
    const h = harness({ failGroup: (calls) => calls.includes('x') });
    h.publish('x', 'y');
    assert.deepEqual(h.answered(), ['x:transaction of x+y failed', 'y:transaction of x+y failed']);
    assert.equal(h.syncs.length, 0, 'nothing committed, nothing to sync');
    h.publish('z');
    assert.deepEqual(h.groups, [['z']]);
    h.syncs[0]!(null);
    assert.deepEqual(h.answered().at(-1), 'z:z stored');
  });

  it('after a failed sync, fail its group, report it once and commit nothing more', () => {
    const h = harness();
    h.publish('a');
    h.publish('b');
    h.syncs[0]!(new Error('EIO: i/o error, fsync'));
    assert.equal(h.failures.length, 1);
    assert.match(h.failures[0]!.message, /could not be synced to disk: EIO/);
    // a was committed but its durability is unknown: it is not answered as stored. b, which
    // waited, is refused without being committed; so is everything after it.
    h.publish('c');
    assert.deepEqual(h.groups, [['a']]);
    assert.equal(h.syncs.length, 1);
    assert.deepEqual(
      h.answers.map((a) => [a.call, a.outcome.ok]),
      [['a', false], ['b', false], ['c', false]],
    );
  });

  it('on close, release the WAL file only after the sync under way, answer its group, and refuse the rest', () => {
    const h = harness();
    h.publish('a');
    h.publish('b');
    h.close();
    assert.equal(h.released(), 0, 'a sync of the file is under way: it is not released yet');
    assert.deepEqual(h.answered(), ['b:The store is closed.'], 'b waited: it is refused, never committed');
    h.syncs[0]!(null);
    assert.equal(h.released(), 1);
    assert.deepEqual(h.answered(), ['b:The store is closed.', 'a:a stored'], 'a was committed before the close: it is answered once synced');
    h.publish('c');
    assert.deepEqual(h.groups, [['a']]);
    assert.equal(h.answered().at(-1), 'c:The store is closed.');
    const idle = harness();
    idle.close();
    assert.equal(idle.released(), 1, 'with no sync under way the file is released at once');
  });
});
