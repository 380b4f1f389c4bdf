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
  | { type: 'list' }
  /** A duration such as 250ms, 5s, 30m, 2h or 5d; parsed to milliseconds. */
  | { type: 'duration'; min: number; max: number }
  /** A comma-separated list of durations. */
  | { type: 'durations'; min: number; max: number };

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
    description: 'Directory of the embedded SQLite store and the generated encryption key. One server at a time may use it (it holds a lock on DATA_DIR/server.lock).' },
  databaseUrl: { flag: '--database-url', env: 'DATABASE_URL', kind: { type: 'url', protocols: ['postgres:', 'postgresql:'] }, group: 'store',
    description: 'PostgreSQL connection URL. When set, PostgreSQL is the store instead of SQLite (and ENCRYPTION_KEY is required).' },
  databaseSchema: { flag: '--database-schema', env: 'DATABASE_SCHEMA', kind: { type: 'string' }, default: 'itwin_webhooks', group: 'store',
    description: 'PostgreSQL schema that holds the tables (created by the migrations).' },
  databasePoolSize: { flag: '--database-pool-size', env: 'DATABASE_POOL_SIZE', kind: { type: 'int', min: 2, max: 1000 }, default: '20', group: 'store',
    description: 'Connections in the PostgreSQL pool of each process.' },
  encryptionKey: { flag: '--encryption-key', env: 'ENCRYPTION_KEY', kind: { type: 'string', secret: true }, group: 'store',
    description: '32-byte key (64 hex characters or base64) that encrypts webhook secrets and signing keys at rest. Generated into DATA_DIR/encryption.key (mode 0600) when unset.' },
  logLevel: { flag: '--log-level', env: 'LOG_LEVEL', kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', group: 'store',
    description: 'Level of the JSON logs written to standard output.' },

  // --- HTTP server
  host: { flag: '--host', env: 'HOST', kind: { type: 'string' }, default: '127.0.0.1', group: 'server',
    description: 'Interface to listen on (0.0.0.0 for all; then set PUBLIC_URL to the address clients use).' },
  port: { flag: '--port', env: 'PORT', kind: { type: 'int', min: 0, max: 65535 }, default: '3000', group: 'server',
    description: 'TCP port to listen on (0 picks a free one).' },
  publicUrl: { flag: '--public-url', env: 'PUBLIC_URL', kind: { type: 'url', protocols: ['http:', 'https:'] }, group: 'server',
    description: 'Externally visible base URL, used in links and as the built-in issuer. Defaults to http://HOST:PORT.' },
  role: { flag: '--role', env: 'ROLE', kind: { type: 'enum', values: ['all', 'api', 'worker'] }, default: 'all', group: 'server',
    description: 'What this process runs: api (the HTTP API), worker (delivery; serves only health and metrics) or all.' },
  rateLimitMax: { flag: '--rate-limit-max', env: 'RATE_LIMIT_MAX', kind: { type: 'int', min: 0, max: 100_000_000 }, default: '6000', group: 'server',
    description: 'Requests each client may make per rate-limit window (0 turns the limit off).' },
  rateLimitWindowSeconds: { flag: '--rate-limit-window', env: 'RATE_LIMIT_WINDOW_SECONDS', kind: { type: 'int', min: 1, max: 86_400 }, default: '60', group: 'server',
    description: 'Length of the rate-limit window in seconds.' },
  trustProxy: { flag: '--trust-proxy', env: 'TRUST_PROXY', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Trust X-Forwarded-* headers (when behind a reverse proxy).' },
  dashboard: { flag: '--dashboard', env: 'DASHBOARD', kind: { type: 'bool' }, default: 'true', group: 'server',
    description: 'Serve the web dashboard at /ui/ on every process that serves the API (false turns it off).' },
  maxWebhooksPerApplication: { flag: '--max-webhooks-per-application', env: 'MAX_WEBHOOKS_PER_APPLICATION', kind: { type: 'int', min: 1, max: 10_000_000 }, default: '1000', group: 'server',
    description: 'Webhooks one application may have; creating one more is refused with 422.' },
  testEventsPerWebhookPerMinute: { flag: '--test-events-per-minute', env: 'TEST_EVENTS_PER_WEBHOOK_PER_MINUTE', kind: { type: 'int', min: 0, max: 1_000_000 }, default: '20', group: 'server',
    description: 'Test events (POST /webhooks/{id}/test) one webhook may be sent per minute, counted in each process; past it they are answered 429 with Retry-After (0 turns the limit off).' },
  logRequests: { flag: '--log-requests', env: 'LOG_REQUESTS', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Log one line per HTTP request.' },

  allowInsecureCallbacks: { flag: '--allow-insecure-callbacks', env: 'ALLOW_INSECURE_CALLBACKS', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Accept http:// callback URLs (development only).' },

  allowPrivateCallbacks: { flag: '--allow-private-callbacks', env: 'ALLOW_PRIVATE_CALLBACKS', kind: { type: 'bool' }, default: 'false', group: 'server',
    description: 'Deliver to loopback, private and other internal addresses (development only; turns the SSRF guard off).' },
  callbackAllowCidrs: { flag: '--callback-allow-cidrs', env: 'CALLBACK_ALLOW_CIDRS', kind: { type: 'list' }, group: 'server',
    description: 'Comma-separated CIDRs that callbacks may reach although the SSRF guard would refuse them, e.g. 10.1.0.0/16,fd00::/8.' },

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
  tokenFailuresPerClient: { flag: '--token-failures-per-client', env: 'TOKEN_FAILURES_PER_CLIENT', kind: { type: 'int', min: 0, max: 1_000_000 }, default: '10', group: 'auth',
    description: 'Failed token requests naming one client id within TOKEN_FAILURE_WINDOW, after which its token requests are answered 429 until the window ends (0 turns it off).' },
  tokenFailuresPerAddress: { flag: '--token-failures-per-address', env: 'TOKEN_FAILURES_PER_ADDRESS', kind: { type: 'int', min: 0, max: 1_000_000 }, default: '30', group: 'auth',
    description: 'Failed token requests from one source address within TOKEN_FAILURE_WINDOW, after which its token requests are answered 429 until the window ends (0 turns it off).' },
  tokenFailureWindow: { flag: '--token-failure-window', env: 'TOKEN_FAILURE_WINDOW', kind: { type: 'duration', min: 1000, max: 86_400_000 }, default: '1m', group: 'auth',
    description: 'Window over which failed token requests are counted (counts are kept in each process).' },

  // --- delivery
  deliveryTimeout: { flag: '--delivery-timeout', env: 'DELIVERY_TIMEOUT', kind: { type: 'duration', min: 100, max: 120_000 }, default: '5s', group: 'delivery',
    description: 'Time allowed for one delivery request: connect, response headers and body.' },
  retrySchedule: { flag: '--retry-schedule', env: 'RETRY_SCHEDULE', kind: { type: 'durations', min: 0, max: 30 * 86_400_000 }, default: '5s,5m,30m,2h,5h,10h,14h,20h,24h', group: 'delivery',
    description: 'Delays before each retry; after the last one fails the delivery is failed.' },
  retryJitter: { flag: '--retry-jitter', env: 'RETRY_JITTER_PERCENT', kind: { type: 'int', min: 0, max: 100 }, default: '20', group: 'delivery',
    description: 'Random spread of each retry delay, in percent (plus or minus).' },
  retryAfterMax: { flag: '--retry-after-max', env: 'RETRY_AFTER_MAX', kind: { type: 'duration', min: 0, max: 30 * 86_400_000 }, default: '24h', group: 'delivery',
    description: 'Longest Retry-After (from a 429 or 503) that is honoured.' },
  deactivateFailingAfter: { flag: '--deactivate-failing-after', env: 'DEACTIVATE_FAILING_AFTER', kind: { type: 'duration', min: 1000, max: 365 * 86_400_000 }, default: '5d', group: 'delivery',
    description: 'A webhook whose every attempt has failed for this long is deactivated.' },
  maxInFlightPerWebhook: { flag: '--max-in-flight-per-webhook', env: 'MAX_IN_FLIGHT_PER_WEBHOOK', kind: { type: 'int', min: 1, max: 10_000 }, default: '16', group: 'delivery',
    description: 'Deliveries to one webhook that may be in flight at once (across all workers).' },
  maxInFlightPerApplication: { flag: '--max-in-flight-per-application', env: 'MAX_IN_FLIGHT_PER_APPLICATION', kind: { type: 'int', min: 1, max: 100_000 }, default: '128', group: 'delivery',
    description: 'Deliveries to the webhooks of one application that may be in flight at once (across all workers). Below DELIVERY_CONCURRENCY, what it leaves of a worker is there for the other applications however slow this one\'s receivers are.' },
  deliveryConcurrency: { flag: '--delivery-concurrency', env: 'DELIVERY_CONCURRENCY', kind: { type: 'int', min: 1, max: 100_000 }, default: '256', group: 'delivery',
    description: 'Requests one worker process has in flight at most. On the embedded store up to twice as many may have been sent with their result not yet written; that is what a crash can make it send again.' },
  claimBatch: { flag: '--claim-batch', env: 'CLAIM_BATCH', kind: { type: 'int', min: 1, max: 10_000 }, default: '256', group: 'delivery',
    description: 'Deliveries a worker claims in one database round trip at most.' },
  leaseTtl: { flag: '--lease-ttl', env: 'LEASE_TTL', kind: { type: 'duration', min: 500, max: 3_600_000 }, default: '30s', group: 'delivery',
    description: 'A worker whose heartbeat is older than this is presumed dead and its deliveries are taken over.' },
  heartbeatInterval: { flag: '--heartbeat-interval', env: 'HEARTBEAT_INTERVAL', kind: { type: 'duration', min: 100, max: 600_000 }, default: '5s', group: 'delivery',
    description: 'How often a worker renews its lease.' },
  pollInterval: { flag: '--poll-interval', env: 'POLL_INTERVAL', kind: { type: 'duration', min: 10, max: 600_000 }, default: '1s', group: 'delivery',
    description: 'Backstop: how often an idle worker looks for due deliveries without being woken.' },
  retention: { flag: '--retention', env: 'RETENTION', kind: { type: 'duration', min: 1000, max: 3650 * 86_400_000 }, default: '30d', group: 'delivery',
    description: 'Delivered history (events, finished deliveries and their attempts) older than this, by its last change, is removed within a minute, in small batches. Pending and retried deliveries stay whatever their age; a removed event\'s messageId stays a duplicate for the rest of its 7-day window.' },
  shutdownGrace: { flag: '--shutdown-grace', env: 'SHUTDOWN_GRACE', kind: { type: 'duration', min: 0, max: 600_000 }, default: '10s', group: 'delivery',
    description: 'On SIGTERM, how long in-flight deliveries may take to finish before their leases are released.' },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
