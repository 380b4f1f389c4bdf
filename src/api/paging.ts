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

/** A continuation token for a list in creation order (store KeyPage): the last item's key, wrapped like the numeric ones. */
export function encodeKeyCursor(key: string[]): string {
  return Buffer.from(`k1:${JSON.stringify(key)}`, 'utf8').toString('base64url');
}

/** The key in a token this server issued for a list of `parts` key parts, or undefined. */
export function decodeKeyCursor(token: string, parts: number): string[] | undefined {
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  if (!text.startsWith('k1:')) return undefined;
  try {
    const key = JSON.parse(text.slice(3)) as unknown;
    const ok = Array.isArray(key) && key.length === parts && key.every((k) => typeof k === 'string') && /^\d{1,15}$/.test(key[0] as string);
    return ok ? (key as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `$top` and `$continuationToken` of an admin list, whose schema the route validated: a
 * token that is not one of this list's is a 422 `code`.
 */
export function readKeyListQuery(query: { $top?: number; $continuationToken?: string }, code: ValidationCode, parts: number): { top: number; after: string[] | undefined } {
  let after: string[] | undefined;
  if (query.$continuationToken !== undefined) {
    after = decodeKeyCursor(query.$continuationToken, parts);
    if (after === undefined) throw errors.validation(code, [detail('InvalidValue', '$continuationToken', '$continuationToken is not a token this server issued.')]);
  }
  return { top: query.$top ?? DEFAULT_TOP, after };
}
