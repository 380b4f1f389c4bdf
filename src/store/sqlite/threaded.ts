import { Worker } from 'node:worker_threads';
import type { Store } from '../types.ts';
import { join } from 'node:path';
import type { DeliveryControl } from '../../delivery/dispatcher.ts';
import { serveRemoteAttempts, type RemoteResult } from '../../delivery/remoteSender.ts';
import type { Sender } from '../../delivery/sender.ts';
import type { DeliveryCountsSnapshot } from '../../observability/deliveryCounts.ts';
import { reviveError as revive, StoreOpenError, type SerializedError } from '../errors.ts';
import type { HostedDeliverySettings } from './deliveryHost.ts';
import { DATABASE_FILE } from './store.ts';
import { DELIVERY_CALL_PREFIX, type Call, type Inbound, type Outbound } from './threadProtocol.ts';
import { atEndOfTurn } from '../../runtime/endOfTurn.ts';

const CHECKPOINT_INTERVAL_MS = 200;

/** Running the delivery worker on the store's thread (deliveryHost.ts). */
export interface ThreadedDeliveryOptions {
  settings: HostedDeliverySettings;
  /** Makes the attempts the store thread hands over (those beyond its own share). */
  sender: Sender;
  /** One line of the worker's JSON log. */
  log(line: string): void;
}

/** The delivery worker on the store's thread, seen from the main thread. */
export interface HostedDeliveryControl extends DeliveryControl {
  /** What the worker has counted so far, for the metrics registry. */
  counts(): Promise<DeliveryCountsSnapshot>;
}

export type ThreadedSqliteStore = Store & { hostedDelivery: HostedDeliveryControl | undefined };

/**
 * The embedded store on its own thread (worker.ts), behind the same async Store
 * interface. The server uses this one: the HTTP event loop never waits on SQLite.
 * `mergeAfter`: how many recent message ids start a merge into the idempotency table
 * (recentMessageIds.ts; tests lower it). With `delivery`, the delivery worker runs on that
 * thread as well; `hostedDelivery` controls it.
 */
export async function openThreadedSqliteStore(dataDir: string, options: { mergeAfter?: number; delivery?: ThreadedDeliveryOptions } = {}): Promise<ThreadedSqliteStore> {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), {
    workerData: { dataDir, mergeAfter: options.mergeAfter, delivery: options.delivery?.settings },
  });
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
  // Attempts the store thread hands over are made here; their results travel back with the calls.
  const remote = options.delivery === undefined ? undefined : serveRemoteAttempts(options.delivery.sender, (r) => {
    results.push(r);
    schedulePost();
  });
  worker.on('message', (m: Outbound) => {
    if (m.logs !== undefined) for (const line of m.logs) options.delivery?.log(line);
    if (m.replies !== undefined) {
      for (const r of m.replies) {
        const p = pending.get(r.id);
        if (p === undefined) continue;
        pending.delete(r.id);
        if (r.ok) p.resolve(r.value);
        else p.reject(revive(r.error));
      }
    }
    if (m.attempts !== undefined) remote?.attempts(m.attempts);
    if (m.closeSender === true) void remote?.close();
  });
  worker.on('error', (err) => breakAll(err));
  worker.on('exit', (code) => breakAll(new Error(`The SQLite thread stopped (exit ${code}).`)));

  // Calls made in one turn of the event loop (the publishes of several HTTP requests read in
  // one poll, a claim and a result write) go to the thread as one message. Each message
  // wakes the thread, and a wake-up costs more than the copying: on the slower benchmark
  // host, tens of microseconds of the main thread's time per message.
  let outbox: Call[] = [];
  let results: RemoteResult[] = [];
  let postScheduled = false;
  const schedulePost = () => {
    if (postScheduled) return;
    postScheduled = true;
    atEndOfTurn(post);
  };
  const post = () => {
    postScheduled = false;
    const message: Inbound = {};
    if (outbox.length > 0) message.calls = outbox;
    if (results.length > 0) message.results = results;
    const calls = outbox;
    outbox = [];
    results = [];
    try {
      worker.postMessage(message);
    } catch {
      // An argument that cannot be copied (a bug of the caller) fails its own call, not the others.
      if (message.results !== undefined) worker.postMessage({ results: message.results } satisfies Inbound);
      for (const c of calls) {
        try {
          worker.postMessage({ calls: [c] } satisfies Inbound);
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
      schedulePost();
    });
  };

  const checkpointer = new Worker(new URL('./checkpointer.ts', import.meta.url), {
    workerData: { path: join(dataDir, DATABASE_FILE), intervalMs: CHECKPOINT_INTERVAL_MS },
  });
  checkpointer.unref();

  const store: Record<string, unknown> = { kind: 'sqlite' };
  for (const method of methods) store[method] = (...args: unknown[]) => call(method, args);
  const control = (method: string) => (...args: unknown[]) => call(`${DELIVERY_CALL_PREFIX}${method}`, args);
  const hostedDelivery: HostedDeliveryControl | undefined =
    options.delivery === undefined
      ? undefined
      : {
          start: control('start') as HostedDeliveryControl['start'],
          stop: control('stop') as HostedDeliveryControl['stop'],
          // Fire and forget: a wake-up that fails finds the store broken, which every other call reports.
          wake: () => void control('wake')().catch(() => {}),
          webhookState: (webhookId, active) => void control('webhookState')(webhookId, active).catch(() => {}),
          counts: control('counts') as HostedDeliveryControl['counts'],
        };
  store.hostedDelivery = hostedDelivery;
  store.close = async () => {
    await checkpointer.terminate();
    if (broken === undefined) await call('close', []);
    await worker.terminate();
  };
  return store as unknown as ThreadedSqliteStore;
}
