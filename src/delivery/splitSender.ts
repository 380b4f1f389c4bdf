import type { Sender } from './sender.ts';

/**
 * Sends on `local` while fewer than `localLimit` of its attempts are in flight, and on
 * `overflow` beyond that.
 *
 * The embedded store's thread runs the dispatcher and sends itself: a light load never
 * leaves that thread (no hop to another thread before a delivery goes out, no messages for
 * its result). Under a heavy load that thread alone would be the limit, with the main thread
 * nearly idle, so what does not fit goes out through the main thread's sender.
 */
export function createSplitSender(local: Sender, overflow: Sender, localLimit: number): Sender & { localInFlight(): number } {
  let inLocal = 0;
  const doneLocally = () => {
    inLocal--;
  };
  return {
    send(d) {
      if (inLocal >= localLimit) return overflow.send(d);
      inLocal++;
      const result = local.send(d);
      void result.then(doneLocally, doneLocally);
      return result;
    },
    localInFlight: () => inLocal,
    async close() {
      await Promise.all([local.close(), overflow.close()]);
    },
  };
}
