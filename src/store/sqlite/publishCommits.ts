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
export function publishCommits<C>(deps: PublishCommitDeps<C>): { add(call: C): void; flush(): void } {
  let waiting: C[] = [];
  let syncing = false;
  let failed: Error | undefined;

  const flush = (): void => {
    if (syncing || waiting.length === 0) return;
    const calls = waiting;
    waiting = [];
    if (failed !== undefined) {
      for (const call of calls) deps.answer(call, { ok: false, error: failed });
      return;
    }
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
      if (err !== null) {
        // Retrying an fsync that failed can report success for writes the kernel dropped:
        // nothing is answered as durable from here on.
        failed = new Error(`The database could not be synced to disk: ${err.message}`);
        for (const call of calls) deps.answer(call, { ok: false, error: failed });
        deps.onSyncFailure(failed);
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
  };
}
