import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_EVENT_TYPES } from '../catalog/builtinEventTypes.ts';
import type { StoreConfig } from '../config/load.ts';
import { createSecretBox, KEY_FILE, KeyError, loadOrCreateKey, type SecretBox } from '../crypto/secretBox.ts';
import { openPostgresStore } from './postgres/store.ts';
import { StoreOpenError, StoreUnavailableError } from './errors.ts';
import { DATABASE_FILE, openSqliteStore, prepareDataDir } from './sqlite/store.ts';
import { openThreadedSqliteStore, type HostedDeliveryControl, type ThreadedDeliveryOptions } from './sqlite/threaded.ts';
import type { Store } from './types.ts';

const KEY_CHECK = 'encryption_key_check';

export interface OpenedStore {
  store: Store;
  /** The delivery worker on the embedded store's thread, when `delivery` was given. */
  hostedDelivery: HostedDeliveryControl | undefined;
  box: SecretBox;
  /** Set when this call generated DATA_DIR/encryption.key. */
  keyCreated: boolean;
  /** Set when the key file is readable by others than its owner. */
  keyFileLoose: boolean;
  /** Set when DATA_DIR is readable by others and was not tightened (it holds files of others). */
  dataDirLoose: boolean;
}

/**
 * Opens the configured store, loads the encryption key and proves it is the key the data
 * was written with, and brings the built-in event types up to date.
 */
export async function openStore(
  config: StoreConfig,
  options: {
    now?: () => number;
    /** Run SQLite on its own thread (the server); commands stay on theirs. */
    threaded?: boolean;
    /** Told which PostgreSQL migrations this call applied. */
    onMigrated?: (versions: number[]) => void;
    /** With the threaded embedded store: run the delivery worker on the store's thread (it needs the key). */
    delivery?: (key: Buffer, box: SecretBox) => ThreadedDeliveryOptions;
  } = {},
): Promise<OpenedStore> {
  const now = options.now ?? Date.now;
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
  let hostedDelivery: HostedDeliveryControl | undefined;
  let store: Store;
  if (postgres) store = await openPostgresStore(config, { onMigrated: options.onMigrated });
  else if (options.threaded === true) {
    const threaded = await openThreadedSqliteStore(config.dataDir, { delivery: options.delivery?.(key.key, box) });
    hostedDelivery = threaded.hostedDelivery;
    store = threaded;
  } else store = openSqliteStore(config.dataDir);
  try {
    const check = await store.setMetaIfAbsent(KEY_CHECK, box.seal('itwin-webhooks', KEY_CHECK));
    try {
      box.open(check, KEY_CHECK);
    } catch {
      throw new StoreOpenError(
        `The encryption key (${config.encryptionKey !== undefined ? 'ENCRYPTION_KEY' : `${config.dataDir}/encryption.key`}) is not the key this data was encrypted with.`,
      );
    }
    const at = now();
    await store.upsertBuiltinEventTypes(BUILTIN_EVENT_TYPES.map((t) => ({ ...t, builtin: true, createdAt: at })));
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, hostedDelivery, box, keyCreated: key.created, keyFileLoose: key.looseMode, dataDirLoose };
}
