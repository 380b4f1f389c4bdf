/**
 * When to try a failed delivery again (contract §4, delivery policy): the configured
 * schedule, each delay spread by ±jitter; a Retry-After from a 429 or 503 is a lower
 * bound, capped. Pure functions, so the schedule is tested without a clock.
 */

/**
 * Delay before the next attempt after attempt number `attempt` (1-based) failed, or
 * undefined when the schedule is exhausted and the delivery has failed.
 */
export function retryDelayMs(attempt: number, scheduleMs: readonly number[], jitter: number, random: () => number = Math.random): number | undefined {
  const base = scheduleMs[attempt - 1];
  if (base === undefined) return undefined;
  const spread = 1 + jitter * (2 * random() - 1);
  return Math.round(base * spread);
}

/** Retry-After in milliseconds from now: delta-seconds or an HTTP date; undefined when absent or unparseable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export type Verdict = 'succeeded' | 'gone' | 'failure';

/** Any 2xx succeeds; 410 Gone deactivates the webhook; everything else (3xx included: redirects are not followed) fails. */
export function classifyStatus(status: number): Verdict {
  if (status >= 200 && status < 300) return 'succeeded';
  if (status === 410) return 'gone';
  return 'failure';
}

/** Statuses whose Retry-After is honoured. */
export function honoursRetryAfter(status: number | undefined): boolean {
  return status === 429 || status === 503;
}
