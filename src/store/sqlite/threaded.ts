import { Worker } from 'node:worker_threads';
import type { Store } from '../types.ts';
import { join } from 'node:path';
import { StoreOpenError } from './db.ts';
import { DATABASE_FILE } from './store.ts';
import type { Call, Reply, SerializedError } from './worker.ts';
import { atEndOfTurn } from '../../runtime/endOfTurn.ts';

function revive(e: SerializedError): Error {
  const err = e.name === 'StoreOpenError' ? new StoreOpenError(e.message) : new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) (err as NodeJS.ErrnoException).code = e.code;
  return err;
}

const CHECKPOINT_INTERVAL_MS = 200;

/**
 * The embedded store on its own thread (worker.ts), behind the same async Store
 * interface. The server uses this one: the HTTP event loop never waits on SQLite.
 * `mergeAfter`: how many recent message ids start a merge into the idempotency table
 * (recentMessageIds.ts; tests lower it).
 */
export async function openThreadedSqliteStore(dataDir: string, options: { mergeAfter?: number } = {}): Promise<Store> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { dataDir, mergeAfter: options.mergeAfter } });
  const methods = await new Promise<string[]>((resolve, reject) => {
    const onExit = (code: number) => reject(new StoreOpenError(`The SQLite thread stopped (${code}) before the store was open.`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (m: { type: string; methods?: string[]; error?: SerializedError }) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (m.type === 'ready') resolve(m.methods!);
      else reject(revive(m.error!));
    });
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });

  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  let broken: Error | undefined;
  const breakAll = (err: Error) => {
    broken ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (replies: Reply[]) => {
    for (const m of replies) {
      const p = pending.get(m.id);
      if (p === undefined) continue;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(revive(m.error));
    }
  });
  worker.on('error', (err) => breakAll(err));
  worker.on('exit', (code) => breakAll(new Error(`The SQLite thread stopped (exit ${code}).`)));

  // Calls made in one turn of the event loop (the publishes of several HTTP requests read in
  // one poll, a claim and a result write) go to the thread as one message. Each message
  // wakes the thread, and a wake-up costs more than the copying: on the slower benchmark
  // host, tens of microseconds of the main thread's time per message.
  let outbox: Call[] = [];
  const post = () => {
    const calls = outbox;
    outbox = [];
    try {
      worker.postMessage(calls);
    } catch {
      // An argument that cannot be copied (a bug of the caller) fails its own call, not the others.
      for (const c of calls) {
        try {
          worker.postMessage([c]);
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
      if (outbox.push({ id, method, args }) === 1) atEndOfTurn(post);
    });
  };

  const checkpointer = new Worker(new URL('./checkpointer.ts', import.meta.url), {
    workerData: { path: join(dataDir, DATABASE_FILE), intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  checkpointer.unref();

  const store: Record<string, unknown> = { kind: 'sqlite' };
  for (const method of methods) store[method] = (...args: unknown[]) => call(method, args);
  store.close = async () => {
    await checkpointer.terminate();
    if (broken === undefined) await call('close', []);
    await worker.terminate();
  };
  return store as unknown as Store;
}
