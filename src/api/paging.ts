import type { FastifyRequest } from 'fastify';
import { detail, errors, type ErrorDetail, type ValidationCode } from '../contract/errors.ts';
import { detailsFromSchemaErrors, invalidTopLevel } from '../contract/validation.ts';

export const DEFAULT_TOP = 100;

/**
 * Continuation tokens are opaque to clients: a versioned, base64url-wrapped keyset
 * position. Clients must not build them; a token that does not decode is a 422.
 */
export function encodeCursor(position: number): string {
  return Buffer.from(`v1:${position}`, 'utf8').toString('base64url');
}

/** The position in a token this server issued, or undefined. */
export function decodeCursor(token: string): number | undefined {
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const match = /^v1:(\d{1,15})$/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Reads `$top` and `$continuationToken` of a list route (declared with attachValidation),
 * reporting every problem of the query string in one 422.
 */
export function readListQuery(request: FastifyRequest, code: ValidationCode): { top: number; after: number | undefined } {
  const schemaErrors = request.validationError?.validation ?? [];
  const problems: ErrorDetail[] = detailsFromSchemaErrors(schemaErrors, [], 'query');
  const invalid = invalidTopLevel(schemaErrors);
  const query = request.query as Record<string, unknown>;
  let after: number | undefined;
  if (typeof query.$continuationToken === 'string' && !invalid.has('$continuationToken')) {
    after = decodeCursor(query.$continuationToken);
    if (after === undefined) problems.push(detail('InvalidValue', '$continuationToken', '$continuationToken is not a token this server issued.'));
  }
  if (problems.length > 0) throw errors.validation(code, problems);
  return { top: query.$top === undefined ? DEFAULT_TOP : Number(query.$top), after };
}
