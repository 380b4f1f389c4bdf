import { BUILTIN_EVENT_TYPES } from './catalog/builtinEventTypes.ts';
import type { StoreConfig } from './config/load.ts';
import type { SecretBox } from './crypto/secretBox.ts';
import { checkEncryptionKey, KEY_CHECK } from './store/open.ts';
import type { Store } from './store/types.ts';

/**
 * What a store is given before a server (or `migrate`) uses it, after it was opened: the
 * value that proves later opens use the data's key (written by the first, checked by every
 * one after), and the built-in event types, brought up to date with this version.
 */
export async function bootstrapStore(deps: { store: Store; box: SecretBox; config: StoreConfig; now: () => number }): Promise<void> {
  const { store, box, config, now } = deps;
  const check = await store.setMetaIfAbsent(KEY_CHECK, box.seal('itwin-webhooks', KEY_CHECK));
  checkEncryptionKey(box, check, config);
  const at = now();
  await store.upsertBuiltinEventTypes(BUILTIN_EVENT_TYPES.map((t) => ({ ...t, builtin: true, createdAt: at })));
}
