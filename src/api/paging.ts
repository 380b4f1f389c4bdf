import { detail, errors, type ValidationCode } from './errors.ts';

/**
 * Continuation tokens are opaque to clients: a versioned, base64url-wrapped keyset
 * position. Clients must not build them; a token that does not decode is a 422.
 */
export function encodeCursor(position: number): string {
  return Buffer.from(`v1:${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(token: string, code: ValidationCode): number {
  const text = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  const match = /^v1:(\d{1,15})$/.exec(text);
  if (match === null) {
    throw errors.validation(code, [detail('InvalidValue', '$continuationToken', '$continuationToken is not a token this server issued.')]);
  }
  return Number(match[1]);
}
