import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { freshExample } from '../catalog/freshExample.ts';
import { loadStoreConfig, resolveSetting, serverBaseUrl, type FlagValues } from '../config/load.ts';
import { SETTINGS, type SettingKey } from '../config/settings.ts';
import { openStore } from '../store/open.ts';
import { describeApiError } from './apiErrors.ts';
import { closeNames } from './closeNames.ts';
import { requireUuid, UsageError } from './errors.ts';
import { http } from './http.ts';
import { drawBar } from './progressBar.ts';
import { flagValues } from './options.ts';
import { storeCommand } from './store.ts';
import { clientCredentials, localToken, PUBLISH_SCOPE, type LocalAuth, type TokenSource } from './tokens.ts';

const BATCH = 1000;
const MAX_COUNT = 1_000_000;
/** 429 and 503 are retried (each event carries its messageId, so a retry is idempotent). */
const MAX_RETRIES = 10;
const MAX_RETRY_WAIT_MS = 60_000;

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
  // Without --url, the server is where `serve` says it is, from the same settings.
  const { publicUrl, defaultBaseUrl } = serverBaseUrl({}, process.env);
  const base = parseBaseUrl(opts.url ?? envValue('ITWIN_WEBHOOKS_URL') ?? publicUrl ?? defaultBaseUrl);
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
  const local = clientId === undefined;

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
  const summary = `Published ${count} × ${def.type} (${scope}): ${matched} ${matched === 1 ? 'delivery' : 'deliveries'} queued`;
  if (matched > 0) {
    console.log(`${summary}.`);
    return;
  }
  const inactive = local ? await inactiveSubscribers(cmd, def.type, itwinId, accountId) : undefined;
  if (inactive === undefined || inactive.length === 0) {
    console.log(`${summary}: no active webhook subscribes to ${def.type} for this iTwin${accountId === undefined ? '' : ' or account'}. Webhooks are created inactive: activate one with PATCH /webhooks/{id} {"active": true}.`);
  } else {
    const ids = inactive.slice(0, 3).join(', ') + (inactive.length > 3 ? ', …' : '');
    console.log(`${summary}: ${inactive.length} ${inactive.length === 1 ? 'webhook subscribes' : 'webhooks subscribe'} to it but ${inactive.length === 1 ? 'is' : 'are'} inactive (${ids}); activate with PATCH /webhooks/{id} {"active": true}.`);
  }
}

/**
 * The inactive webhooks that would have matched: the one reason for "0 deliveries" a newcomer
 * cannot see from the answer (webhooks are created inactive). Read from the data store the
 * local token came from; undefined when it cannot be read.
 */
async function inactiveSubscribers(cmd: Command, type: string, itwinId: string, accountId: string | undefined): Promise<string[] | undefined> {
  try {
    const { store } = await openStore(loadStoreConfig(flagValues(cmd), process.env));
    try {
      const out: string[] = [];
      let after: number | undefined;
      // Bounded: a hint, not an audit.
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.listAllWebhooks(undefined, 1000, after);
        for (const w of page.items) {
          const inScope = w.scope === 'iTwin' ? w.scopeId === itwinId : w.scopeId === accountId;
          if (!w.active && inScope && w.eventTypes.includes(type)) out.push(w.id);
        }
        if (page.nextCursor === undefined) break;
        after = page.nextCursor;
      }
      return out;
    } finally {
      await store.close();
    }
  } catch {
    return undefined;
  }
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
    .option('--url <url>', 'base URL of the server [env ITWIN_WEBHOOKS_URL; default: where serve listens, from PUBLIC_URL, or HOST and PORT (http://127.0.0.1:3000)]')
    .option('--client-id <id>', `client of the built-in (or --token-url) issuer with scope ${PUBLISH_SCOPE} [env ITWIN_WEBHOOKS_CLIENT_ID]`)
    .option('--client-secret <secret>', 'its secret [env ITWIN_WEBHOOKS_CLIENT_SECRET]')
    .option('--token-url <url>', 'OAuth2 token endpoint for --client-id (default: the server\'s /oauth/token)')
    .option('--json', 'print {"events": [...]} with the API\'s result for every event instead of the summary');
  // It never creates a store: it signs with the key of the server's.
  storeCommand(triggerCmd, { create: false });
  addAuthOptions(triggerCmd);
  triggerCmd.action((type: string, opts: TriggerOptions, cmd: Command) => trigger(type, opts, cmd));
  return events;
}
