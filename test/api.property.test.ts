/**
 * Property-based tests of the webhook routes through the real HTTP stack (Fastify inject):
 * POST /webhooks, PATCH /webhooks/{id}, GET /webhooks and the by-id path segment.
 *
 * Every generated request is checked against the contract (§1–2):
 * - never a 5xx; every answer is application/json;
 * - every non-2xx answer is exactly {"error": {"code", "message", "details"?}}, with
 *   details (only on 422, at least one) of exactly {code, message, target};
 * - 422 answers carry the code of the route, and their details name only properties that
 *   really have a problem (bodies are built from labelled parts, see `Choice`);
 * - nothing is stored when a request is refused (the store is compared before and after);
 * - an accepted create/update answers the flat webhook shape, and what it answers is what
 *   was stored (GET, and the sealed secret).
 *
 * The big properties mix random JSON, bodies built from the real property names with wrong
 * types and values, and valid bodies. A few narrow properties pin one rule each (malformed
 * percent-encodings in the path, strings that are not well-formed Unicode, odd property
 * names, every problem of a query in one answer), so that a failure there does not stop
 * the big properties from exploring.
 *
 * Reproduce a failure with the seed fast-check prints: FC_SEED=<seed> node --test test/api.property.test.ts
 * Scale the number of runs with FC_RUNS=<factor> (e.g. 0.1 for a quick pass, 10 for a soak).
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { decodeCursor } from '../src/api/paging.ts';
import { MAINTAINER_PERMISSION, SCOPES } from '../src/auth/scopes.ts';
import type { Store, WebhookRecord } from '../src/store/types.ts';
import { createHarness, type Harness, type TestClient } from './helpers/harness.ts';
import { sealedFor } from '../src/crypto/secretBox.ts';

// ---------------------------------------------------------------------------------------
// Run settings

const SEED = process.env.FC_SEED === undefined || process.env.FC_SEED === '' ? undefined : Number(process.env.FC_SEED);
const RUNS_FACTOR = Number(process.env.FC_RUNS ?? '1');

/** numRuns per property. Chosen so the whole file stays well under 90 s on 2 cores. */
const RUNS = {
  createStructured: 2000,
  createJson: 1000,
  createRaw: 1000,
  createContentType: 1000,
  patchStructured: 2000,
  patchJson: 1000,
  patchRaw: 1000,
  byIdSegment: 1000,
  badEscape: 1000,
  loneSurrogate: 1000,
  unknownNames: 1000,
  shadowedNames: 1000,
  list: 2000,
  tokenWithOthers: 1000,
  listRaw: 1000,
};

function opts<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns: Math.max(1, Math.round(numRuns * RUNS_FACTOR)), ...(SEED === undefined ? {} : { seed: SEED }) };
}

// ---------------------------------------------------------------------------------------
// Contract constants

const DETAIL_CODES = new Set(['MissingRequiredProperty', 'InvalidValue', 'ReadOnlyProperty', 'UnknownProperty']);
/** The error codes each status may carry (contract §1). */
const CODES_BY_STATUS: Record<number, string[]> = {
  400: ['InvalidRequestBody'],
  401: ['HeaderNotFound', 'InvalidAuthorizationToken'],
  403: ['InsufficientPermissions'],
  404: ['WebhookNotFound', 'RouteNotFound'],
  405: ['MethodNotAllowed'],
  409: ['EventTypeAlreadyExists'],
  413: ['PayloadTooLarge'],
  415: ['UnsupportedMediaType'],
  422: [
    'InvalidCreateWebhookRequest',
    'InvalidUpdateWebhookRequest',
    'InvalidEventTypeRequest',
    'InvalidEventRequest',
    'InvalidWebhooksRequest',
    'InvalidDeliveriesRequest',
  ],
  429: ['TooManyRequests'],
};
const WEBHOOK_KEYS = ['active', 'callbackUrl', 'created', 'eventTypes', 'id', 'modified', 'scope', 'scopeId'];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_ANY = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BODY_LIMIT = 64 * 1024;

const CREATE_KEYS = ['callbackUrl', 'scope', 'scopeId', 'secret', 'eventTypes'];
const CREATE_READ_ONLY = ['id', 'active', 'created', 'modified'];
const UPDATE_KEYS = ['active', 'callbackUrl', 'eventTypes', 'secret'];
const UPDATE_READ_ONLY = ['id', 'scope', 'scopeId', 'created', 'modified'];

// ---------------------------------------------------------------------------------------
// Generic answer checks

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ code: string; message: string; target: string }> };
}

/** Checks what every answer must satisfy and returns the parsed body (undefined for 204). */
function checkAnswer(res: LightMyRequestResponse, ctx: () => string): unknown {
  assert.ok(res.statusCode < 500, `a 5xx answer\n${ctx()}`);
  assert.ok(res.statusCode >= 200 && res.statusCode !== 304, `unexpected status\n${ctx()}`);
  if (res.statusCode === 204) {
    assert.equal(res.body, '', `a 204 has no body\n${ctx()}`);
    return undefined;
  }
  assert.match(String(res.headers['content-type']), /^application\/json(;|$)/i, `content-type must be application/json\n${ctx()}`);
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    assert.fail(`the body is not JSON\n${ctx()}`);
  }
  if (res.statusCode >= 300) checkErrorBody(res.statusCode, body, ctx);
  return body;
}

function checkErrorBody(status: number, body: unknown, ctx: () => string): asserts body is ErrorBody {
  assert.ok(isPlainObject(body), `error body must be an object\n${ctx()}`);
  assert.deepEqual(Object.keys(body), ['error'], `error body has exactly one key, error\n${ctx()}`);
  const e = body.error;
  assert.ok(isPlainObject(e), `error must be an object\n${ctx()}`);
  const extra = Object.keys(e).filter((k) => k !== 'code' && k !== 'message' && k !== 'details');
  assert.deepEqual(extra, [], `error has only code, message, details\n${ctx()}`);
  assert.ok(typeof e.code === 'string' && /^[A-Z][A-Za-z]+$/.test(e.code), `error.code is a code\n${ctx()}`);
  assert.ok(typeof e.message === 'string' && e.message.length > 0, `error.message is a non-empty string\n${ctx()}`);
  assert.ok(!/\n\s+at /.test(e.message), `no stack trace in the message\n${ctx()}`);
  const allowed = CODES_BY_STATUS[status];
  assert.ok(allowed !== undefined && allowed.includes(e.code), `code ${e.code} does not belong to status ${status}\n${ctx()}`);
  if (status === 422) {
    assert.ok(Array.isArray(e.details) && e.details.length > 0, `a 422 carries at least one detail\n${ctx()}`);
  } else {
    assert.equal(e.details, undefined, `details only on validation errors\n${ctx()}`);
  }
  for (const d of (e.details ?? []) as unknown[]) {
    assert.ok(isPlainObject(d), `a detail is an object\n${ctx()}`);
    assert.deepEqual(Object.keys(d).sort(), ['code', 'message', 'target'], `a detail has exactly code, message, target\n${ctx()}`);
    assert.ok(typeof d.code === 'string' && DETAIL_CODES.has(d.code), `detail code ${String(d.code)}\n${ctx()}`);
    assert.ok(typeof d.message === 'string' && d.message.length > 0, `detail message\n${ctx()}`);
    assert.ok(typeof d.target === 'string', `detail target\n${ctx()}`);
  }
}

function contextOf(req: InjectOptions, res: LightMyRequestResponse | undefined): () => string {
  return () => {
    const payload = typeof req.payload === 'string' ? req.payload : JSON.stringify(req.payload);
    const shown = payload === undefined ? '' : payload.length > 600 ? `${payload.slice(0, 600)}… (${payload.length} chars)` : payload;
    const headers = { ...(req.headers ?? {}) } as Record<string, unknown>;
    if (typeof headers.authorization === 'string' && headers.authorization.length > 40) headers.authorization = `${headers.authorization.slice(0, 30)}…`;
    return `request: ${req.method} ${String(req.url)} ${JSON.stringify(headers)}\n  ${shown}\nanswer: ${res?.statusCode} ${res?.body.slice(0, 1200)}`;
  };
}

/** Does a detail target name this property (or something inside it)? */
function targets(target: string, property: string): boolean {
  return target === property || target.startsWith(`${property}[`) || target.startsWith(`${property}.`);
}

/** How the contract renders a property name as a target (numeric keys read as indexes). */
function targetOfKey(key: string): string[] {
  return /^\d+$/.test(key) ? [key, `[${key}]`] : [key];
}

// ---------------------------------------------------------------------------------------
// Labelled generators

/**
 * One generated part of a request. `ok`: the contract says it is valid; `bad`: the
 * contract says it is invalid; `either`: the contract leaves it open, so both a 2xx and a
 * 422 naming it are fine. `value === undefined` means the property is left out.
 */
type Label = 'ok' | 'bad' | 'either';
interface Choice {
  value: unknown;
  label: Label;
  note: string;
}

const choice =
  (label: Label, note: string) =>
  (arb: fc.Arbitrary<unknown>): fc.Arbitrary<Choice> =>
    arb.map((value) => ({ value, label, note }));
const ok = (note: string, arb: fc.Arbitrary<unknown>) => choice('ok', note)(arb);
const bad = (note: string, arb: fc.Arbitrary<unknown>) => choice('bad', note)(arb);
const either = (note: string, arb: fc.Arbitrary<unknown>) => choice('either', note)(arb);
const absent = (label: Label = 'ok') => fc.constant<Choice>({ value: undefined, label, note: 'absent' });
/** A member sent as null means "not given" (contract §1): fine when optional, missing when required. */
const sentNull = (label: Label = 'ok') => fc.constant<Choice>({ value: null, label, note: 'null: not given' });
/** The body as the API reads it: null members removed. */
const withoutNulls = (body: Record<string, unknown>, keys: string[]) => Object.fromEntries(Object.entries(body).filter(([k, v]) => v !== null || !keys.includes(k)));
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

const safeKey = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');
const smallJson = fc.jsonValue({ maxDepth: 2 });
const anyString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));

function wrongType(not: 'string' | 'boolean' | 'array'): fc.Arbitrary<unknown> {
  return fc
    .oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.string({ maxLength: 20 }),
      fc.array(smallJson, { maxLength: 3 }),
      fc.dictionary(safeKey, smallJson, { maxKeys: 3 }),
    )
    .filter((v) => (not === 'string' ? typeof v !== 'string' : not === 'boolean' ? typeof v !== 'boolean' : !Array.isArray(v)));
}

const printable = (min: number, max: number) => fc.stringMatching(new RegExp(`^[\\x21-\\x7E]{${min},${max}}$`));

const LONGEST_URL = `https://example.com/${'a'.repeat(2048 - 20)}`;
const VALID_URLS = [
  'https://receiver.example.com/hook',
  'https://example.com',
  'https://example.com:8443/a/b?c=d&e=f',
  'https://EXAMPLE.com/Path',
  'https://127.0.0.1/hook', // SSRF is judged at connect time, not here (contract §4)
  'https://[2001:db8::1]:444/x',
  'https://bücher.example/hook',
  'https://example.com/%E2%82%AC',
  'https://example.com/a@b',
  LONGEST_URL,
];
const BAD_URLS = [
  '',
  'example.com/hook',
  '/hook',
  'hook',
  'https//example.com',
  'https:/',
  'https://',
  'ftp://example.com/',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'wss://example.com/',
  'data:text/plain,hi',
  'mailto:a@example.com',
  'https://exa mple.com/',
  ' https://example.com/',
  'https://example.com/\n',
  'https://example.com/a b',
  'https://example.com:99999/',
  'http://example.com/hook',
  'http://localhost:3000/hook',
  'https://user:pass@example.com/',
  'https://user@example.com/',
  'https://:pw@example.com/hook',
];
/** The contract does not say whether these are acceptable; both answers are fine. */
const UNCLEAR_URLS = [
  'https://example.com/#frag',
  'https://example.com/\u00a0x',
  'https://example.com/\u2028',
  'https:example.com',
  'HTTPS://EXAMPLE.COM/',
  'https://example.com/a\\b',
  'https:///path',
  'https://example.com:0/',
];

const credentialUrl = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,8}$/), fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/)), fc.domain())
  .map(([u, p, host]) => `https://${u}${p === null ? '' : `:${p}`}@${host}/hook`);

const callbackUrlOk: fc.Arbitrary<Choice> = fc.oneof(
  w(2, ok('https url', fc.webUrl({ validSchemes: ['https'], withQueryParameters: true }).filter((u) => u.length <= 2048))),
  w(1, ok('known https url', fc.constantFrom(...VALID_URLS))),
);

/** Mostly valid, so that enough requests are accepted; otherwise anything of `full`. */
const mostlyOk = (okArb: fc.Arbitrary<Choice>, full: fc.Arbitrary<Choice>) => fc.oneof(w(3, okArb), w(1, full));

const callbackUrlChoice: fc.Arbitrary<Choice> = fc.oneof(
  w(9, callbackUrlOk),
  w(1, bad('not a string', wrongType('string'))),
  w(2, bad('bad url', fc.constantFrom(...BAD_URLS))),
  w(1, bad('too long', fc.integer({ min: 1, max: 200 }).map((k) => `${LONGEST_URL}${'b'.repeat(k)}`))),
  w(1, bad('http url', fc.webUrl({ validSchemes: ['http'] }))),
  w(1, bad('credentials', credentialUrl)),
  w(1, bad('not an https url', anyString.filter((s) => !/https:/i.test(s)))),
  w(1, either('unclear url', fc.constantFrom(...UNCLEAR_URLS))),
);

const secretOk = ok('secret', printable(32, 256));
const secretChoice: fc.Arbitrary<Choice> = fc.oneof(
  w(4, secretOk),
  w(1, ok('boundary secret', fc.constantFrom('a'.repeat(32), '~'.repeat(256), '!'.repeat(32), `${'A1'.repeat(16)}`))),
  w(1, bad('secret too short', printable(0, 31))),
  w(1, bad('secret too long', printable(257, 320))),
  w(1, bad('secret with a space', fc.tuple(printable(16, 40), printable(16, 40)).map(([a, b]) => `${a} ${b}`))),
  w(
    1,
    bad(
      'secret not printable ascii',
      fc.oneof(
        fc.constantFrom('é'.repeat(40), `${'a'.repeat(31)}\t`, `${'a'.repeat(40)}\n`, `\u0000${'a'.repeat(40)}`, `${'a'.repeat(32)}\u007f`),
        fc.string({ unit: 'binary', minLength: 32, maxLength: 64 }).filter((s) => !/^[\x21-\x7E]{32,256}$/.test(s)),
      ),
    ),
  ),
  w(1, bad('secret not a string', wrongType('string'))),
);

const eventTypesOk = (known: string[]) => ok('known types', fc.shuffledSubarray(known, { minLength: 1 }));

function eventTypesChoice(known: string[]): fc.Arbitrary<Choice> {
  const some = fc.shuffledSubarray(known, { minLength: 1 });
  const insert = <T>(list: string[], item: T, at: number): unknown[] => {
    const copy: unknown[] = [...list];
    copy.splice(at % (copy.length + 1), 0, item);
    return copy;
  };
  const unknownType = fc
    .oneof(
      fc.stringMatching(/^[a-z][A-Za-z0-9]{0,8}\.[a-z][A-Za-z0-9]{0,8}\.v[1-9][0-9]{0,2}$/),
      anyString,
      fc.constantFrom(
        'imodels.iModelCreated.v1',
        'iModels.iModelCreated.v2',
        'iModels.iModelCreated',
        'iModels.iModelCreated.v1 ',
        ' iModels.iModelCreated.v1',
        'IMODELS.IMODELCREATED.V1',
        '*',
        'iModels.*',
      ),
    )
    .filter((t) => !known.includes(t));
  return fc.oneof(
    w(8, ok('known types', some)),
    w(1, bad('empty list', fc.constant([]))),
    w(1, bad('more than 100 known', fc.array(fc.constantFrom(...known), { minLength: 101, maxLength: 140 }))),
    w(1, bad('more than 100 unique', fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 101, maxLength: 120 }))),
    w(1, bad('duplicate', fc.tuple(some, fc.nat(), fc.nat()).map(([list, i, at]) => insert(list, list[i % list.length]!, at)))),
    w(2, bad('unknown type', fc.tuple(fc.shuffledSubarray(known), unknownType, fc.nat()).map(([list, t, at]) => insert(list, t, at)))),
    w(1, bad('entry not a string', fc.tuple(fc.shuffledSubarray(known), wrongType('string'), fc.nat()).map(([list, t, at]) => insert(list, t, at)))),
    w(1, bad('odd entry', fc.constantFrom([''], ['a'.repeat(201)], [`${known[0]!}${'a'.repeat(200)}`]))),
    w(1, bad('not an array', fc.oneof(wrongType('array'), fc.constantFrom(...known)))),
  );
}

type ScopeIdKind = 'fit' | 'absent' | 'itwin' | 'itwinUpper' | 'itwinNoPerm' | 'account' | 'accountUpper' | 'randomUuid' | 'junk';

interface Fixtures {
  h: Harness;
  store: Store;
  knownTypes: string[];
  owner: TestClient; // platform+read+modify
  other: TestClient; // another application with its own webhook
  readOnly: TestClient; // webhooks:read only
  publishOnly: TestClient; // webhooks:publish only (may not read webhooks)
  lister: TestClient; // owns the webhooks the list property pages through
  itwinOk: string; // owner is webhooks_maintainer
  itwinNoPerm: string; // exists, owner has no permission
  ownAccountWebhook: string; // T1
  ownItwinWebhook: string; // T2
  revokedWebhook: string; // iTwin webhook whose permission was revoked after creation
  otherWebhook: string; // belongs to `other`
  listed: Array<Record<string, unknown>>; // the lister's webhooks as GET /webhooks answers them
  tokens: Array<{ token: string; afterIndex: number }>; // real continuation tokens
}

/** `fit` resolves to a scopeId that suits a valid scope. */
function resolveKind(kind: ScopeIdKind, scope: Choice, flip: boolean): ScopeIdKind {
  if (kind !== 'fit') return kind;
  if (scope.value === 'iTwin') return flip ? 'itwin' : 'itwinUpper';
  return flip ? 'absent' : 'account';
}

function scopeIdValue(f: Fixtures, kind: ScopeIdKind, random: string, junk: unknown): unknown {
  switch (kind) {
    case 'fit':
      throw new Error('resolve fit first');
    case 'absent':
      return undefined;
    case 'itwin':
      return f.itwinOk;
    case 'itwinUpper':
      return f.itwinOk.toUpperCase();
    case 'itwinNoPerm':
      return f.itwinNoPerm;
    case 'account':
      return f.owner.accountId;
    case 'accountUpper':
      return f.owner.accountId.toUpperCase();
    case 'randomUuid':
      return random;
    case 'junk':
      return junk;
  }
}

/** scopeIds of scope iTwin that name an iTwin the owner may not use: one of another account, or one the directory does not know, answered alike (403). */
const FORBIDDEN_ITWIN: ScopeIdKind[] = ['itwinNoPerm', 'randomUuid', 'account', 'accountUpper'];

function scopeIdLabel(scope: Choice, kind: ScopeIdKind): Label {
  if (kind === 'junk') return 'bad';
  if (scope.label !== 'ok') return kind === 'absent' ? 'ok' : 'either'; // whether it is judged at all is open
  if (scope.value === 'iTwin') return kind === 'itwin' || kind === 'itwinUpper' || FORBIDDEN_ITWIN.includes(kind) ? 'ok' : 'bad';
  return kind === 'absent' || kind === 'account' || kind === 'accountUpper' ? 'ok' : 'bad';
}

const badUuid = (u: string) =>
  fc.oneof(
    fc.constantFrom(
      '',
      'not-a-uuid',
      u.replace(/-/g, ''),
      `{${u}}`,
      `urn:uuid:${u}`,
      `${u}\n`,
      ` ${u}`,
      `${u}a`,
      u.slice(1),
      `g${u.slice(1)}`,
      u.replace(/-/g, '_'),
    ),
    anyString.filter((s) => !UUID_ANY.test(s)),
  );

const scopeChoice: fc.Arbitrary<Choice> = fc.oneof(
  w(12, ok('scope', fc.constantFrom('Account', 'iTwin'))),
  w(1, absent('bad')),
  w(1, sentNull('bad')),
  w(1, bad('scope casing', fc.constantFrom('account', 'ACCOUNT', 'itwin', 'ITwin', 'iTWIN', 'Itwin', ' iTwin', 'iTwin ', 'Organization', ''))),
  w(1, bad('scope not a string', wrongType('string'))),
  w(1, bad('scope random', anyString.filter((s) => s !== 'Account' && s !== 'iTwin'))),
);

interface Extra {
  key: string;
  value: unknown;
  readOnly: boolean;
}

function extrasArb(readOnlyKeys: string[], knownKeys: string[]): fc.Arbitrary<Extra[]> {
  const unknownKey = fc
    .oneof(
      fc.constantFrom(
        'callbackURL',
        'CallbackUrl',
        'eventType',
        'event_types',
        'Secret',
        'scopeID',
        'webhookId',
        'status',
        'callbackUrl ',
        '',
        'name',
        '$schema',
        'constructor',
        'toString',
        'hasOwnProperty',
        'a.b',
        'a[0]',
        '0',
        'active',
        'scope',
        'scopeId',
      ),
      safeKey,
    )
    // '~' and names like "eventTypes[0]": see the dedicated properties below.
    .filter((k) => !knownKeys.includes(k) && !readOnlyKeys.includes(k) && !k.includes('~') && !knownKeys.includes(k.split(/[.[]/)[0]!));
  const extra = fc.oneof(
    fc.tuple(fc.constantFrom(...readOnlyKeys), smallJson).map(([key, value]): Extra => ({ key, value, readOnly: true })),
    fc.tuple(unknownKey, smallJson).map(([key, value]): Extra => ({ key, value, readOnly: false })),
  );
  return fc.oneof(w(8, fc.constant<Extra[]>([])), w(1, fc.uniqueArray(extra, { minLength: 1, maxLength: 3, selector: (e) => e.key })));
}

// ---------------------------------------------------------------------------------------
// Validation-answer oracle

interface Judged {
  /** Targets that have a problem the contract names. */
  bad: string[];
  /**
   * Problems that the main properties only require to be reported when they are the only
   * ones (a separate property checks that they are reported next to others too).
   */
  soft?: string[];
  /** Targets the contract leaves open. */
  unclear: string[];
  extras: Extra[];
  /** Required properties that were left out and that the schema alone can tell. */
  missing: string[];
  /** Left out, but only required depending on another property (scopeId for iTwin). */
  missingDependent: string[];
  /** ReadOnlyProperty is required for the read-only extras (update); on create either code is fine. */
  strictReadOnly: boolean;
}

function problemCount(j: Judged): number {
  return j.bad.length + (j.soft?.length ?? 0) + j.extras.length;
}

function checkValidationAnswer(body: ErrorBody, j: Judged, code: string, ctx: () => string): void {
  assert.equal(body.error.code, code, `422 code\n${ctx()}`);
  const details = body.error.details ?? [];
  const allowedTargets = [...j.bad, ...(j.soft ?? []), ...j.unclear];
  for (const d of details) {
    const byExtra = j.extras.find((e) => targetOfKey(e.key).includes(d.target));
    const byField = allowedTargets.some((t) => targets(d.target, t));
    assert.ok(byExtra !== undefined || byField, `detail names a property without a problem: ${JSON.stringify(d)}\n${ctx()}`);
    if (d.code === 'MissingRequiredProperty') {
      assert.ok([...j.missing, ...j.missingDependent].includes(d.target), `MissingRequiredProperty for a property that is present: ${d.target}\n${ctx()}`);
    }
    if (d.code === 'ReadOnlyProperty') {
      assert.ok(byExtra?.readOnly === true, `ReadOnlyProperty for a property that is not read-only: ${d.target}\n${ctx()}`);
    }
    if (d.code === 'UnknownProperty') {
      assert.ok(byExtra !== undefined && (!byExtra.readOnly || !j.strictReadOnly), `UnknownProperty for ${d.target}\n${ctx()}`);
    }
  }
  // Unknown and read-only properties are always reported, each with its own code.
  for (const e of j.extras) {
    const d = details.find((x) => targetOfKey(e.key).includes(x.target));
    assert.ok(d !== undefined, `no detail for the ${e.readOnly ? 'read-only' : 'unknown'} property ${JSON.stringify(e.key)}\n${ctx()}`);
    const codes = e.readOnly ? (j.strictReadOnly ? ['ReadOnlyProperty'] : ['ReadOnlyProperty', 'UnknownProperty']) : ['UnknownProperty'];
    assert.ok(codes.includes(d.code), `detail code for ${JSON.stringify(e.key)} is ${d.code}, expected ${codes.join('|')}\n${ctx()}`);
  }
  for (const m of j.missing) {
    assert.ok(
      details.some((d) => d.code === 'MissingRequiredProperty' && d.target === m),
      `no MissingRequiredProperty detail for ${m}\n${ctx()}`,
    );
  }
  // One answer lists every problem (contract §1: one entry per problem).
  // Soft problems may be left out only when the answer reports something else.
  const soft = j.soft ?? [];
  const onlySoft = details.every((d) => soft.some((x) => targets(d.target, x)));
  for (const b of onlySoft ? [...j.bad, ...soft] : j.bad) {
    assert.ok(details.some((d) => targets(d.target, b)), `the problem with ${b} is not reported\n${ctx()}`);
  }
}

// ---------------------------------------------------------------------------------------
// Auth variants

type AuthKind = 'owner' | 'none' | 'garbage' | 'basic' | 'tampered' | 'readOnly' | 'publishOnly';

function authArb(forbidden: 'readOnly' | 'publishOnly'): fc.Arbitrary<{ kind: AuthKind; junk: string }> {
  return fc.record({
    kind: fc.oneof(
      w(40, fc.constant<AuthKind>('owner')),
      w(1, fc.constant<AuthKind>('none')),
      w(1, fc.constant<AuthKind>('garbage')),
      w(1, fc.constant<AuthKind>('basic')),
      w(1, fc.constant<AuthKind>('tampered')),
      w(2, fc.constant<AuthKind>(forbidden)),
    ),
    junk: fc.oneof(fc.stringMatching(/^[\x21-\x7E]{1,60}$/), fc.stringMatching(/^Bearer [A-Za-z0-9._~+/-]{0,80}=*$/)),
  });
}

function authHeader(f: Fixtures, kind: AuthKind, junk: string, as: TestClient = f.owner): string | undefined {
  switch (kind) {
    case 'owner':
      return as.auth;
    case 'none':
      return undefined;
    case 'garbage':
      return junk;
    case 'basic':
      return `Basic ${Buffer.from('user:pass').toString('base64')}`;
    case 'tampered': {
      const [head, payload, sig] = as.token.split('.');
      const flipped = sig!.slice(0, 10) + (sig![10] === 'A' ? 'B' : 'A') + sig!.slice(11);
      return `Bearer ${head}.${payload}.${flipped}`;
    }
    case 'readOnly':
      return f.readOnly.auth;
    case 'publishOnly':
      return f.publishOnly.auth;
  }
}

/** The status an auth variant must get regardless of the rest of the request (auth comes first). */
function authStatus(kind: AuthKind): number | undefined {
  if (kind === 'none' || kind === 'garbage' || kind === 'basic' || kind === 'tampered') return 401;
  if (kind === 'readOnly' || kind === 'publishOnly') return 403;
  return undefined;
}

const acceptArb = fc.constantFrom<string | undefined>(
  undefined,
  undefined,
  'application/json',
  'application/vnd.bentley.itwin-platform.v2+json',
  '*/*',
  'text/html',
);

// ---------------------------------------------------------------------------------------
// The tests

describe('webhook API properties (fast-check through inject)', () => {
  let f: Fixtures;
  const stats: Record<string, Record<string, number>> = {};
  const count = (property: string, key: string | number) => {
    const s = (stats[property] ??= {});
    s[key] = (s[key] ?? 0) + 1;
  };

  const inject = async (req: InjectOptions) => {
    const res = await f.h.inject(req);
    return { res, ctx: contextOf(req, res) };
  };

  /** Everything the webhooks table holds for the applications of this file. */
  const snapshot = async (): Promise<string> => {
    const all: WebhookRecord[][] = [];
    for (const c of [f.owner, f.other, f.readOnly, f.publishOnly, f.lister]) all.push((await f.store.listWebhooks(c.clientId, 1000, undefined)).items);
    return JSON.stringify(all);
  };
  const ownerRecords = async () => (await f.store.listWebhooks(f.owner.clientId, 1000, undefined)).items;

  const createVia = async (c: TestClient, body: Record<string, unknown>) => {
    const res = await f.h.inject({ method: 'POST', url: '/webhooks', headers: { authorization: c.auth, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as Record<string, unknown> & { id: string };
  };

  before(async () => {
    const h = await createHarness();
    const store = h.server.deps.store;
    const knownTypes = (await store.listEventTypes()).map((t) => t.type);
    const owner = await h.client({ name: 'owner' });
    const other = await h.client({ name: 'other' });
    const readOnly = await h.client({ name: 'read-only', scopes: [SCOPES.read] });
    const publishOnly = await h.client({ name: 'publish-only', scopes: [SCOPES.publish] });
    const lister = await h.client({ name: 'lister' });
    const itwinOk = await h.itwin(owner.accountId);
    await store.grant(owner.clientId, itwinOk, MAINTAINER_PERMISSION, Date.now());
    const itwinNoPerm = await h.itwin(randomUUID());
    const itwinRevoked = await h.itwin(owner.accountId);
    await store.grant(owner.clientId, itwinRevoked, MAINTAINER_PERMISSION, Date.now());
    f = { h, store, knownTypes, owner, other, readOnly, publishOnly, lister, itwinOk, itwinNoPerm } as Fixtures;

    const hook = (extra: Record<string, unknown>) => ({ callbackUrl: 'https://receiver.example.com/hook', eventTypes: [knownTypes[0]!], ...extra });
    f.ownAccountWebhook = (await createVia(owner, hook({ scope: 'Account' }))).id;
    f.ownItwinWebhook = (await createVia(owner, hook({ scope: 'iTwin', scopeId: itwinOk }))).id;
    f.revokedWebhook = (await createVia(owner, hook({ scope: 'iTwin', scopeId: itwinRevoked }))).id;
    assert.equal((await store.revoke(owner.clientId, itwinRevoked, MAINTAINER_PERMISSION, Date.now())).revoked, true);
    f.otherWebhook = (await createVia(other, hook({ scope: 'Account' }))).id;

    for (let i = 0; i < 7; i++) await createVia(lister, hook({ scope: 'Account', callbackUrl: `https://receiver.example.com/${i}` }));
    const all = await h.inject({ method: 'GET', url: '/webhooks?$top=1000', headers: { authorization: lister.auth } });
    f.listed = (all.json() as { webhooks: Array<Record<string, unknown>> }).webhooks;
    assert.equal(f.listed.length, 7);
    f.tokens = [];
    for (const top of [1, 2, 3]) {
      let url: string | undefined = `/webhooks?$top=${top}`;
      let seen = 0;
      while (url !== undefined) {
        const page = await h.inject({ method: 'GET', url, headers: { authorization: lister.auth } });
        const json = page.json() as { webhooks: unknown[]; _links: { next?: { href: string } } };
        seen += json.webhooks.length;
        const next = json._links.next?.href;
        if (next === undefined) break;
        const token = new URL(next).searchParams.get('$continuationToken')!;
        f.tokens.push({ token, afterIndex: seen - 1 });
        url = `/webhooks?$top=${top}&$continuationToken=${encodeURIComponent(token)}`;
      }
    }
    assert.ok(f.tokens.length > 5);
  });

  after(async () => {
    await f?.h.close();
  });

  const noErrorLogs = (t: TestContext, property: string) => {
    const errorsLogged = f.h.logs.filter((l) => {
      try {
        return (JSON.parse(l) as { level?: number }).level! >= 50;
      } catch {
        return false;
      }
    });
    t.diagnostic(`${property}: ${JSON.stringify(stats[property] ?? {})}`);
    assert.deepEqual(errorsLogged, [], 'the server logged errors');
  };

  // ------------------------------------------------------------------ create

  /** Checks an accepted create against what was sent and what was stored, then deletes it. */
  const checkCreated = async (sent: Record<string, unknown>, res: LightMyRequestResponse, before: WebhookRecord[], ctx: () => string) => {
    assert.equal(res.statusCode, 201, ctx());
    const body = res.json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), [...WEBHOOK_KEYS, 'secret'].sort(), `flat shape with secret\n${ctx()}`);
    const id = body.id as string;
    assert.match(id, UUID_V4, ctx());
    assert.equal(res.headers.location, `/webhooks/${id}`, ctx());
    assert.equal(body.scope, sent.scope, ctx());
    const expectedScopeId = sent.scope === 'iTwin' ? String(sent.scopeId).toLowerCase() : f.owner.accountId.toLowerCase();
    assert.equal(body.scopeId, expectedScopeId, ctx());
    assert.equal(body.active, false, ctx());
    assert.equal(body.callbackUrl, sent.callbackUrl, ctx());
    assert.deepEqual(body.eventTypes, sent.eventTypes, ctx());
    assert.match(String(body.created), ISO_MS, ctx());
    assert.equal(body.modified, body.created, ctx());
    if (sent.secret === undefined) assert.match(String(body.secret), /^[0-9a-f]{64}$/, ctx());
    else assert.equal(body.secret, sent.secret, ctx());

    const afterCreate = await ownerRecords();
    assert.deepEqual(
      afterCreate.filter((r) => r.id !== id),
      before,
      `a create changes nothing but the new webhook\n${ctx()}`,
    );
    const stored = afterCreate.find((r) => r.id === id);
    assert.ok(stored !== undefined, `the created webhook is stored\n${ctx()}`);
    assert.equal(f.h.server.deps.box.open(stored.secretSealed, sealedFor.webhookSecret(id)), body.secret, `the stored secret is the answered one\n${ctx()}`);
    const got = await f.h.inject({ method: 'GET', url: `/webhooks/${id}`, headers: { authorization: f.owner.auth } });
    assert.equal(got.statusCode, 200, ctx());
    const { secret: _secret, ...withoutSecret } = body;
    assert.deepEqual(got.json(), withoutSecret, `GET answers what the create answered\n${ctx()}`);

    const del = await f.h.inject({ method: 'DELETE', url: `/webhooks/${id}`, headers: { authorization: f.owner.auth } });
    assert.equal(del.statusCode, 204, del.body);
  };

  const createArb = () =>
    fc.record({
      callbackUrl: fc.oneof(w(30, mostlyOk(callbackUrlOk, callbackUrlChoice)), w(1, absent('bad')), w(1, sentNull('bad'))),
      scope: mostlyOk(ok('scope', fc.constantFrom('Account', 'iTwin')), scopeChoice),
      scopeIdKind: fc.oneof(
        w(24, fc.constant<ScopeIdKind>('fit')),
        w(6, fc.constantFrom<ScopeIdKind>('absent', 'itwin', 'itwin', 'account')),
        w(2, fc.constantFrom<ScopeIdKind>('itwinUpper', 'accountUpper', 'itwinNoPerm', 'randomUuid')),
        w(1, fc.constant<ScopeIdKind>('junk')),
      ),
      randomUuid: fc.uuid(),
      badScopeId: fc.oneof(badUuid(randomUUID()), wrongType('string')),
      flip: fc.boolean(),
      secret: fc.oneof(w(4, absent()), w(1, sentNull()), w(5, mostlyOk(secretOk, secretChoice))),
      eventTypes: fc.oneof(w(30, mostlyOk(eventTypesOk(f.knownTypes), eventTypesChoice(f.knownTypes))), w(1, absent('bad')), w(1, sentNull('bad'))),
      extras: extrasArb(CREATE_READ_ONLY, CREATE_KEYS),
      auth: authArb('readOnly'),
      accept: acceptArb,
      contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'application/vnd.bentley.itwin-platform.v2+json'),
    });

  it('POST /webhooks with structured bodies: right answer, right details, nothing stored when refused', async (t) => {
    await fc.assert(
      fc.asyncProperty(createArb(), async (g) => {
        const kind = resolveKind(g.scopeIdKind, g.scope, g.flip);
        const scopeId: Choice = { value: scopeIdValue(f, kind, g.randomUuid, g.badScopeId), label: scopeIdLabel(g.scope, kind), note: kind };
        const fields: Record<string, Choice> = { callbackUrl: g.callbackUrl, scope: g.scope, scopeId, secret: g.secret, eventTypes: g.eventTypes };
        const body: Record<string, unknown> = {};
        for (const [k, c] of Object.entries(fields)) if (c.value !== undefined) body[k] = c.value;
        for (const e of g.extras) Object.defineProperty(body, e.key, { value: e.value, enumerable: true, configurable: true, writable: true });

        const judged: Judged = {
          bad: Object.entries(fields).filter(([, c]) => c.label === 'bad').map(([k]) => k),
          unclear: Object.entries(fields).filter(([, c]) => c.label === 'either').map(([k]) => k),
          extras: g.extras,
          missing: ['callbackUrl', 'scope', 'eventTypes'].filter((k) => fields[k]!.value === undefined || fields[k]!.value === null),
          missingDependent: scopeId.value === undefined && g.scope.value === 'iTwin' ? ['scopeId'] : [],
          strictReadOnly: false,
        };
        const payload = JSON.stringify(body);
        const noPerm = g.scope.value === 'iTwin' && g.scope.label === 'ok' && FORBIDDEN_ITWIN.includes(kind);
        const anyBad = problemCount(judged) > 0;
        const poisoned = /"(__proto__|constructor)"/.test(payload);

        let expected: number[];
        const forced = authStatus(g.auth.kind);
        if (forced !== undefined) expected = [forced];
        else if (anyBad) expected = noPerm ? [422, 403] : [422];
        else if (judged.unclear.length > 0) expected = noPerm ? [403, 422] : [201, 422];
        else expected = noPerm ? [403] : [201];
        if (poisoned && forced === undefined) expected.push(400);

        const auth = authHeader(f, g.auth.kind, g.auth.junk);
        const headers: Record<string, string> = { 'content-type': g.contentType };
        if (auth !== undefined) headers.authorization = auth;
        if (g.accept !== undefined) headers.accept = g.accept;
        const before = await snapshot();
        const beforeOwner = await ownerRecords();
        const { res, ctx } = await inject({ method: 'POST', url: '/webhooks', headers, payload });
        count('create', res.statusCode);
        const answer = checkAnswer(res, ctx);
        assert.ok(expected.includes(res.statusCode), `expected ${expected.join('|')}, labels ${JSON.stringify(Object.fromEntries(Object.entries(fields).map(([k, c]) => [k, `${c.label}:${c.note}`])))}\n${ctx()}`);
        if (res.statusCode === 201) {
          await checkCreated(withoutNulls(body, CREATE_KEYS), res, beforeOwner, ctx);
        } else {
          if (res.statusCode === 422) checkValidationAnswer(answer as ErrorBody, judged, 'InvalidCreateWebhookRequest', ctx);
          if (res.statusCode === 401 && g.auth.kind === 'none') assert.equal((answer as ErrorBody).error.code, 'HeaderNotFound', ctx());
          if (res.statusCode === 401 && g.auth.kind !== 'none') assert.equal(res.headers['www-authenticate'] !== undefined, true, ctx());
        }
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      opts(RUNS.createStructured),
    );
    noErrorLogs(t, 'create');
  });

  /** Objects with the real property names and arbitrary values, and arbitrary JSON. */
  const jsonBodyArb = (keys: string[]) =>
    fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.dictionary(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }), { maxKeys: keys.length }),
      fc.array(fc.dictionary(fc.constantFrom(...keys), smallJson), { maxLength: 2 }),
    );

  it('POST /webhooks with arbitrary JSON: never 5xx, error shape, nothing stored when refused', async (t) => {
    await fc.assert(
      fc.asyncProperty(jsonBodyArb([...CREATE_KEYS, ...CREATE_READ_ONLY]), async (value) => {
        const payload = JSON.stringify(value);
        const before = await snapshot();
        const beforeOwner = await ownerRecords();
        const { res, ctx } = await inject({ method: 'POST', url: '/webhooks', headers: { authorization: f.owner.auth, 'content-type': 'application/json' }, payload });
        count('createJson', res.statusCode);
        const answer = checkAnswer(res, ctx);
        // A member sent as null is one not given (contract: null members).
        if (res.statusCode === 201) return checkCreated(withoutNulls(value as Record<string, unknown>, CREATE_KEYS), res, beforeOwner, ctx);
        assert.ok([400, 403, 413, 422].includes(res.statusCode), ctx());
        if (res.statusCode === 422) assert.equal((answer as ErrorBody).error.code, 'InvalidCreateWebhookRequest', ctx());
        if (!isPlainObject(value) && !/"(__proto__|constructor)"/.test(payload)) assert.equal(res.statusCode, 422, `a JSON body that is not an object is a 422\n${ctx()}`);
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      opts(RUNS.createJson),
    );
    noErrorLogs(t, 'createJson');
  });

  const RAW_BODIES = [
    '',
    ' ',
    '\n',
    'null',
    'true',
    '{',
    '}',
    '{"callbackUrl":}',
    "{'scope':'iTwin'}",
    '{"a":1,}',
    '[1,]',
    'NaN',
    'Infinity',
    '{"a":NaN}',
    '/* c */{}',
    '{} // c',
    '\uFEFF{}',
    '{}{}',
    '{"__proto__":{"isAdmin":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    '["a",\n',
    '\u0000',
    '"\ud800"',
    '1e999',
    `${'['.repeat(30000)}${']'.repeat(30000)}`,
    `${'{"a":'.repeat(9000)}1${'}'.repeat(9000)}`,
    'x'.repeat(BODY_LIMIT + 10),
    JSON.stringify({ callbackUrl: `https://example.com/${'a'.repeat(BODY_LIMIT)}`, scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'] }),
    `{"callbackUrl":"https://example.com/","scope":"Account","eventTypes":["iModels.iModelCreated.v1"]${' '.repeat(BODY_LIMIT)}}`,
  ];
  const rawBodyArb = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.jsonValue({ maxDepth: 3 }).chain((v) => {
      const s = JSON.stringify(v);
      return fc.nat({ max: s.length }).map((n) => s.slice(0, n));
    }),
    fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.string({ minLength: 1, maxLength: 5 })).map(([v, g]) => JSON.stringify(v) + g),
    fc.constantFrom(...RAW_BODIES),
  );

  const parsesAsJson = (s: string) => {
    try {
      JSON.parse(s.replace(/^\uFEFF/, ''));
      return true;
    } catch {
      return false;
    }
  };

  it('POST /webhooks with raw bodies that may not be JSON: 400 for non-JSON, 413 when too large, nothing stored', async (t) => {
    await fc.assert(
      fc.asyncProperty(rawBodyArb, async (payload) => {
        const before = await snapshot();
        const { res, ctx } = await inject({ method: 'POST', url: '/webhooks', headers: { authorization: f.owner.auth, 'content-type': 'application/json' }, payload });
        count('createRaw', res.statusCode);
        const answer = checkAnswer(res, ctx) as ErrorBody;
        assert.notEqual(res.statusCode, 201, `a raw body that is not a valid create was accepted\n${ctx()}`);
        if (Buffer.byteLength(payload) > BODY_LIMIT) assert.equal(res.statusCode, 413, ctx());
        else if (!parsesAsJson(payload)) {
          assert.equal(res.statusCode, 400, `not JSON → 400\n${ctx()}`);
          assert.equal(answer.error.code, 'InvalidRequestBody', ctx());
        } else assert.ok([400, 422].includes(res.statusCode), ctx());
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.createRaw), examples: RAW_BODIES.map((b) => [b] as [string]) },
    );
    noErrorLogs(t, 'createRaw');
  });

  const CONTENT_TYPES = [
    'application/json',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'Application/JSON',
    'application/vnd.bentley.itwin-platform.v2+json',
    'application/merge-patch+json',
    'application/jsonx',
    'application/json-seq',
    'application/x-json',
    'text/json',
    'text/plain',
    'text/plain; charset=utf-8',
    'text/html',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'image/png',
    '*/*',
    'application/*',
    'json',
    ';',
    'application/json, text/plain',
    'text/plain, application/json',
    ' application/json',
    'application/ json',
    'application /json',
    'application/json\tx',
  ];
  const NOT_JSON = new Set([
    'text/plain',
    'text/plain; charset=utf-8',
    'text/html',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'image/png',
    'application/jsonx',
    'application/json-seq',
    'text/json',
  ]);
  const mediaTypeOf = (ct: string) => ct.split(';')[0]!.trim().toLowerCase();
  const isJsonMediaType = (ct: string) => {
    const mt = mediaTypeOf(ct);
    return mt === 'application/json' || /^application\/[a-z0-9.-]+\+json$/.test(mt);
  };

  it('POST /webhooks with random content types: only JSON media types are parsed, 415 for the rest', async (t) => {
    const validBody = { callbackUrl: 'https://receiver.example.com/ct', scope: 'Account', eventTypes: [f.knownTypes[0]!] };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...CONTENT_TYPES),
          fc.stringMatching(/^[a-z]{1,12}\/[a-z0-9.+-]{1,20}(; ?[a-z]{1,8}=[a-z0-9-]{1,8})?$/),
          fc.stringMatching(/^[\x20-\x7E]{0,40}$/),
        ),
        fc.constantFrom('json', 'form', 'text'),
        async (contentType, shape) => {
          const payload = shape === 'json' ? JSON.stringify(validBody) : shape === 'form' ? 'callbackUrl=https%3A%2F%2Fexample.com&scope=Account' : 'hello';
          const before = await snapshot();
          const beforeOwner = await ownerRecords();
          const headers: Record<string, string> = { authorization: f.owner.auth };
          if (contentType !== '') headers['content-type'] = contentType;
          const { res, ctx } = await inject({ method: 'POST', url: '/webhooks', headers, payload });
          count('createContentType', res.statusCode);
          const answer = checkAnswer(res, ctx) as ErrorBody;
          if (res.statusCode === 201) {
            assert.ok(isJsonMediaType(contentType), `a non-JSON media type was parsed as JSON: ${JSON.stringify(contentType)}\n${ctx()}`);
            return checkCreated(validBody, res, beforeOwner, ctx);
          }
          if (NOT_JSON.has(contentType) || contentType === '') {
            assert.equal(res.statusCode, 415, `${JSON.stringify(contentType)} → 415\n${ctx()}`);
            assert.equal(answer.error.code, 'UnsupportedMediaType', ctx());
          }
          if (shape === 'json' && (contentType === 'application/json' || contentType === 'application/json; charset=utf-8')) assert.fail(`a valid body was refused\n${ctx()}`);
          assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
        },
      ),
      opts(RUNS.createContentType),
    );
    noErrorLogs(t, 'createContentType');
  });

  // ------------------------------------------------------------------ update

  type TargetKind = 'own' | 'ownUpper' | 'revoked' | 'other' | 'random';

  const targetId = (kind: TargetKind, pick: boolean, random: string): string => {
    switch (kind) {
      case 'own':
        return pick ? f.ownAccountWebhook : f.ownItwinWebhook;
      case 'ownUpper':
        return (pick ? f.ownAccountWebhook : f.ownItwinWebhook).toUpperCase();
      case 'revoked':
        return f.revokedWebhook;
      case 'other':
        return f.otherWebhook;
      case 'random':
        return random;
    }
  };

  /** Checks an accepted update against the record before it and what was sent. */
  const checkUpdated = async (id: string, sent: Record<string, unknown>, res: LightMyRequestResponse, before: WebhookRecord[], ctx: () => string) => {
    assert.equal(res.statusCode, 200, ctx());
    const body = res.json() as Record<string, unknown>;
    const withSecret = sent.secret !== undefined;
    assert.deepEqual(Object.keys(body).sort(), (withSecret ? [...WEBHOOK_KEYS, 'secret'] : WEBHOOK_KEYS).sort(), `flat shape, secret only when set\n${ctx()}`);
    const old = before.find((r) => r.id === id.toLowerCase());
    assert.ok(old !== undefined, ctx());
    assert.equal(body.id, old.id, ctx());
    assert.equal(body.scope, old.scope, ctx());
    assert.equal(body.scopeId, old.scopeId, ctx());
    assert.equal(body.created, new Date(old.createdAt).toISOString(), ctx());
    assert.equal(body.active, sent.active ?? old.active, ctx());
    assert.equal(body.callbackUrl, sent.callbackUrl ?? old.callbackUrl, ctx());
    assert.deepEqual(body.eventTypes, sent.eventTypes ?? old.eventTypes, ctx());
    assert.match(String(body.modified), ISO_MS, ctx());
    assert.ok(Date.parse(String(body.modified)) >= old.modifiedAt, `modified does not go back\n${ctx()}`);
    if (withSecret) assert.equal(body.secret, sent.secret, ctx());

    const now = await ownerRecords();
    assert.deepEqual(
      now.filter((r) => r.id !== old.id),
      before.filter((r) => r.id !== old.id),
      `an update changes only its webhook\n${ctx()}`,
    );
    const stored = now.find((r) => r.id === old.id)!;
    assert.equal(stored.active, body.active, ctx());
    assert.equal(stored.callbackUrl, body.callbackUrl, ctx());
    assert.deepEqual(stored.eventTypes, body.eventTypes, ctx());
    assert.equal(new Date(stored.modifiedAt).toISOString(), body.modified, ctx());
    assert.equal(stored.createdAt, old.createdAt, ctx());
    if (withSecret) assert.equal(f.h.server.deps.box.open(stored.secretSealed, sealedFor.webhookSecret(old.id)), sent.secret, `the stored secret is the one set\n${ctx()}`);
    else assert.equal(stored.secretSealed, old.secretSealed, `the secret is unchanged when not sent\n${ctx()}`);
    const got = await f.h.inject({ method: 'GET', url: `/webhooks/${old.id}`, headers: { authorization: f.owner.auth } });
    const { secret: _secret, ...withoutSecret } = body;
    assert.deepEqual(got.json(), withoutSecret, `GET answers what the update answered\n${ctx()}`);
  };

  const patchArb = () =>
    fc.record({
      target: fc.oneof(w(14, fc.constant<TargetKind>('own')), w(2, fc.constant<TargetKind>('ownUpper')), w(1, fc.constantFrom<TargetKind>('revoked', 'other', 'random'))),
      pick: fc.boolean(),
      randomUuid: fc.uuid(),
      active: fc.oneof(w(5, absent()), w(1, sentNull()), w(4, ok('boolean', fc.boolean())), w(1, bad('active not a boolean', wrongType('boolean')))),
      callbackUrl: fc.oneof(w(6, absent()), w(1, sentNull()), w(4, mostlyOk(callbackUrlOk, callbackUrlChoice))),
      eventTypes: fc.oneof(w(6, absent()), w(1, sentNull()), w(4, mostlyOk(eventTypesOk(f.knownTypes), eventTypesChoice(f.knownTypes)))),
      secret: fc.oneof(w(6, absent()), w(1, sentNull()), w(4, mostlyOk(secretOk, secretChoice))),
      extras: extrasArb(UPDATE_READ_ONLY, UPDATE_KEYS),
      echoReadOnly: fc.boolean(),
      auth: authArb('readOnly'),
      accept: acceptArb,
    });

  it('PATCH /webhooks/{id} with structured bodies: right answer, right details, nothing changed when refused', async (t) => {
    await fc.assert(
      fc.asyncProperty(patchArb(), async (g) => {
        const id = targetId(g.target, g.pick, g.randomUuid);
        const fields: Record<string, Choice> = { active: g.active, callbackUrl: g.callbackUrl, eventTypes: g.eventTypes, secret: g.secret };
        const body: Record<string, unknown> = {};
        for (const [k, c] of Object.entries(fields)) if (c.value !== undefined) body[k] = c.value;
        const beforeOwner = await ownerRecords();
        const current = beforeOwner.find((r) => r.id === id.toLowerCase());
        for (const e of g.extras) {
          // Sending back the current read-only values is still an attempt to change them.
          let value = e.value;
          if (g.echoReadOnly && e.readOnly && current !== undefined) {
            const echo: Record<string, unknown> = {
              id: current.id,
              scope: current.scope,
              scopeId: current.scopeId,
              created: new Date(current.createdAt).toISOString(),
              modified: new Date(current.modifiedAt).toISOString(),
            };
            value = echo[e.key] ?? e.value;
          }
          Object.defineProperty(body, e.key, { value, enumerable: true, configurable: true, writable: true });
        }
        const judged: Judged = {
          bad: Object.entries(fields).filter(([, c]) => c.label === 'bad').map(([k]) => k),
          unclear: Object.entries(fields).filter(([, c]) => c.label === 'either').map(([k]) => k),
          extras: g.extras,
          missing: [],
          missingDependent: [],
          strictReadOnly: true,
        };
        if (Object.keys(withoutNulls(body, UPDATE_KEYS)).length === 0) judged.bad.push('body'); // an empty body (nulls are not given) is a 422
        const payload = JSON.stringify(body);
        const anyBad = problemCount(judged) > 0;
        const poisoned = /"(__proto__|constructor)"/.test(payload);

        let expected: number[];
        const forced = authStatus(g.auth.kind);
        // An owner that lost the permission may still deactivate its webhook (contract §2), and do nothing else.
        const onlyDeactivates = (body as Record<string, unknown>).active === false && Object.values(body).filter((v) => v !== undefined && v !== null).length === 1;
        const refusal = g.target === 'revoked' && !onlyDeactivates ? 403 : g.target === 'other' || g.target === 'random' ? 404 : undefined;
        if (forced !== undefined) expected = [forced];
        else if (anyBad) expected = refusal === undefined ? [422] : [422, refusal];
        else if (judged.unclear.length > 0) expected = refusal === undefined ? [200, 422] : [refusal, 422];
        else expected = [refusal ?? 200];
        if (poisoned && forced === undefined) expected.push(400);

        const auth = authHeader(f, g.auth.kind, g.auth.junk);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (auth !== undefined) headers.authorization = auth;
        if (g.accept !== undefined) headers.accept = g.accept;
        const before = await snapshot();
        const { res, ctx } = await inject({ method: 'PATCH', url: `/webhooks/${id}`, headers, payload });
        count('patch', res.statusCode);
        const answer = checkAnswer(res, ctx);
        assert.ok(expected.includes(res.statusCode), `expected ${expected.join('|')} (target ${g.target}), labels ${JSON.stringify(Object.fromEntries(Object.entries(fields).map(([k, c]) => [k, `${c.label}:${c.note}`])))}\n${ctx()}`);
        if (res.statusCode === 200) return checkUpdated(id, withoutNulls(body, UPDATE_KEYS), res, beforeOwner, ctx);
        if (res.statusCode === 422) checkValidationAnswer(answer as ErrorBody, judged, 'InvalidUpdateWebhookRequest', ctx);
        if (res.statusCode === 404) assert.equal((answer as ErrorBody).error.code, 'WebhookNotFound', ctx());
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      opts(RUNS.patchStructured),
    );
    noErrorLogs(t, 'patch');
  });

  it('PATCH /webhooks/{id} with arbitrary JSON: never 5xx, error shape, nothing changed when refused', async (t) => {
    await fc.assert(
      fc.asyncProperty(jsonBodyArb([...UPDATE_KEYS, ...UPDATE_READ_ONLY]), fc.boolean(), async (value, pick) => {
        const id = pick ? f.ownAccountWebhook : f.ownItwinWebhook;
        const payload = JSON.stringify(value);
        const before = await snapshot();
        const beforeOwner = await ownerRecords();
        const { res, ctx } = await inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: f.owner.auth, 'content-type': 'application/json' }, payload });
        count('patchJson', res.statusCode);
        const answer = checkAnswer(res, ctx);
        // A member sent as null is one not given (contract: null members).
        if (res.statusCode === 200) return checkUpdated(id, withoutNulls(value as Record<string, unknown>, UPDATE_KEYS), res, beforeOwner, ctx);
        assert.ok([400, 413, 422].includes(res.statusCode), ctx());
        if (res.statusCode === 422) assert.equal((answer as ErrorBody).error.code, 'InvalidUpdateWebhookRequest', ctx());
        if (!isPlainObject(value) && !/"(__proto__|constructor)"/.test(payload)) assert.equal(res.statusCode, 422, `a JSON body that is not an object is a 422\n${ctx()}`);
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      opts(RUNS.patchJson),
    );
    noErrorLogs(t, 'patchJson');
  });

  it('PATCH /webhooks/{id} with raw bodies that may not be JSON: 400/413/422, nothing changed', async (t) => {
    await fc.assert(
      fc.asyncProperty(rawBodyArb, fc.boolean(), async (payload, pick) => {
        const id = pick ? f.ownAccountWebhook : f.ownItwinWebhook;
        const before = await snapshot();
        const { res, ctx } = await inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: f.owner.auth, 'content-type': 'application/json' }, payload });
        count('patchRaw', res.statusCode);
        const answer = checkAnswer(res, ctx) as ErrorBody;
        assert.notEqual(res.statusCode, 200, ctx());
        if (Buffer.byteLength(payload) > BODY_LIMIT) assert.equal(res.statusCode, 413, ctx());
        else if (!parsesAsJson(payload)) {
          assert.equal(res.statusCode, 400, `not JSON → 400\n${ctx()}`);
          assert.equal(answer.error.code, 'InvalidRequestBody', ctx());
        } else assert.ok([400, 422].includes(res.statusCode), ctx());
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.patchRaw), examples: RAW_BODIES.map((b) => [b, true] as [string, boolean]) },
    );
    noErrorLogs(t, 'patchRaw');
  });

  const decodes = (segment: string) => {
    try {
      decodeURIComponent(segment);
      return true;
    } catch {
      return false;
    }
  };

  const pathRequest = (method: 'GET' | 'PATCH' | 'DELETE' | 'POST', url: string): InjectOptions => {
    const headers: Record<string, string> = { authorization: f.owner.auth };
    const req: InjectOptions = { method, url, headers };
    if (method === 'PATCH' || method === 'POST') {
      headers['content-type'] = 'application/json';
      req.payload = '{"active":false}';
    }
    return req;
  };

  it('GET/PATCH/DELETE /webhooks/{arbitrary segment}: 404 in the error shape, never touches a webhook', async (t) => {
    const SEGMENTS = ['%00', '..', '.', 'a%2Fb', '%2e%2e', 'event-types', '', '%20', 'null', 'undefined', '0', '-1', '%F0%9F%98%80', 'a/b', '%25', '*', ':webhookId', '{webhookId}'];
    const segment = fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
        fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@-]{0,40}$/),
        fc.uuid().map((u) => u.toUpperCase()),
        fc.constantFrom(...SEGMENTS),
      )
      .filter(decodes);
    await fc.assert(
      fc.asyncProperty(segment, fc.constantFrom('GET', 'PATCH', 'DELETE'), async (seg, method) => {
        const before = await snapshot();
        const { res, ctx } = await inject(pathRequest(method, `/webhooks/${seg}`));
        count('byIdSegment', res.statusCode);
        // inject() resolves `/webhooks/..` to `/`, which sends a browser to the API reference.
        if ((seg === '..' || seg === '%2e%2e') && method === 'GET') return assert.equal(res.headers.location, '/docs', ctx());
        checkAnswer(res, ctx);
        // `/webhooks/` is `/webhooks` (one trailing slash is ignored): the list; inject() resolves `/webhooks/.` to it.
        if ((seg === 'event-types' || seg === '' || seg === '.') && method === 'GET') assert.equal(res.statusCode, 200, ctx());
        else if (seg === '' || seg === '.') assert.equal(res.statusCode, 405, ctx());
        else assert.ok([404, 405].includes(res.statusCode), `an unknown webhook → 404\n${ctx()}`);
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.byIdSegment), examples: SEGMENTS.flatMap((s) => (['GET', 'PATCH', 'DELETE'] as const).map((m) => [s, m] as [string, 'GET' | 'PATCH' | 'DELETE'])) },
    );
    noErrorLogs(t, 'byIdSegment');
  });

  it('paths with a malformed percent-encoding answer in the error shape and touch nothing', async (t) => {
    const BAD_ESCAPES = ['%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AF', '%FF', '%ED%A0%80', '%C3'];
    const path = fc
      .tuple(
        fc.constantFrom('/webhooks/', '/', '/webhooks/event-types/', '/nope/', '/webhooks/{own}/'),
        fc.stringMatching(/^[A-Za-z0-9._~-]{0,10}$/),
        fc.constantFrom(...BAD_ESCAPES),
        fc.stringMatching(/^[A-Za-z0-9._~%-]{0,10}$/),
      )
      .map(([base, a, bad, b]) => `${base.replace('{own}', f.ownAccountWebhook)}${a}${bad}${b}`)
      .filter((p) => !decodes(p));
    await fc.assert(
      fc.asyncProperty(path, fc.constantFrom('GET', 'PATCH', 'DELETE', 'POST'), async (url, method) => {
        const before = await snapshot();
        const { res, ctx } = await inject(pathRequest(method, url));
        count('badEscape', res.statusCode);
        checkAnswer(res, ctx);
        assert.ok([400, 404, 405].includes(res.statusCode), ctx());
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.badEscape), examples: BAD_ESCAPES.map((e) => [`/webhooks/${e}`, 'GET'] as [string, 'GET' | 'PATCH' | 'DELETE' | 'POST']) },
    );
    noErrorLogs(t, 'badEscape');
  });

  it('a callbackUrl that is not well-formed Unicode is refused, or stored exactly as answered', async (t) => {
    const url = fc
      .tuple(fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/), fc.integer({ min: 0xd800, max: 0xdfff }), fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/))
      .map(([a, cp, b]) => `https://example.com/${a}${String.fromCharCode(cp)}${b}`);
    await fc.assert(
      fc.asyncProperty(url, fc.boolean(), async (callbackUrl, create) => {
        const before = await snapshot();
        const beforeOwner = await ownerRecords();
        const body: Record<string, unknown> = create ? { callbackUrl, scope: 'Account', eventTypes: [f.knownTypes[0]!] } : { callbackUrl };
        const { res, ctx } = await inject({
          method: create ? 'POST' : 'PATCH',
          url: create ? '/webhooks' : `/webhooks/${f.ownAccountWebhook}`,
          headers: { authorization: f.owner.auth, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        count('loneSurrogate', res.statusCode);
        const answer = checkAnswer(res, ctx);
        if (res.statusCode === 201) return checkCreated(body, res, beforeOwner, ctx);
        if (res.statusCode === 200) return checkUpdated(f.ownAccountWebhook, body, res, beforeOwner, ctx);
        assert.equal(res.statusCode, 422, ctx());
        const judged: Judged = { bad: ['callbackUrl'], unclear: [], extras: [], missing: [], missingDependent: [], strictReadOnly: true };
        checkValidationAnswer(answer as ErrorBody, judged, create ? 'InvalidCreateWebhookRequest' : 'InvalidUpdateWebhookRequest', ctx);
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.loneSurrogate), examples: [['https://example.com/\ud800', true], ['https://example.com/\udfff', false]] },
    );
    noErrorLogs(t, 'loneSurrogate');
  });

  // ------------------------------------------------------------------ list

  /** Label of a $top value as the contract reads it: an integer 1–1000. */
  const topLabel = (s: string | null): Label => {
    if (s === null) return 'bad';
    if (/^[1-9][0-9]*$/.test(s) && Number(s) <= 1000) return 'ok';
    // Lenient spellings of such an integer (" 5", "05", "1e2", "0x10"…) are not named by the contract.
    const n = Number(s);
    if (s.trim() !== '' && Number.isInteger(n) && n >= 1 && n <= 1000) return 'either';
    return 'bad';
  };

  /** 'soft': a well-formed string that is not a token this server issued. */
  const tokenLabel = (s: string | null): Label | 'soft' => {
    if (s === null || s === '' || s.length > 512) return 'bad';
    if (f.tokens.some((t) => t.token === s)) return 'ok';
    // a position the server could have issued, or not
    return decodeCursor(s) === undefined ? 'soft' : 'either';
  };

  interface QueryPart {
    key: string;
    value: string | null; // null: the key without "="
  }

  const listArb = () => {
    const topValue = fc.oneof(
      w(6, fc.integer({ min: 1, max: 1000 }).map(String)),
      w(2, fc.integer({ min: 1, max: 10 }).map(String)),
      w(1, fc.constantFrom('0', '-1', '1001', '1.5', 'abc', '', 'true', 'null', '1,2', ' 5', '05', '1e2', '0x10', '+5', '5.0', '1_0', '9'.repeat(30), '[1]', '{}')),
      w(1, fc.oneof(fc.integer({ min: 1001 }), fc.integer({ max: 0 })).map(String)),
      w(1, anyString),
      w(1, fc.constant(null)),
    );
    const real = f.tokens.map((t) => t.token);
    const tokenValue = fc.oneof(
      w(6, fc.constantFrom(...real)),
      w(1, fc.constantFrom('', 'a'.repeat(513), 'v1:5', Buffer.from('v1:-1').toString('base64url'), Buffer.from('v2:1').toString('base64url'), Buffer.from(`v1:${'9'.repeat(16)}`).toString('base64url'), Buffer.from('v1:3').toString('base64url'), 'null', '0')),
      w(1, fc.tuple(fc.constantFrom(...real), fc.constantFrom('=', '==', '.', '%00', 'A')).map(([t, s]) => t + s)),
      w(1, fc.tuple(fc.constantFrom(...real), fc.nat()).map(([t, n]) => t.slice(0, n % t.length))),
      w(1, anyString),
      w(1, fc.stringMatching(/^[A-Za-z0-9_-]{1,600}$/)),
      w(1, fc.constant(null)),
    );
    const unknownKey = fc
      .oneof(
        fc.constantFrom('top', '$TOP', '$skip', '$filter', 'continuationToken', '$continuationtoken', '$top ', ' $top', '0', '', '__proto__', 'constructor', 'a[b]', 'a.b', '$'),
        anyString,
      )
      .filter((k) => k !== '$top' && k !== '$continuationToken' && !k.includes('~')); // '~': see 'unknown property names'
    return fc.record({
      top: fc.oneof(w(3, fc.constant(undefined)), w(4, topValue)),
      token: fc.oneof(w(3, fc.constant(undefined)), w(3, tokenValue)),
      duplicate: fc.oneof(w(12, fc.constant(undefined)), w(1, fc.constantFrom('$top', '$continuationToken'))),
      unknown: fc.oneof(w(5, fc.constant<QueryPart[]>([])), w(1, fc.uniqueArray(fc.record({ key: unknownKey, value: fc.option(anyString) }), { minLength: 1, maxLength: 3, selector: (p) => p.key }))),
      order: fc.boolean(),
      auth: authArb('publishOnly'),
      accept: acceptArb,
    });
  };

  const encodePart = (p: QueryPart) => (p.value === null ? encodeURIComponent(p.key) : `${encodeURIComponent(p.key)}=${encodeURIComponent(p.value)}`);

  it('GET /webhooks with generated query strings: right page or a 422 naming the parameter', async (t) => {
    await fc.assert(
      fc.asyncProperty(listArb(), async (g) => {
        const tops = [g.top, g.duplicate === '$top' ? '2' : undefined].filter((v) => v !== undefined);
        const tokens = [g.token, g.duplicate === '$continuationToken' ? f.tokens[0]!.token : undefined].filter((v) => v !== undefined);
        // An empty part ("&&") names no parameter at all.
        const unknown = g.unknown.filter((u) => u.key !== '' || u.value !== null);
        const parts: QueryPart[] = [
          ...tops.map((value) => ({ key: '$top', value })),
          ...tokens.map((value) => ({ key: '$continuationToken', value })),
          ...unknown,
        ];
        if (g.order) parts.reverse();
        const url = parts.length === 0 ? '/webhooks' : `/webhooks?${parts.map(encodePart).join('&')}`;

        // A key without "=" reads as an empty value (for $top and $continuationToken: bad);
        // a repeated parameter is not something the contract decides.
        const labels: Record<string, Label | 'soft'> = {};
        if (tops.length > 0) labels.$top = tops.length > 1 ? 'either' : topLabel(tops[0]!);
        if (tokens.length > 0) labels.$continuationToken = tokens.length > 1 ? 'either' : tokenLabel(tokens[0]!);
        const judged: Judged = {
          bad: Object.entries(labels).filter(([, l]) => l === 'bad').map(([k]) => k),
          soft: Object.entries(labels).filter(([, l]) => l === 'soft').map(([k]) => k),
          unclear: Object.entries(labels).filter(([, l]) => l === 'either').map(([k]) => k),
          extras: unknown.map((u) => ({ key: u.key, value: u.value, readOnly: false })),
          missing: [],
          missingDependent: [],
          strictReadOnly: true,
        };
        const forced = authStatus(g.auth.kind);
        let expected: number[];
        if (forced !== undefined) expected = [forced];
        else if (problemCount(judged) > 0) expected = [422];
        else if (judged.unclear.length > 0) expected = [200, 422];
        else expected = [200];

        const auth = authHeader(f, g.auth.kind, g.auth.junk, f.lister);
        const headers: Record<string, string> = {};
        if (auth !== undefined) headers.authorization = auth;
        if (g.accept !== undefined) headers.accept = g.accept;
        const before = await snapshot();
        const { res, ctx } = await inject({ method: 'GET', url, headers });
        count('list', res.statusCode);
        const answer = checkAnswer(res, ctx);
        assert.ok(expected.includes(res.statusCode), `expected ${expected.join('|')}, labels ${JSON.stringify(labels)}\n${ctx()}`);
        if (res.statusCode === 422) checkValidationAnswer(answer as ErrorBody, judged, 'InvalidWebhooksRequest', ctx);
        if (res.statusCode === 200) {
          const page = answer as { webhooks: Array<Record<string, unknown>>; _links: { self: { href: string }; next?: { href: string } } };
          assert.deepEqual(Object.keys(page).sort(), ['_links', 'webhooks'], ctx());
          assert.deepEqual(Object.keys(page._links).sort(), page._links.next === undefined ? ['self'] : ['next', 'self'], ctx());
          assert.ok(page._links.self.href.endsWith(url), `self link\n${ctx()}`);
          // Always a contiguous run of the caller's own webhooks, oldest first.
          const indexes = page.webhooks.map((x) => f.listed.findIndex((y) => y.id === x.id));
          assert.ok(indexes.every((i, n) => i >= 0 && (n === 0 || i === indexes[n - 1]! + 1)), `a contiguous run of the caller's webhooks\n${ctx()}`);
          for (const [n, i] of indexes.entries()) assert.deepEqual(page.webhooks[n], f.listed[i], ctx());
          const topOk = tops.length === 0 || labels.$top === 'ok';
          const tokenOk = tokens.length === 0 || labels.$continuationToken === 'ok';
          if (topOk && tokenOk) {
            const top = tops.length === 0 ? 100 : Number(tops[0]);
            const start = tokens.length === 0 ? 0 : f.tokens.find((x) => x.token === tokens[0])!.afterIndex + 1;
            assert.deepEqual(page.webhooks, f.listed.slice(start, start + top), `the page\n${ctx()}`);
            assert.equal(page._links.next !== undefined, start + top < f.listed.length, `next only when more remain\n${ctx()}`);
            if (page._links.next !== undefined) {
              const next = new URL(page._links.next.href);
              assert.equal(next.searchParams.get('$top'), String(top), ctx());
              const follow = await f.h.inject({ method: 'GET', url: `${next.pathname}${next.search}`, headers: { authorization: f.lister.auth } });
              assert.equal(follow.statusCode, 200, follow.body);
              assert.deepEqual((follow.json() as { webhooks: unknown[] }).webhooks, f.listed.slice(start + top, start + 2 * top), `the next link\n${ctx()}`);
            }
          }
        }
        assert.equal(await snapshot(), before, `a GET changed the store\n${ctx()}`);
      }),
      opts(RUNS.list),
    );
    noErrorLogs(t, 'list');
  });

  it('unknown property names are reported as the target, verbatim (bodies and query strings)', async (t) => {
    const name = fc
      .oneof(
        fc.constantFrom('~0', '~1', 'a~1b', '~', '~~', 'a/b', '/', '~01', 'x~0y'),
        fc.tuple(fc.stringMatching(/^[a-z]{0,4}$/), fc.constantFrom('~', '~0', '~1', '/'), fc.stringMatching(/^[a-z0-9]{0,4}$/)).map(([a, m, b]) => a + m + b),
      )
      .filter((k) => !/^\d+$/.test(k));
    await fc.assert(
      fc.asyncProperty(name, fc.constantFrom('create', 'update', 'list'), async (key, where) => {
        const before = await snapshot();
        const req: InjectOptions =
          where === 'list'
            ? { method: 'GET', url: `/webhooks?${encodeURIComponent(key)}=1`, headers: { authorization: f.owner.auth } }
            : {
                method: where === 'create' ? 'POST' : 'PATCH',
                url: where === 'create' ? '/webhooks' : `/webhooks/${f.ownAccountWebhook}`,
                headers: { authorization: f.owner.auth, 'content-type': 'application/json' },
                payload: JSON.stringify({ callbackUrl: 'https://receiver.example.com/n', scope: 'Account', eventTypes: [f.knownTypes[0]!], [key]: 1 }),
              };
        if (where === 'update') req.payload = JSON.stringify({ active: false, [key]: 1 });
        const { res, ctx } = await inject(req);
        count('unknownNames', res.statusCode);
        const answer = checkAnswer(res, ctx) as ErrorBody;
        assert.equal(res.statusCode, 422, ctx());
        assert.deepEqual(
          answer.error.details,
          [{ code: 'UnknownProperty', target: key, message: answer.error.details?.[0]?.message }],
          `the one detail names ${JSON.stringify(key)}\n${ctx()}`,
        );
        assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
      }),
      { ...opts(RUNS.unknownNames), examples: [['~0', 'list'], ['~1', 'create']] },
    );
    noErrorLogs(t, 'unknownNames');
  });

  it('an unknown property named like a real one ("eventTypes[0]", "callbackUrl.x") does not hide the real one\'s problems', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('callbackUrl', 'eventTypes'),
        fc.constantFrom('.', '['),
        fc.stringMatching(/^[a-z0-9]{0,4}\]?$/),
        fc.boolean(),
        async (real, sep, suffix, create) => {
          const key = `${real}${sep}${suffix}`;
          const wrong = real === 'callbackUrl' ? { callbackUrl: 'http://example.com/hook' } : { eventTypes: ['nope.nope.v1'] };
          const base = create ? { callbackUrl: 'https://receiver.example.com/x', scope: 'Account', eventTypes: [f.knownTypes[0]!] } : {};
          const body = { ...base, ...wrong, [key]: 1 };
          const before = await snapshot();
          const { res, ctx } = await inject({
            method: create ? 'POST' : 'PATCH',
            url: create ? '/webhooks' : `/webhooks/${f.ownAccountWebhook}`,
            headers: { authorization: f.owner.auth, 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          count('shadowedNames', res.statusCode);
          const answer = checkAnswer(res, ctx) as ErrorBody;
          assert.equal(res.statusCode, 422, ctx());
          const details = answer.error.details ?? [];
          assert.ok(details.some((d) => d.code === 'UnknownProperty'), `the unknown property is reported\n${ctx()}`);
          assert.ok(details.some((d) => d.code === 'InvalidValue' && targets(d.target, real)), `the problem with ${real} is reported too\n${ctx()}`);
          assert.equal(await snapshot(), before, `the store changed\n${ctx()}`);
        },
      ),
      { ...opts(RUNS.shadowedNames), examples: [['eventTypes', '[', '0]', true]] },
    );
    noErrorLogs(t, 'shadowedNames');
  });

  it('GET /webhooks: a 422 names a bad $continuationToken next to the other problems of the query', async (t) => {
    const token = fc.oneof(
      fc.constantFrom('abc', 'v1:5', Buffer.from('v2:1').toString('base64url'), Buffer.from('v1:-1').toString('base64url'), 'null'),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
    ).filter((s) => tokenLabel(s) === 'soft');
    const other = fc.oneof(
      fc.constantFrom('$top=0', '$top=abc', '$top=1001', '$top=', 'unknown=1', '$skip=5', 'top=5'),
      fc.integer({ min: 1001 }).map((n) => `$top=${n}`),
    );
    await fc.assert(
      fc.asyncProperty(token, other, fc.boolean(), async (tok, extra, order) => {
        const parts = [`$continuationToken=${encodeURIComponent(tok)}`, extra];
        if (order) parts.reverse();
        const { res, ctx } = await inject({ method: 'GET', url: `/webhooks?${parts.join('&')}`, headers: { authorization: f.lister.auth } });
        count('tokenWithOthers', res.statusCode);
        const answer = checkAnswer(res, ctx) as ErrorBody;
        assert.equal(res.statusCode, 422, ctx());
        const named = (answer.error.details ?? []).map((d) => d.target);
        const otherTarget = extra.split('=')[0]!;
        assert.ok(named.includes(otherTarget), `${otherTarget} is named\n${ctx()}`);
        assert.ok(named.includes('$continuationToken'), `the bad $continuationToken is named too (one entry per problem)\n${ctx()}`);
      }),
      { ...opts(RUNS.tokenWithOthers), examples: [['abc', '$top=0', false]] },
    );
    noErrorLogs(t, 'tokenWithOthers');
  });

  it('GET /webhooks with raw query strings: never 5xx, error shape, nothing changed', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.stringMatching(/^[A-Za-z0-9$%&=+;?\[\]._~-]{0,60}$/), fc.string({ maxLength: 60 }).map((s) => s.replace(/[#\s]/g, ''))),
        async (query) => {
          const before = await snapshot();
          const { res, ctx } = await inject({ method: 'GET', url: `/webhooks?${query}`, headers: { authorization: f.lister.auth } });
          count('listRaw', res.statusCode);
          const answer = checkAnswer(res, ctx);
          assert.ok([200, 400, 422].includes(res.statusCode), ctx());
          if (res.statusCode === 422) assert.equal((answer as ErrorBody).error.code, 'InvalidWebhooksRequest', ctx());
          assert.equal(await snapshot(), before, `a GET changed the store\n${ctx()}`);
        },
      ),
      opts(RUNS.listRaw),
    );
    noErrorLogs(t, 'listRaw');
  });
});
