import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { secretHasher } from '../src/auth/clientSecrets.ts';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (id: string, secret: string) => new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString();

describe('failed token requests are throttled per client id and per source address', () => {
  let h: Harness;
  let clock = Date.now();

  before(async () => {
    h = await createHarness({ now: () => clock, flags: { tokenFailuresPerClient: '5', tokenFailuresPerAddress: '8', tokenFailureWindow: '60s' } });
  });
  after(() => h.close());

  /**
   * Each test starts in a window of its own with an application of its own, so that the failures
   * another test counted (on its client id, or on an address) cannot throttle it, in any order.
   */
  async function freshWindow(): Promise<TestClient> {
    clock += 61_000;
    return h.client({ scopes: [SCOPES.read] });
  }

  const token = (id: string, secret: string, address: string) =>
    h.inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: form(id, secret), remoteAddress: address });

  it('refuses a client id after its failures, with Retry-After in the OAuth2 error shape, even with the right secret', async () => {
    const known = await freshWindow();
    // Each guess from another address: the client id's own count is what stops them.
    for (let i = 0; i < 5; i++) assert.equal((await token(known.clientId, `wrong-${i}`, `10.1.0.${i}`)).statusCode, 401);
    const refused = await token(known.clientId, known.clientSecret, '10.1.0.99');
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.json().error, 'temporarily_unavailable');
    assert.match(refused.json().error_description, /retry after 60 seconds/);
    assert.equal(refused.headers['retry-after'], '60');
    assert.equal(refused.headers['cache-control'], 'no-store');
    // Another application is not affected.
    const other = await h.client({ scopes: [SCOPES.read] });
    assert.equal((await token(other.clientId, other.clientSecret, '10.1.0.99')).statusCode, 200);
    // When the window has passed, the right secret works again, and clears the count.
    clock += 61_000;
    assert.equal((await token(known.clientId, known.clientSecret, '10.1.0.99')).statusCode, 200);
    for (let i = 0; i < 4; i++) assert.equal((await token(known.clientId, 'wrong', `10.1.1.${i}`)).statusCode, 401);
    assert.equal((await token(known.clientId, known.clientSecret, '10.1.1.99')).statusCode, 200);
    assert.equal((await token(known.clientId, 'wrong', '10.1.1.98')).statusCode, 401, 'a success started the count again');
  });

  it('refuses a source address after its failures, whichever client ids it tries', async () => {
    const known = await freshWindow();
    for (let i = 0; i < 8; i++) assert.equal((await token(`service-guess-${i}`, 'x', '10.2.0.1')).statusCode, 401);
    const refused = await token(known.clientId, known.clientSecret, '10.2.0.1');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().error, 'temporarily_unavailable');
    assert.equal((await token(known.clientId, known.clientSecret, '10.2.0.2')).statusCode, 200, 'another address is not affected');
  });

  it('counts unknown client ids like known ones, and costs them the same hashes', async () => {
    const known = await freshWindow();
    const unknown = 'service-000000000000000000000000';
    const answers: Record<string, number[]> = { known: [], unknown: [] };
    const hashes: Record<string, number[]> = { known: [], unknown: [] };
    for (let i = 0; i < 6; i++) {
      for (const [name, id] of [['known', known.clientId], ['unknown', unknown]] as const) {
        const before = secretHasher.load().done;
        answers[name]!.push((await token(id, 'wrong', `10.3.${name.length}.${i}`)).statusCode);
        hashes[name]!.push(secretHasher.load().done - before);
      }
    }
    assert.deepEqual(answers.known, [401, 401, 401, 401, 401, 429]);
    assert.deepEqual(answers.unknown, answers.known);
    // A failure checks the current secret and the previous one (or a stand-in for it): two hashes whatever the client.
    assert.deepEqual(hashes.known, [2, 2, 2, 2, 2, 0], 'a throttled request costs no hash');
    assert.deepEqual(hashes.unknown, hashes.known);
  });
});

describe('client secret hashing is bounded', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ flags: { tokenFailuresPerClient: '0', tokenFailuresPerAddress: '0' } });
  });
  after(() => h.close());

  it('leaves Node\'s thread pool to DNS and file system work during a flood of failed logins', async () => {
    const FLOOD = 32;
    let finished = 0;
    const logins = Array.from({ length: FLOOD }, (_, i) =>
      h
        .inject({ method: 'POST', url: '/oauth/token', headers: FORM, payload: form(`service-flood-${i}`, 'x'), remoteAddress: `10.9.0.${i}` })
        .then((res) => {
          finished++;
          return res.statusCode;
        }),
    );
    // Every login has reached the hasher (running or waiting) before the other work starts.
    while (secretHasher.load().active + secretHasher.load().queued < FLOOD) await new Promise((r) => setImmediate(r));
    await Promise.all([lookup('localhost'), stat(h.dataDir)]);
    const stillHashing = FLOOD - finished;
    assert.deepEqual(new Set(await Promise.all(logins)), new Set([401]));
    // Unbounded, the lookup and the stat queue behind the hashes that fill the pool's four
    // threads and finish after nearly all of them; bounded, they find a free thread at once.
    assert.ok(stillHashing >= FLOOD - 4, `${stillHashing} of ${FLOOD} logins were still being checked when the lookup and the stat answered`);
    assert.ok(secretHasher.load().active <= 1);
  });
});
