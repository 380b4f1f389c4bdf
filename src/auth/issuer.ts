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
} from 'jose';
import type { AuthConfig } from '../config/load.ts';
import type { SecretBox } from '../crypto/secretBox.ts';
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

interface LoadedKey {
  kid: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

async function loadKeys(store: Store, box: SecretBox): Promise<LoadedKey[]> {
  const records = await store.listSigningKeys();
  return Promise.all(
    records.map(async (r) => {
      const privateJwk = JSON.parse(box.open(r.privateJwkSealed, `signing-key:${r.kid}`)) as JWK;
      return { kid: r.kid, publicJwk: r.publicJwk as JWK, privateKey: (await importJWK(privateJwk, r.alg)) as CryptoKey };
    }),
  );
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
    privateJwkSealed: box.seal(JSON.stringify(privateJwk), `signing-key:${kid}`),
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
  let keys = await loadKeys(store, box);
  if (keys.length === 0) {
    await createKey(store, box, now());
    // Reload rather than use our own key: another process may have stored its key first.
    keys = await loadKeys(store, box);
  }
  const signing = keys[0]!;
  const jwks: JSONWebKeySet = { keys: keys.map((k) => k.publicJwk) };
  const claims = auth.claims;

  return {
    jwks: () => jwks,
    async issue(client, scopes) {
      const issuedAt = Math.floor(now() / 1000);
      const scope = scopes.join(' ');
      const accessToken = await new SignJWT({
        [claims.clientId]: client.clientId,
        [claims.account]: client.accountId,
        [claims.scope]: scope,
        name: client.name,
        [GENERATION_CLAIM]: client.tokenGeneration,
      })
        .setProtectedHeader({ alg: ALG, kid: signing.kid, typ: 'JWT' })
        .setIssuer(auth.issuer)
        .setAudience(auth.audience)
        .setSubject(client.clientId)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(issuedAt + auth.tokenTtlSeconds)
        .setJti(randomUUID())
        .sign(signing.privateKey);
      return { accessToken, expiresIn: auth.tokenTtlSeconds, scope };
    },
  };
}
