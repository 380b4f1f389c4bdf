import type { ErrorObject } from './ajv.ts';
import { detail, type ErrorDetail } from './errors.ts';
import { EVENT_TYPE_PATTERN } from './schemas/eventTypes.ts';
import { UUID_PATTERN } from './schemas/common.ts';
import { SECRET_PATTERN } from './schemas/webhooks.ts';
import { CLIENT_ID_PATTERN } from './schemas/admin.ts';

/** What a schema check reports of one problem (Ajv's errors, as Fastify passes them on too). */
export type SchemaError = Pick<ErrorObject, 'keyword' | 'instancePath' | 'params' | 'message'>;

/** Plain words for the patterns of our schemas, instead of echoing a regular expression. */
const PATTERN_MESSAGES: Record<string, string> = {
  [UUID_PATTERN]: 'must be a UUID',
  [SECRET_PATTERN]: 'must be 32 to 256 printable ASCII characters without spaces',
  [EVENT_TYPE_PATTERN]: 'must have the form <service>.<action>.v<N>, e.g. iModels.iModelCreated.v1',
  [CLIENT_ID_PATTERN]: 'must be 1 to 256 printable ASCII characters without spaces',
};

function messageOf(e: SchemaError): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'pattern') return PATTERN_MESSAGES[String(params.pattern)] ?? 'has an invalid format';
  if (e.keyword === 'format' && params.format === 'uuid') return PATTERN_MESSAGES[UUID_PATTERN]!;
  return e.message ?? 'is not valid';
}

/** `/eventTypes/0` → `eventTypes[0]`, so a target reads like the property a client wrote. */
export function toTarget(instancePath: string, property?: string): string {
  // instancePath is a JSON pointer (escaped); `property` is a raw name from the body.
  const parts = instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => ({ key: p.replace(/~1/g, '/').replace(/~0/g, '~'), index: /^\d+$/.test(p) }));
  if (property !== undefined) parts.push({ key: property, index: false });
  let target = '';
  for (const { key, index } of parts) target += index ? `[${key}]` : target === '' ? key : `.${key}`;
  return target;
}

/** The top-level properties that a schema check found wrong (unknown properties excluded). */
export function invalidTopLevel(errs: SchemaError[]): Set<string> {
  const out = new Set<string>();
  for (const e of errs) {
    const first = e.instancePath.split('/')[1];
    if (first !== undefined) out.add(first.replace(/~1/g, '/').replace(/~0/g, '~'));
    else if (e.keyword !== 'additionalProperties' && e.keyword !== 'required' && e.keyword !== 'minProperties') out.add('*');
  }
  return out;
}

/**
 * Turns schema-validation errors into one contract detail per problem. Properties named in
 * `readOnly` are reported as ReadOnlyProperty instead of UnknownProperty; `root` names the
 * whole input when it is not an object at all.
 */
export function detailsFromSchemaErrors(
  errs: SchemaError[],
  readOnly: readonly string[] = [],
  root = 'body',
): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const seen = new Set<string>();
  const add = (d: ErrorDetail) => {
    if (seen.has(d.target)) return;
    seen.add(d.target);
    out.push(d);
  };
  for (const e of errs) {
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'required') {
      const target = toTarget(e.instancePath, String(params.missingProperty));
      add(detail('MissingRequiredProperty', target, `${target} is required.`));
    } else if (e.keyword === 'additionalProperties') {
      const target = toTarget(e.instancePath, String(params.additionalProperty));
      if (e.instancePath === '' && readOnly.includes(target)) {
        add(detail('ReadOnlyProperty', target, `${target} is read-only and cannot be changed.`));
      } else {
        add(detail('UnknownProperty', target, `${target} is not a known property.`));
      }
    } else if (e.keyword === 'minProperties' && e.instancePath === '') {
      add(detail('InvalidValue', root, `The ${root} must set at least one property.`));
    } else {
      const target = toTarget(e.instancePath) || root;
      add(detail('InvalidValue', target, `${target} ${messageOf(e)}.`));
    }
  }
  return out;
}
