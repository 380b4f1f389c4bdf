// The embedded store's thread. node:sqlite is synchronous, so the server runs it here:
// queries never block the event loop that serves HTTP. When the server delivers, its
// delivery worker runs here too (deliveryHost.ts).
import { closeSync, constants, fsync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { ClaimRequest, NewEvent } from '../types.ts';
import { openSqliteSync, prepareDataDir, type SyncStore } from './store.ts';
import type { SqliteDb } from './db.ts';
import { CONTROL_METHODS, hostDelivery, type ControlMethod, type DeliveryHost, type HostedDeliverySettings } from './deliveryHost.ts';
import { publishCommits, type Outcome } from './publishCommits.ts';
import type { RecentMessageIds } from './recentMessageIds.ts';
import { lockDataDir } from './serverLock.ts';
import { DELIVERY_CALL_PREFIX, type Call, type Inbound, type Outbound, type Reply } from './threadProtocol.ts';
import { serializeError as serialize } from '../errors.ts';

export interface WorkerData {
  dataDir: string;
  mergeAfter?: number;
  /** Set when the delivery worker runs on this thread. */
  delivery?: HostedDeliverySettings;
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

// What one turn of this thread's event loop sends back (the replies of a drain or of the
// end of a sync, the attempts handed to the main thread, log lines) goes as one message,
// for the reason calls come batched (threaded.ts).
let outbox: Outbound | undefined;
const post = () => {
  const message = outbox!;
  outbox = undefined;
  port.postMessage(message);
};
const outgoing = (): Outbound => {
  if (outbox === undefined) {
    outbox = {};
    queueMicrotask(post);
  }
  return outbox;
};
const send = (r: Reply) => void (outgoing().replies ??= []).push(r);
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

/** A publish of the hosted worker, joining the group commit; `done` hears how it ended instead of the main thread. */
type GroupCall = Call & { done?: (outcome: Outcome) => void };

const publishes = publishCommits<GroupCall>({
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
  answer: (call, outcome) => {
    if (call.done !== undefined) call.done(outcome);
    else if (outcome.ok) reply(call.id, outcome.value);
    else fail(call.id, outcome.error);
  },
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

/** The delivery worker, when it runs on this thread (set once the store is open). */
let host: DeliveryHost | undefined;

/** A publish of the API through the hosted worker: it leases what it makes due, and the worker sends that once the publish is durable. */
function publishThroughHost(h: DeliveryHost, call: Call): void {
  const [events, now, windowMs] = call.args as [NewEvent[], number, number];
  h.publish(
    (claim: ClaimRequest) =>
      new Promise((resolve, reject) => {
        publishes.add({
          id: call.id,
          method: 'publishAndClaim',
          args: [events, now, windowMs, claim],
          done: (o) => (o.ok ? resolve(o.value as never) : reject(o.error)),
        });
      }),
  ).then(
    (results) => reply(call.id, results),
    (err: unknown) => fail(call.id, err),
  );
}

function control(h: DeliveryHost | undefined, call: Call): void {
  const method = call.method.slice(DELIVERY_CALL_PREFIX.length) as ControlMethod;
  if (h === undefined || !CONTROL_METHODS.includes(method)) {
    fail(call.id, new Error(`No delivery worker runs on the store thread (${call.method}).`));
    return;
  }
  try {
    Promise.resolve(h.control(method, call.args)).then(
      (value) => reply(call.id, value),
      (err: unknown) => fail(call.id, err),
    );
  } catch (err) {
    fail(call.id, err);
  }
}

function drain(): void {
  scheduled = false;
  // The delivery queue's own calls (claims, results) run at once: every millisecond they
  // wait is a millisecond their deliveries' slots stay empty. Publishes commit together,
  // now or when the previous group's sync has ended (publishCommits.ts).
  const calls = queue;
  queue = [];
  for (const call of calls) {
    if (call.method.startsWith(DELIVERY_CALL_PREFIX)) control(host, call);
    else if (host !== undefined && call.method === 'publishEvents') publishThroughHost(host, call);
    else if (isPublish(call)) publishes.add(call);
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
  if (message.results !== undefined) host?.settle(message.results);
  if (message.calls === undefined) return;
  for (const call of message.calls) queue.push(call);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});

{
  const settings = (workerData as WorkerData).delivery;
  if (settings !== undefined && store! !== undefined) {
    host = hostDelivery(store, settings, {
      postAttempts: (attempts) => {
        const list = (outgoing().attempts ??= []);
        for (const a of attempts) list.push(a);
      },
      postClose: () => void (outgoing().closeSender = true),
      postLog: (line) => void (outgoing().logs ??= []).push(line),
    });
  }
}

// The filter of the idempotency table fills in the background from the start.
if (messageIds! !== undefined) scheduleIndexWork();
