import type { Command } from 'commander';
import { loadSigningKeys, signAccessToken, type SigningKey } from '../auth/issuer.ts';
import { loadStoreConfig } from '../config/load.ts';
import { openStore } from '../store/open.ts';
import { describeApiError } from './apiErrors.ts';
import { UsageError } from './errors.ts';
import { http } from './http.ts';
import { flagValues } from './options.ts';
import { dataDirName, embeddedStoreMissing } from './store.ts';

/** The application a locally minted token names (client_id = sub). */
export const CLI_CLIENT_ID = 'itwin-webhooks-cli';
export const PUBLISH_SCOPE = 'webhooks:publish';
const LOCAL_TOKEN_TTL_SECONDS = 300;
/** A token this close to its expiry is replaced before the next request. */
const TOKEN_MARGIN_SECONDS = 30;

export interface TokenSource {
  /** A bearer token valid for at least the next few seconds. */
  get(): Promise<string>;
  /** Said after a 401 of the API, to help find the cause. */
  hint: string;
}

function cached(fetchToken: () => Promise<{ token: string; expiresAt: number }>, hint: string): TokenSource {
  let current: { token: string; expiresAt: number } | undefined;
  return {
    hint,
    async get() {
      if (current === undefined || current.expiresAt - TOKEN_MARGIN_SECONDS * 1000 < Date.now()) current = await fetchToken();
      return current.token;
    },
  };
}

/** Client credentials at the token endpoint (the built-in issuer's, or --token-url). */
export function clientCredentials(base: string, tokenUrl: string, clientId: string, clientSecret: string): TokenSource {
  return cached(async () => {
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const answer = await http(base, tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    const body = answer.json as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (answer.status !== 200 || typeof body?.access_token !== 'string') {
      throw new UsageError(`the token endpoint ${tokenUrl} refused client ${clientId}: ${describeApiError(answer)}`);
    }
    const ttl = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 3600;
    return { token: body.access_token, expiresAt: Date.now() + ttl * 1000 };
  }, `client ${clientId} needs scope ${PUBLISH_SCOPE}`);
}

export interface LocalAuth {
  audience: string;
  claims: { clientId: string; subject: string; account: string; scope: string };
}

/**
 * Zero-setup credentials for a local server: a short-lived token signed with the built-in
 * issuer's own key, read from the server's data store.
 */
export async function localToken(base: string, cmd: Command, auth: LocalAuth, itwinId: string | undefined, accountId: string | undefined): Promise<{ source: TokenSource; accountId: string | undefined }> {
  const discovery = await http(base, `${base}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (discovery.status === 404) {
    throw new UsageError(
      `the server at ${base} has no built-in issuer (it trusts an external one): pass --client-id and --client-secret of a client with scope ${PUBLISH_SCOPE} (and --token-url of that issuer).`,
    );
  }
  const issuer = (discovery.json as { issuer?: unknown } | undefined)?.issuer;
  if (discovery.status !== 200 || typeof issuer !== 'string') {
    throw new UsageError(`the server at ${base} answered GET /.well-known/openid-configuration with ${describeApiError(discovery)}; is it an itwin-webhooks server?`);
  }
  const jwks = await http(base, `${base}/.well-known/jwks.json`, { headers: { accept: 'application/json' } });
  const serverKids = new Set(
    ((jwks.json as { keys?: Array<{ kid?: unknown }> } | undefined)?.keys ?? []).map((k) => k.kid).filter((k): k is string => typeof k === 'string'),
  );

  const storeConfig = loadStoreConfig(flagValues(cmd), process.env);
  const noCredentials = `or pass --client-id and --client-secret of a client with scope ${PUBLISH_SCOPE}`;
  // With SQLite, do not create an empty store (and a new key) in the wrong directory.
  if (embeddedStoreMissing(storeConfig)) {
    throw new UsageError(`no data store in ${dataDirName(storeConfig.dataDir)} to sign a local token with: pass the server's --data-dir, ${noCredentials}.`);
  }
  const { store, box } = await openStore(storeConfig);
  let key: SigningKey;
  try {
    const found = (await loadSigningKeys(store, box)).find((k) => serverKids.has(k.kid));
    if (found === undefined) {
      throw new UsageError(
        `the signing keys in ${storeConfig.dataDir} are not the ones the server at ${base} uses: pass the server's --data-dir, ${noCredentials}.`,
      );
    }
    key = found;
    if (accountId === undefined && itwinId !== undefined) accountId = await store.getItwinAccount(itwinId);
  } finally {
    await store.close();
  }
  const org = accountId;
  const source = cached(async () => {
    const issuedAt = Math.floor(Date.now() / 1000);
    const token = await signAccessToken(key, {
      claims: {
        sub: CLI_CLIENT_ID,
        [auth.claims.clientId]: CLI_CLIENT_ID,
        [auth.claims.subject]: CLI_CLIENT_ID,
        ...(org === undefined ? {} : { [auth.claims.account]: org }),
        [auth.claims.scope]: PUBLISH_SCOPE,
      },
      issuer,
      audience: auth.audience,
      issuedAt,
      ttlSeconds: LOCAL_TOKEN_TTL_SECONDS,
    });
    return { token, expiresAt: (issuedAt + LOCAL_TOKEN_TTL_SECONDS) * 1000 };
  }, `the locally signed token was refused: give the server's --auth-audience and AUTH_CLAIM_* settings, ${noCredentials}`);
  return { source, accountId };
}
