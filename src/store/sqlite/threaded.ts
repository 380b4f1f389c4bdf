import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { atEndOfTurn } from '../../runtime/endOfTurn.ts';
import { reviveError, StoreOpenError, StoreUnavailableError } from '../errors.ts';
import type { ClaimingPublish, Store } from '../types.ts';
import { DATABASE_FILE } from './dataDir.ts';
import { methodsByName, type SyncStore } from './store.ts';
import type { Call, Hello, Inbound, Outbound, StoreThreadData, StoreThreadFaults } from './threadProtocol.ts';

const CHECKPOINT_INTERVAL_MS = 200;

/** The embedded store on its own thread. */
export interface ThreadedSqliteStore extends Store, ClaimingPublish {
  /**
   * Settles when the store's thread stopped without being closed (a failed WAL sync ends it,
   * since nothing can be answered as durable after one): every call fails with
   * StoreUnavailableError from then on.
   */
  readonly lost: Promise<StoreUnavailableError>;
}

/**
 * The embedded store on its own thread (storeThread.ts), behind the same async Store
 * interface. The server uses this one: the HTTP event loop never waits on SQLite.
 * `mergeAfter`: see StoreThreadData; `faults`: failures a test injects.
 */
export async function openThreadedSqliteStore(
  dataDir: string,
  options: { mergeAfter?: number; faults?: StoreThreadFaults } = {},
): Promise<ThreadedSqliteStore> {
  const thread = new Worker(new URL('./storeThread.ts', import.meta.url), {
    workerData: { dataDir, mergeAfter: options.mergeAfter, faults: options.faults } satisfies StoreThreadData,
  });
  const methods = await new Promise<string[]>((resolve, reject) => {
    const onExit = (code: number) => reject(new StoreOpenError(`The SQLite thread stopped (${code}) before the store was open.`));
    thread.once('error', reject);
    thread.once('exit', onExit);
    thread.once('message', (m: Hello) => {
      thread.off('error', reject);
      thread.off('exit', onExit);
      if (m.type === 'ready') resolve(m.methods);
      else reject(reviveError(m.error));
    });
  }).catch(async (err: unknown) => {
    await thread.terminate();
    throw err;
  });

  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let closing = false;
  let broken: StoreUnavailableError | undefined;
  let reportLost: (err: StoreUnavailableError) => void = () => {};
  const lost = new Promise<StoreUnavailableError>((resolve) => (reportLost = resolve));
  const breakAll = (why: string) => {
    if (broken !== undefined) return;
    broken = new StoreUnavailableError(`The embedded store's thread stopped (${why}); restart the server.`);
    for (const p of pending.values()) p.reject(broken);
    pending.clear();
    if (!closing) reportLost(broken);
  };
  thread.on('message', (m: Outbound) => {
    for (const r of m.replies) {
      const p = pending.get(r.id);
      if (p === undefined) continue;
      pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(reviveError(r.error));
    }
  });
  thread.on('error', (err) => breakAll(err.message));
  thread.on('exit', (code) => breakAll(`exit ${code}`));

  // Calls made in one turn of the event loop (the publishes of several HTTP requests read in
  // one poll, a claim and a result write) go to the thread as one message. Each message
  // wakes the thread, and a wake-up costs more than the copying: on the slower benchmark
  // host, tens of microseconds of the main thread's time per message.
  let outbox: Call[] = [];
  let postScheduled = false;
  const post = () => {
    postScheduled = false;
    const calls = outbox;
    outbox = [];
    try {
      thread.postMessage({ calls } satisfies Inbound);
    } catch {
      // An argument that cannot be copied (a bug of the caller) fails its own call, not the others.
      for (const c of calls) {
        try {
          thread.postMessage({ calls: [c] } satisfies Inbound);
        } catch (err) {
          pending.get(c.id)?.reject(err as Error);
          pending.delete(c.id);
        }
      }
    }
  };
  const call = (method: string, args: unknown[]): Promise<unknown> => {
    if (broken !== undefined) return Promise.reject(broken);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      outbox.push({ id, method, args });
      if (!postScheduled) {
        postScheduled = true;
        atEndOfTurn(post);
      }
    });
  };

  const checkpointer = new Worker(new URL('./checkpointer.ts', import.meta.url), {
    workerData: { path: join(dataDir, DATABASE_FILE), intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  checkpointer.unref();

  // The names come from the thread's store itself (SyncStore's keys), so none is missing.
  const remote = methodsByName<SyncStore>(methods as Array<keyof SyncStore>, call);
  return {
    ...remote,
    kind: 'sqlite',
    lost,
    async close() {
      closing = true;
      await checkpointer.terminate();
      if (broken === undefined) await remote.close();
      await thread.terminate();
    },
  };
}
