import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply } from 'fastify';
import Type from 'typebox';
import { HashQueueFullError } from '../../auth/clientSecrets.ts';
import { checkClientSecret } from '../../auth/clients.ts';
import type { BuiltinIssuer } from '../../auth/issuer.ts';
import { KNOWN_SCOPES, parseScopeList } from '../../auth/scopes.ts';
import { createTokenThrottle } from '../../auth/tokenThrottle.ts';
import type { AppDeps } from '../deps.ts';
import { linkBase } from '../links.ts';

/** Where the token endpoint answers: our own path, and the one Bentley's sign-in service has (named in discovery). */
export const TOKEN_PATHS = ['/oauth/token', '/connect/token'] as const;

/** RFC 6749 §5.2 error codes. */
type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  /** RFC 6749 §4.1.2.1: throttled or overloaded, try again later (with Retry-After). */
  | 'temporarily_unavailable';

class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly basicChallenge: boolean;
  readonly retryAfter: number | undefined;
  constructor(code: OAuthErrorCode, description: string, status = 400, basicChallenge = false, retryAfter?: number) {
    super(description);
    this.code = code;
    this.status = status;
    this.basicChallenge = basicChallenge;
    this.retryAfter = retryAfter;
  }
}

function sendOAuthError(reply: FastifyReply, e: OAuthError): FastifyReply {
  if (e.basicChallenge) reply.header('www-authenticate', 'Basic realm="itwin-webhooks", charset="UTF-8"');
  if (e.retryAfter !== undefined) reply.header('retry-after', String(e.retryAfter));
  return reply
    .code(e.status)
    .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
    .type('application/json; charset=utf-8')
    .send({ error: e.code, error_description: e.message });
}

/** Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded). */
function parseBasic(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined || !/^Basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_request', 'The Basic credentials must be client_id:client_secret.');
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError('invalid_request', 'The Basic credentials are not form-urlencoded.');
  }
}

const TokenRequest = Type.Object(
  {
    grant_type: Type.String({ description: 'Must be client_credentials.' }),
    client_id: Type.Optional(Type.String({ description: 'With client_secret_post; otherwise use HTTP Basic.' })),
    client_secret: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String({ description: 'Space-separated scopes; defaults to all the client may have.' })),
  },
  { additionalProperties: true },
);

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.String(),
});

const Jwks = Type.Object(
  { keys: Type.Array(Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description: 'A public JWK (RFC 7517).' })) },
  { title: 'JWKS' },
);

const Discovery = Type.Object(
  {
    issuer: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    grant_types_supported: Type.Array(Type.String()),
    token_endpoint_auth_methods_supported: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
    response_types_supported: Type.Array(Type.String()),
    subject_types_supported: Type.Array(Type.String()),
    id_token_signing_alg_values_supported: Type.Array(Type.String()),
  },
  { title: 'OpenIdConfiguration' },
);

const OAuthErrorBody = Type.Object({ error: Type.String(), error_description: Type.String() }, { description: 'RFC 6749 error.' });

/** The built-in OAuth2 authorization server (client credentials only) and its discovery documents. */
export const oauthRoutes =
  (deps: AppDeps, issuer: BuiltinIssuer): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { store, config, now } = deps;
    const throttle = createTokenThrottle(config.auth.tokenFailures);
    await app.register(formbody, { bodyLimit: 8 * 1024 });

    // Inside this scope failures use OAuth's error shape, as OAuth client libraries expect.
    app.setErrorHandler((err: FastifyError | OAuthError, request, reply) => {
      if (err instanceof OAuthError) return sendOAuthError(reply, err);
      if (err instanceof HashQueueFullError) {
        return sendOAuthError(reply, new OAuthError('temporarily_unavailable', 'Too many token requests are being checked; try again shortly.', 503, false, 1));
      }
      if ((err as FastifyError).statusCode !== undefined && (err as FastifyError).statusCode! < 500) {
        return sendOAuthError(reply, new OAuthError('invalid_request', 'The token request must be a form-urlencoded body with grant_type=client_credentials.'));
      }
      request.log.error({ err }, 'token request failed');
      return reply.code(500).send({ error: 'server_error', error_description: 'The server encountered an unexpected error.' });
    });

    // Also at /connect/token: clients of the hosted API derive `{authority}/connect/token` (Bentley's sign-in service).
    for (const url of TOKEN_PATHS) app.post(
      url,
      {
        bodyLimit: 8 * 1024,
        schema: {
          summary: 'Get an access token (client credentials)',
          description: 'OAuth2 token endpoint of the built-in issuer. Authenticate with HTTP Basic or client_id/client_secret in the form.',
          tags: ['OAuth2'],
          consumes: ['application/x-www-form-urlencoded'],
          body: TokenRequest,
          response: { 200: TokenResponse, 400: OAuthErrorBody, 401: OAuthErrorBody, 429: OAuthErrorBody, 503: OAuthErrorBody },
        },
      },
      async (request, reply) => {
        if (!String(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
          throw new OAuthError('invalid_request', 'The token request must be application/x-www-form-urlencoded.');
        }
        const form = request.body as Record<string, unknown>;
        for (const [key, value] of Object.entries(form)) {
          if (typeof value !== 'string') throw new OAuthError('invalid_request', `Parameter ${key} must appear once.`);
        }
        const basic = parseBasic(request.headers.authorization);
        if (basic !== undefined && (form.client_secret !== undefined || (form.client_id !== undefined && form.client_id !== basic.id))) {
          throw new OAuthError('invalid_request', 'Use one client authentication method, not both.');
        }
        if (form.grant_type !== 'client_credentials') {
          throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported.');
        }
        const clientId = basic?.id ?? (form.client_id as string | undefined);
        const secret = basic?.secret ?? (form.client_secret as string | undefined);
        if (clientId === undefined || secret === undefined || clientId === '' || secret === '') {
          throw new OAuthError('invalid_client', 'Client authentication is required.', 401, basic !== undefined);
        }
        // Checked before any hashing, so that a flood of guesses costs next to nothing.
        const keys = { clientId, address: request.ip };
        const wait = throttle.retryAfter(keys, now());
        if (wait > 0) {
          request.log.warn({ clientId, address: request.ip }, 'token refused: too many failed attempts');
          throw new OAuthError('temporarily_unavailable', `Too many failed token requests; retry after ${wait} seconds.`, 429, false, wait);
        }
        const client = await store.getClient(clientId);
        if (!(await checkClientSecret(client, secret, now())) || client === undefined) {
          throttle.failed(keys, now());
          request.log.info({ clientId }, 'token refused: bad client credentials');
          throw new OAuthError('invalid_client', 'Client authentication failed.', 401, basic !== undefined);
        }
        throttle.succeeded(keys);
        let scopes = client.scopes;
        if (typeof form.scope === 'string' && form.scope.trim() !== '') {
          const requested = parseScopeList(form.scope);
          const refused = requested.filter((s) => !client.scopes.includes(s));
          if (refused.length > 0) throw new OAuthError('invalid_scope', `The client may not have the scopes: ${refused.join(' ')}.`);
          scopes = requested;
        }
        const token = await issuer.issue(client, scopes);
        request.log.info({ clientId, scopes }, 'token issued');
        return reply
          .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
          .send({ access_token: token.accessToken, token_type: 'Bearer' as const, expires_in: token.expiresIn, scope: token.scope });
      },
    );

    app.get(
      '/.well-known/jwks.json',
      { schema: { summary: 'Public keys of the built-in issuer (JWKS)', tags: ['OAuth2'], response: { 200: Jwks } } },
      async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(issuer.jwks()),
    );

    app.get(
      '/.well-known/openid-configuration',
      { schema: { summary: 'OAuth2 / OpenID discovery document of the built-in issuer', tags: ['OAuth2'], response: { 200: Discovery } } },
      async (request) => {
        const base = linkBase(request, config);
        return {
          issuer: config.auth.issuer,
          token_endpoint: `${base}${TOKEN_PATHS[1]}`,
          jwks_uri: `${base}/.well-known/jwks.json`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          scopes_supported: [...KNOWN_SCOPES],
          response_types_supported: ['token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
        };
      },
    );
  };
