import type { RunningServer } from '../../src/server.ts';

/**
 * Resolves once the server will send nothing more without a new cause: its delivery worker
 * is idle (no lease held, no claim, result write or release under way) and the store has no
 * delivery due now. "Nothing more arrived" is asserted after this, not after a sleep: a
 * sleep passes when the machine is slow to send the extra delivery, this does not.
 */
export async function quiescent(server: Pick<RunningServer, 'dispatcher' | 'deps'>, timeoutMs = 10_000): Promise<void> {
  const dispatcher = server.dispatcher;
  if (dispatcher === undefined) throw new Error('this server has no delivery worker');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      dispatcher.idle().then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (!idle) throw new Error(`the delivery worker did not become idle within ${timeoutMs} ms (holds ${JSON.stringify(dispatcher.counts())})`);
    const { oldestDueAt } = await server.deps.store.deliveryStats();
    const due = oldestDueAt !== undefined && oldestDueAt <= server.deps.now();
    if (!due && dispatcher.counts().leased === 0) return;
    if (Date.now() > deadline) throw new Error(`deliveries are still due after ${timeoutMs} ms`);
    // Due but not leased yet: the worker claims it at its next look.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
