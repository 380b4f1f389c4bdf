import AjvModule, { type Options, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { dropNullMembersFirst } from './nullMembers.ts';

// ajv and ajv-formats are CommonJS; under Node ESM the class and the plugin sit on `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

export type { ValidateFunction, ErrorObject } from 'ajv';

/** An Ajv (JSON Schema draft-07) with the standard formats (uuid, date-time, uri, ...). */
export function createAjv(options: Options): InstanceType<typeof Ajv> {
  const ajv = new Ajv(options);
  addFormats(ajv);
  return ajv;
}

/** How the contract's own schemas (schemas/) are checked, wherever a request is validated. */
export const CONTRACT_SCHEMA_OPTIONS: Options = {
  allErrors: true, // one detail per problem, not only the first
  removeAdditional: false, // unknown properties are errors, never silently dropped
  useDefaults: false,
  strict: true,
  keywords: ['example'],
};

/** A validator for a body schema checked by hand (e.g. one branch of a union), as the routes check theirs (null members dropped first). */
export function compileBodySchema(schema: object): ValidateFunction {
  return dropNullMembersFirst(schema, createAjv({ ...CONTRACT_SCHEMA_OPTIONS, coerceTypes: false }).compile(schema));
}
