import type pg from 'pg';
import { createClient } from './pool.ts';
import type { PgDb } from './db.ts';
import { notifyDue } from './sql/events.ts';

const CHANNEL = 'itwin_webhooks_due';
/** NOTIFYs sent by one process are at most this often: a burst of commits wakes the workers once. */
const NOTIFY_COALESCE_MS = 2;

export interface Wakeups {
  /**
   * Wakes the workers after a commit that made work due: one NOTIFY per few milliseconds
   * at most, outside the transaction that made it due (a NOTIFY inside would serialise
   * every such commit on one lock). Lost or failed, it is covered by the workers' polling.
   */
  notifyDue(): void;
  /** Calls `onDue` whenever some process made a delivery due (LISTEN, reconnecting by itself). */
  subscribe(onDue: () => void): () => void;
  /**
   * LISTENs on `channel`, reconnecting by itself: `onMessage` gets each payload, and
   * `onConnected` runs at every (re)connection, when notifications may have been missed.
   */
  listen(channel: string, onMessage: (payload: string) => void, onConnected: () => void): () => void;
  /** Stops every subscription. */
  close(): void;
}

export function createWakeups(db: PgDb): Wakeups {
  let notifyScheduled = false;
  const listeners = new Set<() => void>();

  const wakeups: Wakeups = {
    notifyDue() {
      if (notifyScheduled) return;
      notifyScheduled = true;
      setTimeout(() => {
        notifyScheduled = false;
        db.rows(notifyDue(CHANNEL)).catch(() => {});
      }, NOTIFY_COALESCE_MS);
    },

    subscribe(onDue) {
      // Notifications sent while not listening are lost: (re)connecting catches up once.
      return wakeups.listen(CHANNEL, () => onDue(), onDue);
    },

    listen(channel, onMessage, onConnected) {
      let client: pg.Client | undefined;
      let stopped = false;
      let delay = 100;
      const connect = async () => {
        while (!stopped) {
          const c = createClient(db.url, db.schema);
          c.on('error', () => {});
          try {
            await c.connect();
            await c.query(`LISTEN ${channel}`);
            client = c;
            delay = 100;
            c.on('notification', (n) => onMessage(n.payload ?? ''));
            onConnected();
            await new Promise<void>((resolve) => c.once('end', resolve));
          } catch {
            await c.end().catch(() => {});
          }
          client = undefined;
          if (stopped) return;
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 5000);
        }
      };
      void connect();
      const stop = () => {
        stopped = true;
        void client?.end().catch(() => {});
      };
      listeners.add(stop);
      return () => {
        listeners.delete(stop);
        stop();
      };
    },

    close() {
      for (const stop of listeners) stop();
      listeners.clear();
    },
  };
  return wakeups;
}
