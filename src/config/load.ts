import ipaddr from 'ipaddr.js';
import { SETTINGS, type SettingKey, type SettingSpec } from './settings.ts';

function isCidr(text: string): boolean {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}

/** A setting that could not be accepted; the message names the flag and the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ClaimNames {
  clientId: string;
  subject: string;
  account: string;
  scope: string;
}

export interface AuthConfig {
  builtinIssuer: boolean;
  jwksUrl: string | undefined;
  issuer: string;
  audience: string;
  claims: ClaimNames;
  tokenTtlSeconds: number;
  /** Throttling of failed token requests of the built-in issuer (0: no limit). */
  tokenFailures: { perClient: number; perAddress: number; windowMs: number };
}

export type Role = 'all' | 'api' | 'worker';

export interface StoreConfig {
  dataDir: string;
  databaseUrl: string | undefined;
  databaseSchema: string;
  databasePoolSize: number;
  /** Raw key material as given; parsed by the secret box. */
  encryptionKey: string | undefined;
  logLevel: string;
}

/** How deliveries are sent, retried and scheduled (times in milliseconds). */
export interface DeliveryConfig {
  timeoutMs: number;
  retryScheduleMs: number[];
  jitter: number;
  retryAfterMaxMs: number;
  deactivateFailingAfterMs: number;
  maxInFlightPerWebhook: number;
  maxInFlightPerApplication: number;
  concurrency: number;
  claimBatch: number;
  leaseTtlMs: number;
  heartbeatMs: number;
  pollMs: number;
  shutdownGraceMs: number;
  /** Delivered history older than this goes (retention, contract §6). */
  retentionMs: number;
}

/** What callbacks may connect to (the SSRF guard). */
export interface CallbackPolicy {
  allowInsecure: boolean;
  allowPrivate: boolean;
  allowCidrs: string[];
}

export interface Config extends StoreConfig {
  host: string;
  port: number;
  role: Role;
  /** Set only when configured; otherwise links are built from the request's Host. */
  publicUrl: string | undefined;
  callbacks: CallbackPolicy;
  delivery: DeliveryConfig;
  rateLimitMax: number;
  rateLimitWindowSeconds: number;
  /** What one tenant may use, so that it cannot crowd out the others. */
  tenantLimits: { webhooksPerApplication: number; testEventsPerWebhookPerMinute: number };
  trustProxy: boolean;
  logRequests: boolean;
  /** Serve the web dashboard at /ui/. */
  dashboard: boolean;
  auth: AuthConfig;
}

type Value = string | number | boolean | number[] | string[] | undefined;
export type FlagValues = Partial<Record<SettingKey, string | boolean | undefined>>;
export type Env = Record<string, string | undefined>;

function label(spec: SettingSpec): string {
  return `${spec.env} (${spec.flag})`;
}

function parseBool(spec: SettingSpec, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`Invalid ${label(spec)}: "${raw}" is not a boolean (true/false).`);
}

function parseOne(spec: SettingSpec, raw: string | boolean): Value {
  const kind = spec.kind;
  if (typeof raw === 'boolean') {
    if (kind.type !== 'bool') throw new ConfigError(`Invalid ${label(spec)}: a value is required.`);
    return raw;
  }
  switch (kind.type) {
    case 'bool':
      return parseBool(spec, raw);
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`Invalid ${label(spec)}: "${raw}" is not an integer.`);
      const n = Number(raw.trim());
      if (n < kind.min || n > kind.max) {
        throw new ConfigError(`Invalid ${label(spec)}: ${n} is outside ${kind.min}..${kind.max}.`);
      }
      return n;
    }
    case 'enum':
      if (!kind.values.includes(raw)) {
        throw new ConfigError(`Invalid ${label(spec)}: "${raw}" is not one of ${kind.values.join(', ')}.`);
      }
      return raw;
    case 'url': {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new ConfigError(`Invalid ${label(spec)}: "${redactUrl(raw)}" is not an absolute URL.`);
      }
      if (!kind.protocols.includes(url.protocol)) {
        throw new ConfigError(`Invalid ${label(spec)}: the URL must use ${kind.protocols.join(' or ')}.`);
      }
      return raw;
    }
    case 'string':
      if (raw.length === 0) throw new ConfigError(`Invalid ${label(spec)}: the value is empty.`);
      return raw;
    case 'list':
      return raw.split(',').map((v) => v.trim()).filter(Boolean);
    case 'duration':
      return parseDurationSetting(spec, raw, kind.min, kind.max);
    case 'durations': {
      const parts = raw.split(',').map((v) => v.trim());
      if (parts.some((p) => p === '')) throw new ConfigError(`Invalid ${label(spec)}: "${raw}" has an empty entry.`);
      return parts.map((p) => parseDurationSetting(spec, p, kind.min, kind.max));
    }
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "5s", "30m", "2h", "5d" (a bare number is milliseconds) → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

function parseDurationSetting(spec: SettingSpec, raw: string, min: number, max: number): number {
  const ms = parseDuration(raw);
  if (ms === undefined) throw new ConfigError(`Invalid ${label(spec)}: "${raw}" is not a duration (e.g. 500ms, 5s, 30m, 2h, 5d).`);
  if (ms < min || ms > max) throw new ConfigError(`Invalid ${label(spec)}: ${raw} is outside ${min}ms..${max}ms.`);
  return ms;
}

/**
 * A URL fit for a message or a log line: the password of its user info is hidden (a user
 * info without a colon, such as a token, is hidden whole). Works on text that is not a
 * valid URL too, since it serves to report those.
 */
export function redactUrl(raw: string): string {
  return raw.replace(/\/\/([^/?#]*)@/, (_m, info: string) => {
    const colon = info.indexOf(':');
    return colon < 0 ? '//***@' : `//${info.slice(0, colon)}:***@`;
  });
}

/** Resolves one setting: a flag wins over the environment, which wins over the default. */
export function resolveSetting(key: SettingKey, flags: FlagValues, env: Env): Value {
  const spec: SettingSpec = SETTINGS[key];
  const fromFlag = flags[key];
  if (fromFlag !== undefined) return parseOne(spec, fromFlag);
  const fromEnv = env[spec.env];
  if (fromEnv !== undefined && fromEnv !== '') return parseOne(spec, fromEnv);
  return spec.default === undefined ? undefined : parseOne(spec, spec.default);
}

function get<T extends Value>(key: SettingKey, flags: FlagValues, env: Env): T {
  return resolveSetting(key, flags, env) as T;
}

export function loadStoreConfig(flags: FlagValues, env: Env): StoreConfig {
  const databaseUrl = get<string | undefined>('databaseUrl', flags, env);
  const encryptionKey = get<string | undefined>('encryptionKey', flags, env);
  if (databaseUrl !== undefined && encryptionKey === undefined) {
    throw new ConfigError('Missing ENCRYPTION_KEY (--encryption-key): it is required with DATABASE_URL, so that every process shares the key.');
  }
  const databaseSchema = get<string>('databaseSchema', flags, env);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError(`Invalid DATABASE_SCHEMA (--database-schema): "${databaseSchema}" must be a lower-case identifier (letters, digits, _).`);
  }
  return {
    dataDir: get<string>('dataDir', flags, env),
    databaseUrl,
    databaseSchema,
    databasePoolSize: get<number>('databasePoolSize', flags, env),
    encryptionKey,
    logLevel: get<string>('logLevel', flags, env),
  };
}

/**
 * Where a server started with these settings is reached: PUBLIC_URL, else http://HOST:PORT.
 * Listening on every interface names no address a client could use: that is 127.0.0.1 here.
 * `serve` names itself by it; `events trigger` finds the server by it.
 */
export function serverBaseUrl(flags: FlagValues, env: Env): { publicUrl: string | undefined; defaultBaseUrl: string } {
  const host = get<string>('host', flags, env);
  const port = get<number>('port', flags, env);
  const publicUrl = get<string | undefined>('publicUrl', flags, env)?.replace(/\/+$/, '');
  const linkHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { publicUrl, defaultBaseUrl: `http://${linkHost.includes(':') ? `[${linkHost}]` : linkHost}:${port}` };
}

export function loadConfig(flags: FlagValues, env: Env): Config {
  const store = loadStoreConfig(flags, env);
  const host = get<string>('host', flags, env);
  const port = get<number>('port', flags, env);
  const { publicUrl, defaultBaseUrl } = serverBaseUrl(flags, env);

  const jwksUrl = get<string | undefined>('authJwksUrl', flags, env);
  const builtinFlag = get<boolean | undefined>('builtinIssuer', flags, env);
  const builtinIssuer = builtinFlag ?? jwksUrl === undefined;
  if (builtinIssuer && jwksUrl !== undefined) {
    throw new ConfigError('Invalid BUILTIN_ISSUER (--builtin-issuer): it cannot be on together with AUTH_JWKS_URL (--auth-jwks-url); use one issuer.');
  }
  if (!builtinIssuer && jwksUrl === undefined) {
    throw new ConfigError('Missing AUTH_JWKS_URL (--auth-jwks-url): with the built-in issuer off, tokens need an external JWKS.');
  }
  const issuerSetting = get<string | undefined>('authIssuer', flags, env);
  if (jwksUrl !== undefined && issuerSetting === undefined) {
    throw new ConfigError('Missing AUTH_ISSUER (--auth-issuer): it is required with AUTH_JWKS_URL.');
  }
  const allowCidrs = get<string[] | undefined>('callbackAllowCidrs', flags, env) ?? [];
  for (const cidr of allowCidrs) {
    if (!isCidr(cidr)) throw new ConfigError(`Invalid CALLBACK_ALLOW_CIDRS (--callback-allow-cidrs): "${cidr}" is not a CIDR such as 10.0.0.0/8.`);
  }
  const allowInsecureCallbacks = get<boolean>('allowInsecureCallbacks', flags, env);
  const delivery: DeliveryConfig = {
    timeoutMs: get<number>('deliveryTimeout', flags, env),
    retryScheduleMs: get<number[]>('retrySchedule', flags, env),
    jitter: get<number>('retryJitter', flags, env) / 100,
    retryAfterMaxMs: get<number>('retryAfterMax', flags, env),
    deactivateFailingAfterMs: get<number>('deactivateFailingAfter', flags, env),
    maxInFlightPerWebhook: get<number>('maxInFlightPerWebhook', flags, env),
    maxInFlightPerApplication: get<number>('maxInFlightPerApplication', flags, env),
    concurrency: get<number>('deliveryConcurrency', flags, env),
    claimBatch: get<number>('claimBatch', flags, env),
    leaseTtlMs: get<number>('leaseTtl', flags, env),
    heartbeatMs: get<number>('heartbeatInterval', flags, env),
    pollMs: get<number>('pollInterval', flags, env),
    shutdownGraceMs: get<number>('shutdownGrace', flags, env),
    retentionMs: get<number>('retention', flags, env),
  };
  const role = get<Role>('role', flags, env);
  if (role !== 'all' && store.databaseUrl === undefined) {
    throw new ConfigError(
      `Invalid ROLE (--role): ${role} needs PostgreSQL (DATABASE_URL); the embedded store in DATA_DIR serves one process, which runs the API and delivery together (--role all).`,
    );
  }
  if (delivery.heartbeatMs * 2 > delivery.leaseTtlMs) {
    throw new ConfigError('Invalid HEARTBEAT_INTERVAL (--heartbeat-interval): it must be at most half of LEASE_TTL, or live workers would lose their leases.');
  }
  return {
    ...store,
    host,
    port,
    role,
    publicUrl,
    callbacks: { allowInsecure: allowInsecureCallbacks, allowPrivate: get<boolean>('allowPrivateCallbacks', flags, env), allowCidrs },
    delivery,
    rateLimitMax: get<number>('rateLimitMax', flags, env),
    rateLimitWindowSeconds: get<number>('rateLimitWindowSeconds', flags, env),
    tenantLimits: {
      webhooksPerApplication: get<number>('maxWebhooksPerApplication', flags, env),
      testEventsPerWebhookPerMinute: get<number>('testEventsPerWebhookPerMinute', flags, env),
    },
    trustProxy: get<boolean>('trustProxy', flags, env),
    logRequests: get<boolean>('logRequests', flags, env),
    dashboard: get<boolean>('dashboard', flags, env),
    auth: {
      builtinIssuer,
      jwksUrl,
      issuer: issuerSetting ?? publicUrl ?? defaultBaseUrl,
      audience: get<string>('authAudience', flags, env),
      claims: {
        clientId: get<string>('claimClientId', flags, env),
        subject: get<string>('claimSubject', flags, env),
        account: get<string>('claimAccount', flags, env),
        scope: get<string>('claimScope', flags, env),
      },
      tokenTtlSeconds: get<number>('tokenTtlSeconds', flags, env),
      tokenFailures: {
        perClient: get<number>('tokenFailuresPerClient', flags, env),
        perAddress: get<number>('tokenFailuresPerAddress', flags, env),
        windowMs: get<number>('tokenFailureWindow', flags, env),
      },
    },
  };
}
