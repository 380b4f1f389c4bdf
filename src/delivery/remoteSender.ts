import type { AttemptResult, ClaimedDelivery } from '../store/types.ts';
import type { Sender } from './sender.ts';

/** An attempt handed to another thread, numbered so that its result finds its way back. */
export type RemoteAttempt = [token: number, delivery: ClaimedDelivery];
export type RemoteResult = [token: number, result: AttemptResult];

/** What the sending side is told besides attempts: close your sender (abort what is in flight). */
export interface RemoteSenderChannel {
  postAttempts(attempts: RemoteAttempt[]): void;
  postClose(): void;
}

export interface RemoteSender extends Sender {
  /** Results that came back from the sending thread. */
  settle(results: RemoteResult[]): void;
  /** Attempts handed over and not answered yet. */
  pending(): number;
}

/** How long close() waits for the other thread to answer what it was still sending. */
const CLOSE_WAIT_MS = 5000;

/**
 * A Sender whose attempts another thread makes (serveRemoteAttempts there): the attempts
 * handed over in one turn travel as one message, and their results come back the same way.
 * Signing, the SSRF guard and the retry decision all happen over there, in the same Sender
 * code as a local attempt.
 */
export function createRemoteSender(channel: RemoteSenderChannel, options: { closeWaitMs?: number } = {}): RemoteSender {
  const closeWaitMs = options.closeWaitMs ?? CLOSE_WAIT_MS;
  let nextToken = 1;
  const waiting = new Map<number, (r: AttemptResult) => void>();
  let outgoing: RemoteAttempt[] = [];
  let drained: (() => void) | undefined;
  const post = () => {
    const batch = outgoing;
    outgoing = [];
    channel.postAttempts(batch);
  };
  return {
    send(d) {
      return new Promise<AttemptResult>((resolve) => {
        const token = nextToken++;
        waiting.set(token, resolve);
        if (outgoing.push([token, d]) === 1) queueMicrotask(post);
      });
    },
    settle(results) {
      for (const [token, result] of results) {
        const resolve = waiting.get(token);
        if (resolve === undefined) continue;
        waiting.delete(token);
        resolve(result);
      }
      if (waiting.size === 0) drained?.();
    },
    pending: () => waiting.size,
    async close() {
      channel.postClose();
      if (waiting.size === 0) return;
      // The other side aborts what it is sending, and the aborted attempts' results come
      // back; should they not (that thread is gone), their leases are released as unsent.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, closeWaitMs);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      drained = undefined;
    },
  };
}

/**
 * The sending side of a RemoteSender: makes each attempt it is handed with its own Sender
 * and posts the results back, those of one turn together (`postResults` batches them).
 */
export function serveRemoteAttempts(sender: Sender, postResult: (result: RemoteResult) => void): { attempts(batch: RemoteAttempt[]): void; close(): Promise<void> } {
  return {
    attempts(batch) {
      for (const [token, d] of batch) void sender.send(d).then((result) => postResult([token, result]));
    },
    close: () => sender.close(),
  };
}
