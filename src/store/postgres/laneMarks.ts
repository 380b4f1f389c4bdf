/**
 * After a publish committed, its lanes become ready and the workers are woken, by one
 * statement. This runs outside the publish's transaction (a worker may hold a lane's lock
 * for a moment, and the NOTIFY holds the server's one notification lock until its commit),
 * and one statement at a time per process: publishes that commit meanwhile share the next one, so
 * a burst of publishes to the same webhooks queues on nothing. Should a mark fail, the
 * publish is still durable and repairLanes (every worker's reaper) finds the lanes.
 */
export interface LaneMarks {
  /** Resolves once a mark covering these lanes has been written (or has failed). */
  markReady(webhookIds: string[], now: number): Promise<void>;
}

/**
 * Lanes marked per statement at most: a mark holds an advisory lock per lane until it
 * commits, and the server's lock table is shared by every session (a fan-out to 10,000
 * webhooks in one statement would hold 10,000).
 */
export const MARK_CHUNK = 500;

export function laneMarks(deps: {
  /** Marks the lanes of these webhooks ready at `at` and wakes the workers (one statement). */
  mark(webhookIds: string[], at: number): Promise<unknown>;
}): LaneMarks {
  let marks = new Set<string>();
  let markAt = 0;
  let waiters: Array<() => void> = [];
  let marking = false;

  const flush = async (): Promise<void> => {
    marking = true;
    while (marks.size > 0) {
      // In the order given (a publish gives its lanes in the order claims serve them), not
      // sorted: each statement takes its lanes' locks in lane order itself.
      const ids = [...marks];
      const done = waiters;
      marks = new Set();
      waiters = [];
      try {
        // Each chunk wakes the workers once written: a large fan-out is claimed while the rest is marked.
        for (let i = 0; i < ids.length; i += MARK_CHUNK) await deps.mark(ids.slice(i, i + MARK_CHUNK), markAt);
      } catch {
        // repaired later; see above
      }
      for (const w of done) w();
    }
    marking = false;
  };

  return {
    markReady(webhookIds, now) {
      if (webhookIds.length === 0) return Promise.resolve();
      for (const id of webhookIds) marks.add(id);
      markAt = Math.max(markAt, now);
      const done = new Promise<void>((resolve) => waiters.push(resolve));
      if (!marking) void flush();
      return done;
    },
  };
}
