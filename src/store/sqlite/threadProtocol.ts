// The messages between the main thread (threaded.ts) and the store thread (storeThread.ts).
import type { SerializedError } from '../errors.ts';

/** A call of one store method; its reply carries the same id. */
export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

/** Failures a test can make the store thread suffer, to see the server through a store outage. */
export interface StoreThreadFaults {
  /** The WAL's fsyncs fail, as a dying disk's would, after this many succeeded (each still runs the real fsync first): the publish whose sync fails ends the thread. */
  walSyncFailsAfter?: number;
}

/** What the store thread is given at start (plain data: it crosses threads). */
export interface StoreThreadData {
  dataDir: string;
  /** How many recent message ids start a merge into the idempotency table (recentMessageIds.ts; tests lower it). */
  mergeAfter?: number;
  faults?: StoreThreadFaults;
}

/** The store thread's first message: open, with the store's method names, or failed. */
export type Hello = { type: 'ready'; methods: string[] } | { type: 'failed'; error: SerializedError };

/** What the main thread posts: the store calls of one turn of its event loop. */
export interface Inbound {
  calls: Call[];
}

/** What the store thread posts back: the replies of one turn of its event loop. */
export interface Outbound {
  replies: Reply[];
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };
