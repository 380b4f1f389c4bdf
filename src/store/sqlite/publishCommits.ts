import { StoreUnavailableError } from '../errors.ts';

/** How one publish of a group ended: what to answer it with. */
export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export interface PublishCommitDeps<C> {
  /**
   * Runs the publishes in one transaction committed without SQLite's fsync, one outcome per
   * call (a failing one changes nothing and undoes none of the others); throws when the
   * transaction itself fails.
   */
  commitGroup(calls: C[]): Outcome[];
  /** fsyncs the WAL file off the store thread and calls back. */
  syncWal(done: (err: Error | null) => void): void;
  answer(call: C, outcome: Outcome): void;
  /** The WAL could not be synced: what the disk kept is unknown. Called once, after the group is failed. */
  onSyncFailure(err: Error): void;
}

/**
 * Group commit for publishes on the embedded store, with the fsync off the store thread.
 *
 * A publish is answered only after the WAL holding its commit has been fsynced, as with
 * synchronous=FULL. But SQLite's own fsync would hold the store thread for as long as the
 * disk takes (7 – 8 ms per commit on the benchmark machine) and every result and claim
 * behind it would wait. Here the transaction commits without it, libuv's pool fsyncs the WAL
 * file, and the store thread goes on writing results and claims meanwhile. Publishes that
 * arrive during a sync wait for it to end and then commit together: one transaction and one
 * fsync for all of them, so commits stay as few as when the thread blocked.
 *
 * Deliveries of a committed publish may be claimed and sent before its sync ends. If the
 * machine loses power in that moment, the producer (never answered) publishes again and
 * they are sent again: at least once, as the policy allows.
 */
export interface PublishCommits<C> {
  /** Queues a publish; `flush` commits what is queued unless a sync is under way. */
  add(call: C): void;
  flush(): void;
  /** Refuses every publish from now on and calls `release` once no sync is under way (to close the WAL's descriptor). */
  close(release: () => void): void;
}

export function publishCommits<C>(deps: PublishCommitDeps<C>): PublishCommits<C> {
  let waiting: C[] = [];
  let syncing = false;
  /** Why publishes are refused from now on: a failed sync, or the store closing. */
  let failed: Error | undefined;
  let release: (() => void) | undefined;

  const flush = (): void => {
    if (waiting.length === 0) return;
    if (failed !== undefined) {
      const refused = waiting;
      waiting = [];
      for (const call of refused) deps.answer(call, { ok: false, error: failed });
      return;
    }
    if (syncing) return;
    const calls = waiting;
    waiting = [];
    let outcomes: Outcome[];
    try {
      outcomes = deps.commitGroup(calls);
    } catch (error) {
      for (const call of calls) deps.answer(call, { ok: false, error });
      return flush();
    }
    syncing = true;
    deps.syncWal((err) => {
      syncing = false;
      const released = release;
      release = undefined;
      released?.();
      if (err !== null) {
        // Retrying an fsync that failed can report success for writes the kernel dropped:
        // nothing is answered as durable from here on.
        const error = new StoreUnavailableError(`The database could not be synced to disk: ${err.message}`);
        failed = error;
        for (const call of calls) deps.answer(call, { ok: false, error });
        deps.onSyncFailure(error);
        return flush();
      }
      calls.forEach((call, i) => deps.answer(call, outcomes[i]!));
      flush();
    });
  };

  return {
    add(call) {
      waiting.push(call);
    },
    flush,
    close(then) {
      failed ??= new Error('The store is closed.');
      if (syncing) release = then;
      else then();
      flush();
    },
  };
}
