import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreConfig } from '../config/load.ts';
import { createSecretBox, KEY_FILE, KeyError, loadOrCreateKey, type SecretBox } from '../crypto/secretBox.ts';
import { StoreOpenError } from './errors.ts';
import { openPostgresStore } from './postgres/store.ts';
import { DATABASE_FILE, openSqliteStore, prepareDataDir } from './sqlite/store.ts';
import { openThreadedSqliteStore } from './sqlite/threaded.ts';
import type { StoreThreadFaults } from './sqlite/threadProtocol.ts';
import type { Store, StoreCapabilities } from './types.ts';

/** The meta key of a value sealed with the encryption key: opening it proves the key is the data's. */
export const KEY_CHECK = 'encryption_key_check';

export interface OpenedStore {
  store: Store;
  /** What this store can do beyond `Store` (see StoreCapabilities). */
  capabilities: StoreCapabilities;
  box: SecretBox;
  /** Set when this call generated DATA_DIR/encryption.key. */
  keyCreated: boolean;
  /** Set when the key file is readable by others than its owner. */
  keyFileLoose: boolean;
  /** Set when DATA_DIR is readable by others and was not tightened (it holds files of others). */
  dataDirLoose: boolean;
}

/**
 * Proves that `box` holds the key the store's data was sealed with, from the check value
 * that the store's bootstrap wrote (bootstrap.ts); throws StoreOpenError when it is not.
 */
export function checkEncryptionKey(box: SecretBox, sealedCheck: string, config: StoreConfig): void {
  try {
    box.open(sealedCheck, KEY_CHECK);
  } catch {
    throw new StoreOpenError(
      `The encryption key (${config.encryptionKey !== undefined ? 'ENCRYPTION_KEY' : `${config.dataDir}/encryption.key`}) is not the key this data was encrypted with.`,
    );
  }
}

/**
 * Opens (and migrates) the configured store and loads the encryption key, proving it is
 * the key the data was written with when the data says so. It writes no data: what a new
 * store is given (the key check, the built-in event types) is the bootstrap's (bootstrap.ts).
 */
export async function openStore(
  config: StoreConfig,
  options: {
    /** Run SQLite on its own thread (the server); commands stay on theirs. */
    threaded?: boolean;
    /** Told which PostgreSQL migrations this call applied. */
    onMigrated?: (versions: number[]) => void;
    /** Failures a test injects into the embedded store's thread. */
    faults?: StoreThreadFaults;
  } = {},
): Promise<OpenedStore> {
  const postgres = config.databaseUrl !== undefined;
  // With PostgreSQL the key comes from ENCRYPTION_KEY (the config requires it): DATA_DIR is not used.
  const dataDirLoose = !postgres && prepareDataDir(config.dataDir).loose;
  if (!postgres && config.encryptionKey === undefined && !existsSync(join(config.dataDir, KEY_FILE)) && existsSync(join(config.dataDir, DATABASE_FILE))) {
    // A new key could not read this data; generating one would only leave a wrong key behind.
    throw new StoreOpenError(
      `${join(config.dataDir, KEY_FILE)} is missing but ${join(config.dataDir, DATABASE_FILE)} exists: restore the key file from the backup of this data, or give its key in ENCRYPTION_KEY.`,
    );
  }
  let key;
  try {
    key = loadOrCreateKey(config.encryptionKey, config.dataDir);
  } catch (err) {
    throw new StoreOpenError(err instanceof KeyError ? err.message : `Cannot read the encryption key in ${config.dataDir}: ${(err as Error).message}`);
  }
  const box = createSecretBox(key.key);
  let store: Store;
  let capabilities: StoreCapabilities;
  if (postgres) {
    const pg = await openPostgresStore(config, { onMigrated: options.onMigrated });
    store = pg;
    capabilities = { claimingPublish: undefined, dueNotifications: pg, clientChanges: pg, soleDeliveryWorker: false, lost: undefined };
  } else if (options.threaded === true) {
    const threaded = await openThreadedSqliteStore(config.dataDir, { faults: options.faults });
    store = threaded;
    // The server's store thread holds DATA_DIR's lock: no other server can deliver from it.
    capabilities = { claimingPublish: threaded, dueNotifications: undefined, clientChanges: undefined, soleDeliveryWorker: true, lost: threaded.lost };
  } else {
    const local = openSqliteStore(config.dataDir);
    store = local;
    // A command beside a running server: it must not think itself the only worker.
    capabilities = { claimingPublish: local, dueNotifications: undefined, clientChanges: undefined, soleDeliveryWorker: false, lost: undefined };
  }
  try {
    const check = await store.getMeta(KEY_CHECK);
    if (check !== undefined) checkEncryptionKey(box, check, config);
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, capabilities, box, keyCreated: key.created, keyFileLoose: key.looseMode, dataDirLoose };
}
