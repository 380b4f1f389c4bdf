/**
 * Retention (contract §6): delivered history older than RETENTION leaves the store in
 * small batches. What goes: finished deliveries (succeeded, failed, cancelled) whose last
 * change is older than the cutoff, their attempts, and events older than it that no
 * delivery refers to any more. What stays: every pending delivery (and so its event),
 * whatever its age; and the idempotency window, kept on its own: a pruned event's
 * messageId is remembered (with its first result) until the window it was published in
 * ends, then forgotten.
 */

export interface PruneRequest {
  /** History last changed before this time goes. */
  before: number;
  now: number;
  /** How long a messageId makes a publish a duplicate (remembered beyond its event). */
  idempotencyWindowMs: number;
  /** Rows of each kind looked at in this call at most: one call holds nothing up for long. */
  limit: number;
}

export interface PruneResult {
  deliveries: number;
  attempts: number;
  events: number;
  /** Remembered messageIds whose window ended. */
  messageIds: number;
  /** More may be due now: call again (after a pause) rather than at the next interval. */
  more: boolean;
}

export interface RetentionRepo {
  /**
   * Removes one batch of expired history. Each call goes on where the last one stopped,
   * going round the store's history; safe to call from several processes at once (one
   * prunes, the others find nothing to do).
   */
  pruneHistory(request: PruneRequest): Promise<PruneResult>;
}
