import type { Command } from 'commander';
import { loadStoreConfig } from '../config/load.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { addSettingOptions, flagValues } from './options.ts';

/** Gives an administration command the options that locate the data store. */
export function storeCommand(cmd: Command): Command {
  return addSettingOptions(cmd, ['store']);
}

/** Opens the store named by the command's flags and environment, runs fn, closes it. */
export async function withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
  const { store } = await openStore(loadStoreConfig(flagValues(cmd), process.env));
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
