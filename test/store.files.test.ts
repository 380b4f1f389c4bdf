import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadStoreConfig } from '../src/config/load.ts';
import { StoreOpenError } from '../src/store/errors.ts';
import { openStore } from '../src/store/open.ts';
import { createHarness, tempDir } from './helpers/harness.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

async function openAndClose(dataDir: string) {
  const opened = await openStore(loadStoreConfig({ dataDir }, {}));
  await opened.store.close();
  return opened;
}

describe('the embedded store keeps its files private', () => {
  it('a server creates DATA_DIR 0700 and every file in it 0600 (database, WAL, shared memory, key, lock)', async (t) => {
    const parent = tempDir();
    t.after(() => rmSync(parent, { recursive: true, force: true }));
    const dataDir = join(parent, 'data');
    const h = await createHarness({ dataDir });
    try {
      await h.client(); // some writes, so that the WAL has content
      assert.equal(mode(dataDir), 0o700);
      const files = readdirSync(dataDir).sort();
      for (const name of ['encryption.key', 'itwin-webhooks.db', 'itwin-webhooks.db-shm', 'itwin-webhooks.db-wal', 'server.lock']) {
        assert.ok(files.includes(name), `${name} in ${files.join(', ')}`);
      }
      for (const name of files) assert.equal(mode(join(dataDir, name)).toString(8), '600', name);
    } finally {
      await h.close();
    }
  });

  it('tightens an existing DATA_DIR and database files that others could read', async (t) => {
    const dataDir = tempDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    await openAndClose(dataDir);
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'itwin-webhooks.db'), 0o644);
    const opened = await openAndClose(dataDir);
    assert.equal(mode(dataDir), 0o700);
    assert.equal(mode(join(dataDir, 'itwin-webhooks.db')), 0o600);
    assert.equal(opened.dataDirLoose, false);
  });

  it('leaves a shared DATA_DIR that holds other files alone, and says so', async (t) => {
    const dataDir = tempDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'notes.txt'), 'not ours');
    const opened = await openAndClose(dataDir);
    assert.equal(mode(dataDir), 0o755);
    assert.equal(opened.dataDirLoose, true);
    assert.equal(mode(join(dataDir, 'itwin-webhooks.db')), 0o600, 'the database is private whatever the directory');
  });

  it('refuses to start when encryption.key is missing beside an existing database, and leaves no new key behind', async (t) => {
    const dataDir = tempDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    await openAndClose(dataDir);
    rmSync(join(dataDir, 'encryption.key'));
    await assert.rejects(openAndClose(dataDir), (err: Error) => {
      assert.ok(err instanceof StoreOpenError, String(err));
      assert.match(err.message, /encryption\.key is missing but .*itwin-webhooks\.db exists/);
      assert.match(err.message, /ENCRYPTION_KEY/);
      return true;
    });
    assert.equal(existsSync(join(dataDir, 'encryption.key')), false);
  });

  it('still generates the key for a new data directory', async (t) => {
    const parent = tempDir();
    t.after(() => rmSync(parent, { recursive: true, force: true }));
    const dataDir = join(parent, 'nested', 'data');
    mkdirSync(join(parent, 'nested'));
    const opened = await openAndClose(dataDir);
    assert.equal(opened.keyCreated, true);
    assert.equal(mode(join(dataDir, 'encryption.key')), 0o600);
  });
});
