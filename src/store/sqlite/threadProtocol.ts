// The messages between the main thread (threaded.ts) and the store thread (worker.ts).
import type { RemoteAttempt, RemoteResult } from '../../delivery/remoteSender.ts';
import type { SerializedError } from '../errors.ts';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

/** A call of the delivery worker hosted on the store thread is named `delivery.<method>`. */
export const DELIVERY_CALL_PREFIX = 'delivery.';

/** What the main thread posts: store calls, and results of attempts it made for the hosted worker. */
export interface Inbound {
  calls?: Call[];
  results?: RemoteResult[];
}

/** What the store thread posts back (besides its first message, ready or failed). */
export interface Outbound {
  replies?: Reply[];
  attempts?: RemoteAttempt[];
  /** The hosted worker stops: abort what you send for it. */
  closeSender?: true;
  logs?: string[];
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };
