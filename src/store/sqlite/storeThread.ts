// The embedded store's thread. node:sqlite is synchronous, so the server runs it here:
// queries never block the event loop that serves HTTP. It knows only the store: every
// message is a batch of store calls (threadProtocol.ts), every answer a batch of replies.
// This file is the thread's whole program, so its module state is the thread's state.
import { closeSync, constants, fsync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../errors.ts';
import type { SqliteDb } from './db.ts';
import { publishCommits, type Outcome } from './publishCommits.ts';
import type { RecentMessageIds } from './recentMessageIds.ts';
import { lockDataDir } from './serverLock.ts';
import { openSqliteSync, prepareDataDir, type SyncStore } from './store.ts';
import type { Call, Hello, Inbound, Outbound, Reply, StoreThreadData } from './threadProtocol.ts';

const port = parentPort!;
const { dataDir, mergeAfter, faults } = workerData as StoreThreadData;
let db: SqliteDb;
let store: SyncStore;
let messageIds: RecentMessageIds;
let walFd: number;
let serverLock: { release(): void } | undefined;
try {
  prepareDataDir(dataDir);
  serverLock = lockDataDir(dataDir);
  ({ db, store, messageIds } = openSqliteSync(dataDir));
  // The idempotency index's tail is read back before the first publish.
  messageIds.load();
  // The WAL file lives as long as the database is open (SQLite resets it in place), so one
  // descriptor serves every sync; an fsync through any descriptor syncs all of a file's writes.
  walFd = openSync(`${db.path}-wal`, constants.O_RDONLY | constants.O_CREAT, 0o600);
  port.postMessage({ type: 'ready', methods: Object.keys(store) } satisfies Hello);
} catch (err) {
  serverLock?.release();
  port.postMessage({ type: 'failed', error: serializeError(err) } satisfies Hello);
}

// The replies of one turn of this thread's event loop (those of a drain, or of the end of
// a sync) go back as one message, for the reason calls come batched (threaded.ts).
let replies: Reply[] | undefined;
const post = () => {
  const message: Outbound = { replies: replies! };
  replies = undefined;
  port.postMessage(message);
};
const send = (r: Reply) => {
  if (replies === undefined) {
    replies = [];
    queueMicrotask(post);
  }
  replies.push(r);
};
const reply = (id: number, value: unknown) => send({ id, ok: true, value });
const fail = (id: number, err: unknown) => send({ id, ok: false, error: serializeError(err) });

const invoke = (call: Call) => {
  if (!Object.hasOwn(store, call.method)) throw new Error(`The store has no method ${call.method}.`);
  return (store[call.method as keyof SyncStore] as (...a: unknown[]) => unknown)(...call.args);
};

function run(call: Call): void {
  try {
    reply(call.id, invoke(call));
  } catch (err) {
    fail(call.id, err);
  }
}

let syncs = 0;
/**
 * A test's injected failure replaces what the disk answered, after the real fsync: so the
 * outage test goes through the same sync as production, and a publish answered without
 * waiting for that sync (or with the sync left out) is seen answering what it must refuse.
 */
const injectedFailure = (): Error | null =>
  faults?.walSyncFailsAfter !== undefined && syncs++ >= faults.walSyncFailsAfter ? Object.assign(new Error('EIO: i/o error, fsync (injected)'), { code: 'EIO' }) : null;
const syncWal = (done: (err: Error | null) => void) => fsync(walFd, (err) => done(err ?? injectedFailure()));

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
  syncWal,
  answer: (call, outcome) => (outcome.ok ? reply(call.id, outcome.value) : fail(call.id, outcome.error)),
  // Nothing can be answered as durable any more: the thread ends (once the failed publishes'
  // answers are out), the main thread sees every later call fail as a store outage, and the
  // server stops so that a supervisor restarts it.
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

port.on('message', (message: Inbound) => {
  for (const call of message.calls) queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});

// The filter of the idempotency table fills in the background from the start.
if (messageIds! !== undefined) scheduleIndexWork();
