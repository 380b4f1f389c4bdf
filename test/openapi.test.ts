/**
 * The OpenAPI document served at GET /openapi.json: a valid OpenAPI 3.1 document that
 * describes every route the app serves (and nothing it hides), with the contract's error
 * shape on the error answers; and live answers match what it documents.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
// ajv and ajv-formats are CommonJS; their class/plugin is the `.default` of the module.
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { SCOPES } from '../src/auth/scopes.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';

const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

type Json = Record<string, unknown>;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Operation {
  summary?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Json }>;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Json }> }>;
  security?: Array<Record<string, string[]>>;
}

interface OpenApiDoc {
  openapi: string;
  info: Json;
  paths: Record<string, Partial<Record<Method, Operation>>>;
  components?: Json;
}

interface RouteSpec {
  method: Method;
  path: string;
  /** The status of success. */
  success: string;
  /** Media type of the request body, when the route takes one. */
  body?: string;
  /** An authenticated route of the API (the contract's error answers apply). */
  api: boolean;
  byId?: boolean;
  query?: boolean;
}

/** Every route the app serves (contract §2, §3, §5, plus operations). */
const ROUTES: RouteSpec[] = [
  { method: 'post', path: '/webhooks', success: '201', body: 'application/json', api: true },
  { method: 'get', path: '/webhooks', success: '200', api: true, query: true },
  { method: 'get', path: '/webhooks/{webhookId}', success: '200', api: true, byId: true },
  { method: 'patch', path: '/webhooks/{webhookId}', success: '200', body: 'application/json', api: true, byId: true },
  { method: 'delete', path: '/webhooks/{webhookId}', success: '204', api: true, byId: true },
  { method: 'get', path: '/webhooks/event-types', success: '200', api: true },
  { method: 'post', path: '/webhooks/event-types', success: '201', body: 'application/json', api: true },
  { method: 'post', path: '/oauth/token', success: '200', body: 'application/x-www-form-urlencoded', api: false },
  { method: 'get', path: '/.well-known/jwks.json', success: '200', api: false },
  { method: 'get', path: '/.well-known/openid-configuration', success: '200', api: false },
  { method: 'get', path: '/healthz', success: '200', api: false },
  { method: 'get', path: '/readyz', success: '200', api: false },
  // The admin API (contract §7)
  { method: 'post', path: '/admin/clients', success: '201', body: 'application/json', api: true },
  { method: 'get', path: '/admin/clients', success: '200', api: true },
  { method: 'get', path: '/admin/clients/{clientId}', success: '200', api: true, byId: true },
  { method: 'delete', path: '/admin/clients/{clientId}', success: '204', api: true, byId: true },
  { method: 'post', path: '/admin/clients/{clientId}/secret', success: '200', body: 'application/json', api: true, byId: true },
  { method: 'get', path: '/admin/itwins', success: '200', api: true },
  { method: 'put', path: '/admin/itwins/{itwinId}', success: '201', body: 'application/json', api: true, byId: true },
  { method: 'delete', path: '/admin/itwins/{itwinId}', success: '204', api: true, byId: true },
  { method: 'get', path: '/admin/grants', success: '200', api: true },
  { method: 'put', path: '/admin/grants/{clientId}/{itwinId}/{permission}', success: '201', api: true, byId: true },
  { method: 'delete', path: '/admin/grants/{clientId}/{itwinId}/{permission}', success: '204', api: true, byId: true },
  { method: 'get', path: '/admin/org-admins', success: '200', api: true },
  { method: 'put', path: '/admin/org-admins/{clientId}/{accountId}', success: '201', api: true, byId: true },
  { method: 'delete', path: '/admin/org-admins/{clientId}/{accountId}', success: '204', api: true, byId: true },
  { method: 'get', path: '/admin/accounts/{accountId}/directory', success: '200', api: true, byId: true },
  { method: 'put', path: '/admin/accounts/{accountId}/directory', success: '200', body: 'application/json', api: true, byId: true },
];

const DETAIL_CODES = ['InvalidValue', 'MissingRequiredProperty', 'ReadOnlyProperty', 'UnknownProperty'];
const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];

const label = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;

/** The error answers a route must document (contract §1). */
function errorStatuses(r: RouteSpec): string[] {
  if (!r.api) return [];
  const out = ['401', '403', '429', '500'];
  if (r.byId) out.push('404');
  if (r.body !== undefined || r.query) out.push('422');
  if (r.body !== undefined) out.push('413', '415');
  return out;
}

/** Asserts that a schema is the contract's error body: {"error": {"code", "message", "details"?}}. */
function assertErrorSchema(schema: Json | undefined, where: string): void {
  assert.ok(schema !== undefined, `${where}: no schema`);
  assert.equal(schema.type, 'object', `${where}: an object`);
  assert.ok((schema.required as string[] | undefined)?.includes('error'), `${where}: error is required`);
  const error = (schema.properties as Record<string, Json> | undefined)?.error;
  assert.ok(error !== undefined, `${where}: has an error property`);
  assert.equal(error.type, 'object', `${where}: error is an object`);
  const required = (error.required as string[] | undefined) ?? [];
  assert.ok(required.includes('code') && required.includes('message'), `${where}: error.code and error.message are required`);
  const props = error.properties as Record<string, Json>;
  assert.equal(props.code?.type, 'string', `${where}: error.code is a string`);
  assert.equal(props.message?.type, 'string', `${where}: error.message is a string`);
  const details = props.details;
  assert.ok(details !== undefined, `${where}: error.details is described`);
  assert.equal(details.type, 'array', `${where}: error.details is an array`);
  assert.ok(!required.includes('details'), `${where}: error.details is optional`);
  const item = details.items as Json;
  const itemProps = item.properties as Record<string, Json>;
  assert.deepEqual(Object.keys(itemProps).sort(), ['code', 'message', 'target'], `${where}: a detail has code, message, target`);
  assert.deepEqual([...(item.required as string[])].sort(), ['code', 'message', 'target'], `${where}: all three are required`);
  assert.deepEqual([...(itemProps.code!.enum as string[])].sort(), DETAIL_CODES, `${where}: detail codes`);
}

describe('OpenAPI document', () => {
  let h: Harness;
  let doc: OpenApiDoc;
  /** The document with every $ref resolved. */
  let resolved: OpenApiDoc;
  /** The document as served (the validator resolves `doc` in place). */
  let raw: OpenApiDoc;
  let client: TestClient;
  let webhookId: string;

  const opOf = (d: OpenApiDoc, r: { method: Method; path: string }) => d.paths[r.path]?.[r.method];

  before(async () => {
    h = await createHarness();
    client = await h.client({ scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.admin] });
    const res = await h.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json() as OpenApiDoc;
    raw = JSON.parse(res.body) as OpenApiDoc;
    const validator = new Validator();
    await validator.validate(doc as unknown as Json);
    resolved = validator.resolveRefs() as unknown as OpenApiDoc;

    const types = (await h.server.deps.store.listEventTypes()).map((t) => t.type);
    const created = await h.inject({
      method: 'POST',
      url: '/webhooks',
      headers: { authorization: client.auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ callbackUrl: 'https://receiver.example.com/hook', scope: 'Account', eventTypes: [types[0]] }),
    });
    assert.equal(created.statusCode, 201, created.body);
    webhookId = (created.json() as { id: string }).id;
  });

  after(async () => {
    await h?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(doc)) as Json);
    assert.equal(result.valid, true, `validation errors: ${JSON.stringify(result.errors, null, 2)}`);
    assert.equal(validator.version, '3.1');
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');
  });

  it('uses the OpenAPI {param} form in its paths', () => {
    for (const path of Object.keys(doc.paths)) {
      assert.ok(!path.includes(':') && !path.includes('*'), `${path} uses a router pattern`);
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        for (const [method, op] of Object.entries(doc.paths[path]!)) {
          const p = (op as Operation).parameters?.find((x) => x.in === 'path' && x.name === name);
          assert.ok(p !== undefined && p.required === true, `${method.toUpperCase()} ${path}: path parameter ${name} is described and required`);
        }
      }
    }
    assert.ok(doc.paths['/webhooks/{webhookId}'] !== undefined);
  });

  for (const r of ROUTES) {
    it(`describes ${label(r)}`, () => {
      const op = opOf(resolved, r);
      assert.ok(op !== undefined, `${label(r)} is not in the document`);
      assert.ok(typeof op.summary === 'string' && op.summary.length > 0, `${label(r)} has a summary`);

      if (r.body !== undefined) {
        const content = op.requestBody?.content?.[r.body];
        assert.ok(content !== undefined, `${label(r)}: the request body (${r.body}) is described`);
        assert.ok(content.schema !== undefined && content.schema.type === 'object', `${label(r)}: the request body has an object schema`);
        assert.equal(op.requestBody?.required, true, `${label(r)}: the request body is required`);
      } else {
        assert.equal(op.requestBody, undefined, `${label(r)} takes no body`);
      }

      const ok = op.responses?.[r.success];
      assert.ok(ok !== undefined, `${label(r)}: ${r.success} is described`);
      assert.ok(typeof ok.description === 'string' && ok.description.length > 0, `${label(r)}: ${r.success} has a description`);
      if (r.success === '204') assert.equal(ok.content, undefined, `${label(r)}: 204 has no content`);

      for (const status of errorStatuses(r)) {
        const answer = op.responses?.[status];
        assert.ok(answer !== undefined, `${label(r)}: ${status} is described`);
        assertErrorSchema(answer.content?.['application/json']?.schema, `${label(r)} ${status}`);
      }

      // Authenticated routes declare the bearer scheme; the public ones declare none.
      if (r.api) {
        assert.ok(op.security?.some((s) => 'bearer' in s), `${label(r)} declares bearer security`);
      } else {
        assert.ok(op.security === undefined || op.security.length === 0, `${label(r)} is public`);
      }

      if (r.query) {
        const names = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
        assert.deepEqual(names, ['$continuationToken', '$top'], `${label(r)}: query parameters`);
        const top = op.parameters!.find((p) => p.name === '$top')!;
        assert.equal(top.schema?.type, 'integer');
        assert.equal(top.schema?.minimum, 1);
        assert.equal(top.schema?.maximum, 1000);
      }
    });
  }

  it('describes the JSON body of every JSON success answer', () => {
    const missing = ROUTES.filter((r) => r.success !== '204')
      .filter((r) => opOf(resolved, r)?.responses?.[r.success]?.content?.['application/json']?.schema === undefined)
      .map(label);
    assert.deepEqual(missing, [], `success answers without a JSON schema: ${missing.join(', ')}`);
  });

  it('describes every error answer of every authenticated operation with the error schema', () => {
    let checked = 0;
    for (const [path, ops] of Object.entries(resolved.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[Method, Operation]>) {
        if (!op.security?.some((s) => 'bearer' in s)) continue;
        const where = label({ method, path });
        for (const status of ['401', '403', '429', '500']) assert.ok(op.responses?.[status] !== undefined, `${where}: ${status} is described`);
        if (op.requestBody !== undefined) for (const status of ['413', '415', '422']) assert.ok(op.responses?.[status] !== undefined, `${where}: ${status} is described`);
        if (path.includes('{')) assert.ok(op.responses?.['404'] !== undefined, `${where}: 404 is described`);
        for (const [status, answer] of Object.entries(op.responses ?? {})) {
          if (Number(status) < 400) continue;
          assertErrorSchema(answer.content?.['application/json']?.schema, `${where} ${status}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 0);
  });

  /** A URL for a documented path: our webhook for {webhookId}, unknown ids for the other parameters. */
  const concrete = (path: string) => path.replace('{webhookId}', webhookId).replace(/\{[^}]+\}/g, () => crypto.randomUUID());

  it('documents only routes that are served, and hides the 405 helpers', async () => {
    const documented: Array<{ method: Method; path: string }> = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        assert.ok((METHODS as string[]).includes(method), `${path}: unexpected key ${method}`);
        documented.push({ method: method as Method, path });
      }
    }
    for (const r of ROUTES) assert.ok(documented.some((d) => d.method === r.method && d.path === r.path), `${label(r)} is documented`);

    // Every documented operation is a real route: not a 405 helper, not an unknown route.
    // (By-id routes get an unknown id, so that nothing is changed: WebhookNotFound is fine.)
    for (const d of documented) {
      const withBody = d.method !== 'get' && d.method !== 'delete';
      const headers: Record<string, string> = { authorization: client.auth };
      if (withBody) headers['content-type'] = d.path === '/oauth/token' ? 'application/x-www-form-urlencoded' : 'application/json';
      const res = await h.inject({
        method: d.method.toUpperCase() as 'GET',
        url: d.path.replace(/\{[^}]+\}/g, () => crypto.randomUUID()),
        headers,
        payload: withBody ? '{}' : undefined,
      });
      assert.notEqual(res.statusCode, 405, `${label(d)} is a 405 helper: ${res.body}`);
      if (res.statusCode === 404) assert.notEqual((res.json() as { error: { code: string } }).error.code, 'RouteNotFound', `${label(d)} is not served`);
    }

    // The methods a documented path does not have answer 405 (the hidden helpers) and are not documented.
    let helpers = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of METHODS.filter((m) => !(m in ops))) {
        const res = await h.inject({ method: method.toUpperCase() as 'GET', url: concrete(path), headers: { authorization: client.auth } });
        assert.equal(res.statusCode, 405, `${method.toUpperCase()} ${path}: ${res.statusCode} ${res.body}`);
        assert.equal((res.json() as { error: { code: string } }).error.code, 'MethodNotAllowed');
        const allow = String(res.headers.allow).split(',').map((s) => s.trim().toLowerCase());
        for (const m of Object.keys(ops)) assert.ok(allow.includes(m), `${path}: Allow lists ${m} (${res.headers.allow})`);
        helpers++;
      }
    }
    assert.ok(helpers > 0);
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/docs')), 'the docs UI is not an API path');
  });

  it('serves the docs UI as HTML at /docs', async () => {
    for (const url of ['/docs', '/docs/']) {
      const res = await h.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, `${url}: ${res.statusCode}`);
      assert.match(String(res.headers['content-type']), /^text\/html/, url);
      assert.match(res.body, /<html/i, url);
    }
  });

  it('matches what the server really answers', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const form = 'application/x-www-form-urlencoded';
    const json = 'application/json';
    const auth = { authorization: client.auth };
    const types = (await h.server.deps.store.listEventTypes()).map((t) => t.type);
    const cases: Array<{ route: { method: Method; path: string }; url?: string; headers?: Record<string, string>; payload?: string; status: number }> = [
      { route: { method: 'get', path: '/healthz' }, status: 200 },
      { route: { method: 'get', path: '/readyz' }, status: 200 },
      { route: { method: 'get', path: '/webhooks' }, headers: auth, status: 200 },
      { route: { method: 'get', path: '/webhooks' }, url: '/webhooks?$top=0', headers: auth, status: 422 },
      { route: { method: 'get', path: '/webhooks' }, status: 401 },
      { route: { method: 'get', path: '/webhooks/{webhookId}' }, headers: auth, status: 200 },
      { route: { method: 'get', path: '/webhooks/{webhookId}' }, url: `/webhooks/${crypto.randomUUID()}`, headers: auth, status: 404 },
      {
        route: { method: 'post', path: '/webhooks' },
        headers: { ...auth, 'content-type': json },
        payload: JSON.stringify({ callbackUrl: 'https://receiver.example.com/x', scope: 'Account', eventTypes: [types[0]] }),
        status: 201,
      },
      { route: { method: 'post', path: '/webhooks' }, headers: { ...auth, 'content-type': json }, payload: '{"scope":"nope","extra":1}', status: 422 },
      { route: { method: 'post', path: '/webhooks' }, headers: { ...auth, 'content-type': json }, payload: '{', status: 400 },
      { route: { method: 'post', path: '/webhooks' }, headers: { ...auth, 'content-type': 'text/plain' }, payload: 'x', status: 415 },
      { route: { method: 'post', path: '/webhooks' }, headers: { ...auth, 'content-type': json }, payload: JSON.stringify({ x: 'a'.repeat(70_000) }), status: 413 },
      {
        route: { method: 'post', path: '/webhooks' },
        headers: { authorization: (await h.client({ scopes: [SCOPES.read] })).auth, 'content-type': json },
        payload: '{}',
        status: 403,
      },
      { route: { method: 'patch', path: '/webhooks/{webhookId}' }, headers: { ...auth, 'content-type': json }, payload: '{"active":true}', status: 200 },
      { route: { method: 'patch', path: '/webhooks/{webhookId}' }, headers: { ...auth, 'content-type': json }, payload: '{"id":"x"}', status: 422 },
      { route: { method: 'get', path: '/webhooks/event-types' }, headers: auth, status: 200 },
      {
        route: { method: 'post', path: '/webhooks/event-types' },
        headers: { ...auth, 'content-type': json },
        payload: JSON.stringify({ type: 'tests.docChecked.v1', description: 'd', contentSchema: { type: 'object' }, example: {} }),
        status: 201,
      },
      {
        route: { method: 'post', path: '/webhooks/event-types' },
        headers: { ...auth, 'content-type': json },
        payload: JSON.stringify({ type: 'tests.docChecked.v1', description: 'd', contentSchema: { type: 'object' }, example: {} }),
        status: 409,
      },
      {
        route: { method: 'post', path: '/oauth/token' },
        headers: { 'content-type': form },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }).toString(),
        status: 200,
      },
      { route: { method: 'post', path: '/oauth/token' }, headers: { 'content-type': form }, payload: 'grant_type=password', status: 400 },
      { route: { method: 'post', path: '/oauth/token' }, headers: { 'content-type': form }, payload: 'grant_type=client_credentials&client_id=x&client_secret=y', status: 401 },
      { route: { method: 'get', path: '/.well-known/jwks.json' }, status: 200 },
      { route: { method: 'get', path: '/.well-known/openid-configuration' }, status: 200 },
      { route: { method: 'delete', path: '/webhooks/{webhookId}' }, headers: auth, status: 204 },
    ];
    for (const c of cases) {
      const url = c.url ?? concrete(c.route.path);
      const res = await h.inject({ method: c.route.method.toUpperCase() as 'GET', url, headers: c.headers ?? {}, payload: c.payload });
      const where = `${c.route.method.toUpperCase()} ${url} → ${res.statusCode}`;
      assert.equal(res.statusCode, c.status, `${where}: ${res.body}`);
      const described = opOf(resolved, c.route)?.responses?.[String(res.statusCode)];
      assert.ok(described !== undefined, `${where}: the status is not documented`);
      if (res.statusCode === 204) continue;
      const schema = described.content?.['application/json']?.schema;
      if (schema === undefined) continue; // reported by 'describes the JSON body of every JSON success answer'
      const validate = ajv.compile(schema);
      assert.ok(validate(res.json()), `${where}: the answer does not match the documented schema: ${JSON.stringify(validate.errors)}\n${res.body.slice(0, 500)}`);
    }
  });

  it('names every operation: the hosted API\'s names where it has the operation, unique across the document', () => {
    const ids: string[] = [];
    for (const ops of Object.values(raw.paths)) for (const op of Object.values(ops) as Array<Operation & { operationId?: string }>) ids.push(String(op.operationId));
    assert.ok(ids.every((id) => /^[A-Z][A-Za-z0-9]+$/.test(id)), `every operation has an operationId: ${ids.join(' ')}`);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    const idOf = (method: Method, path: string) => (raw.paths[path]?.[method] as { operationId?: string } | undefined)?.operationId;
    assert.deepEqual(
      [idOf('get', '/webhooks'), idOf('post', '/webhooks'), idOf('get', '/webhooks/{webhookId}'), idOf('patch', '/webhooks/{webhookId}'), idOf('delete', '/webhooks/{webhookId}')],
      ['GetWebhooks', 'CreateWebhook', 'GetWebhook', 'UpdateWebhook', 'DeleteWebhook'],
    );
    assert.deepEqual([idOf('get', '/webhooks/event-types'), idOf('post', '/webhooks/event-types')], ['GetEvents', 'CreateEvent']);
  });

  it('names its schemas: request and answer bodies refer to component schemas a code generator turns into types', () => {
    const schemas = (raw.components?.schemas ?? {}) as Record<string, Json>;
    for (const name of ['Webhook', 'WebhookWithSecret', 'WebhookList', 'CreateWebhookRequest', 'UpdateWebhookRequest', 'Error', 'EventType', 'EventTypeList', 'RegisterEventTypeRequest', 'PublishEvent', 'PublishBatch', 'PublishResult', 'Delivery', 'DeliveryList']) {
      assert.equal(schemas[name]?.type, 'object', `components.schemas.${name}`);
    }
    const ref = (schema: Json | undefined) => schema?.$ref;
    const webhooks = raw.paths['/webhooks']!;
    assert.equal(ref(webhooks.post!.requestBody?.content?.['application/json']?.schema), '#/components/schemas/CreateWebhookRequest');
    assert.equal(ref(webhooks.post!.responses?.['201']?.content?.['application/json']?.schema), '#/components/schemas/WebhookWithSecret');
    assert.equal(ref(webhooks.get!.responses?.['200']?.content?.['application/json']?.schema), '#/components/schemas/WebhookList');
    assert.equal(ref(raw.paths['/webhooks/{webhookId}']!.patch!.requestBody?.content?.['application/json']?.schema), '#/components/schemas/UpdateWebhookRequest');
    assert.equal(ref(webhooks.get!.responses?.['404' in webhooks.get!.responses! ? '404' : '401']?.content?.['application/json']?.schema), '#/components/schemas/Error');
    // WebhookList's items are the Webhook type itself, not a copy of it.
    assert.equal(ref((schemas.WebhookList!.properties as Record<string, Json>).webhooks!.items as Json), '#/components/schemas/Webhook');
    // No schema is left with a title inline: every titled schema became a component.
    assert.doesNotMatch(JSON.stringify(raw.paths), /"title":/);
  });

  it('its request examples succeed when sent as they are', async () => {
    const everything = await h.client({ scopes: [SCOPES.platform, SCOPES.read, SCOPES.modify, SCOPES.publish, SCOPES.admin] });
    const example = (method: Method, path: string) => (raw.paths[path]![method]!.requestBody?.content?.['application/json'] as { example?: unknown } | undefined)?.example;
    const send = (method: Method, url: string, body: unknown) =>
      h.inject({ method: method.toUpperCase() as 'POST', url, headers: { authorization: everything.auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    // In the order a newcomer would try them: create a webhook, activate it, publish, test it; register a type.
    const created = await send('post', '/webhooks', example('post', '/webhooks'));
    assert.equal(created.statusCode, 201, created.body);
    const id = (created.json() as { id: string }).id;
    let tried = 1;
    for (const [method, path] of [['patch', '/webhooks/{webhookId}'], ['post', '/webhooks/events'], ['post', '/webhooks/{webhookId}/test'], ['post', '/webhooks/event-types']] as Array<[Method, string]>) {
      const body = example(method, path);
      assert.ok(body !== undefined, `${method.toUpperCase()} ${path} has an example`);
      const res = await send(method, path.replace('{webhookId}', id), body);
      assert.ok(res.statusCode >= 200 && res.statusCode < 300, `${method.toUpperCase()} ${path} with its example: ${res.statusCode} ${res.body}`);
      tried++;
    }
    // Every JSON body of the API (beyond the admin API's) has one, and it is among those tried.
    const withJsonBody = Object.entries(raw.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => (op as Operation).requestBody?.content?.['application/json'] !== undefined && !path.startsWith('/admin/'))
        .map(([method]) => `${method} ${path}`),
    );
    assert.equal(withJsonBody.length, tried, withJsonBody.join(', '));
    // A webhook the example made is an ordinary one: it received the example event.
    const published = await h.inject({ method: 'GET', url: `/webhooks/${id}/deliveries`, headers: { authorization: everything.auth } });
    assert.equal((published.json() as { deliveries: unknown[] }).deliveries.length >= 1, true);
  });

  it('declares OAuth2 client credentials, whose token URL (relative to the document) issues tokens, on every authenticated operation', async () => {
    const schemes = (raw.components?.securitySchemes ?? {}) as Record<string, { type: string; flows?: { clientCredentials?: { tokenUrl: string; scopes: Record<string, string> } } }>;
    const flow = schemes.oauth2?.flows?.clientCredentials;
    assert.ok(flow !== undefined, 'an oauth2 scheme with the client-credentials flow');
    assert.deepEqual(Object.keys(flow.scopes).sort(), [...Object.values(SCOPES)].sort());
    const tokenUrl = new URL(flow.tokenUrl, 'http://localhost/openapi.json');
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
    const res = await h.inject({ method: 'POST', url: tokenUrl.pathname, headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
    assert.equal(res.statusCode, 200, res.body);
    for (const [path, ops] of Object.entries(raw.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[Method, Operation]>) {
        if (op.security === undefined) continue;
        const names = op.security.flatMap((s) => Object.keys(s)).sort();
        assert.deepEqual(names, ['bearer', 'oauth2'], `${method.toUpperCase()} ${path}`);
      }
    }
  });
});
