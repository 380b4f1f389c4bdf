import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStoreConfig } from '../src/config/load.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { openSqliteStore } from '../src/store/sqlite/store.ts';
import { openThreadedSqliteStore } from '../src/store/sqlite/threaded.ts';
import type { Store } from '../src/store/types.ts';
import { accessConformance } from './helpers/accessConformance.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';

const sqlite = (name: string, open: (dir: string) => Store | Promise<Store>) => ({
  name,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'itwh-access-'));
    const store = await open(dir);
    return {
      store,
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

accessConformance(sqlite('sqlite (in-thread)', (dir) => openSqliteStore(dir)));
accessConformance(sqlite('sqlite (threaded)', (dir) => openThreadedSqliteStore(dir)));
accessConformance({
  name: 'PostgreSQL',
  async open() {
    const schema = testSchema('access');
    const store = await openPostgresStore(loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64), DATABASE_POOL_SIZE: '8' }));
    return {
      store,
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
});
