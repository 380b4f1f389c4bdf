import type { FastifySchemaCompiler } from 'fastify';
import { CONTRACT_SCHEMA_OPTIONS, createAjv } from '../contract/ajv.ts';

/**
 * Two validators: bodies are never coerced (a "true" string is not a boolean), while
 * query strings are (every query value arrives as a string).
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = createAjv({ ...CONTRACT_SCHEMA_OPTIONS, coerceTypes: false });
  const query = createAjv({ ...CONTRACT_SCHEMA_OPTIONS, coerceTypes: true });
  return ({ schema, httpPart }) =>
    (httpPart === 'querystring' ? query : body).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
}
