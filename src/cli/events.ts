import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { importJWK, SignJWT, type JWK } from 'jose';
import { freshExample } from '../catalog/freshExample.ts';
import { loadStoreConfig, resolveSetting, type FlagValues } from '../config/load.ts';
import { SETTINGS, type SettingKey } from '../config/settings.ts';
import { openStore } from '../store/open.ts';
import { DATABASE_FILE } from '../store/sqlite/store.ts';
import { requireUuid, UsageError } from './errors.ts';
import { flagValues } from './options.ts';
import { storeCommand } from './store.ts';

/** The application a locally minted token names (client_id = sub). */
export const CLI_CLIENT_ID = 'itwin-webhooks-cli';
const PUBLISH_SCOPE = 'webhooks:publish';
const BATCH = 1000;
const MAX_COUNT = 1_000_000;
const LOCAL_TOKEN_TTL_SECONDS = 300;
/** A token this close to its expiry is replaced before the next request. */
const TOKEN_MARGIN_SECONDS = 30;
const REQUEST_TIMEOUT_MS = 120_000;
/** 429 and 503 are retried (each event carries its messageId, so a retry is idempotent). */
const MAX_RETRIES = 10;
const MAX_RETRY_WAIT_MS = 60_000;
const BAR_WIDTH = 30;

interface TriggerOptions {
  itwin?: string;
  account?: string;
  count: string;
  url?: string;
  clientId?: string;
  clientSecret?: string;
  tokenUrl?: string;
  json?: boolean;
  authAudience?: string;
  claimClientId?: string;
  claimSubject?: string;
  claimAccount?: string;
  claimScope?: string;
}

interface EventTypeDef {
  type: string;
  contentSchema: Record<string, unknown>;
  example: Record<string, unknown>;
}

interface PublishResult {
  messageId: string;
  eventType: string;
  enqueuedDateTime: string;
  matchedWebhooks: number;
}

interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown; details?: Array<{ message?: unknown; target?: unknown }> } | string;
  error_description?: unknown;
}

// ---------------------------------------------------------------- HTTP

interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** One request; a network failure becomes a one-line UsageError naming the server. */
async function http(base: string, url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new UsageError(`the server at ${base} did not answer ${new URL(url).pathname} within ${REQUEST_TIMEOUT_MS / 1000} s.`);
    }
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new UsageError(`the server at ${base} is not reachable (${why}); is \`itwin-webhooks serve\` running there? (see --url)`);
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** `403 InsufficientPermissions: message (target: detail)` from an API (or OAuth) error answer. */
export function describeApiError(answer: { status: number; json: unknown; text: string }): string {
  const body = (answer.json ?? {}) as ApiErrorBody;
  const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
  if (typeof body.error === 'object' && body.error !== null) {
    const code = typeof body.error.code === 'string' ? body.error.code : 'Error';
    let text = `${answer.status} ${code}`;
    if (typeof body.error.message === 'string') text += `: ${oneLine(body.error.message)}`;
    const details = Array.isArray(body.error.details) ? body.error.details : [];
    const first = details[0];
    if (first !== undefined && typeof first.message === 'string') {
      const target = typeof first.target === 'string' ? `${first.target}: ` : '';
      text += ` (${target}${oneLine(first.message)}${details.length > 1 ? `; and ${details.length - 1} more` : ''})`;
    }
    return text;
  }
  if (typeof body.error === 'string') {
    // OAuth2 error shape (RFC 6749 §5.2)
    return `${answer.status} ${body.error}${typeof body.error_description === 'string' ? `: ${oneLine(body.error_description)}` : ''}`;
  }
  const snippet = oneLine(answer.text).slice(0, 120);
  return `${answer.status}${snippet === '' ? '' : `: ${snippet}`}`;
}

// ---------------------------------------------------------------- tokens

interface TokenSource {
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
function clientCredentials(base: string, tokenUrl: string, clientId: string, clientSecret: string): TokenSource {
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

interface LocalAuth {
  audience: string;
  claims: { clientId: string; subject: string; account: string; scope: string };
}

/**
 * Zero-setup credentials for a local server: a short-lived token signed with the built-in
 * issuer's own key, read from the server's data store.
 */
async function localToken(base: string, cmd: Command, auth: LocalAuth, itwinId: string | undefined, accountId: string | undefined): Promise<{ source: TokenSource; accountId: string | undefined }> {
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
  const usesSqlite = (storeConfig as { databaseUrl?: string }).databaseUrl === undefined;
  if (usesSqlite && !existsSync(join(storeConfig.dataDir, DATABASE_FILE))) {
    throw new UsageError(`no data store in ${storeConfig.dataDir} to sign a local token with: pass the server's --data-dir, ${noCredentials}.`);
  }
  const { store, box } = await openStore(storeConfig);
  let privateJwk: JWK;
  let kid: string;
  let alg: string;
  try {
    const keys = await store.listSigningKeys();
    const key = keys.find((k) => serverKids.has(k.kid));
    if (key === undefined) {
      throw new UsageError(
        `the signing keys in ${storeConfig.dataDir} are not the ones the server at ${base} uses: pass the server's --data-dir, ${noCredentials}.`,
      );
    }
    ({ kid, alg } = key);
    privateJwk = JSON.parse(box.open(key.privateJwkSealed, `signing-key:${kid}`)) as JWK;
    if (accountId === undefined && itwinId !== undefined) accountId = await store.getItwinAccount(itwinId);
  } finally {
    await store.close();
  }
  const privateKey = await importJWK(privateJwk, alg);
  const org = accountId;
  const source = cached(async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      [auth.claims.clientId]: CLI_CLIENT_ID,
      [auth.claims.subject]: CLI_CLIENT_ID,
      ...(org === undefined ? {} : { [auth.claims.account]: org }),
      [auth.claims.scope]: PUBLISH_SCOPE,
    })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(auth.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + LOCAL_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(privateKey);
    return { token, expiresAt: (now + LOCAL_TOKEN_TTL_SECONDS) * 1000 };
  }, `the locally signed token was refused: give the server's --auth-audience and AUTH_CLAIM_* settings, ${noCredentials}`);
  return { source, accountId };
}

// ---------------------------------------------------------------- event types

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = above;
    }
  }
  return prev[b.length]!;
}

/** Up to `n` known names closest to `wanted` (case-insensitive edit distance; a shared part counts). */
export function closeNames(wanted: string, known: string[], n = 4): string[] {
  const w = wanted.toLowerCase();
  const parts = w.split('.').filter((p) => p.length >= 3);
  const score = (name: string) => {
    const l = name.toLowerCase();
    const shared = parts.some((p) => l.split('.').includes(p) || (p.length >= 5 && l.includes(p)));
    return editDistance(w, l) - (shared ? 10 : 0);
  };
  return known
    .map((name) => ({ name, s: score(name) }))
    .sort((a, b) => a.s - b.s || a.name.localeCompare(b.name))
    .slice(0, n)
    .map((x) => x.name);
}

async function eventTypeDef(base: string, tokens: TokenSource, type: string): Promise<EventTypeDef> {
  const answer = await http(base, `${base}/webhooks/event-types`, { headers: { authorization: `Bearer ${await tokens.get()}`, accept: 'application/json' } });
  if (answer.status !== 200) {
    throw new UsageError(`the server refused the event-type list: ${describeApiError(answer)}${answer.status === 401 ? ` (${tokens.hint})` : ''}`);
  }
  const list = (answer.json as { eventTypes?: EventTypeDef[] } | undefined)?.eventTypes;
  if (!Array.isArray(list)) throw new UsageError(`the server at ${base} did not answer GET /webhooks/event-types with an event-type list; is it an itwin-webhooks server?`);
  const def = list.find((t) => t.type === type);
  if (def === undefined) {
    const close = closeNames(type, list.map((t) => t.type));
    throw new UsageError(`unknown event type "${type}"; did you mean ${close.join(', ')}? (GET ${base}/webhooks/event-types lists all ${list.length})`);
  }
  return def;
}

// ---------------------------------------------------------------- publishing

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(headers: Headers, attempt: number): number {
  const raw = headers.get('retry-after');
  if (raw !== null) {
    const seconds = Number(raw);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_WAIT_MS);
    const at = Date.parse(raw);
    if (!Number.isNaN(at)) return Math.min(Math.max(at - Date.now(), 0), MAX_RETRY_WAIT_MS);
  }
  return Math.min(500 * 2 ** attempt, MAX_RETRY_WAIT_MS);
}

async function publishBatch(base: string, tokens: TokenSource, events: unknown[], done: number, total: number): Promise<PublishResult[]> {
  const body = JSON.stringify({ events });
  for (let attempt = 0; ; attempt++) {
    const answer = await http(base, `${base}/webhooks/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokens.get()}`, 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    if (answer.status >= 200 && answer.status < 300) {
      const results = (answer.json as { events?: PublishResult[] } | undefined)?.events;
      if (!Array.isArray(results) || results.length !== events.length) {
        throw new UsageError(`the server at ${base} answered the publish with ${answer.status} but not with one result per event.`);
      }
      return results;
    }
    if ((answer.status === 429 || answer.status === 503) && attempt < MAX_RETRIES) {
      await sleep(retryAfterMs(answer.headers, attempt));
      continue;
    }
    const progress = done > 0 ? ` (after ${done} of ${total} events were published)` : '';
    throw new UsageError(`the server refused the events: ${describeApiError(answer)}${answer.status === 401 ? ` (${tokens.hint})` : ''}${progress}`);
  }
}

function drawBar(done: number, total: number): void {
  const filled = Math.round((done / total) * BAR_WIDTH);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} events`);
}

function parseCount(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1 || Number(raw) > MAX_COUNT) {
    throw new UsageError(`--count must be an integer from 1 to ${MAX_COUNT.toLocaleString('en-US')}, got "${raw}".`);
  }
  return Number(raw);
}

function parseBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an absolute http(s) URL such as http://127.0.0.1:3000, got "${raw}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must use http or https, got "${raw}".`);
  if (url.search !== '' || url.hash !== '') throw new UsageError(`--url must not have a query or fragment, got "${raw}".`);
  // Accept the API base URL (…/webhooks) as well as the server's.
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/webhooks$/, '')}`;
}

const envValue = (name: string) => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

/** The setting options the local token needs besides the store's, built from the settings table. */
const AUTH_KEYS = ['authAudience', 'claimClientId', 'claimSubject', 'claimAccount', 'claimScope'] as const satisfies readonly SettingKey[];

function addAuthOptions(cmd: Command): Command {
  for (const key of AUTH_KEYS) {
    const spec = SETTINGS[key];
    const what = key === 'authAudience' ? 'Audience of the locally signed token: the server\'s' : 'Claim names of the locally signed token: the server\'s';
    const option = new Option(`${spec.flag} <value>`, `${what} ${spec.env}. [env ${spec.env}, default ${spec.default}]`);
    if (key !== 'authAudience') option.hideHelp();
    cmd.addOption(option);
  }
  return cmd;
}

function localAuth(opts: TriggerOptions): LocalAuth {
  const flags: FlagValues = {
    authAudience: opts.authAudience,
    claimClientId: opts.claimClientId,
    claimSubject: opts.claimSubject,
    claimAccount: opts.claimAccount,
    claimScope: opts.claimScope,
  };
  const get = (key: (typeof AUTH_KEYS)[number]) => resolveSetting(key, flags, process.env) as string;
  return {
    audience: get('authAudience'),
    claims: { clientId: get('claimClientId'), subject: get('claimSubject'), account: get('claimAccount'), scope: get('claimScope') },
  };
}

async function trigger(type: string, opts: TriggerOptions, cmd: Command): Promise<void> {
  // Everything that can be checked without the server first.
  let accountId = opts.account === undefined ? undefined : requireUuid(opts.account, '--account');
  if (opts.itwin === undefined && accountId === undefined) throw new UsageError('give --itwin ID or --account ID (or both): the events need a scope to match webhooks on.');
  // Every event carries an iTwinId (receivers read it); with only --account it is a fresh one of that account.
  const itwinId = opts.itwin === undefined ? randomUUID() : requireUuid(opts.itwin, '--itwin');
  const count = parseCount(opts.count);
  const base = parseBaseUrl(opts.url ?? envValue('ITWIN_WEBHOOKS_URL') ?? 'http://127.0.0.1:3000');
  const clientId = opts.clientId ?? envValue('ITWIN_WEBHOOKS_CLIENT_ID');
  const clientSecret = opts.clientSecret ?? envValue('ITWIN_WEBHOOKS_CLIENT_SECRET');
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    throw new UsageError('give both --client-id and --client-secret (or ITWIN_WEBHOOKS_CLIENT_ID and ITWIN_WEBHOOKS_CLIENT_SECRET), or neither for a locally signed token.');
  }
  const auth = localAuth(opts);

  let tokens: TokenSource;
  if (clientId !== undefined && clientSecret !== undefined) {
    tokens = clientCredentials(base, opts.tokenUrl === undefined ? `${base}/oauth/token` : parseTokenUrl(opts.tokenUrl), clientId, clientSecret);
  } else {
    const local = await localToken(base, cmd, auth, itwinId, accountId);
    tokens = local.source;
    accountId ??= local.accountId; // only for the summary: the server resolves the account itself
  }
  const def = await eventTypeDef(base, tokens, type);

  const showBar = count > BATCH && process.stderr.isTTY === true;
  const chunks: string[] = [];
  let matched = 0;
  let done = 0;
  if (showBar) drawBar(0, count);
  try {
    while (done < count) {
      const n = Math.min(BATCH, count - done);
      const events = Array.from({ length: n }, () => ({
        eventType: def.type,
        iTwinId: itwinId,
        ...(opts.account === undefined ? {} : { accountId }),
        content: freshExample(def),
        messageId: randomUUID(),
      }));
      const results = await publishBatch(base, tokens, events, done, count);
      for (const r of results) matched += typeof r.matchedWebhooks === 'number' ? r.matchedWebhooks : 0;
      if (opts.json === true) chunks.push(JSON.stringify(results).slice(1, -1));
      done += n;
      if (showBar) drawBar(done, count);
    }
  } finally {
    if (showBar) process.stderr.write('\n');
  }

  if (opts.json === true) {
    process.stdout.write('{"events":[');
    chunks.forEach((c, i) => process.stdout.write(i === 0 ? c : `,${c}`));
    process.stdout.write(']}\n');
    return;
  }
  const scope = [`iTwin ${itwinId}${opts.itwin === undefined ? ' (new)' : ''}`, accountId === undefined ? undefined : `account ${accountId}`].filter(Boolean).join(', ');
  console.log(`Published ${count} × ${def.type} (${scope}): ${matched} ${matched === 1 ? 'delivery' : 'deliveries'} queued.`);
}

function parseTokenUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // fall through
  }
  throw new UsageError(`--token-url must be an absolute http(s) URL, got "${raw}".`);
}

export function eventsCommand(): Command {
  const events = new Command('events').description('Publish events to a running server (for trying webhooks out and for load tests).');
  const triggerCmd = events
    .command('trigger')
    .description(
      'Publish COUNT events of TYPE, each with the type\'s example content and fresh ids. Without --client-id/--client-secret ' +
        'the command signs its own short-lived token with the built-in issuer\'s key from the data store (same --data-dir as the server).',
    )
    .argument('<type>', 'event type, e.g. iModels.iModelCreated.v1 (GET /webhooks/event-types lists them)')
    .option('--itwin <itwinId>', 'iTwinId of the events (UUID); the account is taken from the directory')
    .option('--account <accountId>', 'accountId of the events (UUID); needed when the iTwin is not in the directory (without --itwin, the events are about a new iTwin of it)')
    .option('--count <n>', `how many events (1 to ${MAX_COUNT.toLocaleString('en-US')}), published in batches of ${BATCH}`, '1')
    .option('--url <url>', 'base URL of the server [env ITWIN_WEBHOOKS_URL, default http://127.0.0.1:3000]')
    .option('--client-id <id>', `client of the built-in (or --token-url) issuer with scope ${PUBLISH_SCOPE} [env ITWIN_WEBHOOKS_CLIENT_ID]`)
    .option('--client-secret <secret>', 'its secret [env ITWIN_WEBHOOKS_CLIENT_SECRET]')
    .option('--token-url <url>', 'OAuth2 token endpoint for --client-id (default: the server\'s /oauth/token)')
    .option('--json', 'print {"events": [...]} with the API\'s result for every event instead of the summary');
  storeCommand(triggerCmd);
  addAuthOptions(triggerCmd);
  triggerCmd.action((type: string, opts: TriggerOptions, cmd: Command) => trigger(type, opts, cmd));
  return events;
}
