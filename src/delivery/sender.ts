import { Agent, type Dispatcher } from 'undici';
import type { CallbackPolicy, DeliveryConfig } from '../config/load.ts';
import { sealedFor, type SecretBox } from '../crypto/secretBox.ts';
import type { AttemptResult, ClaimedDelivery } from '../store/types.ts';
import { createGuardedConnector, type BlockedAddressError, type LookupFn } from './connector.ts';
import { createTargetCache, postOnce } from './post.ts';
import { classifyStatus, honoursRetryAfter, parseRetryAfter, retryDelayMs } from './schedule.ts';
import { createBodyBuilder, signatureHeaders } from './signing.ts';
import { createAddressGuard } from './ssrf.ts';

/** Sends one delivery attempt and says what happened; never rejects. */
export interface Sender {
  send(delivery: ClaimedDelivery): Promise<AttemptResult>;
  /** Aborts requests still in flight and closes connections. */
  close(): Promise<void>;
}

export interface SenderDeps {
  delivery: DeliveryConfig;
  callbacks: CallbackPolicy;
  box: SecretBox;
  userAgent: string;
  now: () => number;
  random?: () => number;
  /** Replaces DNS resolution (tests). */
  lookup?: LookupFn;
  /** Where a delivery refused by policy (http:// not allowed, the SSRF guard) is reported, once per webhook and cause. */
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
}

/** Webhooks whose policy refusals were already reported: at most this many are remembered. */
const REFUSALS_REMEMBERED = 10_000;

/** What is kept of a response body for the delivery history. */
export const RESPONSE_BODY_LIMIT = 4096;
/** Bodies are read to the end (a slow body counts against the timeout) but no further than this. */
const RESPONSE_READ_LIMIT = 64 * 1024;
const SECRET_CACHE_LIMIT = 10_000;

function blockedAddress(err: unknown): BlockedAddressError | undefined {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const cause = e?.code === undefined && e?.cause !== undefined ? e.cause : e;
  return cause?.code === 'ERR_SSRF_BLOCKED' ? (cause as BlockedAddressError) : undefined;
}

function describeError(err: unknown, timeoutMs: number): string {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `timed out after ${timeoutMs} ms`;
  }
  const cause = e?.code === undefined && e?.cause !== undefined ? e.cause : e;
  const blocked = blockedAddress(err);
  if (blocked !== undefined) {
    // The tenant reads this in its delivery history: what an internal host name resolves to is
    // none of its business (an IP literal it wrote itself may be named).
    const literal = blocked.hostname === undefined || blocked.hostname === blocked.verdict.address;
    return literal ? `refused by the SSRF guard: ${blocked.message}` : `refused by the SSRF guard: the address ${blocked.hostname} resolves to is not allowed`;
  }
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset by the receiver';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${cause.code})`;
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS certificate not accepted (${cause.code})`;
  }
  return (cause?.code !== undefined ? `${cause.code}: ` : '') + (cause?.message ?? String(err));
}

export function createSender(deps: SenderDeps): Sender {
  const { delivery, callbacks, box, now } = deps;
  const random = deps.random ?? Math.random;
  const guard = createAddressGuard({ allowPrivate: callbacks.allowPrivate, allowCidrs: callbacks.allowCidrs });
  // One agent for every callback: connection pools per origin, keep-alive, and the SSRF
  // check inside the connector, so tests, redeliveries and real traffic all pass through it.
  const agent: Dispatcher = new Agent({
    connect: createGuardedConnector({ guard, lookup: deps.lookup, timeoutMs: delivery.timeoutMs }),
    headersTimeout: delivery.timeoutMs,
    bodyTimeout: delivery.timeoutMs,
    keepAliveTimeout: 10_000,
  });
  const post = { timeoutMs: delivery.timeoutMs, keepBytes: RESPONSE_BODY_LIMIT, readLimitBytes: RESPONSE_READ_LIMIT, target: createTargetCache() };
  const bodyOf = createBodyBuilder();
  const secrets = new Map<string, string>();
  // An operator learns from the log why a webhook never gets anything, without a line per attempt.
  const refusalsReported = new Set<string>();
  const reportRefusal = (d: ClaimedDelivery, cause: string, detail: string) => {
    const key = `${d.webhookId} ${cause}`;
    if (deps.logger === undefined || refusalsReported.has(key)) return;
    if (refusalsReported.size >= REFUSALS_REMEMBERED) refusalsReported.clear();
    refusalsReported.add(key);
    deps.logger.warn({ webhookId: d.webhookId, cause, detail }, 'delivery refused by the callback policy (reported once per webhook and cause)');
  };
  const openSecret = (d: ClaimedDelivery) => {
    let secret = secrets.get(d.secretSealed);
    if (secret === undefined) {
      secret = box.open(d.secretSealed, sealedFor.webhookSecret(d.webhookId));
      if (secrets.size >= SECRET_CACHE_LIMIT) secrets.clear();
      secrets.set(d.secretSealed, secret);
    }
    return secret;
  };

  const failure = (d: ClaimedDelivery, startedAt: number, durationMs: number, fields: Partial<AttemptResult>, retryAfterMs?: number): AttemptResult => {
    const delay = retryDelayMs(d.attempt, delivery.retryScheduleMs, delivery.jitter, random);
    const base = { deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt, durationMs, statusCode: undefined, error: undefined, responseBody: undefined, ...fields };
    if (delay === undefined) return { ...base, outcome: 'failed', nextAttemptAt: undefined };
    const wait = retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, delivery.retryAfterMaxMs));
    return { ...base, outcome: 'retry', nextAttemptAt: startedAt + durationMs + wait };
  };

  return {
    async send(d) {
      const startedAt = now();
      const t0 = performance.now();
      const elapsed = () => Math.round(performance.now() - t0);
      let secret: string;
      try {
        secret = openSecret(d);
      } catch (err) {
        return failure(d, startedAt, 0, { error: `cannot decrypt the webhook secret: ${(err as Error).message}` });
      }
      if (d.callbackUrl.startsWith('http:') && !callbacks.allowInsecure) {
        const error = 'http:// callbacks are not allowed (ALLOW_INSECURE_CALLBACKS is off)';
        reportRefusal(d, 'insecure-callback', error);
        return failure(d, startedAt, 0, { error });
      }
      const body = bodyOf(d, d.webhookId);
      const headers = {
        'content-type': 'application/json',
        'user-agent': deps.userAgent,
        ...signatureHeaders(secret, d.messageId, body, Math.floor(startedAt / 1000)),
      };
      try {
        const res = await postOnce(agent, d.callbackUrl, headers, body, post);
        const responseBody = res.body?.toString('utf8');
        const verdict = classifyStatus(res.statusCode);
        if (verdict !== 'failure') {
          // A literal with every field (no spread): one object shape for every success.
          return { deliveryId: d.id, webhookId: d.webhookId, attempt: d.attempt, startedAt, durationMs: elapsed(), statusCode: res.statusCode, error: undefined, responseBody, outcome: verdict, nextAttemptAt: undefined };
        }
        const fields = { statusCode: res.statusCode, responseBody };
        const location = res.statusCode >= 300 && res.statusCode < 400 ? res.headers.location : undefined;
        const error = location === undefined ? `HTTP ${res.statusCode}` : `HTTP ${res.statusCode} redirect to ${String(location)} (redirects are not followed)`;
        const retryAfter = honoursRetryAfter(res.statusCode) ? parseRetryAfter(res.headers['retry-after'] as string | undefined, now()) : undefined;
        return failure(d, startedAt, elapsed(), { ...fields, error }, retryAfter);
      } catch (err) {
        const blocked = blockedAddress(err);
        // The operator's log names the address the host resolved to; the tenant's history does not.
        if (blocked !== undefined) reportRefusal(d, `ssrf:${blocked.verdict.range}`, blocked.message);
        return failure(d, startedAt, elapsed(), { error: describeError(err, delivery.timeoutMs) });
      }
    },
    async close() {
      await agent.destroy();
    },
  };
}
