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
import type { ClientLiveness } from './clientLiveness.ts';
import { GENERATION_CLAIM } from './issuer.ts';
import { principalFromClaims, type Principal } from './principal.ts';

export interface TokenVerifier {
  /** Resolves with the caller, or rejects with a 401 ApiError. */
  verify(token: string): Promise<Principal>;
  /** A client was deleted or its tokens revoked (or, with no id, changes may have been missed): check again. */
  forgetClient(clientId?: string): void;
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
export function createTokenVerifier(
  auth: AuthConfig,
  keys: { local: JSONWebKeySet } | { remoteUrl: string },
  now: () => number,
  /** With the built-in issuer: its tokens are good only while their client is (clientLiveness.ts). */
  liveness?: ClientLiveness,
): TokenVerifier {
  const getKey: JWTVerifyGetKey = 'local' in keys ? createLocalJWKSet(keys.local) : createRemoteJWKSet(new URL(keys.remoteUrl));
  const cache = new Map<string, { principal: Principal; exp: number; generation: number | undefined }>();

  /** A token of the token endpoint names its client's generation; it fails once the client is gone or revoked its tokens. */
  const live = async (principal: Principal, generation: number | undefined): Promise<Principal> => {
    if (liveness === undefined || generation === undefined || principal.clientId === undefined) return principal;
    if (!(await liveness.accepts(principal.clientId, generation))) throw errors.invalidToken('The authorization token has been revoked.');
    return principal;
  };

  return {
    forgetClient: (clientId) => liveness?.forget(clientId),
    async verify(token) {
      const cached = cache.get(token);
      if (cached !== undefined && cached.exp * 1000 > now()) return live(cached.principal, cached.generation);
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
      const claimed = payload[GENERATION_CLAIM];
      const generation = typeof claimed === 'number' && Number.isInteger(claimed) ? claimed : undefined;
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(token, { principal, exp: payload.exp!, generation });
      return live(principal, generation);
    },
  };
}
