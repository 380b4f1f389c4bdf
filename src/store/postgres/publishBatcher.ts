import type { NewEvent, PublishedEvent } from '../types.ts';

/** What the database answered for one distinct messageId of a merged publish. */
export type CommittedEvent = Omit<PublishedEvent, 'messageId'>;

export interface PublishBatcherDeps {
  /** Publishes the events in one transaction; one answer per distinct messageId. */
  commit(events: NewEvent[], now: number, windowMs: number): Promise<Map<string, CommittedEvent>>;
  /** Transactions running at once; requests beyond wait and merge. */
  parallel: number;
  /** Largest merged publish (events), so that one transaction stays short. */
  maxEvents: number;
}

/**
 * Publishes share transactions under load: a few run at once, and requests that arrive
 * while they do go together in the next one. One commit (one WAL flush) then stores many
 * small publishes, which is what the database waits on. A lone publish goes at once.
 * Results are matched back in arrival order, so the same messageId in two merged requests
 * is new for the first and a duplicate for the second, as if they ran in turn. Requests
 * with different idempotency windows never merge.
 */
export function publishBatcher(deps: PublishBatcherDeps): (events: NewEvent[], now: number, windowMs: number) => Promise<PublishedEvent[]> {
  interface Waiting {
    events: NewEvent[];
    now: number;
    windowMs: number;
    resolve(results: PublishedEvent[]): void;
    reject(err: unknown): void;
  }
  const waiting: Waiting[] = [];
  let running = 0;

  const run = async (batch: Waiting[]) => {
    try {
      const committed = await deps.commit(
        batch.flatMap((b) => b.events),
        Math.max(...batch.map((b) => b.now)),
        batch[0]!.windowMs,
      );
      const seen = new Set<string>();
      for (const b of batch) {
        b.resolve(
          b.events.map((e): PublishedEvent => {
            const r = committed.get(e.messageId)!;
            const duplicate = r.duplicate || seen.has(e.messageId);
            seen.add(e.messageId);
            return { messageId: e.messageId, eventType: r.eventType, enqueuedAt: r.enqueuedAt, matchedWebhooks: r.matchedWebhooks, duplicate };
          }),
        );
      }
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  };

  const start = () => {
    while (running < deps.parallel && waiting.length > 0) {
      const batch: Waiting[] = [waiting.shift()!];
      let size = batch[0]!.events.length;
      while (waiting.length > 0 && waiting[0]!.windowMs === batch[0]!.windowMs && size + waiting[0]!.events.length <= deps.maxEvents) {
        const next = waiting.shift()!;
        batch.push(next);
        size += next.events.length;
      }
      running++;
      void run(batch).finally(() => {
        running--;
        start();
      });
    }
  };

  return (events, now, windowMs) =>
    new Promise((resolve, reject) => {
      waiting.push({ events, now, windowMs, resolve, reject });
      start();
    });
}
