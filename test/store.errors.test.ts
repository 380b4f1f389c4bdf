import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reviveError, serializeError, StoreOpenError, StoreUnavailableError } from '../src/store/errors.ts';

/** What a reply of the store thread goes through: serialized, copied by structured clone, revived. */
const acrossThreads = (err: unknown) => reviveError(structuredClone(serializeError(err)));

describe('store errors across the thread boundary', () => {
  it('come back as the store contract class, known by their code', () => {
    const unavailable = acrossThreads(new StoreUnavailableError('the store thread stopped'));
    assert.ok(unavailable instanceof StoreUnavailableError);
    assert.equal(unavailable.message, 'the store thread stopped');
    const open = acrossThreads(new StoreOpenError('DATA_DIR /x is not a directory.'));
    assert.ok(open instanceof StoreOpenError);
    assert.equal((open as StoreOpenError).code, 'STORE_OPEN_FAILED');
  });

  it('keep the name and code of any other error, as a plain Error', () => {
    const sqlite = Object.assign(new Error('UNIQUE constraint failed: webhooks.id'), { name: 'SqliteError', code: 'ERR_SQLITE_ERROR' });
    const back = acrossThreads(sqlite) as NodeJS.ErrnoException;
    assert.ok(!(back instanceof StoreUnavailableError));
    assert.equal(back.name, 'SqliteError');
    assert.equal(back.code, 'ERR_SQLITE_ERROR');
    assert.equal(back.message, 'UNIQUE constraint failed: webhooks.id');
    assert.equal(acrossThreads('a thrown string').message, 'a thrown string');
  });
});
