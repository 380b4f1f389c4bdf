/**
 * A registered content schema cannot stall the server with a catastrophic regular expression
 * (issue: `{"pattern":"^(a+)+$"}` and one publish of "a"×32 + "!" held it for 19 s on V8's
 * backtracking engine, each extra character doubling that). Patterns run on RE2 (linear time);
 * those RE2 cannot run are refused at registration with the reason.
 *
 * The proof is the event loop's own delay histogram while the requests are served, and a
 * request made at the same time being answered, never a wall-clock duration of the request.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

/** Each one backtracks exponentially on V8 for `EVIL_INPUT`: about 2^30 steps, seconds each (the batch below held V8's engine for minutes). */
const CATASTROPHIC = ['^(a+)+$', '^(a|a)*$', '^(a|aa)+$', '^([a-z]+)*[0-9]$'];
const EVIL_INPUT = `${'a'.repeat(30)}!`;
/** Far above a garbage-collection pause or a busy machine's scheduling, far below one pattern's stall. */
const MAX_LOOP_DELAY_MS = 2000;

describe('content schema patterns run in linear time', () => {
  let h: Harness;
  let admin: TestClient;
  let publisher: TestClient;
  let itwinId: string;

  before(async () => {
    h = await createHarness();
    admin = await h.client({ scopes: [SCOPES.admin] });
    publisher = await h.client({ scopes: [SCOPES.publish] });
    itwinId = await h.itwin(publisher.accountId);
  });
  after(() => h.close());

  const register = (payload: object) => h.inject({ method: 'POST', url: '/webhooks/event-types', headers: { authorization: admin.auth }, payload });

  it('a catastrophic pattern cannot hold the event loop: the loop stays responsive and a concurrent request is answered', async () => {
    const types = CATASTROPHIC.map((pattern, i) => ({
      type: `evilRegex.case${i}.v1`,
      description: `A content schema with the pattern ${pattern}.`,
      contentSchema: {
        type: 'object',
        properties: { s: { type: 'string', pattern } },
        patternProperties: { [pattern]: { type: 'string' } },
      },
      example: { s: pattern === '^([a-z]+)*[0-9]$' ? 'a1' : 'aa' },
    }));
    for (const t of types) {
      const res = await register(t);
      assert.equal(res.statusCode, 201, res.body);
    }

    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    try {
      // One batch with every pattern on the evil input, as a value and as a property name.
      const events = types.map((t) => ({ eventType: t.type, iTwinId: itwinId, content: { s: EVIL_INPUT, [EVIL_INPUT]: 'x' } }));
      const [publish, health] = await Promise.all([
        h.publish(publisher, { events }),
        h.inject({ method: 'GET', url: '/healthz' }),
      ]);
      assert.equal(health.statusCode, 200, 'the concurrent request is answered');
      assert.equal(publish.statusCode, 422, publish.body);
      const targets = (publish.json().error.details as Array<{ target: string }>).map((d) => d.target);
      for (let i = 0; i < types.length; i++) assert.ok(targets.includes(`events[${i}].content.s`), `event ${i} refused for its pattern: ${publish.body}`);
      // A matching value is still accepted: the engine matches, it does not just refuse; and each type keeps its own pattern.
      const ok = await h.publish(publisher, { eventType: types[0]!.type, iTwinId: itwinId, content: { s: 'a'.repeat(100_000) } });
      assert.equal(ok.statusCode, 202, ok.body);
      assert.equal((await h.publish(publisher, { eventType: types[3]!.type, iTwinId: itwinId, content: { s: 'abc1' } })).statusCode, 202);
      assert.equal((await h.publish(publisher, { eventType: types[0]!.type, iTwinId: itwinId, content: { s: 'abc1' } })).statusCode, 422);
    } finally {
      histogram.disable();
    }
    const maxMs = histogram.max / 1e6;
    assert.ok(maxMs < MAX_LOOP_DELAY_MS, `the event loop was held for ${maxMs.toFixed(0)} ms`);
  });

  it('a test event of a type with a catastrophic pattern is generated without a stall', async () => {
    // freshExample probes a pattern for "40 hex characters" with strings of 39 to 41 characters.
    const pattern = '^([0-9a-f]+)+x$';
    const type = { type: 'evilRegex.hexProbe.v1', description: 'Probed.', contentSchema: { type: 'object', properties: { h: { type: 'string', pattern } } }, example: { h: 'ffx' } };
    assert.equal((await register(type)).statusCode, 201);
    const sub = await h.client();
    const hook = await h.webhook(sub, { callbackUrl: 'https://receiver.example.com/hook', eventTypes: [type.type] }, false);
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    try {
      const [res, health] = await Promise.all([
        h.inject({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: { authorization: sub.auth }, payload: {} }),
        h.inject({ method: 'GET', url: '/healthz' }),
      ]);
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(health.statusCode, 200);
    } finally {
      histogram.disable();
    }
    assert.ok(histogram.max / 1e6 < MAX_LOOP_DELAY_MS, `the event loop was held for ${(histogram.max / 1e6).toFixed(0)} ms`);
  });

  it('patterns RE2 cannot run (backreferences, lookaround) are refused at registration, saying why', async () => {
    for (const pattern of ['^(a)\\1$', '^(?=a)a$', '^(?!b).$', '(?<=a)b']) {
      const res = await register({
        type: `evilRegex.refused${randomUUID().slice(0, 8)}.v1`,
        description: 'Refused.',
        contentSchema: { type: 'object', properties: { s: { type: 'string', pattern } } },
        example: { s: 'a' },
      });
      assert.equal(res.statusCode, 422, `${pattern}: ${res.body}`);
      const [d] = res.json().error.details as Array<{ code: string; target: string; message: string }>;
      assert.equal(d!.target, 'contentSchema');
      assert.match(d!.message, /linear time/, d!.message);
      assert.ok(d!.message.includes(JSON.stringify(pattern)), `the message names the pattern: ${d!.message}`);
    }
  });
});
