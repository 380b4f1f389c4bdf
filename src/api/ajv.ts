import type { Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { createAjv, type ValidateFunction } from '../json/ajv.ts';

const BASE: Options = {
  allErrors: true, // one detail per problem, not only the first
  removeAdditional: false, // unknown properties are errors, never silently dropped
  useDefaults: false,
  strict: true,
  keywords: ['example'],
};

/** A validator for a body schema checked by hand (e.g. one branch of a union), with the route options. */
export function compileBodySchema(schema: object): ValidateFunction {
  return createAjv({ ...BASE, coerceTypes: false }).compile(schema);
}

/**
 * Two validators: bodies are never coerced (a "true" string is not a boolean), while
 * query strings are (every query value arrives as a string).
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = createAjv({ ...BASE, coerceTypes: false });
  const query = createAjv({ ...BASE, coerceTypes: true });
  return ({ schema, httpPart }) =>
    (httpPart === 'querystring' ? query : body).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
}
