// Copies the WAL back into the database file from its own thread and connection. SQLite
// would otherwise do it inside whichever commit crosses the WAL size threshold, and that
// commit (with every store call queued behind it) would wait for megabytes of writes and
// an fsync: the tail of delivery latency. A passive checkpoint never blocks the writer.
import { DatabaseSync } from 'node:sqlite';
import { workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new DatabaseSync(path, { timeout: 1000 });
setInterval(() => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or closing: the next tick tries again, and the writer's own fallback threshold bounds the WAL.
  }
}, intervalMs);
