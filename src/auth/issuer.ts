import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { AuthConfig } from '../config/load.ts';
import { sealedFor, type SecretBox } from '../crypto/secretBox.ts';
import type { ClientRecord, Store } from '../store/types.ts';

const ALG = 'RS256';

/**
 * The client's token generation at issue (ClientRecord.tokenGeneration): the verifier
 * accepts the token only while the client exists with that generation (clientLiveness.ts).
 * Tokens without it were signed outside the token endpoint (by the CLI with the store's key).
 */
export const GENERATION_CLAIM = 'gen';

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/**
 * The built-in OAuth2 authorization server for service applications: it signs
 * client-credentials tokens with a key generated once and kept (sealed) in the store, and
 * publishes the public half as a JWKS.
 */
export interface BuiltinIssuer {
  jwks(): JSONWebKeySet;
  issue(client: ClientRecord, scopes: string[]): Promise<IssuedToken>;
}

/** A signing key of the built-in issuer, its private half opened. */
export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

/** The issuer's signing keys, their private halves opened with the data's key. */
export async function loadSigningKeys(store: Pick<Store, 'listSigningKeys'>, box: SecretBox): Promise<SigningKey[]> {
  const records = await store.listSigningKeys();
  return Promise.all(
    records.map(async (r) => {
      const privateJwk = JSON.parse(box.open(r.privateJwkSealed, sealedFor.signingKey(r.kid))) as JWK;
      return { kid: r.kid, alg: r.alg, publicJwk: r.publicJwk as JWK, privateKey: (await importJWK(privateJwk, r.alg)) as CryptoKey };
    }),
  );
}

/**
 * Signs an access token: `claims` (named as the verifier reads them, AUTH_CLAIM_*), for
 * `audience`, from `issuer`, valid from `issuedAt` (seconds) for `ttlSeconds`, with a fresh
 * jti. The one place where a token of this service is minted (the issuer's token endpoint,
 * and `events trigger`'s local token).
 */
export function signAccessToken(
  key: SigningKey,
  token: { claims: JWTPayload; issuer: string; audience: string; issuedAt: number; ttlSeconds: number },
): Promise<string> {
  return new SignJWT(token.claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(token.issuer)
    .setAudience(token.audience)
    .setIssuedAt(token.issuedAt)
    .setNotBefore(token.issuedAt)
    .setExpirationTime(token.issuedAt + token.ttlSeconds)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

async function createKey(store: Store, box: SecretBox, now: number): Promise<void> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  await store.insertFirstSigningKey({
    kid,
    alg: ALG,
    publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' },
    privateJwkSealed: box.seal(JSON.stringify(privateJwk), sealedFor.signingKey(kid)),
    createdAt: now,
  });
}

export async function createBuiltinIssuer(deps: {
  store: Store;
  box: SecretBox;
  auth: AuthConfig;
  now: () => number;
}): Promise<BuiltinIssuer> {
  const { store, box, auth, now } = deps;
  let keys = await loadSigningKeys(store, box);
  if (keys.length === 0) {
    await createKey(store, box, now());
    // Reload rather than use our own key: another process may have stored its key first.
    keys = await loadSigningKeys(store, box);
  }
  const signing = keys[0]!;
  const jwks: JSONWebKeySet = { keys: keys.map((k) => k.publicJwk) };
  const claims = auth.claims;

  return {
    jwks: () => jwks,
    async issue(client, scopes) {
      const scope = scopes.join(' ');
      const accessToken = await signAccessToken(signing, {
        claims: {
          sub: client.clientId,
          [claims.clientId]: client.clientId,
          [claims.subject]: client.clientId,
          [claims.account]: client.accountId,
          [claims.scope]: scope,
          name: client.name,
          [GENERATION_CLAIM]: client.tokenGeneration,
        },
        issuer: auth.issuer,
        audience: auth.audience,
        issuedAt: Math.floor(now() / 1000),
        ttlSeconds: auth.tokenTtlSeconds,
      });
      return { accessToken, expiresIn: auth.tokenTtlSeconds, scope };
    },
  };
}
