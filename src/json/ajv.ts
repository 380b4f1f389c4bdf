import AjvModule, { type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

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
