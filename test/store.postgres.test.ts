import { loadStoreConfig } from '../src/config/load.ts';
import { openPostgresStore } from '../src/store/postgres/store.ts';
import { dropSchema, TEST_DATABASE_URL, testSchema } from './helpers/postgres.ts';
import { storeConformance } from './helpers/storeConformance.ts';

// The same conformance suite as SQLite, on PostgreSQL: every test gets its own schema.
storeConformance({
  name: 'PostgreSQL',
  async open() {
    const schema = testSchema('conf');
    const config = loadStoreConfig({}, { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, ENCRYPTION_KEY: '0'.repeat(64), DATABASE_POOL_SIZE: '12' });
    const store = await openPostgresStore(config);
    return {
      store,
      async cleanup() {
        await store.close();
        await dropSchema(schema);
      },
    };
  },
});
