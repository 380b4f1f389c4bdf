import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SCOPES } from '../src/auth/scopes.ts';
import { BUILTIN_EVENT_TYPES } from '../src/catalog/builtinEventTypes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

describe('event-type catalog (contract §3)', () => {
  let h: Harness;
  let admin: TestClient;
  let reader: TestClient;

  before(async () => {
    h = await createHarness();
    admin = await h.client({ scopes: [SCOPES.admin] });
    reader = await h.client({ scopes: [SCOPES.read] });
  });
  after(() => h.close());

  /** Types the tests of this suite registered (they share one server: its catalog is the same for every client). */
  const registered = new Set<string>();
  const register = async (auth: string, payload: object) => {
    const res = await h.inject({ method: 'POST', url: '/webhooks/event-types', headers: { authorization: auth }, payload });
    if (res.statusCode === 201) registered.add((payload as { type: string }).type);
    return res;
  };

  it('lists every built-in type with schema and example', async () => {
    const res = await h.inject({ method: 'GET', url: '/webhooks/event-types', headers: { authorization: reader.auth } });
    assert.equal(res.statusCode, 200);
    const list = res.json().eventTypes as Array<{ type: string; service: string; contentSchema: object; example: object }>;
    // Every built-in type, and nothing else but what the other tests here registered (in whatever order they ran).
    assert.deepEqual(list.map((t) => t.type).filter((t) => !registered.has(t)).sort(), BUILTIN_EVENT_TYPES.map((t) => t.type).sort());
    for (const t of list) {
      assert.deepEqual(Object.keys(t).sort(), ['contentSchema', 'description', 'example', 'service', 'type']);
      assert.equal(t.service, t.type.split('.')[0]);
    }
    const deleted = list.find((t) => t.type === 'iModels.iModelDeleted.v1')!;
    assert.ok('imodelId' in deleted.example && 'userId' in deleted.example);
  });

  const newType = {
    type: 'myService.thingHappened.v1',
    description: 'A thing happened in my service.',
    contentSchema: { type: 'object', required: ['thingId'], properties: { thingId: { type: 'string', format: 'uuid' } } },
    example: { thingId: '0b3c2f5e-6a9d-4f43-9a51-2f7b6c3d8e10' },
  };

  it('registers a new type (webhooks:admin), persists it and refuses it twice', async () => {
    const res = await register(admin.auth, newType);
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json(), { ...newType, service: 'myService' });
    const list = (await h.inject({ method: 'GET', url: '/webhooks/event-types', headers: { authorization: reader.auth } })).json().eventTypes;
    assert.ok(list.some((t: { type: string }) => t.type === newType.type));
    const again = await register(admin.auth, newType);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().error.code, 'EventTypeAlreadyExists');
    // a webhook can now subscribe to it
    const sub = await h.client();
    const created = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { authorization: sub.auth },
      payload: { callbackUrl: 'https://example.com/x', scope: 'Account', eventTypes: [newType.type] },
    });
    assert.equal(created.statusCode, 201);
  });

  it('a content schema with an $id (or one another type shares) is registered and used on publish, never a 500', async () => {
    const publisher = await h.client({ scopes: [SCOPES.publish] });
    const itwinId = await h.itwin(publisher.accountId);
    const schema = (id: string) => ({
      $id: id,
      type: 'object',
      required: ['thingId'],
      properties: { thingId: { $ref: '#/definitions/id' } },
      definitions: { id: { $id: `${id}/id`, type: 'string', format: 'uuid' } },
    });
    const types = ['withId.first.v1', 'withId.second.v1'];
    for (const type of types) {
      // The second shares the first's $id: each schema is its own.
      const res = await register(admin.auth, { type, description: 'Has an $id.', contentSchema: schema('https://schemas.example.com/thing'), example: { thingId: '0b3c2f5e-6a9d-4f43-9a51-2f7b6c3d8e10' } });
      assert.equal(res.statusCode, 201, res.body);
    }
    for (const type of [...types, ...types]) {
      const ok = await h.inject({ method: 'POST', url: '/webhooks/events', headers: { authorization: publisher.auth }, payload: { eventType: type, iTwinId: itwinId, content: { thingId: '0b3c2f5e-6a9d-4f43-9a51-2f7b6c3d8e10' } } });
      assert.equal(ok.statusCode, 202, `${type}: ${ok.body}`);
      const refused = await h.inject({ method: 'POST', url: '/webhooks/events', headers: { authorization: publisher.auth }, payload: { eventType: type, iTwinId: itwinId, content: { thingId: 'nope' } } });
      assert.equal(refused.statusCode, 422, `${type}: ${refused.body}`);
      assert.equal(refused.json().error.details[0].target, 'content.thingId');
    }
  });

  it('needs webhooks:admin to register', async () => {
    const modify = await h.client();
    const res = await register(modify.auth, { ...newType, type: 'myService.other.v1' });
    assert.equal(res.statusCode, 403);
  });

  it('validates the name, the schema and the example', async () => {
    const cases: Array<[object, string]> = [
      [{ ...newType, type: 'MyService.thing.v1' }, 'type'],
      [{ ...newType, type: 'my.thing.v0' }, 'type'],
      [{ ...newType, type: 'my.thing' }, 'type'],
      [{ ...newType, type: 'a.b.v2', service: 'other' }, 'service'],
      [{ ...newType, type: 'a.b.v3', contentSchema: { type: 'not-a-type' } }, 'contentSchema'],
      [{ ...newType, type: 'a.b.v4', example: { thingId: 'not-a-uuid' } }, 'example.thingId'],
      [{ ...newType, type: 'a.b.v5', example: {} }, 'example.thingId'],
      [{ ...newType, type: 'a.b.v6', extra: true }, 'extra'],
      [{ type: 'a.b.v7' }, 'description'],
    ];
    for (const [payload, target] of cases) {
      const res = await register(admin.auth, payload);
      assert.equal(res.statusCode, 422, JSON.stringify(payload));
      assert.equal(res.json().error.code, 'InvalidEventTypeRequest');
      assert.ok(res.json().error.details.some((d: { target: string }) => d.target === target), `${target}: ${res.body}`);
    }
  });
});

describe('event types survive a restart', () => {
  it('keeps registered types in the store', async () => {
    const first = await createHarness();
    const admin = await first.client({ scopes: [SCOPES.admin] });
    const res = await first.inject({
      method: 'POST',
      url: '/webhooks/event-types',
      headers: { authorization: admin.auth },
      payload: { type: 'persist.me.v1', description: 'x', contentSchema: { type: 'object' }, example: {} },
    });
    assert.equal(res.statusCode, 201);
    await first.server.close();
    const second = await createHarness({ dataDir: first.dataDir });
    try {
      const types = await second.server.deps.store.listEventTypes();
      assert.ok(types.some((t) => t.type === 'persist.me.v1' && !t.builtin));
    } finally {
      await second.close();
      await first.close();
    }
  });
});
