import type pg from 'pg';
import { createClient } from './pool.ts';
import type { PgDb } from './db.ts';
import { DUE_CHANNEL, notifyDue } from './sql/events.ts';

export interface Wakeups {
  /**
   * Wakes the workers after a commit that made work due, outside the transaction that
   * made it due (a NOTIFY inside would serialise every such commit on one lock). One
   * NOTIFY at a time per process: it goes at once, and the commits that call for one
   * while it is under way share the next. Lost or failed, it is covered by the workers'
   * polling.
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
  /** A NOTIFY is under way; `again`: another was asked for since it was sent. */
  let notifying = false;
  let again = false;
  const listeners = new Set<() => void>();

  const wakeups: Wakeups = {
    notifyDue() {
      if (notifying) {
        again = true;
        return;
      }
      notifying = true;
      void (async () => {
        do {
          again = false;
          await db.rows(notifyDue()).catch(() => {});
        } while (again);
        notifying = false;
      })();
    },

    subscribe(onDue) {
      // Notifications sent while not listening are lost: (re)connecting catches up once.
      return wakeups.listen(DUE_CHANNEL, () => onDue(), onDue);
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
