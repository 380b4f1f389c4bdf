// The embedded store's thread. node:sqlite is synchronous, so the server runs it here:
// queries (and fsyncs) never block the event loop that serves HTTP and sends deliveries.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteSync, type SyncStore } from './store.ts';
import type { SqliteDb } from './db.ts';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

function serialize(err: unknown): SerializedError {
  const e = err as NodeJS.ErrnoException;
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

const port = parentPort!;
let db: SqliteDb;
let store: SyncStore;
try {
  ({ db, store } = openSqliteSync((workerData as { dataDir: string }).dataDir));
  port.postMessage({ type: 'ready', methods: Object.keys(store) });
} catch (err) {
  port.postMessage({ type: 'failed', error: serialize(err) });
}

const reply = (id: number, value: unknown) => port.postMessage({ id, ok: true, value } satisfies Reply);
const fail = (id: number, err: unknown) => port.postMessage({ id, ok: false, error: serialize(err) } satisfies Reply);

function run(call: Call): void {
  try {
    reply(call.id, (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args));
  } catch (err) {
    fail(call.id, err);
  }
}

/**
 * Group commit: publishes that arrived together share one transaction, so that one
 * fsync makes all of them durable. Each runs in its own savepoint, so one failing
 * publish does not undo the others; nobody is answered before the commit.
 */
function publishTogether(calls: Call[]): void {
  if (calls.length === 1) return run(calls[0]!);
  const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
  try {
    db.tx(() => {
      for (const call of calls) {
        db.exec('SAVEPOINT publish');
        try {
          outcomes.push({ ok: true, value: (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args) });
          db.exec('RELEASE publish');
        } catch (err) {
          db.exec('ROLLBACK TO publish');
          db.exec('RELEASE publish');
          outcomes.push({ ok: false, error: err });
        }
      }
    });
  } catch (err) {
    for (const call of calls) fail(call.id, err);
    return;
  }
  calls.forEach((call, i) => {
    const o = outcomes[i]!;
    if (o.ok) reply(call.id, o.value);
    else fail(call.id, o.error);
  });
}

const isPublish = (c: Call) => c.method === 'publishEvents' || c.method === 'publishAndClaim';

let queue: Call[] = [];
let scheduled = false;

function drain(): void {
  scheduled = false;
  // The delivery queue's own calls (claims, results) go first: every millisecond they wait
  // is a millisecond their deliveries' slots stay empty. Publishes follow, together.
  const calls = [...queue.filter((c) => !isPublish(c)), ...queue.filter(isPublish)];
  queue = [];
  for (let i = 0; i < calls.length; ) {
    if (isPublish(calls[i]!)) {
      let j = i;
      while (j < calls.length && isPublish(calls[j]!)) j++;
      publishTogether(calls.slice(i, j));
      i = j;
    } else {
      run(calls[i]!);
      i++;
    }
  }
}

port.on('message', (call: Call) => {
  queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});
