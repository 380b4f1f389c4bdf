import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { UNRECORDED_FACTOR } from '../src/delivery/dispatcher.ts';
import { startServe, runCli, tokenFor, type ChildServer } from './helpers/child.ts';
import { tempDir } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

const CONCURRENCY = 32;
const KILLS = 4;
const TYPE = 'iModels.iModelCreated.v1';

/**
 * A server process is SIGKILLed at random moments while events flow. After the last
 * restart, every event that was answered 202 arrives at least once; the only duplicates
 * are deliveries that were sent with their result not yet written at a kill: at most
 * UNRECORDED_FACTOR × DELIVERY_CONCURRENCY per kill on the embedded store.
 */
describe('crash safety', () => {
  it('delivers every accepted event after repeated SIGKILLs', { timeout: 180_000 }, async () => {
    const dataDir = tempDir('itwh-crash-');
    const receiver = await new Receiver().start();
    const args = [
      '--data-dir', dataDir, '--allow-insecure-callbacks', '--callback-allow-cidrs', '127.0.0.0/8',
      '--lease-ttl', '2s', '--heartbeat-interval', '500ms', '--delivery-concurrency', String(CONCURRENCY),
      '--max-in-flight-per-webhook', String(CONCURRENCY), '--rate-limit-max', '0', '--log-level', 'warn',
    ];
    let server: ChildServer | undefined;
    try {
      server = await startServe(args);
      const account = randomUUID();
      const sub = JSON.parse((await runCli(['clients', 'create', '--name', 'sub', '--account', account, '--json', '--data-dir', dataDir])).stdout);
      const pub = JSON.parse((await runCli(['clients', 'create', '--name', 'pub', '--account', account, '--scopes', 'webhooks:publish', '--json', '--data-dir', dataDir])).stdout);
      const subToken = await tokenFor(server.url, sub.clientId, sub.clientSecret);
      const created = await fetch(`${server.url}/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${subToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ callbackUrl: receiver.url('/crash'), scope: 'Account', eventTypes: [TYPE] }),
      });
      const hook = (await created.json()) as { id: string };
      await fetch(`${server.url}/webhooks/${hook.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${subToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ active: true }),
      });

      const accepted = new Set<string>();
      let current = server;
      let pubToken = await tokenFor(current.url, pub.clientId, pub.clientSecret);
      let publishing = true;
      // The producer: batches of 50 with its own messageIds, re-sent until answered 202
      // (idempotency makes a re-send of a batch that was in fact stored harmless).
      const producer = (async () => {
        while (publishing) {
          const events = Array.from({ length: 50 }, () => ({ eventType: TYPE, iTwinId: randomUUID(), accountId: account, messageId: randomUUID(), content: { imodelId: randomUUID(), userId: randomUUID() } }));
          for (;;) {
            try {
              const res = await fetch(`${current.url}/webhooks/events`, {
                method: 'POST',
                headers: { authorization: `Bearer ${pubToken}`, 'content-type': 'application/json' },
                body: JSON.stringify({ events }),
              });
              if (res.status === 202) {
                for (const e of events) accepted.add(e.messageId);
                break;
              }
            } catch {
              // the server is down: wait for the next one
            }
            await new Promise((r) => setTimeout(r, 20));
          }
          // about 1,000 events a second: enough to have work in flight at every kill
          await new Promise((r) => setTimeout(r, 50));
        }
      })();

      for (let kill = 0; kill < KILLS; kill++) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
        current.proc.kill('SIGKILL');
        await current.exited;
        current = await startServe(args);
        pubToken = await tokenFor(current.url, pub.clientId, pub.clientSecret);
      }
      await new Promise((r) => setTimeout(r, 1000));
      publishing = false;
      await producer;
      server = current;

      const arrivedOnce = () => {
        const seen = new Set(receiver.at('/crash').map((x) => x.body.messageId));
        return [...accepted].every((id) => seen.has(id));
      };
      const missing = () => {
        const seen = new Set(receiver.at('/crash').map((x) => x.body.messageId));
        return [...accepted].filter((id) => !seen.has(id)).length;
      };
      await receiver.waitFor(arrivedOnce, 120_000, `every accepted event (${accepted.size} accepted, ${missing()} missing so far)`);
      const received = receiver.at('/crash').map((x) => x.body.messageId);
      const unique = new Set(received);
      const duplicates = received.length - unique.size;
      assert.ok(accepted.size >= 1000, `thousands flowed (${accepted.size})`);
      const bound = KILLS * UNRECORDED_FACTOR * CONCURRENCY;
      assert.ok(duplicates <= bound, `${duplicates} duplicates; at most ${bound} were sent and not yet recorded at the kills`);
      console.log(`crash test: ${accepted.size} accepted, ${received.length} received, ${duplicates} duplicates after ${KILLS} kills`);
    } finally {
      server?.proc.kill('SIGKILL');
      await receiver.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
