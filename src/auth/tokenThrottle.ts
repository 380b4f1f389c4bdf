import { createFixedWindows } from '../runtime/fixedWindows.ts';

/**
 * Throttles failed token requests (guessing client secrets), per client id and per source
 * address: once a key has had `limit` failures within a window, every request that names it
 * is refused until the window ends, a correct secret included, or the refusals would
 * still tell a guesser when it is right. Unknown client ids are counted like known ones,
 * so the answers do not tell which ids exist. Counts live in this process's memory.
 */
export interface TokenThrottle {
  /** Seconds until a request with these keys may be checked again; 0 when it may be now. */
  retryAfter(keys: ThrottleKeys, now: number): number;
  failed(keys: ThrottleKeys, now: number): void;
  /** A correct secret clears its client id's failures (not its address's). */
  succeeded(keys: ThrottleKeys): void;
}

export interface ThrottleKeys {
  clientId: string | undefined;
  address: string;
}

export interface ThrottleLimits {
  /** Failures per window for one client id (0: no limit). */
  perClient: number;
  /** Failures per window from one source address (0: no limit). */
  perAddress: number;
  windowMs: number;
}

export function createTokenThrottle(limits: ThrottleLimits, maxKeys?: number): TokenThrottle {
  const windows = createFixedWindows(limits.windowMs, maxKeys);
  const entries = (keys: ThrottleKeys): Array<[string, number]> => {
    const out: Array<[string, number]> = [];
    if (limits.perClient > 0 && keys.clientId !== undefined) out.push([`c:${keys.clientId}`, limits.perClient]);
    if (limits.perAddress > 0) out.push([`a:${keys.address}`, limits.perAddress]);
    return out;
  };
  return {
    retryAfter(keys, now) {
      let wait = 0;
      for (const [key, limit] of entries(keys)) {
        if (windows.count(key, now) >= limit) wait = Math.max(wait, Math.ceil(windows.remaining(key, now) / 1000));
      }
      return wait;
    },
    failed(keys, now) {
      for (const [key] of entries(keys)) windows.hit(key, now);
    },
    succeeded(keys) {
      if (keys.clientId !== undefined) windows.forget(`c:${keys.clientId}`);
    },
  };
}
