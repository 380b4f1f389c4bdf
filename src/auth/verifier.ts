import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { errors } from '../contract/errors.ts';
import type { AuthConfig } from '../config/load.ts';
import { principalFromClaims, type Principal } from './principal.ts';

export interface TokenVerifier {
  /** Resolves with the caller, or rejects with a 401 ApiError. */
  verify(token: string): Promise<Principal>;
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CACHE_LIMIT = 10_000;

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'The authorization token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The authorization token is not valid: ${err.claim} claim check failed.`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The authorization token signature is not valid.';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'The authorization token was signed with an unknown key.';
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JOSEError && err.code === 'ERR_JWKS_INVALID') {
    return 'The authorization token cannot be checked right now.';
  }
  return 'The authorization token is not valid.';
}

/**
 * Verifies JWTs against a key set (the built-in issuer's or a remote JWKS). Verified
 * tokens are cached until they expire: a token's claims cannot change, and the cache
 * spares a signature check on every request of a busy producer.
 */
export function createTokenVerifier(auth: AuthConfig, keys: { local: JSONWebKeySet } | { remoteUrl: string }, now: () => number): TokenVerifier {
  const getKey: JWTVerifyGetKey = 'local' in keys ? createLocalJWKSet(keys.local) : createRemoteJWKSet(new URL(keys.remoteUrl));
  const cache = new Map<string, { principal: Principal; exp: number }>();

  return {
    async verify(token) {
      const cached = cache.get(token);
      if (cached !== undefined && cached.exp * 1000 > now()) return cached.principal;
      let payload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: auth.issuer,
          audience: auth.audience,
          algorithms: ALGORITHMS,
          requiredClaims: ['exp'],
          clockTolerance: 30,
          currentDate: new Date(now()),
        }));
      } catch (err) {
        throw errors.invalidToken(describe(err));
      }
      const principal = principalFromClaims(payload, auth.claims);
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(token, { principal, exp: payload.exp! });
      return principal;
    },
  };
}
