/**
 * Every setting of the program, in one table: its flag, its environment variable, its
 * default and how its value is checked. The CLI builds its options from this table, the
 * loader validates against it, and the README's configuration table is written from it,
 * so the three cannot drift apart.
 */

export type SettingKind =
  | { type: 'int'; min: number; max: number }
  | { type: 'string'; secret?: boolean }
  | { type: 'bool' }
  | { type: 'url'; protocols: string[] }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list' };

/** Which commands read the setting: `store` settings are needed by every command that opens the data store. */
export type SettingGroup = 'store' | 'server' | 'auth' | 'delivery';

export interface SettingSpec {
  flag: string;
  env: string;
  kind: SettingKind;
  /** The default as the user would write it; undefined means "not set". */
  default?: string;
  group: SettingGroup;
  description: string;
}

export const SETTINGS = {
  // --- data store
  dataDir: { flag: '--data-dir', env: 'DATA_DIR', kind: { type: 'string' }, default: './data', group: 'store',
    description: 'Directory of the embedded SQLite store and the generated encryption key.' },
  encryptionKey: { flag: '--encryption-key', env: 'ENCRYPTION_KEY', kind: { type: 'string', secret: true }, group: 'store',
    description: '32-byte key (64 hex characters or base64) that encrypts webhook secrets and signing keys at rest. Generated into DATA_DIR/encryption.key (mode 0600) when unset.' },
  logLevel: { flag: '--log-level', env: 'LOG_LEVEL', kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', group: 'store',
    description: 'Level of the JSON logs written to standard output.' },

  // --- HTTP server
  host: { flag: '--host', env: 'HOST', kind: { type: 'string' }, default: '127.0.0.1', group: 'server',
    description: 'Interface to listen on (0.0.0.0 for all).' },
  port: { flag: '--port', env: 'PORT', kind: { type: 'int', min: 0, max: 65535 }, default: '3000', group: 'server',
    description: 'TCP port to listen on (0 picks a free one).' },
  publicUrl: { flag: '--public-url', env: 'PUBLIC_URL', kind: { type: 'url', protocols: ['http:', 'https:'] }, group: 'server',
    description: 'Externally visible base URL, used in links and as the built-in issuer. Defaults to http://HOST:PORT.' },
  rateLimitMax: { flag: '--rate-limit-max', env: 'RATE_LIMIT_MAX', kind: { type: 'int', min: 0, max: 100_000_000 }, default: '6000', group: 'server',
    description: 'Requests each client may make per rate-limit window (0 turns the limit off).' },
  rateLimitWindowSeconds: { flag: '--rate-limit-window', env: 'RATE_LIMIT_WINDOW_SECONDS', kind: { type: 'int', min: 1, max: 86_400 }, default: '60', group: 'server',
    description: 'Length of the rate-limit window in seconds.' },
  trustProxy: { flag: '--trust-proxy', env: 'TRUST_PROXY', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Trust X-Forwarded-* headers (when behind a reverse proxy).' },
  logRequests: { flag: '--log-requests', env: 'LOG_REQUESTS', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Log one line per HTTP request.' },

  allowInsecureCallbacks: { flag: '--allow-insecure-callbacks', env: 'ALLOW_INSECURE_CALLBACKS', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Accept http:// callback URLs (development only).' },

  // --- identity
  builtinIssuer: { flag: '--builtin-issuer', env: 'BUILTIN_ISSUER', kind: { type: 'bool' }, group: 'auth',
    description: 'Serve /oauth/token and /.well-known/jwks.json and trust the tokens they issue. On unless AUTH_JWKS_URL is set.' },
  authJwksUrl: { flag: '--auth-jwks-url', env: 'AUTH_JWKS_URL', kind: { type: 'url', protocols: ['http:', 'https:'] }, group: 'auth',
    description: 'JWKS of an external OAuth2 issuer whose tokens the API accepts (turns the built-in issuer off).' },
  authIssuer: { flag: '--auth-issuer', env: 'AUTH_ISSUER', kind: { type: 'string' }, group: 'auth',
    description: 'Expected `iss` of tokens. Defaults to PUBLIC_URL with the built-in issuer; required with AUTH_JWKS_URL.' },
  authAudience: { flag: '--auth-audience', env: 'AUTH_AUDIENCE', kind: { type: 'string' }, default: 'itwin-platform', group: 'auth',
    description: 'Expected `aud` of tokens.' },
  claimClientId: { flag: '--claim-client-id', env: 'AUTH_CLAIM_CLIENT_ID', kind: { type: 'string' }, default: 'client_id', group: 'auth',
    description: 'Claim that names the calling application.' },
  claimSubject: { flag: '--claim-subject', env: 'AUTH_CLAIM_SUBJECT', kind: { type: 'string' }, default: 'sub', group: 'auth',
    description: 'Claim that names the subject (equal to the client id for a service application).' },
  claimAccount: { flag: '--claim-account', env: 'AUTH_CLAIM_ACCOUNT', kind: { type: 'string' }, default: 'org', group: 'auth',
    description: 'Claim that carries the caller\'s account id.' },
  claimScope: { flag: '--claim-scope', env: 'AUTH_CLAIM_SCOPE', kind: { type: 'string' }, default: 'scope', group: 'auth',
    description: 'Claim that carries the space-separated scopes.' },
  tokenTtlSeconds: { flag: '--token-ttl', env: 'TOKEN_TTL_SECONDS', kind: { type: 'int', min: 60, max: 86_400 }, default: '3600', group: 'auth',
    description: 'Lifetime of tokens from the built-in issuer, in seconds.' },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
