import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadStoreConfig, type StoreConfig } from '../config/load.ts';
import { openStore } from '../store/open.ts';
import { DATABASE_FILE } from '../store/sqlite/dataDir.ts';
import type { Store } from '../store/types.ts';
import { UsageError } from './errors.ts';
import { addSettingOptions, flagValues } from './options.ts';

/** Gives an administration command the options that locate the data store (and --create, for those that use withStore). */
export function storeCommand(cmd: Command, options: { create?: boolean } = {}): Command {
  addSettingOptions(cmd, ['store']);
  if (options.create === false) return cmd;
  return cmd.option('--create', 'make a new embedded store when DATA_DIR does not exist yet (otherwise that is refused as a mistyped --data-dir)');
}

/** A DATA_DIR as a refusal names it: a relative one resolved too (run from a subfolder, ./data is not the server's). */
export function dataDirName(dataDir: string): string {
  return isAbsolute(dataDir) ? dataDir : `${dataDir} (${resolve(dataDir)})`;
}

/** An embedded store that has no database file yet (PostgreSQL is never "missing": its schema is made on connect). */
export function embeddedStoreMissing(config: StoreConfig): boolean {
  return config.databaseUrl === undefined && !existsSync(join(config.dataDir, DATABASE_FILE));
}

/**
 * Opens the store named by the command's flags and environment, runs fn, closes it. A
 * mistyped --data-dir, or a command run from another folder, would otherwise create a new,
 * empty store (and key) there without a word: a DATA_DIR that does not exist is refused
 * unless --create is given, and a store that had to be created is announced.
 */
export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const config = loadStoreConfig(flagValues(cmd), process.env);
  const fresh = embeddedStoreMissing(config);
  if (fresh && !existsSync(config.dataDir) && (cmd.opts() as { create?: boolean }).create !== true) {
    throw new UsageError(`no data store in ${dataDirName(config.dataDir)}: the directory does not exist; give the server's --data-dir (or DATA_DIR), or --create to make a new store there.`);
  }
  const { store } = await openStore(config);
  if (fresh) process.stderr.write(`itwin-webhooks: note: created a new, empty data store in ${config.dataDir}.\n`);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Prints rows as an aligned table with a header line. */
export function printTable(headers: string[], rows: string[][]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(headers));
  for (const r of rows) console.log(line(r));
}

export const iso = (ms: number) => new Date(ms).toISOString();
