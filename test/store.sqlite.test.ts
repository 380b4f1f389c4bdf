import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite/store.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import type { Store } from '../src/store/types.ts';
import { storeConformance, type StoreFactory } from './helpers/storeConformance.ts';

/** A store in its own temporary DATA_DIR, removed again by cleanup(). */
function sqliteFactory(name: string, open: (dataDir: string) => Store | Promise<Store>): StoreFactory {
  return {
    name,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'itwh-store-'));
      let store: Store;
      try {
        store = await open(dir);
      } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      return {
        store,
        async cleanup() {
          try {
            await store.close();
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    },
  };
}

storeConformance(sqliteFactory('sqlite (in-thread)', (dir) => openSqliteStore(dir)));
storeConformance(sqliteFactory('sqlite (threaded)', (dir) => openThreadedSqliteStore(dir)));
