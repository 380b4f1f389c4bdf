// The embedded store's thread. node:sqlite is synchronous, so the server runs it here:
// queries never block the event loop that serves HTTP and sends deliveries.
import { closeSync, constants, fsync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteSync, prepareDataDir, type SyncStore } from './store.ts';
import type { SqliteDb } from './db.ts';
import { publishCommits, type Outcome } from './publishCommits.ts';
import type { RecentMessageIds } from './recentMessageIds.ts';
import { lockDataDir } from './serverLock.ts';

export interface WorkerData {
  dataDir: string;
  mergeAfter?: number;
}

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
let messageIds: RecentMessageIds;
let walFd: number;
let serverLock: { release(): void } | undefined;
try {
  const { dataDir } = workerData as WorkerData;
  prepareDataDir(dataDir);
  serverLock = lockDataDir(dataDir);
  ({ db, store, messageIds } = openSqliteSync(dataDir));
  // The idempotency index's tail is read back before the first publish.
  messageIds.load();
  // The WAL file lives as long as the database is open (SQLite resets it in place), so one
  // descriptor serves every sync; an fsync through any descriptor syncs all of a file's writes.
  walFd = openSync(`${db.path}-wal`, constants.O_RDONLY | constants.O_CREAT, 0o600);
  port.postMessage({ type: 'ready', methods: Object.keys(store) });
} catch (err) {
  serverLock?.release();
  port.postMessage({ type: 'failed', error: serialize(err) });
}

// The replies of one turn of this thread's event loop (a drain, the end of a sync) go back
// as one message, for the reason calls come batched (threaded.ts).
let outbox: Reply[] = [];
const post = () => {
  const replies = outbox;
  outbox = [];
  port.postMessage(replies);
};
const send = (r: Reply) => {
  if (outbox.push(r) === 1) queueMicrotask(post);
};
const reply = (id: number, value: unknown) => send({ id, ok: true, value });
const fail = (id: number, err: unknown) => send({ id, ok: false, error: serialize(err) });

function run(call: Call): void {
  try {
    reply(call.id, (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args));
  } catch (err) {
    fail(call.id, err);
  }
}

const invoke = (call: Call) => (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args);

const publishes = publishCommits<Call>({
  commitGroup(calls) {
    const outcomes: Outcome[] = [];
    db.tx(() => {
      // Alone, a failing publish fails the transaction, which rolls back whole.
      if (calls.length === 1) {
        outcomes.push({ ok: true, value: invoke(calls[0]!) });
        return;
      }
      // Together, each runs in its own savepoint: one failing undoes none of the others.
      for (const call of calls) {
        try {
          outcomes.push({ ok: true, value: db.savepoint(() => invoke(call)) });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    }, { relaxed: true });
    return outcomes;
  },
  syncWal: (done) => fsync(walFd, done),
  answer: (call, outcome) => (outcome.ok ? reply(call.id, outcome.value) : fail(call.id, outcome.error)),
  // The store stops: every call after this one fails, as the server's store is then broken.
  onSyncFailure: () => setImmediate(() => process.exit(1)),
});

const isPublish = (c: Call) => c.method === 'publishEvents' || c.method === 'publishAndClaim';

let queue: Call[] = [];
let scheduled = false;
let closed = false;

/** Whether a step of the idempotency index's background work (filter build, merge) is scheduled. */
let indexWorkScheduled = false;
const INDEX_WORK_RETRY_MS = 1000;

/**
 * Builds the filter of the idempotency table and moves the index's in-memory tail into
 * the table (recentMessageIds.ts), one chunk per turn of the event loop, so that claims,
 * results and publishes run between chunks.
 */
function scheduleIndexWork(delayMs = 0): void {
  const { mergeAfter } = workerData as WorkerData;
  if (indexWorkScheduled || closed || !messageIds.workDue(mergeAfter)) return;
  indexWorkScheduled = true;
  const step = () => {
    indexWorkScheduled = false;
    if (closed) return;
    try {
      messageIds.workStep(mergeAfter);
    } catch {
      // Nothing is lost (the tail stays in memory, the events in their table): try again later.
      scheduleIndexWork(INDEX_WORK_RETRY_MS);
      return;
    }
    scheduleIndexWork();
  };
  if (delayMs > 0) setTimeout(step, delayMs);
  else setImmediate(step);
}

function drain(): void {
  scheduled = false;
  // The delivery queue's own calls (claims, results) run at once: every millisecond they
  // wait is a millisecond their deliveries' slots stay empty. Publishes commit together,
  // now or when the previous group's sync has ended (publishCommits.ts).
  const calls = queue;
  queue = [];
  for (const call of calls) {
    if (isPublish(call)) publishes.add(call);
    else run(call);
    if (call.method === 'close') {
      closed = true;
      // The descriptor goes once the sync under way (its answers were committed before) ends.
      publishes.close(() => closeSync(walFd));
      serverLock?.release();
    }
  }
  publishes.flush();
  scheduleIndexWork();
}

port.on('message', (calls: Call[]) => {
  for (const call of calls) queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});

// The filter of the idempotency table fills in the background from the start.
if (messageIds! !== undefined) scheduleIndexWork();
