import type { FastifySchemaCompiler } from 'fastify';
import { CONTRACT_SCHEMA_OPTIONS, createAjv } from '../contract/ajv.ts';
import { dropNullMembersFirst } from '../contract/nullMembers.ts';

/**
 * Two validators: bodies are never coerced (a "true" string is not a boolean), while
 * query strings are (every query value arrives as a string). A body's null members mean
 * "not given" (contract §1): they are dropped before it is checked.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const body = createAjv({ ...CONTRACT_SCHEMA_OPTIONS, coerceTypes: false });
  const query = createAjv({ ...CONTRACT_SCHEMA_OPTIONS, coerceTypes: true });
  return ({ schema, httpPart }) => {
    if (httpPart === 'querystring') return query.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
    const validate = body.compile(schema as object);
    return (httpPart === 'body' ? dropNullMembersFirst(schema as object, validate) : validate) as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}
