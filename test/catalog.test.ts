import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
// ajv and ajv-formats are CommonJS; under Node ESM their default import is
// `module.exports`, which also carries the class/plugin as `.default` (and
// that is what TypeScript's `nodenext` typing exposes).
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv/dist/2020.js';

import { BUILTIN_EVENT_TYPES, type EventTypeDefinition } from '../src/catalog/builtinEventTypes.ts';
import { freshExample } from '../src/catalog/freshExample.ts';

const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

function newAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}
const ajv = newAjv();

const EXPECTED_TYPES = [
  'iModels.iModelCreated.v1',
  'iModels.iModelDeleted.v1',
  'iModels.namedVersionCreated.v1',
  'iModels.changesReady.v1',
  'accessControl.memberAdded.v1',
  'accessControl.memberRemoved.v1',
  'accessControl.roleAssigned.v1',
  'accessControl.roleUnassigned.v1',
  'accessControl.invitationCreated.v1',
  'iTwins.iTwinCreated.v1',
  'iTwins.iTwinDeleted.v1',
  'synchronization.jobCompleted.v1',
  'transformations.jobCompleted.v1',
  'realityModeling.jobCompleted.v1',
  'realityAnalysis.jobCompleted.v1',
  'realityConversion.jobCompleted.v1',
  'changedElements.jobCompleted.v1',
  'forms.attachmentAttached.v1',
  'forms.attachmentUnattached.v1',
  'issues.attachmentAttached.v1',
  'issues.attachmentUnattached.v1',
];

const NAME_RE = /^[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9]*\.v[1-9][0-9]*$/;
const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Entity-id fields that must be declared with `format: "uuid"` wherever they occur. */
const UUID_FIELDS = [
  'imodelId', 'userId', 'memberId', 'roleId', 'eventCreatedBy', 'invitationId', 'parentId',
  'accountOwnerId', 'namedVersionId', 'synchronizationId', 'iModelId', 'transformationId',
  'sourceITwinId', 'targetITwinId', 'targetIModelId', 'configurationId', 'jobId', 'attachmentId',
  'formId', 'issueId',
];

function props(def: EventTypeDefinition): Record<string, Record<string, unknown>> {
  return def.contentSchema['properties'] as Record<string, Record<string, unknown>>;
}
function required(def: EventTypeDefinition): string[] {
  return def.contentSchema['required'] as string[];
}
function uuidKeys(def: EventTypeDefinition): string[] {
  return Object.entries(props(def))
    .filter(([, p]) => p['format'] === 'uuid')
    .map(([k]) => k);
}

const validators = new Map<string, ValidateFunction>();
function validatorFor(def: EventTypeDefinition): ValidateFunction {
  let v = validators.get(def.type);
  if (v === undefined) {
    v = ajv.compile(def.contentSchema);
    validators.set(def.type, v);
  }
  return v;
}
function byType(type: string): EventTypeDefinition {
  const def = BUILTIN_EVENT_TYPES.find((d) => d.type === type);
  assert.ok(def, `missing ${type}`);
  return def;
}

describe('built-in event-type catalog', () => {
  it('contains exactly the 21 documented event types, in order, without duplicates', () => {
    assert.deepEqual(
      BUILTIN_EVENT_TYPES.map((d) => d.type),
      EXPECTED_TYPES,
    );
    assert.equal(new Set(BUILTIN_EVENT_TYPES.map((d) => d.type)).size, 21);
  });

  it('names follow <service>.<event>.v<N> and service is the prefix', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      assert.match(def.type, NAME_RE);
      assert.equal(def.service, def.type.split('.')[0]);
    }
  });

  it('descriptions are single, non-empty sentences', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      assert.match(def.description, /^[A-Z][^\n]*\.$/, def.type);
      assert.ok(!def.description.slice(0, -1).includes('. '), `${def.type}: more than one sentence`);
    }
  });

  it('schemas are titled objects whose every declared field is required and typed', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      const s = def.contentSchema;
      assert.equal(s['type'], 'object', def.type);
      assert.equal(typeof s['title'], 'string', def.type);
      assert.ok(required(def).length > 0, def.type);
      assert.deepEqual([...required(def)].sort(), Object.keys(props(def)).sort(), def.type);
      for (const [key, p] of Object.entries(props(def))) {
        assert.ok(['string', 'integer', 'boolean'].includes(p['type'] as string), `${def.type}.${key}`);
      }
    }
  });

  it('schemas do not share objects with each other', () => {
    const a = props(byType('iModels.iModelCreated.v1'))['imodelId'];
    const b = props(byType('iModels.iModelDeleted.v1'))['imodelId'];
    assert.deepEqual(a, b);
    assert.notEqual(a, b);
  });

  describe('every schema compiles in strict mode and its example validates', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      it(def.type, () => {
        const validate = validatorFor(def);
        assert.equal(validate(def.example), true, JSON.stringify(validate.errors));
        // A clean Ajv instance compiles it too (no reliance on shared state).
        assert.equal(newAjv().validate(def.contentSchema, def.example), true);
      });
    }
  });

  describe('removing any one required field makes validation fail', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      it(def.type, () => {
        const validate = validatorFor(def);
        for (const key of required(def)) {
          const broken: Record<string, unknown> = { ...def.example };
          delete broken[key];
          assert.equal(validate(broken), false, `${def.type} without ${key} should be invalid`);
          assert.ok(
            validate.errors?.some((e) => e.keyword === 'required' && e.params['missingProperty'] === key),
            `${def.type}: expected a "required" error for ${key}`,
          );
        }
      });
    }
  });

  it('keeps each service\'s iModel id casing: iModels say imodelId, synchronization/changedElements say iModelId', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      const keys = Object.keys(props(def));
      if (def.service === 'iModels') {
        assert.ok(keys.includes('imodelId'), def.type);
        assert.ok(!keys.includes('iModelId'), def.type);
      } else {
        assert.ok(!keys.includes('imodelId'), `${def.type} must not use imodelId`);
      }
      if (def.service === 'synchronization' || def.service === 'changedElements') {
        assert.ok(keys.includes('iModelId'), def.type);
      }
    }
    assert.deepEqual(
      BUILTIN_EVENT_TYPES.filter((d) => 'iModelId' in props(d)).map((d) => d.type),
      ['synchronization.jobCompleted.v1', 'changedElements.jobCompleted.v1'],
    );
  });

  it('declares entity ids as uuid and uses v4 UUIDs in the examples', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      for (const [key, p] of Object.entries(props(def))) {
        if (UUID_FIELDS.includes(key)) {
          assert.equal(p['format'], 'uuid', `${def.type}.${key}`);
          assert.equal(p['type'], 'string', `${def.type}.${key}`);
        }
      }
      for (const key of uuidKeys(def)) assert.match(String(def.example[key]), UUID_V4_RE, `${def.type}.${key}`);
    }
  });

  it('synchronization connectionId is an opaque (non-GUID) id string', () => {
    const def = byType('synchronization.jobCompleted.v1');
    const validate = validatorFor(def);
    assert.notEqual(props(def)['connectionId']?.['format'], 'uuid');
    assert.equal(validate({ ...def.example, connectionId: 'MWplZe9Uf0iR1IDMqyOMLqBN0_wHEVBGg_CzJmXdmE4' }), true);
    assert.equal(validate({ ...def.example, connectionId: '' }), false);
  });

  it('changeset ids, changeset indexes, enums, booleans and free text are constrained', () => {
    for (const type of ['iModels.namedVersionCreated.v1', 'iModels.changesReady.v1']) {
      const def = byType(type);
      const validate = validatorFor(def);
      const ok = (patch: Record<string, unknown>) => validate({ ...def.example, ...patch });
      assert.equal(ok({ changesetId: 'a'.repeat(40) }), true);
      assert.equal(ok({ changesetId: 'A'.repeat(40) }), false, 'upper-case hex');
      assert.equal(ok({ changesetId: 'a'.repeat(39) }), false, '39 chars');
      assert.equal(ok({ changesetId: 'a'.repeat(41) }), false, '41 chars');
      assert.equal(ok({ changesetId: 'g'.repeat(40) }), false, 'non-hex');
      assert.equal(ok({ changesetIndex: 0 }), true);
      assert.equal(ok({ changesetIndex: -1 }), false);
      assert.equal(ok({ changesetIndex: 1.5 }), false);
      assert.equal(ok({ changesetIndex: '12' }), false);
      assert.equal(ok({ imodelId: 'not-a-uuid' }), false);
    }

    const member = byType('accessControl.memberAdded.v1');
    for (const memberType of ['User', 'Group', 'ServiceApplication']) {
      assert.equal(validatorFor(member)({ ...member.example, memberType }), true, memberType);
    }
    assert.equal(validatorFor(member)({ ...member.example, memberType: 'Robot' }), false);
    assert.equal(validatorFor(member)({ ...member.example, roleName: '' }), false);

    const itwin = byType('iTwins.iTwinCreated.v1');
    assert.deepEqual(props(itwin)['accountOwnerType']?.['enum'], ['Organization', 'User']);
    assert.deepEqual(props(itwin)['iTwinClass']?.['enum'], ['Thing', 'Endeavor', 'Account']);
    assert.equal(validatorFor(itwin)({ ...itwin.example, iTwinClass: 'Project' }), false);

    const ce = byType('changedElements.jobCompleted.v1');
    assert.equal(validatorFor(ce)({ ...ce.example, jobSucceeded: false }), true);
    assert.equal(validatorFor(ce)({ ...ce.example, jobSucceeded: 'true' }), false);

    const tr = byType('transformations.jobCompleted.v1');
    assert.equal(validatorFor(tr)({ ...tr.example, status: 'Aborted' }), true);
    assert.equal(validatorFor(tr)({ ...tr.example, status: 'Started' }), false);

    for (const def of BUILTIN_EVENT_TYPES) {
      for (const [key, p] of Object.entries(props(def))) {
        if (p['type'] === 'string' && p['format'] === undefined && p['enum'] === undefined && p['pattern'] === undefined) {
          assert.equal(p['minLength'], 1, `${def.type}.${key} minLength`);
          assert.equal(typeof p['maxLength'], 'number', `${def.type}.${key} maxLength`);
        }
      }
    }
  });

  it('tolerates additional (future) content properties', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      assert.equal(validatorFor(def)({ ...def.example, someFutureField: 42 }), true, def.type);
    }
  });
});

describe('freshExample', () => {
  describe('built-in types: output validates and every id is regenerated', () => {
    for (const def of BUILTIN_EVENT_TYPES) {
      it(def.type, () => {
        const before = structuredClone(def.example);
        const a = freshExample(def);
        const b = freshExample(def);
        const validate = validatorFor(def);
        assert.equal(validate(a), true, JSON.stringify(validate.errors));
        assert.equal(validate(b), true, JSON.stringify(validate.errors));
        assert.deepEqual(def.example, before, 'example must not be mutated');
        assert.notEqual(a, def.example);
        assert.deepEqual(Object.keys(a), Object.keys(def.example));

        const regenerated = new Set(uuidKeys(def));
        if ('changesetId' in def.example) regenerated.add('changesetId');
        for (const key of regenerated) {
          assert.notEqual(a[key], def.example[key], `${key} should differ from the example`);
          assert.notEqual(a[key], b[key], `${key} should differ between calls`);
        }
        if ('changesetIndex' in def.example) {
          assert.ok(Number.isInteger(a['changesetIndex']) && (a['changesetIndex'] as number) > 0);
          regenerated.add('changesetIndex');
        }
        for (const key of Object.keys(def.example)) {
          if (!regenerated.has(key)) assert.deepEqual(a[key], def.example[key], `${key} should be copied`);
        }
      });
    }
  });

  it('regenerated changeset ids are 40 lower-case hex chars', () => {
    const def = byType('iModels.namedVersionCreated.v1');
    for (let i = 0; i < 20; i++) assert.match(String(freshExample(def)['changesetId']), /^[0-9a-f]{40}$/);
  });

  it('works on a custom schema: replaces uuid fields, keeps the rest', () => {
    const def = {
      contentSchema: {
        type: 'object',
        properties: { a: { type: 'string', format: 'uuid' }, b: { type: 'string' } },
      },
      example: { a: 'a4f8b0de-2f73-4c33-9d8a-9b1f0a6c2e11', b: 'keep me' },
    };
    const out = freshExample(def);
    assert.match(String(out['a']), UUID_V4_RE);
    assert.notEqual(out['a'], def.example.a);
    assert.equal(out['b'], 'keep me');
    assert.equal(def.example.a, 'a4f8b0de-2f73-4c33-9d8a-9b1f0a6c2e11');
  });

  it('is driven by the schema: other hex-40 spellings, index bounds, nested values, no properties', () => {
    const def = {
      contentSchema: {
        type: 'object',
        properties: {
          sha: { type: 'string', pattern: '^[a-fA-F0-9]{40}$' },
          short: { type: 'string', pattern: '^[0-9a-f]{8}$' },
          changesetIndex: { type: 'integer', minimum: 10, maximum: 12 },
          nested: { type: 'object' },
          extra: { type: 'string', format: 'uuid' },
        },
      },
      example: { sha: 'ab'.repeat(20), short: 'deadbeef', changesetIndex: 11, nested: { x: [1, 2] } },
    };
    const out = freshExample(def);
    assert.match(String(out['sha']), /^[0-9a-f]{40}$/);
    assert.notEqual(out['sha'], def.example.sha);
    assert.equal(out['short'], 'deadbeef');
    assert.ok([10, 11, 12].includes(out['changesetIndex'] as number));
    assert.deepEqual(out['nested'], { x: [1, 2] });
    assert.notEqual(out['nested'], def.example.nested, 'deep copy');
    assert.ok(!('extra' in out), 'does not invent properties missing from the example');

    const bare = freshExample({ contentSchema: { type: 'object' }, example: { k: 'v' } });
    assert.deepEqual(bare, { k: 'v' });
  });
});
