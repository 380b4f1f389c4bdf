import type { JWTPayload } from 'jose';
import type { ClaimNames } from '../config/load.ts';

/** Who is calling, as read from a verified token. */
export interface Principal {
  /** The calling application (client id); undefined for tokens that name none. */
  clientId: string | undefined;
  subject: string | undefined;
  /** The caller's account (organization) id. */
  accountId: string | undefined;
  scopes: ReadonlySet<string>;
  /** A client-credentials token: it names an application and no user other than that application. */
  isServiceApp: boolean;
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const v = payload[name];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function principalFromClaims(payload: JWTPayload, names: ClaimNames): Principal {
  const clientId = stringClaim(payload, names.clientId);
  const subject = stringClaim(payload, names.subject);
  const rawScope = payload[names.scope];
  // Most issuers write a space-separated string; some (Azure AD `scp`, Okta) write an array.
  const scopes = typeof rawScope === 'string'
    ? rawScope.split(' ').filter(Boolean)
    : Array.isArray(rawScope)
      ? rawScope.filter((s): s is string => typeof s === 'string')
      : [];
  return {
    clientId,
    subject,
    accountId: stringClaim(payload, names.account),
    scopes: new Set(scopes),
    isServiceApp: clientId !== undefined && (subject === undefined || subject === clientId),
  };
}

export function hasAnyScope(principal: Principal, scopes: readonly string[]): boolean {
  return scopes.some((s) => principal.scopes.has(s));
}
