/**
 * The errors of the store contract, whatever the database. Each carries a stable `code`:
 * that, not the class, is what survives the hop from the embedded store's thread
 * (threaded.ts revives an error from its code), so callers may test `instanceof` or the code.
 */

/** The store cannot be reached right now (the database is down or restarting, the store's thread died): the request may be retried. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  readonly code = 'STORE_UNAVAILABLE';
}

/** The data directory, the database or the encryption key cannot be used; the message says why and where. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
  readonly code = 'STORE_OPEN_FAILED';
}

/** An iTwin webhook may be activated only while its owner may manage that iTwin (types.ts, updateWebhook). */
export class ActivationRefusedError extends Error {
  override name = 'ActivationRefusedError';
  readonly code = 'ACTIVATION_REFUSED';
}

/** An error as it crosses a thread boundary (structured clone keeps no class). */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export function serializeError(err: unknown): SerializedError {
  const e = err as NodeJS.ErrnoException;
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

/** The store contract's errors come back as their class; any other keeps its name and code. */
export function reviveError(e: SerializedError): Error {
  if (e.code === 'STORE_UNAVAILABLE') return new StoreUnavailableError(e.message);
  if (e.code === 'STORE_OPEN_FAILED') return new StoreOpenError(e.message);
  if (e.code === 'ACTIVATION_REFUSED') return new ActivationRefusedError(e.message);
  const err: NodeJS.ErrnoException = new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}
