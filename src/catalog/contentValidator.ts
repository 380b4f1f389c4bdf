import { detail, type ErrorDetail } from '../contract/errors.ts';
import { toTarget } from '../contract/validation.ts';
import { createAjv, type ValidateFunction } from '../contract/ajv.ts';
import { contentPatternEngine } from './linearRegExp.ts';

/**
 * Compiles each event type's contentSchema once and checks event content against it.
 * Schemas are registered by administrators (scope webhooks:admin); strict mode is off so
 * that schemas written for other tools (with their own annotation keywords) still load.
 * Their patterns run in linear time (linearRegExp.ts): no schema can stall a publish.
 */
export interface ContentValidator {
  /** A message when `schema` is not a usable JSON Schema, else undefined. */
  checkSchema(schema: Record<string, unknown>): string | undefined;
  /** One detail per problem of `content` under `schema`; empty when it conforms. */
  validate(type: string, schema: Record<string, unknown>, content: unknown, target: string): ErrorDetail[];
}

export function createContentValidator(): ContentValidator {
  const options = { strict: false, allErrors: true, validateFormats: true, code: { regExp: contentPatternEngine } };
  const ajv = createAjv(options);
  // Each schema is compiled by an Ajv of its own: an Ajv keeps every schema it compiled by its
  // `$id`, so compiling one with an `$id` a second time (registration, then the first publish),
  // or two types' schemas with the same `$id`, would throw.
  const compileAlone = (schema: Record<string, unknown>) => createAjv(options).compile(schema);
  const compiled = new Map<string, { schemaText: string; fn: ValidateFunction }>();
  // The catalog hands out the same schema object for every event of a type: knowing it by
  // identity spares serializing the schema once per event of every publish.
  const bySchema = new WeakMap<object, ValidateFunction>();

  const compile = (type: string, schema: Record<string, unknown>): ValidateFunction => {
    const known = bySchema.get(schema);
    if (known !== undefined) return known;
    const schemaText = JSON.stringify(schema);
    const hit = compiled.get(type);
    const fn = hit !== undefined && hit.schemaText === schemaText ? hit.fn : compileAlone(schema);
    compiled.set(type, { schemaText, fn });
    bySchema.set(schema, fn);
    return fn;
  };

  return {
    checkSchema(schema) {
      try {
        if (!ajv.validateSchema(schema)) return ajv.errorsText(ajv.errors, { dataVar: 'contentSchema' });
        compileAlone(schema);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    validate(type, schema, content, target) {
      const fn = compile(type, schema);
      if (fn(content)) return [];
      const out: ErrorDetail[] = [];
      for (const e of fn.errors ?? []) {
        const params = e.params as Record<string, unknown>;
        if (e.keyword === 'required') {
          const t = `${target}.${toTarget(e.instancePath, String(params.missingProperty))}`;
          out.push(detail('MissingRequiredProperty', t, `${t} is required by ${type}.`));
        } else {
          const sub = toTarget(e.instancePath);
          const t = sub === '' ? target : `${target}.${sub}`;
          out.push(detail('InvalidValue', t, `${t} ${e.message ?? 'is not valid'}.`));
        }
      }
      return out;
    },
  };
}
