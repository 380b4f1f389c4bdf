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
let relaxed: ReadonlySet<string>;
try {
  ({ db, store, relaxed } = openSqliteSync((workerData as { dataDir: string }).dataDir));
  port.postMessage({ type: 'ready', methods: Object.keys(store) });
} catch (err) {
  port.postMessage({ type: 'failed', error: serialize(err) });
}

const reply = (id: number, value: unknown) => port.postMessage({ id, ok: true, value } satisfies Reply);
const fail = (id: number, err: unknown) => port.postMessage({ id, ok: false, error: serialize(err) } satisfies Reply);
const invoke = (call: Call) => (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args);

/**
 * Group commit: calls that arrived together share one transaction, so that one commit
 * (and for durable work one fsync) serves all of them; a commit costs more than most of
 * the statements in it. Each call runs in its own savepoint, so one failing call does not
 * undo the others; nobody is answered before the commit. `durable` commits with fsync.
 */
function runTogether(calls: Call[], durable: boolean): void {
  if (calls.length === 0) return;
  if (calls.length === 1) {
    const call = calls[0]!;
    try {
      reply(call.id, invoke(call));
    } catch (err) {
      fail(call.id, err);
    }
    return;
  }
  const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
  try {
    db.tx(
      () => {
        for (const call of calls) {
          db.exec('SAVEPOINT call');
          try {
            outcomes.push({ ok: true, value: invoke(call) });
            db.exec('RELEASE call');
          } catch (err) {
            db.exec('ROLLBACK TO call');
            db.exec('RELEASE call');
            outcomes.push({ ok: false, error: err });
          }
        }
      },
      { relaxed: !durable },
    );
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

let queue: Call[] = [];
let scheduled = false;

function drain(): void {
  scheduled = false;
  const calls = queue;
  queue = [];
  // The delivery queue's own calls (claims, results) go first and do not wait for an
  // fsync: every millisecond they wait is a millisecond their deliveries' slots stay
  // empty. The rest (publishes, API writes and reads) follow, together and durable.
  runTogether(calls.filter((c) => relaxed.has(c.method)), false);
  runTogether(calls.filter((c) => !relaxed.has(c.method) && c.method !== 'close'), true);
  // Closing ends the connection: never inside a transaction, and after everything else.
  for (const call of calls) if (call.method === 'close') runTogether([call], true);
}

port.on('message', (call: Call) => {
  queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});
