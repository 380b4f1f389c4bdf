import { Command } from 'commander';
import { loadStoreConfig } from '../config/load.ts';
import { bootstrapStore } from '../bootstrap.ts';
import { openStore } from '../store/open.ts';
import { addSettingOptions, flagValues } from './options.ts';

/** `itwin-webhooks migrate`: brings the database schema up to date and exits. */
export function migrateCommand(): Command {
  const cmd = new Command('migrate').description(
    'Apply the database migrations (and bring the built-in event types up to date) and exit. Safe while other processes start or run: they take turns on an advisory lock. (serve also migrates on start.)',
  );
  addSettingOptions(cmd, ['store']);
  cmd.action(async (_opts: unknown, self: Command) => {
    const config = loadStoreConfig(flagValues(self), process.env);
    let applied: number[] = [];
    const { store, box } = await openStore(config, { onMigrated: (v) => (applied = v) });
    try {
      await bootstrapStore({ store, box, config, now: Date.now });
    } finally {
      await store.close();
    }
    if (config.databaseUrl === undefined) console.log(`SQLite store in ${config.dataDir} is up to date.`);
    else if (applied.length > 0) console.log(`Applied migrations ${applied.join(', ')} to schema ${config.databaseSchema}.`);
    else console.log(`Schema ${config.databaseSchema} is up to date.`);
  });
  return cmd;
}
